//! BPKI identities, CMS-signed protocol messages (RFC 6492 §3.1 / RFC 8181 §3.1)
//! and RFC 8183 setup documents, checked both ways against the `rpki` crate.

use rpkit_objects::bpki::{self, IdCert};
use rpkit_objects::crypto::{KeyId, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::error::Kind;
use rpkit_objects::rfc8181::{Query, Reply};
use rpkit_objects::rfc8183::{PublisherRequest, RepositoryResponse};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_message::SignedMessage;

struct Identity {
    signer: SoftSigner,
    key: KeyId,
    ee_key: KeyId,
    cert: IdCert,
}

fn identity() -> Identity {
    let signer = SoftSigner::new();
    let key = signer.create_key().unwrap();
    let ee_key = signer.create_key().unwrap();
    let now = Time::now();
    let public = signer.public_key(&key).unwrap();
    let cert = bpki::issue(&signer, &key, None, &public, Serial::from_u64(1), now.add_secs(-300), now.add_secs(86400 * 365)).unwrap();
    Identity { signer, key, ee_key, cert }
}

impl Identity {
    fn sign(&self, xml: &[u8]) -> Vec<u8> {
        SignedMessage::build(xml, &self.signer, &self.key, &self.cert, &self.ee_key, Time::now()).unwrap()
    }
}

#[test]
fn identity_certificate_is_a_valid_bpki_ta_for_the_oracle() {
    let id = identity();
    id.cert.validate_ta().unwrap();
    let theirs = rpki::ca::idcert::IdCert::decode(id.cert.to_der()).unwrap();
    theirs.validate_ta().unwrap();
    assert_eq!(theirs.subject_key_identifier().as_slice(), &id.cert.ski.0);
}

#[test]
fn our_signed_message_validates_in_the_oracle() {
    let id = identity();
    let xml = Query::List.encode();
    let cms = id.sign(xml.as_bytes());
    let theirs = rpki::ca::publication::PublicationCms::decode(&cms).unwrap();
    let ta = rpki::ca::idcert::IdCert::decode(id.cert.to_der()).unwrap();
    theirs.validate(ta.public_key()).unwrap();
    assert_eq!(theirs.into_message(), rpki::ca::publication::Message::list_query());
    // And in our own decoder.
    let ours = SignedMessage::decode(&cms).unwrap();
    ours.verify(&id.cert, Time::now()).unwrap();
    assert_eq!(ours.content(), xml.as_bytes());
}

#[test]
fn oracle_signed_message_verifies_here() {
    use rpki::crypto::{PublicKeyFormat, Signer as _};
    let signer = rpki::crypto::softsigner::SoftSigner::new();
    let key = signer.create_key(PublicKeyFormat::Rsa).unwrap();
    let ta = rpki::ca::idcert::IdCert::new_ta(rpki::repository::x509::Validity::from_secs(3600), &key, &signer).unwrap();
    let msg = rpki::ca::publication::Message::list_query();
    let cms = rpki::ca::publication::PublicationCms::create(msg, &key, &signer).unwrap().to_bytes();
    let ours_ta = IdCert::decode(&ta.to_bytes()).unwrap();
    ours_ta.validate_ta().unwrap();
    let decoded = SignedMessage::decode(&cms).unwrap();
    decoded.verify(&ours_ta, Time::now()).unwrap();
    assert_eq!(Query::decode(decoded.content()).unwrap(), Query::List);
    // A different identity does not verify it.
    let other = identity();
    let err = decoded.verify(&other.cert, Time::now()).unwrap_err();
    assert!(err.to_string().contains("not issued by the sender"), "{err}");
    assert_eq!(err.kind, Kind::Signature);
}

#[test]
fn tampered_content_and_expired_certificates_are_refused() {
    let id = identity();
    let cms = id.sign(Reply::Success.encode().as_bytes());
    // Flip one byte of the XML inside (the message digest no longer matches).
    let pos = cms.windows(7).position(|w| w == b"success").unwrap();
    let mut bad = cms.clone();
    bad[pos] ^= 0x20;
    let err = SignedMessage::decode(&bad).unwrap().verify(&id.cert, Time::now()).unwrap_err();
    assert!(err.to_string().contains("message digest"), "{err}");
    // Far in the future the one-hour EE certificate has expired.
    let err = SignedMessage::decode(&cms).unwrap().verify(&id.cert, Time::now().add_secs(86400)).unwrap_err();
    assert!(err.to_string().contains("not valid now"), "{err}");
    assert_eq!(err.kind, Kind::Time);
    // Truncated DER is a decoding error, never a panic.
    for cut in [0, 1, 10, cms.len() / 2, cms.len() - 1] {
        assert_eq!(SignedMessage::decode(&cms[..cut]).unwrap_err().kind, Kind::Encoding, "cut at {cut}");
    }
}

#[test]
fn setup_documents_round_trip_with_the_oracle() {
    let id = identity();
    let req = PublisherRequest { tag: Some("A0001".into()), publisher_handle: "member-7".into(), id_cert: id.cert.clone() };
    let xml = req.encode();
    let theirs = rpki::ca::idexchange::PublisherRequest::parse(xml.as_bytes()).unwrap();
    theirs.validate().unwrap();
    assert_eq!(theirs.publisher_handle().as_str(), "member-7");
    let back = PublisherRequest::decode(theirs.to_xml_string().as_bytes()).unwrap();
    assert_eq!(back.publisher_handle, "member-7");
    assert_eq!(back.id_cert.to_der(), id.cert.to_der());

    let resp = RepositoryResponse {
        tag: None,
        publisher_handle: "member-7".into(),
        service_uri: "http://rpki.test:8181/rfc8181/member-7".into(),
        sia_base: "rsync://rpki.test/repo/member-7/".into(),
        rrdp_notification_uri: Some("https://rpki.test/rrdp/notification.xml".into()),
        id_cert: id.cert.clone(),
    };
    let theirs = rpki::ca::idexchange::RepositoryResponse::parse(resp.encode().as_bytes()).unwrap();
    assert_eq!(theirs.sia_base().to_string(), "rsync://rpki.test/repo/member-7/");
    let back = RepositoryResponse::decode(theirs.to_xml_string().as_bytes()).unwrap();
    assert_eq!(back.service_uri, resp.service_uri);
    assert_eq!(back.rrdp_notification_uri, resp.rrdp_notification_uri);
}

#[test]
fn setup_documents_with_errors_are_refused_by_name() {
    let id = identity();
    let good = PublisherRequest { tag: None, publisher_handle: "m1".into(), id_cert: id.cert.clone() }.encode();
    for (bad, want) in [
        (good.replace("publisher_handle=\"m1\"", "publisher_handle=\"a b\""), "not a valid handle"),
        (good.replace("version=\"1\"", "version=\"2\""), "version must be 1"),
        (good.replace("rpki-setup/", "other/"), "wrong namespace"),
        (good.replace("<publisher_bpki_ta>", "<publisher_bpki_ta>!!"), "bad base64"),
        (format!("<!DOCTYPE x>{good}"), "DOCTYPE"),
    ] {
        let err = PublisherRequest::decode(bad.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
    // An EE certificate is not an identity.
    let ee_pub = id.signer.public_key(&id.ee_key).unwrap();
    let now = Time::now();
    let ee = bpki::issue(&id.signer, &id.key, Some(&id.cert), &ee_pub, Serial::from_u64(2), now, now.add_secs(60)).unwrap();
    let xml = PublisherRequest { tag: None, publisher_handle: "m1".into(), id_cert: ee }.encode();
    let err = PublisherRequest::decode(xml.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("not a CA certificate"), "{err}");
}
