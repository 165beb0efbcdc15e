//! Negative and edge cases of the object profiles, one test per checklist item.

mod common;

use common::Fixture;
use rpkit_objects::aspa::AspaContent;
use rpkit_objects::cert::{Cert, CertBuilder};
use rpkit_objects::crypto::{generate_rsa_keys, sha256, KeyAlgorithm};
use rpkit_objects::der::{self, Reader, Tag, Time};
use rpkit_objects::manifest::{check_file_name, ManifestContent};
use rpkit_objects::resources::Asn;
use rpkit_objects::roa::RoaContent;
use rpkit_objects::serial::Serial;
use rpkit_objects::tal::Tal;

fn roa_content(asid: &[u8], afi: &[u8], items: &[Vec<u8>]) -> Vec<u8> {
    let fam = der::sequence(&[&der::octet_string(afi), &der::tlv(Tag::SEQUENCE, &items.concat())]);
    der::sequence(&[&der::tlv(Tag::INTEGER, asid), &der::sequence(&[&fam])])
}

fn roa_addr(bits: Vec<u8>, max: Option<u64>) -> Vec<u8> {
    der::sequence(&[&bits, &max.map(der::integer_u64).unwrap_or_default()])
}

fn p(s: &str) -> Vec<u8> {
    s.parse::<rpkit_objects::resources::Prefix>().unwrap().to_bit_string()
}

#[test]
fn roa_3_as_id_range() {
    let ok = roa_content(&[0x00, 0xff, 0xff, 0xff, 0xff], &[0, 1], &[roa_addr(p("10.0.0.0/8"), None)]);
    assert_eq!(RoaContent::decode(&ok, &mut vec![]).unwrap().asn, Asn(u32::MAX));
    let zero = roa_content(&[0], &[0, 1], &[roa_addr(p("10.0.0.0/8"), None)]);
    assert_eq!(RoaContent::decode(&zero, &mut vec![]).unwrap().asn, Asn(0));
    for bad in [&[0xff][..], &[0x01, 0x00, 0x00, 0x00, 0x00]] {
        let b = roa_content(bad, &[0, 1], &[roa_addr(p("10.0.0.0/8"), None)]);
        assert_eq!(RoaContent::decode(&b, &mut vec![]).unwrap_err().rule, "ROA-3");
    }
}

#[test]
fn roa_6_max_length_bounds() {
    let dec = |max| RoaContent::decode(&roa_content(&[1], &[0, 1], &[roa_addr(p("10.0.0.0/24"), Some(max))]), &mut vec![]);
    assert_eq!(dec(23).unwrap_err().rule, "ROA-6");
    assert_eq!(dec(33).unwrap_err().rule, "ROA-6");
    assert_eq!(dec(32).unwrap().prefixes[0].max_len(), 32);
    let mut w = vec![];
    RoaContent::decode(&roa_content(&[1], &[0, 1], &[roa_addr(p("10.0.0.0/24"), Some(24))]), &mut w).unwrap();
    assert_eq!(w[0].rule, "ROA-6", "explicit maxLength = length is accepted with a warning");
}

#[test]
fn roa_4_address_families() {
    let item = roa_addr(p("10.0.0.0/8"), None);
    assert_eq!(RoaContent::decode(&roa_content(&[1], &[0, 3], std::slice::from_ref(&item)), &mut vec![]).unwrap_err().rule, "ROA-4");
    assert_eq!(RoaContent::decode(&roa_content(&[1], &[0, 1, 1], std::slice::from_ref(&item)), &mut vec![]).unwrap_err().rule, "ROA-4");
    assert_eq!(RoaContent::decode(&roa_content(&[1], &[0, 1], &[]), &mut vec![]).unwrap_err().rule, "ROA-4");
    let fam = der::sequence(&[&der::octet_string(&[0, 1]), &der::sequence(&[&item])]);
    let two = der::sequence(&[&der::integer_u64(1), &der::sequence(&[&fam, &fam])]);
    assert_eq!(RoaContent::decode(&two, &mut vec![]).unwrap_err().rule, "ROA-4");
    let mapped = roa_content(&[1], &[0, 2], &[roa_addr(p("::ffff:192.0.2.0/120"), None)]);
    assert_eq!(RoaContent::decode(&mapped, &mut vec![]).unwrap_err().rule, "ROA-4");
}

#[test]
fn roa_5_prefix_longer_than_family() {
    let long = der::bit_string(7, &[10, 0, 0, 0, 0]);
    let b = roa_content(&[1], &[0, 1], &[roa_addr(long, None)]);
    assert_eq!(RoaContent::decode(&b, &mut vec![]).unwrap_err().rule, "ROA-5");
}

#[test]
fn roa_2_version() {
    let body = roa_content(&[1], &[0, 1], &[roa_addr(p("10.0.0.0/8"), None)]);
    let inner = &body[2..];
    let v1 = der::sequence(&[&der::tlv(Tag::ctx_cons(0), &der::integer_u64(1)), inner]);
    assert_eq!(RoaContent::decode(&v1, &mut vec![]).unwrap_err().rule, "ROA-2");
    let v0 = der::sequence(&[&der::tlv(Tag::ctx_cons(0), &der::integer_u64(0)), inner]);
    assert!(RoaContent::decode(&v0, &mut vec![]).is_err(), "explicit DEFAULT is not DER");
}

#[test]
fn roa_7_non_canonical_order_warns() {
    let b = roa_content(&[1], &[0, 1], &[roa_addr(p("10.1.0.0/16"), None), roa_addr(p("10.0.0.0/16"), None)]);
    let mut w = vec![];
    RoaContent::decode(&b, &mut w).unwrap();
    assert_eq!(w[0].rule, "ROA-7");
}

#[test]
fn aspa_2_3_4_content_rules() {
    let enc = |version: Option<u64>, customer: u64, provs: &[u64]| {
        let v = version.map(|v| der::tlv(Tag::ctx_cons(0), &der::integer_u64(v))).unwrap_or_default();
        let ps: Vec<u8> = provs.iter().flat_map(|p| der::integer_u64(*p)).collect();
        der::sequence(&[&v, &der::integer_u64(customer), &der::tlv(Tag::SEQUENCE, &ps)])
    };
    assert!(AspaContent::decode(&enc(Some(1), 64500, &[0])).is_ok());
    assert_eq!(AspaContent::decode(&enc(None, 64500, &[1])).unwrap_err().rule, "ASPA-2");
    assert_eq!(AspaContent::decode(&enc(Some(0), 64500, &[1])).unwrap_err().rule, "ASPA-2");
    assert_eq!(AspaContent::decode(&enc(Some(1), 0, &[1])).unwrap_err().rule, "ASPA-3");
    assert_eq!(AspaContent::decode(&enc(Some(1), 1 << 32, &[1])).unwrap_err().rule, "ASPA-3");
    for bad in [&[2u64, 1][..], &[1, 1], &[64500], &[0, 64496], &[]] {
        assert_eq!(AspaContent::decode(&enc(Some(1), 64500, bad)).unwrap_err().rule, "ASPA-4", "{bad:?}");
    }
}

#[test]
fn mft_7_file_names() {
    for good in ["a.roa", "Abc-_9.cer", "x.asa", "y.spl", "z.tak"] {
        check_file_name(good).unwrap();
    }
    for bad in ["../a.roa", "a.b.roa", "\u{e1}.roa", "a.roa\0", "a", "a.xyz", ".roa", "a.ROA", "a/b.roa", "a%2e.roa"] {
        assert_eq!(check_file_name(bad).unwrap_err().rule, "MFT-7", "{bad:?}");
    }
}

fn mft(files: &[(&str, [u8; 32])], number: &[u8]) -> Vec<u8> {
    let list: Vec<u8> = files.iter().flat_map(|(n, h)| der::sequence(&[&der::ia5_string(n), &der::bit_string(0, h)])).collect();
    let t = Time::from_ymd_hms(2026, 1, 1, 0, 0, 0).unwrap();
    der::sequence(&[
        &der::tlv(Tag::INTEGER, number),
        &t.encode_generalized(),
        &t.add_secs(60).encode_generalized(),
        &der::oid(rpkit_objects::oid::SHA256.0),
        &der::tlv(Tag::SEQUENCE, &list),
    ])
}

#[test]
fn mft_8_duplicates_and_mft_20_empty_or_huge() {
    let h1 = sha256(b"1");
    assert_eq!(ManifestContent::decode(&mft(&[("a.roa", h1), ("a.roa", sha256(b"2"))], &[1])).unwrap_err().rule, "MFT-8");
    assert_eq!(ManifestContent::decode(&mft(&[("a.roa", h1), ("b.roa", h1)], &[1])).unwrap_err().rule, "MFT-8");
    assert_eq!(ManifestContent::decode(&mft(&[], &[1])).unwrap_err().rule, "MFT-20");
    let names: Vec<String> = (0..100_001).map(|i| format!("f{i}.roa")).collect();
    let hashes: Vec<[u8; 32]> = (0..100_001u32).map(|i| sha256(&i.to_be_bytes())).collect();
    let files: Vec<(&str, [u8; 32])> = names.iter().map(String::as_str).zip(hashes.iter().copied()).collect();
    assert_eq!(ManifestContent::decode(&mft(&files, &[1])).unwrap_err().rule, "MFT-20");
    assert_eq!(ManifestContent::decode(&mft(&files[..100_000], &[1])).unwrap().files.len(), 100_000);
}

#[test]
fn mft_3_manifest_numbers_up_to_20_octets() {
    let h = sha256(b"x");
    let max = [&[0x7f][..], &[0xff; 19]].concat();
    let m = ManifestContent::decode(&mft(&[("a.crl", h)], &max)).unwrap();
    assert_eq!(m.manifest_number.be_bytes().len(), 20);
    let around_2_63 = ManifestContent::decode(&mft(&[("a.crl", h)], &[0x00, 0x80, 0, 0, 0, 0, 0, 0, 0])).unwrap();
    assert!(around_2_63.manifest_number > Serial::from_u64(i64::MAX as u64));
    assert!(m.manifest_number > around_2_63.manifest_number);
    let too_big = [&[0x00, 0x80][..], &[0; 19]].concat();
    assert_eq!(ManifestContent::decode(&mft(&[("a.crl", h)], &too_big)).unwrap_err().rule, "MFT-3");
    assert_eq!(ManifestContent::decode(&mft(&[("a.crl", h)], &[0xff])).unwrap_err().rule, "MFT-3");
}

#[test]
fn mft_4_generalized_time_and_order() {
    let t = Time::from_ymd_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let list = der::sequence(&[&der::sequence(&[&der::ia5_string("a.crl"), &der::bit_string(0, &[0; 32])])]);
    let build = |a: Vec<u8>, b: Vec<u8>| der::sequence(&[&der::integer_u64(1), &a, &b, &der::oid(rpkit_objects::oid::SHA256.0), &list]);
    assert_eq!(ManifestContent::decode(&build(t.encode_utc(), t.add_secs(1).encode_generalized())).unwrap_err().rule, "MFT-4");
    assert_eq!(ManifestContent::decode(&build(t.encode_generalized(), t.encode_generalized())).unwrap_err().rule, "MFT-4");
}

#[test]
fn cert_7_time_encodings() {
    let a = Time::from_ymd_hms(2049, 12, 31, 23, 59, 59).unwrap();
    let b = Time::from_ymd_hms(2050, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(a.encode_x509(), der::tlv(Tag::UTC_TIME, b"491231235959Z"));
    assert_eq!(b.encode_x509(), der::tlv(Tag::GENERALIZED_TIME, b"20500101000000Z"));
    for t in [a, b] {
        assert_eq!(Time::read_x509(&mut Reader::new(&t.encode_x509()), "t").unwrap(), t);
    }
    assert_eq!(Time::read_x509(&mut Reader::new(&der::tlv(Tag::UTC_TIME, b"500101000000Z")), "t").unwrap().year(), 1950);
    for bad in [&b"4912312359+0100"[..], b"491231235959.5Z", b"4912312359Z"] {
        assert!(Time::read_x509(&mut Reader::new(&der::tlv(Tag::UTC_TIME, bad)), "t").is_err());
    }
    assert_eq!(Time::read_x509(&mut Reader::new(&a.encode_generalized()), "t").unwrap_err().rule, "CERT-7");
}

/// Re-sign a TA whose TBS was altered by `edit`, then decode it.
fn mutated_ta(f: &Fixture, edit: impl Fn(&mut CertBuilder)) -> rpkit_objects::Result<Cert> {
    let mut b = CertBuilder {
        serial: f.ta.serial.clone(),
        issuer: f.ta.issuer.clone(),
        subject: f.ta.subject.clone(),
        not_before: f.ta.not_before,
        not_after: f.ta.not_after,
        public_key: f.ta.public_key.clone(),
        ca: true,
        aki: None,
        crl_uri: None,
        ca_issuer: None,
        sia: rpkit_test_vectors::fixture::ca_sia("ta", &f.ta_key),
        resources: f.ta.resources.clone(),
        bgpsec_router: false,
    };
    edit(&mut b);
    match b.sign(&f.signer, &f.ta_key) {
        Ok(c) => Ok(c),
        Err(rpkit_objects::error::BuildError::Invalid(e)) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn profile_rules_enforced_on_built_certificates() {
    let f = Fixture::new();
    assert!(mutated_ta(&f, |_| {}).is_ok());
    // Without basicConstraints it is an EE, which must name its issuer.
    assert_eq!(mutated_ta(&f, |b| b.ca = false).unwrap_err().rule, "CERT-12");
    assert_eq!(mutated_ta(&f, |b| b.crl_uri = Some("rsync://x/y.crl".into())).unwrap_err().rule, "TA-4");
    assert_eq!(mutated_ta(&f, |b| b.ca_issuer = Some("rsync://x/y.cer".into())).unwrap_err().rule, "TA-4");
    assert_eq!(mutated_ta(&f, |b| b.serial = Serial::from_u64(0)).unwrap_err().rule, "CERT-2");
    assert_eq!(mutated_ta(&f, |b| b.not_after = b.not_before.add_secs(-1)).unwrap_err().rule, "CERT-6");
    assert_eq!(mutated_ta(&f, |b| b.resources.ipv4 = Some(rpkit_objects::resources::Choice::Inherit)).unwrap_err().rule, "TA-3");
    assert_eq!(
        mutated_ta(&f, |b| b.sia =
            rpkit_objects::cert::SiaSpec::Ca { repository: "rsync://a/b/".into(), manifest: "rsync://a/c/m.mft".into(), notify: None })
        .unwrap_err()
        .rule,
        "CERT-17"
    );
    assert_eq!(
        mutated_ta(&f, |b| b.sia = rpkit_objects::cert::SiaSpec::Ca {
            repository: "rsync://a/b/".into(),
            manifest: "rsync://a/b/m.mft".into(),
            notify: Some("http://a/n.xml".into())
        })
        .unwrap_err()
        .rule,
        "CERT-17"
    );
    // An EE (no basicConstraints) carrying the CA key usage is caught too.
    let der = f.ta.to_der();
    let ku_ca = [0x03, 0x02, 0x01, 0x06];
    let pos = der.windows(4).position(|w| w == ku_ca).unwrap();
    let mut bad = der.to_vec();
    bad[pos + 3] = 0x86; // keyCertSign + cRLSign + digitalSignature
    assert_eq!(Cert::decode(&bad).unwrap_err().rule, "CERT-13");
}

#[test]
fn alg_6_keys_are_rsa_2048_and_generated_in_parallel() {
    let keys = generate_rsa_keys(4).unwrap();
    let ids: std::collections::HashSet<_> = keys.iter().map(|k| k.public_key().key_id()).collect();
    assert_eq!(ids.len(), 4);
    for k in &keys {
        assert_eq!(k.public_key().algorithm(), KeyAlgorithm::Rsa);
        // ALG-7: the exact SPKI prefix and exponent of an RSA-2048 key.
        let spki = k.public_key().spki();
        assert!(rpkit_objects::hex::lower(spki).starts_with("30820122300d06092a864886f70d01010105000382010f003082010a0282010100"));
        assert!(rpkit_objects::hex::lower(spki).ends_with("0203010001"));
    }
    // A 1024-bit key is refused (ALG-6).
    let small = openssl::rsa::Rsa::generate(1024).unwrap();
    let spki = openssl::pkey::PKey::from_rsa(small).unwrap().public_key_to_der().unwrap();
    assert_eq!(rpkit_objects::crypto::PublicKey::decode(&spki).unwrap_err().rule, "ALG-6");
}

#[test]
fn ta_1_tal_format() {
    let f = Fixture::new();
    let key = rpkit_objects::tal::Tal { comments: vec![], uris: vec!["rsync://a/ta.cer".into()], key: f.ta.public_key.clone() }.encode();
    let key_block = key.split_once("\n\n").unwrap().1;
    let ok = format!("# comment\n# more\nhttps://a/ta.cer\nrsync://a/ta.cer\n\n{key_block}");
    let t = Tal::parse(ok.as_bytes()).unwrap();
    assert_eq!(t.uris, ["https://a/ta.cer", "rsync://a/ta.cer"]);
    assert_eq!(t.comments, ["comment", "more"]);
    for bad in [
        format!("\n{key_block}"),
        format!("https://a/ta.cer\n{key_block}"),
        "https://a/ta.cer\n\n!!notbase64!!\n".to_string(),
        format!("# c\n\nhttps://a/ta.cer\n\n{key_block}"),
        format!("ftp://a/ta.cer\n\n{key_block}"),
        format!("https://a/dir/\n\n{key_block}"),
    ] {
        assert!(Tal::parse(bad.as_bytes()).is_err(), "{bad}");
    }
}
