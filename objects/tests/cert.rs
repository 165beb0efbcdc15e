mod common;

use rpkit_objects::cert::{Cert, CertKind};

#[test]
fn ripe_ta_cert_decodes() {
    let c = Cert::decode(&common::corpus_file("rpki-rs/repository/ta.cer")).unwrap();
    assert_eq!(c.kind, CertKind::Ta);
    c.verify_self_signed().unwrap();
    println!("{c:#?}");
}

#[test]
fn ripe_ca_cert_decodes() {
    let ta = Cert::decode(&common::corpus_file("rpki-rs/repository/ta.cer")).unwrap();
    let c = Cert::decode(&common::corpus_file("rpki-rs/repository/ca1.cer")).unwrap();
    assert_eq!(c.kind, CertKind::Ca);
    c.verify_signature(&ta.public_key).unwrap();
}

#[test]
fn router_cert_decodes() {
    let c = Cert::decode(&common::corpus_file("rpki-rs/repository/router.cer")).unwrap();
    assert_eq!(c.kind, CertKind::Router);
}
