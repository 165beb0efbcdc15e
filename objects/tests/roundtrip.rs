//! Build, encode, decode, compare: every object type (issue acceptance "round trip").

mod common;

use common::{Fixture, BASE};
use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::cert::{Cert, CertBuilder, CertKind, SiaSpec};
use rpkit_objects::crl::{Crl, CrlBuilder, Revoked};
use rpkit_objects::crypto::{sha256, PublicKey, Signer};
use rpkit_objects::manifest::{FileAndHash, Manifest, ManifestContent};
use rpkit_objects::name::Name;
use rpkit_objects::object::Object;
use rpkit_objects::resources::{AsBlocks, Asn, CertResources, Choice, ResourceSet};
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use rpkit_objects::tal::Tal;

fn roa_content() -> RoaContent {
    RoaContent {
        asn: Asn(64496),
        prefixes: vec![
            RoaPrefix { prefix: "2001:db8::/32".parse().unwrap(), max_length: Some(48) },
            RoaPrefix { prefix: "192.0.2.0/24".parse().unwrap(), max_length: None },
            RoaPrefix { prefix: "10.1.0.0/16".parse().unwrap(), max_length: Some(24) },
        ],
    }
}

/// Verify a signed object with OpenSSL's CMS code, an independent implementation (CMS-9).
fn openssl_cms_verifies(der: &[u8]) -> bool {
    use openssl::cms::{CMSOptions, CmsContentInfo};
    let mut cms = CmsContentInfo::from_der(der).unwrap();
    let store = openssl::x509::store::X509StoreBuilder::new().unwrap().build();
    cms.verify(None, Some(&store), None, None, CMSOptions::NO_SIGNER_CERT_VERIFY).is_ok()
}

#[test]
fn ta_certificate_round_trip() {
    let f = Fixture::new();
    let again = Cert::decode(f.ta.to_der()).unwrap();
    assert_eq!(again.kind, CertKind::Ta);
    assert_eq!(again.ski, f.ta_key);
    assert_eq!(again.aki, None);
    again.verify_self_signed().unwrap();
    assert_eq!(again.resources.explicit_set(), ResourceSet::all());
    assert_eq!(again.sia.notify(), Some("https://rpki.test/rrdp/notification.xml"));
    assert!(again.crl_uris.is_empty() && again.ca_issuers.is_empty());
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
}

#[test]
fn ca_certificate_round_trip() {
    let f = Fixture::new();
    let c = Cert::decode(f.ca.to_der()).unwrap();
    assert_eq!(c.kind, CertKind::Ca);
    c.verify_signature(&f.ta.public_key).unwrap();
    assert!(c.verify_signature(&c.public_key).is_err());
    assert_eq!(c.aki, Some(f.ta.ski));
    assert_eq!(c.issuer, f.ta.subject);
    assert_eq!(c.serial, Serial::from_u64(2));
    assert_eq!(c.sia.rsync_repository(), Some(&*format!("{BASE}member/")));
    assert_eq!(c.resources.explicit_set().to_string(), "AS64496-AS64511, 10.0.0.0/8, 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32");
    assert_eq!(c.not_before, f.now.add_secs(-3600));
    assert!(f.ta.resources.explicit_set().contains(&c.resources.explicit_set()));
}

#[test]
fn crl_round_trip() {
    let f = Fixture::new();
    let b = CrlBuilder {
        issuer: f.ca.subject.clone(),
        aki: f.ca.ski,
        this_update: f.now,
        next_update: f.now.add_secs(86400),
        crl_number: Serial::from_u64(7),
        revoked: vec![
            Revoked { serial: Serial::from_u64(10), revocation_date: f.now.add_secs(-10) },
            Revoked { serial: Serial::from_be_bytes(&[0x7f; 20]), revocation_date: f.now.add_secs(-5) },
        ],
    };
    let crl = b.sign(&f.signer, &f.ca_key).unwrap();
    let again = Crl::decode(crl.to_der()).unwrap();
    again.verify_signature(&f.ca.public_key).unwrap();
    assert!(again.issued_by(&f.ca));
    assert_eq!(again.revoked, b.revoked);
    assert_eq!(again.crl_number, Serial::from_u64(7));
    assert_eq!((again.this_update, again.next_update), (b.this_update, b.next_update));
    assert!(again.is_revoked(&Serial::from_u64(10)));
    assert!(!again.is_revoked(&Serial::from_u64(11)));
    // Empty revocation list: the field is omitted, not encoded empty.
    let empty = CrlBuilder { revoked: vec![], ..b }.sign(&f.signer, &f.ca_key).unwrap();
    assert!(Crl::decode(empty.to_der()).unwrap().revoked.is_empty());
}

#[test]
fn roa_round_trip() {
    let f = Fixture::new();
    let content = roa_content();
    let roa = Roa::build(&content, &f.issuer(), &f.ee(100, "a.roa"), f.key(), f.now).unwrap();
    let again = Roa::decode(roa.signed.to_der()).unwrap();
    again.signed.verify_signature().unwrap();
    again.signed.ee.verify_signature(&f.ca.public_key).unwrap();
    assert!(openssl_cms_verifies(roa.signed.to_der()));
    assert_eq!(again.content.asn, Asn(64496));
    // ROA-7: canonical order, IPv4 first, sorted.
    let got: Vec<String> = again.content.prefixes.iter().map(|p| format!("{}-{}", p.prefix, p.max_len())).collect();
    assert_eq!(got, ["10.1.0.0/16-24", "192.0.2.0/24-24", "2001:db8::/32-48"]);
    // ROA-6: maxLength equal to the length is omitted on the wire.
    assert_eq!(again.content.prefixes[1].max_length, None);
    // ROA-11: the EE resources are exactly the prefixes.
    let ee = again.signed.ee.resources.explicit_set();
    assert_eq!(ee.to_string(), "10.1.0.0/16, 192.0.2.0/24, 2001:db8::/32");
    assert!(again.signed.ee.resources.asn.is_none());
    assert_eq!(again.signed.signing_time, f.now);
    assert_eq!(again.signed.ee.sia.rsync_signed_object(), Some(&*format!("{BASE}member/a.roa")));
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
}

#[test]
fn cms_14_alg_10_one_time_keys() {
    let f = Fixture::new();
    let a = Roa::build(&roa_content(), &f.issuer(), &f.ee(1, "a.roa"), f.key(), f.now).unwrap();
    let b = Roa::build(&roa_content(), &f.issuer(), &f.ee(2, "b.roa"), f.key(), f.now).unwrap();
    assert_ne!(a.signed.ee.ski, b.signed.ee.ski);
    // The EE key was destroyed: the signer cannot use it any more.
    assert!(!f.signer.contains(&a.signed.ee.ski));
    assert!(f.signer.sign(&a.signed.ee.ski, b"x").is_err());
}

#[test]
fn alg_3_our_signed_objects_carry_the_required_oids() {
    let f = Fixture::new();
    let roa = Roa::build(&roa_content(), &f.issuer(), &f.ee(1, "a.roa"), f.key(), f.now).unwrap();
    let der = roa.signed.to_der();
    let sha256_alg = [0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    let rsa_enc = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    assert!(der.windows(sha256_alg.len()).filter(|w| *w == sha256_alg).count() >= 2);
    assert!(der.windows(rsa_enc.len()).any(|w| w == rsa_enc));
}

#[test]
fn manifest_round_trip() {
    let f = Fixture::new();
    let content = ManifestContent {
        manifest_number: Serial::from_be_bytes(&[0x12; 20]),
        this_update: f.now,
        next_update: f.now.add_secs(86400),
        files: vec![
            FileAndHash { file: "abc.crl".into(), hash: sha256(b"crl") },
            FileAndHash { file: "x-Y_z.roa".into(), hash: sha256(b"roa") },
        ],
    };
    let m = Manifest::build(&content, &f.issuer(), Serial::from_u64(5), &format!("{BASE}member/m.mft")).unwrap();
    let again = Manifest::decode(m.signed.to_der()).unwrap();
    again.signed.verify_signature().unwrap();
    assert!(openssl_cms_verifies(m.signed.to_der()));
    assert_eq!(again.content, content);
    // MFT-9: EE validity equals the manifest's, EE resources inherit.
    assert_eq!((again.signed.ee.not_before, again.signed.ee.not_after), (content.this_update, content.next_update));
    let r = &again.signed.ee.resources;
    assert_eq!(r.ipv4, Some(Choice::Inherit));
    assert_eq!(r.ipv6, Some(Choice::Inherit));
    assert_eq!(r.asn, Some(Choice::Inherit));
    let eff = r.resolve(&f.ca.resources.explicit_set());
    assert_eq!(eff, f.ca.resources.explicit_set());
}

#[test]
fn aspa_round_trip() {
    let f = Fixture::new();
    let content = AspaContent::new(Asn(64500), [Asn(65001), Asn(64511), Asn(65001)]).unwrap();
    assert_eq!(content.providers, [Asn(64511), Asn(65001)]);
    let a = Aspa::build(&content, &f.issuer(), &f.ee(9, "c.asa"), f.key(), f.now).unwrap();
    let again = Aspa::decode(a.signed.to_der()).unwrap();
    again.signed.verify_signature().unwrap();
    assert!(openssl_cms_verifies(a.signed.to_der()));
    assert_eq!(again.content, content);
    assert_eq!(again.signed.ee.resources.asn, Some(Choice::Blocks(AsBlocks::from_ranges([(64500, 64500)]))));
    assert!(!again.signed.ee.resources.has_ip());
}

#[test]
fn tal_round_trip() {
    let f = Fixture::new();
    let tal = Tal {
        comments: vec!["rpkit test TA".into()],
        uris: vec!["https://rpki.test/ta/ta.cer".into(), "rsync://rpki.test/ta/ta.cer".into()],
        key: f.ta.public_key.clone(),
    };
    let text = tal.encode();
    let again = Tal::parse(text.as_bytes()).unwrap();
    assert_eq!(again, tal);
    assert_eq!(again.key.key_id(), f.ta.ski);
    // CRLF endings parse the same (TA-1).
    let crlf = text.replace('\n', "\r\n");
    assert_eq!(Tal::parse(crlf.as_bytes()).unwrap(), tal);
}

#[test]
fn router_certificate_round_trip() {
    let f = Fixture::new();
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec = openssl::ec::EcKey::generate(&group).unwrap();
    let spki = openssl::pkey::PKey::from_ec_key(ec).unwrap().public_key_to_der().unwrap();
    let key = PublicKey::decode(&spki).unwrap();
    let asn = CertResources { ipv4: None, ipv6: None, asn: Some(Choice::Blocks(AsBlocks::from_ranges([(64496, 64497)]))) };
    let b = CertBuilder {
        serial: Serial::from_u64(77),
        issuer: f.ca.subject.clone(),
        subject: Name::new("ROUTER-0000FBF0", None).unwrap(),
        not_before: f.now,
        not_after: f.now.add_secs(86400),
        public_key: key,
        ca: false,
        aki: Some(f.ca.ski),
        crl_uri: Some(format!("{BASE}member/x.crl")),
        ca_issuer: Some(format!("{BASE}ta/x.cer")),
        sia: SiaSpec::None,
        resources: asn,
        bgpsec_router: true,
    };
    let c = b.sign(&f.signer, &f.ca_key).unwrap();
    assert_eq!(c.kind, CertKind::Router);
    assert_eq!(c.eku, ["1.3.6.1.5.5.7.3.30"]);
    c.verify_signature(&f.ca.public_key).unwrap();
}

#[test]
fn every_built_object_is_recognised_by_content() {
    let f = Fixture::new();
    let roa = Roa::build(&roa_content(), &f.issuer(), &f.ee(1, "a.roa"), f.key(), f.now).unwrap();
    assert!(matches!(Object::decode(roa.signed.to_der()).unwrap(), Object::Roa(_)));
    assert!(matches!(Object::decode(f.ta.to_der()).unwrap(), Object::Cert(_)));
    let crl = CrlBuilder {
        issuer: f.ca.subject.clone(),
        aki: f.ca.ski,
        this_update: f.now,
        next_update: f.now.add_secs(1),
        crl_number: Serial::from_u64(1),
        revoked: vec![],
    }
    .sign(&f.signer, &f.ca_key)
    .unwrap();
    assert!(matches!(Object::decode(crl.to_der()).unwrap(), Object::Crl(_)));
}

/// OBJ-3 (RFC 9691): a TAK with its current key and a successor, and the
/// encodings DER or the RFC forbids.
#[test]
fn tak_round_trip() {
    use rpkit_objects::tak::{TaKey, Tak, TakContent};
    let f = Fixture::new();
    let key = |k: &PublicKey, name: &str| TaKey {
        comments: vec![format!("{name} key of the test TA")],
        certificate_uris: vec![format!("https://rpki.test/{name}.cer"), format!("rsync://rpki.test/repo/{name}.cer")],
        key: k.clone(),
    };
    let content = TakContent { current: key(&f.ta.public_key, "ta"), predecessor: None, successor: Some(key(&f.ca.public_key, "ta-next")) };
    let t = Tak::build(&content, &f.issuer(), &f.ee(11, "ta.tak"), f.key(), f.now).unwrap();
    let again = Tak::decode(t.signed.to_der()).unwrap();
    again.signed.verify_signature().unwrap();
    assert!(openssl_cms_verifies(t.signed.to_der()));
    assert_eq!(again.content, content);
    assert_eq!(again.content.successor.as_ref().unwrap().tal().uris[1], "rsync://rpki.test/repo/ta-next.cer");
    assert_eq!(again.signed.ee.resources.asn, Some(Choice::Inherit));

    // An explicit version 0 (DER leaves the DEFAULT out), the successor being the current key, no URI.
    let body = content.encode();
    let mut with_version = vec![0x02, 0x01, 0x00];
    with_version.extend_from_slice(&body[2..]);
    let with_version = rpkit_objects::der::sequence(&[&with_version]);
    assert!(TakContent::decode(&with_version).unwrap_err().to_string().contains("version 0"));
    let same = TakContent { successor: Some(content.current.clone()), ..content.clone() };
    assert!(TakContent::decode(&same.encode()).unwrap_err().to_string().contains("is the current key"));
    let none = TakContent { current: TaKey { certificate_uris: vec![], ..content.current.clone() }, ..content.clone() };
    assert!(TakContent::decode(&none.encode()).unwrap_err().to_string().contains("no certificate URI"));
}
