//! RFC 6492 up-down messages from other implementations: rpki.net's protocol
//! samples and rpki-rs's (some in their CMS wrapper, as Krill and RIRs sent
//! them; their BPKI CRLs need not follow the RPKI profile) decode with the
//! expected contents and survive a round trip.

mod common;

use rpkit_objects::resources::ResourceSet;
use rpkit_objects::signed_message::SignedMessage;
use rpkit_objects::up_down::{ErrorCode, Message, Payload};

fn rpki_net(name: &str) -> Message {
    let m = Message::decode(&common::corpus_file(&format!("rpki.net/ca-tests/up-down-protocol-samples/{name}"))).unwrap();
    assert_eq!(Message::decode(m.encode().as_bytes()).unwrap(), m, "{name} round trip");
    m
}

fn rpki_rs(name: &str) -> Message {
    let bytes = common::corpus_file(&format!("rpki-rs/ca/rfc6492/{name}"));
    let xml = if name.ends_with(".xml") {
        bytes
    } else {
        SignedMessage::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}")).content().to_vec()
    };
    let m = Message::decode(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(Message::decode(m.encode().as_bytes()).unwrap(), m, "{name} round trip");
    m
}

fn set(s: &str) -> ResourceSet {
    s.parse().unwrap()
}

#[test]
fn updown_1_3_rpki_net_samples_decode() {
    assert_eq!(rpki_net("list.xml").payload, Payload::List);
    let m = rpki_net("list_response.xml");
    assert_eq!((m.sender.as_str(), m.recipient.as_str()), ("sender name", "recipient name"));
    let Payload::ListResponse(classes) = m.payload else { panic!() };
    let c = &classes[0];
    assert_eq!((c.class_name.as_str(), c.cert_url.as_str()), ("ISP5", "rsync://wombat.example/ISP5"));
    assert_eq!(c.resources, set("AS64534-AS64540, 10.0.0.0/24, 10.3.0.0/24, 2001:db8::a00:0/120, 2001:db8::a03:0/120"));
    assert_eq!(c.not_after.rfc3339(), "2011-04-01T12:34:56Z");
    assert_eq!(c.suggested_sia_head.as_deref(), Some("rsync://wombat.example/fnord/"));
    assert!(!c.certificates.is_empty() && !c.issuer.is_empty());
    // An empty req_resource_set_as limits AS resources to none.
    let Payload::IssueResponse(c) = rpki_net("issue_response.xml").payload else { panic!() };
    let limit = &c.certificates[0].limit;
    assert_eq!(limit.apply(&set("AS64534, 10.0.0.0/8")), set("10.0.0.0/24"));
    for name in ["issue1.xml", "issue2.xml"] {
        let Payload::Issue(r) = rpki_net(name).payload else { panic!("{name}") };
        assert!(!r.csr.is_empty(), "{name}");
    }
    let Payload::Revoke(k) = rpki_net("revoke.xml").payload else { panic!() };
    assert_eq!((k.class_name.as_str(), rpkit_objects::up_down::encode_ski(&k.ski).as_str()), ("ISP5", "CfAUC3n7C_-o71S57D65i9DLnOw"));
    assert!(matches!(rpki_net("revoke_response.xml").payload, Payload::RevokeResponse(_)));
    let Payload::Error(e) = rpki_net("error_response.xml").payload else { panic!() };
    assert_eq!((e.code(), e.description.as_deref()), (Some(ErrorCode::Internal), Some("[Readable text]")));
}

#[test]
fn updown_2_rpki_rs_samples_decode_in_and_out_of_their_cms() {
    assert_eq!(rpki_rs("list.der").payload, Payload::List);
    let Payload::Issue(r) = rpki_rs("issue.der").payload else { panic!() };
    assert!(!r.csr.is_empty());
    for name in ["issue-response.der", "afrinic-response.der", "apnic-response.der", "apnic-testbed-response.der"] {
        let m = rpki_rs(name);
        assert!(matches!(m.payload, Payload::IssueResponse(_) | Payload::ListResponse(_)), "{name}: {:?}", m.payload.type_name());
    }
    assert!(matches!(rpki_rs("revoke-req.xml").payload, Payload::Revoke(_)));
    assert!(matches!(rpki_rs("revoke-response.xml").payload, Payload::RevokeResponse(_)));
    let Payload::Error(e) = rpki_rs("not-performed-response.xml").payload else { panic!() };
    assert_eq!(e.code(), Some(ErrorCode::AlreadyProcessing));
}
