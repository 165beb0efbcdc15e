//! The RRDP files of the shared corpus through our parser: each file its
//! MANIFEST calls valid parses with the fields it holds; each one marked bad
//! is refused for the reason it was made bad (RRDPC-3, RRDPC-14; RFC 8182
//! §3.5). Files that are bad only against another file (session, serial, hash,
//! duplicate URI) are served to the client in `rrdp_client.rs`.

mod common;

use common::corpus;
use rpkit_objects::rrdp::read as xml;
use rpkit_objects::rrdp::{Item, Kind};
use rpkit_validator::rrdp::parse_notification;

/// A serial and a count (deltas listed, or publish/withdraw elements), or why the file is refused.
type Verdict = Result<(u64, usize), &'static str>;

/// (file, the notification URI it is read as (its origin), expected: serial and delta count, or a reason).
const NOTIFICATIONS: &[(&str, &str, Verdict)] = &[
    ("fort/rrdp/notif-ok.xml", "https://host/n.xml", Ok((3, 2))),
    ("fort/rrdp/notif-0deltas.xml", "https://host/n.xml", Ok((3, 0))),
    ("fort/xml/notification.xml", "https://rrdp.ripe.net/notification.xml", Ok((1510, 5))),
    ("rpki-monitoring/rrdp/ripe-notification.xml", "https://rrdp.ripe.net/notification.xml", Ok((1742, 0))),
    ("rpki-rs/rrdp/ripe-notification-unsorted.xml", "https://rrdp.ripe.net/notification.xml", Ok((1742, 91))),
    ("rpki-rrdp-tools-py/rrdp-content/notification.xml", "https://rpki-rrdp.us-east-2.amazonaws.com/n.xml", Ok((26298, 100))),
    // Beyond 2^64: no real repository gets there; refused rather than wrapped.
    ("fort/rrdp/notif-large-serial.xml", "https://host/n.xml", Err("bad serial")),
    ("fort/rrdp/notif-bad-xmlns.xml", "https://host/n.xml", Err("namespace")),
    ("fort/rrdp/notif-bad-session-id.xml", "https://host/n.xml", Err("bad session_id")),
    ("fort/rrdp/notif-bad-serial.xml", "https://host/n.xml", Err("bad serial")),
    ("fort/rrdp/notif-bad-hash.xml", "https://host/n.xml", Err("hash")),
    ("fort/rrdp/notif-bad-uri-1.xml", "https://host/n.xml", Err("origin")),
    ("fort/rrdp/notif-bad-uri-3.xml", "https://host/n.xml", Err("origin")),
    // RFC 9674: snapshot and deltas on the notification's own origin (RRDPC-3).
    ("fort/rrdp/notif-bad-uri-4.xml", "https://host/n.xml", Err("origin")),
    ("fort/rrdp/notif-bad-version.xml", "https://host/n.xml", Err("version must be 1")),
    ("rpki-client-regress/rrdp/xxe.xml", "https://host/n.xml", Err("DOCTYPE")),
    ("rpki-client-regress/rrdp/billion_lol.xml", "https://host/n.xml", Err("DOCTYPE")),
    ("rpki-rs/rrdp/lolz-notification.xml", "https://rrdp.ripe.net/n.xml", Err("DOCTYPE")),
    ("rpki-validator-2/mock-http-responses/test4/broken_notification1.xml", "https://host/n.xml", Err("namespace")),
    ("rpki-validator-3/rrdp/notification1.xml", "https://host/n.xml", Err("namespace")),
    ("rpki-validator-3/rrdp/repo1/notification.xml", "https://host/n.xml", Err("namespace")),
];

/// (file, kind, expected: serial and number of publish/withdraw elements, or a reason).
const DOCUMENTS: &[(&str, Kind, Verdict)] = &[
    ("rpki-rs/rrdp/ripe-snapshot.xml", Kind::Snapshot, Ok((1742, 277))),
    ("rpki-rs/rrdp/ripe-delta.xml", Kind::Delta, Ok((1739, 66))),
    ("rpki-client-regress/rrdp/delta.xml", Kind::Delta, Ok((13755, 4))),
    ("fort/docs-sample/delta.xml", Kind::Delta, Ok((18378, 2))),
    ("rpki-publication-server/valid-snapshot.xml", Kind::Snapshot, Ok((5932, 3))),
    ("rpki-rrdp-tools-py/sample-snapshot.xml", Kind::Snapshot, Ok((46832, 33))),
    ("rpki-validator-3/rrdp/snapshot1.xml", Kind::Snapshot, Ok((1, 1))),
    ("rpki-validator-3/rrdp/snapshot2.xml", Kind::Snapshot, Ok((3442, 3))),
    ("rpki-validator-3/rrdp/repo1/snapshot.xml", Kind::Snapshot, Ok((2, 1))),
    ("fort/rrdp/snapshot-bad-publish.xml", Kind::Snapshot, Err("bad base64")),
    ("rpki-publication-server/snapshot-with-invalid-tag.xml", Kind::Snapshot, Err("unexpected <foo>")),
    ("rpki-validator-3/rrdp/delta1.xml", Kind::Delta, Err("namespace")),
    ("rpki-validator-2/mock-http-responses/test5/delta1.xml", Kind::Delta, Err("namespace")),
    ("rpki-validator-2/mock-http-responses/test1/snapshot1.xml", Kind::Snapshot, Err("namespace")),
];

/// The same fields, or an error naming the expected reason.
fn judge(file: &str, got: Result<(u64, usize), String>, want: &Verdict, failures: &mut Vec<String>) {
    match (&got, want) {
        (Ok(g), Ok(w)) if g == w => {}
        (Err(e), Err(reason)) if e.contains(reason) => {}
        _ => failures.push(format!("{file}: got {got:?}, want {want:?}")),
    }
}

#[test]
fn rrdpc_14_corpus_notifications_parse_or_fail_for_their_reason() {
    let mut failures = Vec::new();
    for (file, notify, want) in NOTIFICATIONS {
        let got = parse_notification(corpus(file).as_slice(), notify).map(|n| (n.serial, n.deltas.len())).map_err(|e| e.to_string());
        judge(file, got, want, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rrdpc_14_corpus_snapshots_and_deltas_parse_or_fail_for_their_reason() {
    let mut failures = Vec::new();
    for (file, kind, want) in DOCUMENTS {
        let (mut serial, mut changes) = (0, 0);
        let got = xml::read(corpus(file).as_slice(), 64 << 20, *kind, |item| {
            match item {
                Item::Root { serial: s, .. } => serial = s,
                Item::Publish { .. } | Item::Withdraw { .. } => changes += 1,
                _ => {}
            }
            Ok(())
        })
        .map(|()| (serial, changes))
        .map_err(|e| e.0);
        judge(file, got, want, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The hashes of the one consistent corpus trio match (what the client checks, RRDPC-6).
#[test]
fn corpus_notification_hash_names_its_snapshot() {
    let n = parse_notification(corpus("rpki-monitoring/rrdp/ripe-notification.xml").as_slice(), "https://rrdp.ripe.net/n.xml").unwrap();
    assert_eq!(n.snapshot.hash, rpkit_objects::crypto::sha256(&corpus("rpki-rs/rrdp/ripe-snapshot.xml")));
    let other = parse_notification(corpus("rpki-rs/rrdp/ripe-notification.xml").as_slice(), "https://rrdp.ripe.net/n.xml").unwrap();
    assert_ne!(other.snapshot.hash, n.snapshot.hash, "the rpki-rs notification names another snapshot");
}
