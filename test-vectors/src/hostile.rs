//! The hostile-repository catalogue for fetching (CHECKLIST 7.3–7.5): one case
//! per attack a repository server can make, each with what a robust validator
//! must do. Every case has the same honest part: a trust anchor and CA `good`
//! on server G, and CA `evil` publishing in a repository of its own on server
//! H. A case changes only what H serves (or what `evil` publishes); the
//! validator must keep `good`'s payloads, reject what it must with a warning
//! naming the rule, and finish within the case's time and memory bounds
//! without writing outside its cache. The servers are the test's own, on
//! loopback, started before the repository is built (their URLs are certified).
//!
//! Object-level cases (malformed DER, names, numbers) are in [`crate::scenario`].

use crate::scenario::{Ca, PublishSpec, World};
use base64::Engine;
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::rrdp::write;
use rpkit_objects::tal::Tal;
use std::collections::{BTreeMap, BTreeSet};

/// What a server does when a path is asked for.
#[derive(Clone, Debug)]
pub enum Serve {
    Bytes(Vec<u8>),
    /// The bytes with `Content-Encoding: gzip` (compressed by the server).
    Gzip(Vec<u8>),
    Status(u16, Vec<u8>),
    /// 302 to this URL.
    Redirect(String),
    /// `head`, then one more byte every `every_ms`, forever.
    Drip {
        head: Vec<u8>,
        every_ms: u64,
    },
    /// Accept the request and never answer.
    Silent,
    /// `head`, then spaces as fast as the client reads, forever.
    Endless {
        head: Vec<u8>,
    },
}

/// One case: its name, the CHECKLIST item, and what it is.
pub const CASES: &[(&str, &str, &str)] = &[
    ("baseline", "-", "nothing hostile: both CAs' payloads are used (the harness sees evil's repository)"),
    ("drip-notification", "PIT-18", "H sends the notification one byte a second (Stalloris, CVE-2021-43173)"),
    ("silent-notification", "PIT-18", "H accepts the connection and never answers (CVE-2021-3909)"),
    ("endless-notification", "PIT-18", "H streams a notification that never ends"),
    ("drip-snapshot", "PIT-18", "H serves the notification, then drip-feeds the snapshot"),
    ("gzip-bomb", "PIT-19", "the snapshot is a 64 MB run of spaces in one element, gzip-encoded to 64 KB (CVE-2021-43174)"),
    ("billion-laughs", "PIT-19", "the notification declares nested entities (DOCTYPE)"),
    ("external-entity", "PIT-19", "the snapshot declares an external entity naming /etc/passwd (XXE)"),
    ("bad-base64", "PIT-20", "a publish element of the snapshot holds `@@@` (CVE-2022-3029)"),
    ("status-500", "PIT-21", "the notification answers 500 with a valid notification as its body (Routinator #802)"),
    ("redirect-loop", "PIT-21", "the notification redirects to itself"),
    ("cross-origin-snapshot", "PIT-21", "H's notification names a snapshot on G (RFC 9674)"),
    ("cross-origin-redirect", "PIT-21", "H's notification redirects to G (RFC 9674)"),
    ("shadowing", "PIT-15", "H's snapshot also publishes forged objects at good's rsync URIs (RRDPC-16)"),
    ("path-traversal", "PIT-14", "H's snapshot publishes `..` and percent-encoded URIs aiming outside the cache (CVE-2021-3907)"),
    ("huge-object", "PIT-23", "evil's manifest lists a 5 MB object"),
    ("many-objects", "PIT-3", "H's snapshot holds 100,000 extra objects"),
    (
        "stalling-children",
        "PIT-18",
        "evil certifies 8 child CAs whose 8 repositories all accept and never answer: they time out together, not in turn",
    ),
    (
        "shared-snapshot",
        "PIT-15",
        "a second repository's notification on H names the first one's snapshot: each repository keeps to its own objects (RRDPC-16)",
    ),
    ("repository-fanout", "PIT-17", "evil certifies 24 child CAs, each in a repository of its own (CVE-2021-43172)"),
    ("oversized-ta", "PIT-25", "a second TAL's TA certificate URL streams without end"),
];

/// Files of one server, by path.
pub type Site = BTreeMap<String, Serve>;

/// A built case: what G and H serve, the TALs, and the expected outcome.
pub struct Hostile {
    pub name: &'static str,
    /// TAL files to validate with (the first is the honest one).
    pub tals: Vec<Tal>,
    pub g: Site,
    pub h: Site,
    /// `PREFIX-MAX ASN` strings the run must output, exactly.
    pub vrps: BTreeSet<String>,
    /// A warning the run must give: its rule and a piece of its text.
    pub warning: Option<(&'static str, &'static str)>,
    /// Extra `rpkit validate` arguments.
    pub args: Vec<String>,
    /// Bounds the run must keep.
    pub max_secs: u64,
    pub max_rss_mib: u64,
}

const SESSION: &str = "5e1b8c3e-2d4f-4b6a-9c7e-1f0a2b3c4d5e";
const GOOD_VRP: &str = "192.0.2.0/24-24 AS64496";
const EVIL_VRP: &str = "198.51.100.0/24-24 AS64511";

/// An RRDP snapshot of `objects` (session [`SESSION`], serial 1).
pub fn snapshot(objects: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut w = Vec::new();
    write::open(&mut w, "snapshot", SESSION, 1).expect("in memory");
    for (uri, der) in objects {
        write::publish(&mut w, uri, None, der).expect("in memory");
    }
    write::close(&mut w, "snapshot").expect("in memory");
    w
}

/// An RRDP notification naming `snapshot_url` with the hash of `snapshot`.
pub fn notification(snapshot_url: &str, snapshot: &[u8]) -> Vec<u8> {
    let mut w = Vec::new();
    write::open(&mut w, "notification", SESSION, 1).expect("in memory");
    write::snapshot_ref(&mut w, snapshot_url, &sha256(snapshot)).expect("in memory");
    write::close(&mut w, "notification").expect("in memory");
    w
}

/// Serve `objects` as an RRDP repository under `prefix` (`/`-ended) of `base`.
fn repository(site: &mut Site, base: &str, prefix: &str, objects: &BTreeMap<String, Vec<u8>>) {
    let snap = snapshot(objects);
    let snap_path = format!("{prefix}{SESSION}/1/snapshot.xml");
    site.insert(format!("{prefix}notification.xml"), Serve::Bytes(notification(&format!("{base}{snap_path}"), &snap)));
    site.insert(snap_path, Serve::Bytes(snap));
}

fn under(objects: &BTreeMap<String, Vec<u8>>, base: &str) -> BTreeMap<String, Vec<u8>> {
    objects.iter().filter(|(u, _)| u.starts_with(base)).map(|(u, d)| (u.clone(), d.clone())).collect()
}

/// Build case `name`; G and H listen at `g` and `h` (`https://localhost:PORT`).
pub fn build(name: &'static str, g: &str, h: &str, now: Time) -> Hostile {
    let good_base = "rsync://good.test/repo/";
    let evil_base = "rsync://evil.test/repo/";
    let (mut w, mut ta) = World::at(good_base, Some(&format!("{g}/notification.xml")), Some(&format!("{g}/ta.cer")), now);
    let mut good = w.child(&mut ta, "good", "AS64496, 192.0.2.0/24", |_| {});
    w.roa(&mut good, 64496, &["192.0.2.0/24"], |_| {});
    let evil_notify = format!("{h}/notification.xml");
    let mut evil = w.child_in(&mut ta, &format!("{evil_base}evil/"), Some(&evil_notify), "AS64511, 198.51.100.0/24", |_| {});
    w.roa(&mut evil, 64511, &["198.51.100.0/24"], |_| {});
    let mut vrps: BTreeSet<String> = [GOOD_VRP, EVIL_VRP].into_iter().map(String::from).collect();
    let (mut max_secs, max_rss_mib, mut args) = (20, 128, Vec::new());
    let mut extra_tal = None;
    let mut children: Vec<Ca> = Vec::new();

    match name {
        "huge-object" => {
            evil.files.insert("big.roa".into(), vec![0x30; 5 << 20]);
        }
        "repository-fanout" | "stalling-children" | "shared-snapshot" => {
            let n = match name {
                "repository-fanout" => 24,
                "stalling-children" => 8,
                _ => 1,
            };
            for i in 0..n {
                let dir = format!("rsync://fan{i}.test/repo/c/");
                let notify = format!("{h}/fan{i}/notification.xml");
                let mut c = w.child_in(&mut evil, &dir, Some(&notify), "AS64511, 198.51.100.0/24", |_| {});
                w.roa(&mut c, 64511, &["198.51.100.0/24"], |_| {});
                children.push(c);
            }
            args = match name {
                "repository-fanout" => vec!["--max-repositories".into(), "10".into()],
                _ => vec!["--repository-timeout".into(), "4".into()],
            };
        }
        "oversized-ta" => {
            let (_, other_ta) = World::at("rsync://evil.test/ta/", None, Some(&format!("{h}/huge-ta.cer")), now);
            extra_tal = Some(other_ta.cert.public_key.clone());
        }
        _ => {}
    }
    for c in &mut children {
        w.publish(c, &PublishSpec::default());
    }
    w.publish(&mut evil, &PublishSpec::default());
    w.publish(&mut good, &PublishSpec::default());
    w.publish(&mut ta, &PublishSpec::default());

    let mut gs = Site::new();
    gs.insert("/ta.cer".into(), Serve::Bytes(ta.cert.to_der().to_vec()));
    repository(&mut gs, g, "/", &under(&w.objects, good_base));
    let evil_objects = under(&w.objects, evil_base);
    let mut hs = Site::new();
    repository(&mut hs, h, "/", &evil_objects);
    for (i, c) in children.iter().enumerate() {
        repository(&mut hs, h, &format!("/fan{i}/"), &under(&w.objects, &c.dir));
    }
    let snap_path = format!("/{SESSION}/1/snapshot.xml");
    let real_notification = match &hs["/notification.xml"] {
        Serve::Bytes(b) => b.clone(),
        _ => unreachable!("just built"),
    };
    let head = b"<notification xmlns=\"http://www.ripe.net/rpki/rrdp\" version=\"1\" ".to_vec();
    // A snapshot with `body` instead of evil's objects, and a notification naming it.
    let replace_snapshot = |hs: &mut Site, body: Vec<u8>, serve: fn(Vec<u8>) -> Serve| {
        hs.insert("/notification.xml".into(), Serve::Bytes(notification(&format!("{h}{snap_path}"), &body)));
        hs.insert(snap_path.clone(), serve(body));
    };
    let snap_head = format!("<snapshot xmlns=\"http://www.ripe.net/rpki/rrdp\" version=\"1\" session_id=\"{SESSION}\" serial=\"1\">");
    let some_uri = evil_objects.keys().next().cloned().unwrap_or_default();
    let mut warning: Option<(&'static str, &'static str)> = None;
    match name {
        "baseline" => {}
        "drip-notification" => {
            warning = Some(("RRDPC-11", "timed out"));
            hs.insert("/notification.xml".into(), Serve::Drip { head: real_notification[..20].to_vec(), every_ms: 1000 });
            args.extend(["--repository-timeout".into(), "4".into()]);
        }
        "silent-notification" => {
            warning = Some(("RRDPC-11", "timed out"));
            hs.insert("/notification.xml".into(), Serve::Silent);
            args.extend(["--repository-timeout".into(), "4".into()]);
        }
        "endless-notification" => {
            warning = Some(("RRDPC-11", "larger than"));
            hs.insert("/notification.xml".into(), Serve::Endless { head });
        }
        "drip-snapshot" => {
            warning = Some(("RRDPC-11", "timed out"));
            let snap = match &hs[&snap_path] {
                Serve::Bytes(b) => b.clone(),
                _ => unreachable!("just built"),
            };
            hs.insert(snap_path.clone(), Serve::Drip { head: snap[..100].to_vec(), every_ms: 500 });
            args.extend(["--repository-timeout".into(), "4".into()]);
        }
        "gzip-bomb" => {
            warning = Some(("RRDPC-11", "larger than"));
            let body = format!("{snap_head}<publish uri=\"{some_uri}\">{}</publish></snapshot>", " ".repeat(64 << 20));
            replace_snapshot(&mut hs, body.into_bytes(), Serve::Gzip);
        }
        "billion-laughs" => {
            warning = Some(("RRDPC-11", "DOCTYPE is not allowed"));
            let lol = "<?xml version=\"1.0\"?><!DOCTYPE n [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\
                       <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>";
            let mut body = lol.as_bytes().to_vec();
            body.extend_from_slice(&real_notification);
            hs.insert("/notification.xml".into(), Serve::Bytes(body));
        }
        "external-entity" => {
            warning = Some(("RRDPC-11", "DOCTYPE is not allowed"));
            let body = format!(
                "<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{snap_head}<publish uri=\"{some_uri}\">&e;</publish></snapshot>"
            );
            replace_snapshot(&mut hs, body.into_bytes(), Serve::Bytes);
        }
        "bad-base64" => {
            warning = Some(("RRDPC-11", "bad base64"));
            let body = format!("{snap_head}<publish uri=\"{some_uri}\">@@@</publish></snapshot>");
            replace_snapshot(&mut hs, body.into_bytes(), Serve::Bytes);
        }
        "status-500" => {
            warning = Some(("RRDPC-11", "HTTP status 500"));
            hs.insert("/notification.xml".into(), Serve::Status(500, real_notification));
        }
        "redirect-loop" => {
            warning = Some(("RRDPC-11", "too many redirects"));
            hs.insert("/notification.xml".into(), Serve::Redirect(format!("{h}/notification.xml")));
        }
        "cross-origin-snapshot" => {
            warning = Some(("RRDPC-11", "is not on the notification's origin"));
            let snap = match hs.remove(&snap_path) {
                Some(Serve::Bytes(b)) => b,
                _ => unreachable!("just built"),
            };
            hs.insert("/notification.xml".into(), Serve::Bytes(notification(&format!("{g}/evil-snapshot.xml"), &snap)));
            gs.insert("/evil-snapshot.xml".into(), Serve::Bytes(snap));
        }
        "cross-origin-redirect" => {
            warning = Some(("RRDPC-11", "redirect to another origin"));
            gs.insert("/evil-notification.xml".into(), Serve::Bytes(real_notification));
            hs.insert("/notification.xml".into(), Serve::Redirect(format!("{g}/evil-notification.xml")));
        }
        "shadowing" => {
            // Every object of good's point, published by H with evil's ROA in its place.
            let forged = evil_objects.values().next().cloned().unwrap_or_default();
            let mut objects = evil_objects.clone();
            for uri in under(&w.objects, good_base).keys() {
                objects.insert(uri.clone(), forged.clone());
            }
            let snap = snapshot(&objects);
            replace_snapshot(&mut hs, snap, Serve::Bytes);
            warning = None;
        }
        "path-traversal" => {
            let mut body = snap_head.clone();
            for uri in
                ["rsync://evil.test/repo/../../../../escape-a", "rsync://evil.test/repo/%2e%2e/%2e%2e/escape-b", "rsync://../escape-c/x"]
            {
                body += &format!("<publish uri=\"{uri}\">AAAA</publish>");
            }
            for (uri, der) in &evil_objects {
                body += &format!("<publish uri=\"{uri}\">{}</publish>", base64::engine::general_purpose::STANDARD.encode(der));
            }
            body += "</snapshot>";
            replace_snapshot(&mut hs, body.into_bytes(), Serve::Bytes);
            warning = Some(("RRDPC-11", "(RSYNC-3)"));
        }
        "huge-object" => warning = Some(("MFT-13", "big.roa is larger than the 4000000-octet object limit")),
        "many-objects" => {
            let mut objects = evil_objects.clone();
            for i in 0..100_000 {
                objects.insert(format!("{evil_base}junk/{i}.roa"), vec![0x30, 0x00]);
            }
            let snap = snapshot(&objects);
            replace_snapshot(&mut hs, snap, Serve::Bytes);
            warning = None;
            max_secs = 60;
        }
        "repository-fanout" => warning = Some(("PIT-17", "more than 10 repositories")),
        "shared-snapshot" => {
            // The child's notification names evil's snapshot (same session and
            // serial): the child's point is not in it, so the child fails alone.
            let snap = match &hs[&snap_path] {
                Serve::Bytes(b) => b.clone(),
                _ => unreachable!("just built"),
            };
            hs.insert("/fan0/notification.xml".into(), Serve::Bytes(notification(&format!("{h}{snap_path}"), &snap)));
            warning = Some(("MFT-13", "the manifest is missing"));
        }
        "stalling-children" => {
            for i in 0..children.len() {
                hs.insert(format!("/fan{i}/notification.xml"), Serve::Silent);
            }
            warning = Some(("RRDPC-11", "timed out"));
            // Eight 4 s timeouts one after another would take 32 s.
            max_secs = 12;
        }
        "oversized-ta" => {
            hs.insert("/huge-ta.cer".into(), Serve::Endless { head: vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff] });
            warning = Some(("TA-5", "larger than the limit"));
        }
        _ => panic!("unknown hostile case {name}"),
    }
    // A failure of evil's own repository or point costs its VRP (its children's are the same).
    if !matches!(name, "stalling-children" | "shared-snapshot") && warning.is_some_and(|(rule, _)| matches!(rule, "RRDPC-11" | "MFT-13")) {
        vrps.remove(EVIL_VRP);
    }
    if name == "repository-fanout" {
        // Ten repositories in all: G, H and eight of the 24 children's.
        max_secs = 40;
    }
    let mut tals = vec![w.tal.clone()];
    if let Some(key) = extra_tal {
        tals.push(Tal { comments: Vec::new(), uris: vec![format!("{h}/huge-ta.cer")], key });
    }
    Hostile { name, tals, g: gs, h: hs, vrps, warning, args, max_secs, max_rss_mib }
}
