//! Independent oracle (issue acceptance "Oracle"): every object type we build is
//! decoded and validated by NLnet Labs' `rpki` crate (a dev-dependency only), and
//! its view of resources, prefixes, manifest entries and validity equals ours.

mod common;

use common::Fixture;
use rpki::repository::tal::TalInfo;
use rpki::repository::x509::Time as OTime;
use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::crl::{CrlBuilder, Revoked};
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::manifest::{FileAndHash, Manifest, ManifestContent};
use rpkit_objects::resources::Asn;
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use std::collections::BTreeSet;

fn otime(t: Time) -> OTime {
    OTime::new(t.to_chrono())
}

fn secs(t: OTime) -> i64 {
    t.timestamp()
}

/// The TA and CA as validated resource certificates in the oracle.
fn oracle_chain(f: &Fixture) -> (rpki::repository::cert::ResourceCert, rpki::repository::cert::ResourceCert) {
    let at = otime(f.now);
    let ta = rpki::repository::Cert::decode(bytes::Bytes::copy_from_slice(f.ta.to_der())).unwrap();
    let ta = ta.validate_ta_at(TalInfo::from_name("test".into()).into_arc(), true, at).unwrap();
    let ca = rpki::repository::Cert::decode(bytes::Bytes::copy_from_slice(f.ca.to_der())).unwrap();
    let ca = ca.validate_ca_at(&ta, true, at).unwrap();
    (ta, ca)
}

#[test]
fn oracle_certificates_and_resources() {
    let f = Fixture::new();
    let (ta, ca) = oracle_chain(&f);
    let ours = f.ca.resources.explicit_set();
    let ca_cert: &rpki::repository::Cert = ca.as_ref();
    assert_eq!(ca_cert.v4_resources().to_blocks().unwrap().as_v4().to_string(), ours.ipv4.to_strings().join(", "));
    assert_eq!(ca_cert.v6_resources().to_blocks().unwrap().as_v6().to_string(), ours.ipv6.to_strings().join(", "));
    assert_eq!(ca_cert.as_resources().to_blocks().unwrap().to_string(), ours.asn.to_strings().join(", "));
    assert_eq!(secs(ca_cert.validity().not_before()), f.ca.not_before.0);
    assert_eq!(secs(ca_cert.validity().not_after()), f.ca.not_after.0);
    assert_eq!(ca_cert.subject_key_identifier().as_slice(), &f.ca.ski.0);
    let ta_cert: &rpki::repository::Cert = ta.as_ref();
    assert_eq!(String::from(ta_cert.serial_number()), f.ta.serial.decimal());
}

#[test]
fn oracle_roa() {
    let f = Fixture::new();
    let (_, ca) = oracle_chain(&f);
    let content = RoaContent {
        asn: Asn(64511),
        prefixes: vec![
            RoaPrefix { prefix: "192.0.2.0/24".parse().unwrap(), max_length: Some(26) },
            RoaPrefix { prefix: "10.10.0.0/16".parse().unwrap(), max_length: None },
            RoaPrefix { prefix: "2001:db8:1::/48".parse().unwrap(), max_length: None },
        ],
    };
    let ours = Roa::build(&content, &f.issuer(), &f.ee(3, "x.roa"), f.key(), f.now).unwrap();
    let theirs = rpki::repository::Roa::decode(bytes::Bytes::copy_from_slice(ours.signed.to_der()), true).unwrap();
    let (_, attestation) = theirs.process(&ca, true, |_| Ok(())).unwrap();
    assert_eq!(u32::from(attestation.as_id()), 64511);
    let theirs: BTreeSet<String> =
        attestation.iter().map(|a| format!("{}/{}-{}", a.address(), a.address_length(), a.max_length())).collect();
    let ours: BTreeSet<String> = ours.content.prefixes.iter().map(|p| format!("{}-{}", p.prefix, p.max_len())).collect();
    assert_eq!(theirs, ours);
}

#[test]
fn oracle_manifest() {
    let f = Fixture::new();
    let (_, ca) = oracle_chain(&f);
    let content = ManifestContent {
        manifest_number: Serial::from_u128(1 << 70),
        this_update: f.now.add_secs(-10),
        next_update: f.now.add_secs(3600),
        files: (0..50).map(|i| FileAndHash { file: format!("obj-{i}.roa"), hash: sha256(&[i as u8]) }).collect(),
    };
    let ours = Manifest::build(&content, &f.issuer(), Serial::from_u64(11), "rsync://rpki.test/repo/member/m.mft").unwrap();
    let theirs = rpki::repository::Manifest::decode(bytes::Bytes::copy_from_slice(ours.signed.to_der()), true).unwrap();
    let (_, mft) = theirs.validate(&ca, true).unwrap();
    assert_eq!(String::from(mft.manifest_number()), content.manifest_number.decimal());
    assert_eq!(secs(mft.this_update()), content.this_update.0);
    assert_eq!(secs(mft.next_update()), content.next_update.0);
    let theirs: Vec<(String, Vec<u8>)> =
        mft.iter().map(|fh| (String::from_utf8(fh.file().to_vec()).unwrap(), fh.hash().to_vec())).collect();
    let ours: Vec<(String, Vec<u8>)> = content.files.iter().map(|f| (f.file.clone(), f.hash.to_vec())).collect();
    assert_eq!(theirs, ours);
}

#[test]
fn oracle_aspa() {
    let f = Fixture::new();
    let (_, ca) = oracle_chain(&f);
    let content = AspaContent::new(Asn(64500), [Asn(174), Asn(3356), Asn(4200000000)]).unwrap();
    let ours = Aspa::build(&content, &f.issuer(), &f.ee(4, "y.asa"), f.key(), f.now).unwrap();
    let theirs = rpki::repository::aspa::Aspa::decode(bytes::Bytes::copy_from_slice(ours.signed.to_der()), true).unwrap();
    let (_, att) = theirs.process(&ca, true, |_| Ok(())).unwrap();
    assert_eq!(u32::from(att.customer_as()), 64500);
    let provs: Vec<u32> = att.provider_as_set().iter().map(u32::from).collect();
    assert_eq!(provs, [174, 3356, 4200000000]);
}

#[test]
fn oracle_crl() {
    let f = Fixture::new();
    let b = CrlBuilder {
        issuer: f.ca.subject.clone(),
        aki: f.ca.ski,
        this_update: f.now,
        next_update: f.now.add_secs(86400),
        crl_number: Serial::from_u64(42),
        revoked: vec![Revoked { serial: Serial::from_u64(1234), revocation_date: f.now }],
    };
    let ours = b.sign(&f.signer, &f.ca_key).unwrap();
    let theirs = rpki::repository::Crl::decode(bytes::Bytes::copy_from_slice(ours.to_der())).unwrap();
    let ca_cert: &rpki::repository::Cert = &rpki::repository::Cert::decode(bytes::Bytes::copy_from_slice(f.ca.to_der())).unwrap();
    theirs.verify_signature(ca_cert.subject_public_key_info()).unwrap();
    assert_eq!(String::from(theirs.crl_number()), "42");
    assert!(theirs.contains(1234u64.into()));
    assert!(!theirs.contains(1235u64.into()));
    assert_eq!(secs(theirs.this_update()), f.now.0);
    assert_eq!(secs(theirs.next_update()), f.now.0 + 86400);
}

#[test]
fn oracle_tal() {
    let f = Fixture::new();
    let tal = rpkit_objects::tal::Tal {
        comments: vec!["test".into()],
        uris: vec!["https://rpki.test/ta.cer".into(), "rsync://rpki.test/repo/ta.cer".into()],
        key: f.ta.public_key.clone(),
    };
    let text = tal.encode();
    let theirs = rpki::repository::tal::Tal::read("test.tal", &mut text.as_bytes()).unwrap();
    assert_eq!(theirs.uris().count(), 2);
    assert_eq!(theirs.key_info().key_identifier().as_slice(), &f.ta.ski.0);
}
