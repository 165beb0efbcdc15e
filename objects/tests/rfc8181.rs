//! RFC 8181 messages: the rpki-rs corpus samples decode with the expected
//! contents and survive a round trip; malformed messages are refused.

mod common;

use rpkit_objects::crypto::sha256;
use rpkit_objects::rfc8181::{Change, Query, QueryPdu, Reply, ReportError};

fn sample(name: &str) -> Vec<u8> {
    common::corpus_file(&format!("rpki-rs/ca/rfc8181/{name}"))
}

#[test]
fn corpus_queries_decode_and_round_trip() {
    assert_eq!(Query::decode(&sample("list.xml")).unwrap(), Query::List);
    for (name, n) in [("publish-empty.xml", 0), ("publish-empty-short.xml", 0), ("publish-single.xml", 1), ("publish-multi.xml", 3)] {
        let q = Query::decode(&sample(name)).unwrap();
        let Query::Pdus(pdus) = &q else { panic!("{name}") };
        assert_eq!(pdus.len(), n, "{name}");
        assert_eq!(Query::decode(q.encode().as_bytes()).unwrap(), q, "{name} round trip");
    }
    let q = Query::decode(&sample("publish-multi.xml")).unwrap();
    let Query::Pdus(pdus) = &q else { panic!() };
    let QueryPdu::Publish { der, tag, hash, .. } = &pdus[0] else { panic!() };
    assert_eq!(tag.as_deref(), Some("fae1c03bde9da15e26e90a9585d246ee4db79ee9f0b1db1a6c7deb2fc4e2d093"));
    assert_eq!(*hash, None);
    assert_eq!(rpkit_objects::hex::lower(&sha256(der)), "fae1c03bde9da15e26e90a9585d246ee4db79ee9f0b1db1a6c7deb2fc4e2d093");
    assert!(matches!(&pdus[2], QueryPdu::Withdraw { uri, .. } if uri == "rsync://host/path/cms-ta.cer"));
    let cs = q.changes();
    assert!(matches!(&cs.changes[2], Change::Withdraw { hash, .. } if *hash == sha256(der)));
}

#[test]
fn corpus_replies_decode_and_round_trip() {
    assert_eq!(Reply::decode(&sample("success-reply.xml")).unwrap(), Reply::Success);
    for name in ["list-reply-empty.xml", "list-reply-empty-short.xml"] {
        assert_eq!(Reply::decode(&sample(name)).unwrap(), Reply::List(vec![]), "{name}");
    }
    let Reply::List(items) = Reply::decode(&sample("list-reply.xml")).unwrap() else { panic!() };
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].0, "rsync://host/path/pdu.200.der");
    let errs = Reply::decode(&sample("error-reply.xml")).unwrap();
    let Reply::Errors(e) = &errs else { panic!() };
    assert_eq!(e[0].code, "object_already_present");
    assert!(e[0].text.as_deref().unwrap().starts_with("An object is already present"));
    assert_eq!(e[1], ReportError { code: "other_error".into(), tag: Some(String::new()), text: Some("Found some other issue.".into()) });
    for r in [Reply::Success, errs, Reply::List(items)] {
        assert_eq!(Reply::decode(r.encode().as_bytes()).unwrap(), r);
    }
}

#[test]
fn malformed_messages_are_refused_with_a_reason() {
    let ns = rpkit_objects::rfc8181::NS;
    for (xml, why) in [
        (format!("<msg xmlns=\"{ns}\" version=\"3\" type=\"query\"><list/></msg>"), "version"),
        ("<msg xmlns=\"urn:x\" version=\"4\" type=\"query\"><list/></msg>".to_string(), "namespace"),
        (format!("<msg xmlns=\"{ns}\" version=\"4\" type=\"reply\"><list/></msg>"), "type"),
        (format!("<msg xmlns=\"{ns}\" version=\"4\" type=\"query\"><foo uri=\"rsync://a/b\"/></msg>"), "unknown"),
        (format!("<msg xmlns=\"{ns}\" version=\"4\" type=\"query\"><publish uri=\"rsync://a/b\">BROKENBASE^$</publish></msg>"), "base64"),
        (format!("<msg xmlns=\"{ns}\" version=\"4\" type=\"query\"><withdraw uri=\"rsync://a/b\"/></msg>"), "hash"),
        (format!("<msg xmlns=\"{ns}\" version=\"4\" type=\"query\"><withdraw uri=\"rsync://a/b\" hash=\"zz\"/></msg>"), "SHA-256"),
        (format!("<!DOCTYPE msg [<!ENTITY x \"y\">]><msg xmlns=\"{ns}\" version=\"4\" type=\"query\"><list/></msg>"), "DOCTYPE"),
        ("<msg".to_string(), "XML"),
        ("".to_string(), "no <msg>"),
    ] {
        let e = Query::decode(xml.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(why), "{xml}: {e}");
    }
    // RIPE's server still speaks version 3: refused with the reason.
    let v3 = common::corpus_file("rpki-publication-server/publish.xml");
    assert!(Query::decode(&v3).unwrap_err().to_string().contains("version must be 4"));
}
