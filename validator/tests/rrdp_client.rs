//! The RRDP client against a real HTTPS server serving crafted files: deltas
//! and snapshots applied as RFC 8182 §3.4 says, every fault sending it to the
//! snapshot or failing cleanly with the local copy untouched (RRDPC-3 .. 17).

mod common;

use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::corpus;
use rpkit_objects::crypto::sha256;
use rpkit_objects::object::Object;
use rpkit_objects::rrdp::write;
use rpkit_validator::http::Http;
use rpkit_validator::pack::Pack;
use rpkit_validator::rrdp::{Limits, Repo, Updated};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SESSION: &str = "9df4b597-af9e-4dca-bdda-719cce2c4e28";
const OTHER_SESSION: &str = "0b8b6e3a-1f4c-4a55-9a3e-2f6d1c0e9b11";

#[derive(Clone)]
struct Resp {
    status: u16,
    body: Vec<u8>,
    gzip: bool,
    etag: Option<String>,
    location: Option<String>,
}

#[derive(Default)]
struct Files {
    map: HashMap<String, Resp>,
    hits: BTreeMap<String, usize>,
}

struct Server {
    base: String,
    files: Arc<Mutex<Files>>,
    ca_pem: PathBuf,
    dir: PathBuf,
}

async fn handler(files: Arc<Mutex<Files>>, uri: Uri, headers: HeaderMap) -> Response {
    let mut f = files.lock().unwrap();
    *f.hits.entry(uri.path().to_string()).or_default() += 1;
    let Some(r) = f.map.get(uri.path()).cloned() else { return StatusCode::NOT_FOUND.into_response() };
    if let (Some(etag), Some(inm)) = (&r.etag, headers.get("if-none-match")) {
        if inm.to_str().ok() == Some(etag.as_str()) {
            return StatusCode::NOT_MODIFIED.into_response();
        }
    }
    let mut resp = Response::builder().status(r.status);
    if let Some(e) = &r.etag {
        resp = resp.header("etag", e);
    }
    if let Some(l) = &r.location {
        resp = resp.header("location", l);
    }
    let body = if r.gzip {
        resp = resp.header("content-encoding", "gzip");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&r.body).unwrap();
        enc.finish().unwrap()
    } else {
        r.body
    };
    resp.body(axum::body::Body::from(body)).unwrap()
}

impl Server {
    fn start(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!("rpkit-rrdp-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "rrdp test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("chain.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        let tls = rpkit_serve::tls::server_config(&dir.join("chain.pem"), &dir.join("key.pem")).unwrap();
        let files: Arc<Mutex<Files>> = Arc::default();
        let f = files.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(tcp.local_addr().unwrap().port()).unwrap();
                let listener = rpkit_serve::tls::TlsListener::new(tcp, tls).unwrap();
                let app = axum::Router::new().fallback(move |uri: Uri, h: HeaderMap| handler(f.clone(), uri, h));
                axum::serve(listener, app).await.unwrap();
            })
        });
        let port = rx.recv().unwrap();
        Server { base: format!("https://localhost:{port}"), files, ca_pem: dir.join("ca.pem"), dir }
    }

    fn set(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.put(path, Resp { status: 200, body: body.into(), gzip: false, etag: None, location: None });
    }
    fn put(&self, path: &str, r: Resp) {
        self.files.lock().unwrap().map.insert(path.to_string(), r);
    }
    fn remove(&self, path: &str) {
        self.files.lock().unwrap().map.remove(path);
    }
    fn hits(&self, path: &str) -> usize {
        self.files.lock().unwrap().hits.get(path).copied().unwrap_or(0)
    }
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
    fn notify(&self) -> String {
        self.url("/notification.xml")
    }

    /// Publish snapshot `serial` of `objects` and a notification listing it and `deltas`.
    fn publish(&self, session: &str, serial: u64, objects: &[(&str, &[u8])], deltas: &[(u64, Vec<u8>)]) {
        let snap = snapshot(session, serial, objects);
        let snap_path = format!("/{session}/{serial}/snapshot.xml");
        let mut refs = Vec::new();
        for (s, body) in deltas {
            let p = format!("/{session}/{s}/delta.xml");
            refs.push((*s, self.url(&p), sha256(body)));
            self.set(&p, body.clone());
        }
        self.set("/notification.xml", notification(session, serial, &self.url(&snap_path), &sha256(&snap), &refs));
        self.set(&snap_path, snap);
    }

    fn repo<'a>(&'a self, http: &'a Http, limits: &'a Limits, notify: &'a str) -> Repo<'a> {
        Repo::new(http, &self.dir.join("cache"), notify, limits, Instant::now() + Duration::from_secs(60))
    }
    fn http(&self) -> Http {
        Http::new(std::slice::from_ref(&self.ca_pem)).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn notification(session: &str, serial: u64, snap_uri: &str, snap_hash: &[u8; 32], deltas: &[(u64, String, [u8; 32])]) -> Vec<u8> {
    let mut w = Vec::new();
    write::open(&mut w, "notification", session, serial).unwrap();
    write::snapshot_ref(&mut w, snap_uri, snap_hash).unwrap();
    for (n, uri, h) in deltas {
        write::delta_ref(&mut w, *n, uri, h).unwrap();
    }
    write::close(&mut w, "notification").unwrap();
    w
}

fn snapshot(session: &str, serial: u64, objects: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = Vec::new();
    write::open(&mut w, "snapshot", session, serial).unwrap();
    for (uri, d) in objects {
        write::publish(&mut w, uri, None, d).unwrap();
    }
    write::close(&mut w, "snapshot").unwrap();
    w
}

enum Change<'a> {
    Publish(&'a str, &'a [u8], Option<&'a [u8]>),
    Withdraw(&'a str, &'a [u8]),
}

fn delta(session: &str, serial: u64, changes: &[Change<'_>]) -> Vec<u8> {
    let mut w = Vec::new();
    write::open(&mut w, "delta", session, serial).unwrap();
    for c in changes {
        match c {
            Change::Publish(uri, d, old) => write::publish(&mut w, uri, old.map(sha256).as_ref(), d).unwrap(),
            Change::Withdraw(uri, old) => write::withdraw(&mut w, uri, &sha256(old)).unwrap(),
        }
    }
    write::close(&mut w, "delta").unwrap();
    w
}

const A: &str = "rsync://h.test/repo/a.roa";
const B: &str = "rsync://h.test/repo/sub/b.cer";
const C: &str = "rsync://h.test/repo/c.mft";

/// The local copy: URI without `rsync://` → content.
fn contents(u: &Updated) -> BTreeMap<String, Vec<u8>> {
    pack_contents(&u.objects)
}

fn pack_contents(p: &Pack) -> BTreeMap<String, Vec<u8>> {
    p.uris().into_iter().map(|u| (u.trim_start_matches("rsync://").to_string(), p.bytes(&u).unwrap())).collect()
}

fn expect(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    pairs.iter().map(|(u, d)| (u.trim_start_matches("rsync://").to_string(), d.to_vec())).collect()
}

#[test]
fn rrdpc_5_8_snapshot_then_deltas_then_a_new_session_replaces_everything() {
    let s = Server::start("chain");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1"), (B, b"b1")], &[]);
    let u = repo.update(0).unwrap();
    assert_eq!((u.serial, u.notes.len()), (1, 0));
    assert_eq!(contents(&u), expect(&[(A, b"a1"), (B, b"b1")]));

    // Serials 2 and 3: add C, replace B, then withdraw A.
    let d2 = delta(SESSION, 2, &[Change::Publish(C, b"c1", None), Change::Publish(B, b"b2", Some(b"b1"))]);
    let d3 = delta(SESSION, 3, &[Change::Withdraw(A, b"a1")]);
    s.publish(SESSION, 3, &[(B, b"b2"), (C, b"c1")], &[(2, d2), (3, d3)]);
    let u = repo.update(0).unwrap();
    assert_eq!((u.serial, u.notes.len()), (3, 0), "{:?}", u.notes);
    assert_eq!(contents(&u), expect(&[(B, b"b2"), (C, b"c1")]));
    assert_eq!(s.hits(&format!("/{SESSION}/3/snapshot.xml")), 0, "deltas only");
    assert_eq!((s.hits(&format!("/{SESSION}/2/delta.xml")), s.hits(&format!("/{SESSION}/3/delta.xml"))), (1, 1));

    // Same serial again: nothing fetched but the notification.
    let u = repo.update(0).unwrap();
    assert_eq!(u.serial, 3);
    assert_eq!(s.hits(&format!("/{SESSION}/3/delta.xml")), 1);

    // RRDPC-8: a new session's snapshot replaces the copy; objects absent from it go.
    s.publish(OTHER_SESSION, 1, &[(C, b"c2")], &[]);
    let u = repo.update(0).unwrap();
    assert_eq!(contents(&u), expect(&[(C, b"c2")]));
}

/// A local copy whose index no longer reads (a disk fault, a hand edit) is
/// no copy: the next update reads the snapshot, even at the same serial, and
/// says why; the repository never stays stuck on a copy it cannot read.
#[test]
fn rrdpc_8_an_unreadable_copy_is_replaced_by_the_snapshot() {
    let s = Server::start("unreadable");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1"), (B, b"b1")], &[]);
    repo.update(0).unwrap();
    let snapshot = format!("/{SESSION}/1/snapshot.xml");
    assert_eq!(s.hits(&snapshot), 1);
    std::fs::write(repo.dir().join("objects.idx"), b"garbage").unwrap();
    let u = repo.update(0).unwrap();
    assert_eq!(s.hits(&snapshot), 2, "the snapshot again");
    assert!(u.notes.iter().any(|(rule, n)| *rule == "RRDPC-8" && n.contains("cannot be read")), "{:?}", u.notes);
    assert_eq!(contents(&u), expect(&[(A, b"a1"), (B, b"b1")]));
    // And the copy it wrote reads again: the next update fetches the notification only.
    let u = repo.update(0).unwrap();
    assert!(u.notes.is_empty(), "{:?}", u.notes);
    assert_eq!(s.hits(&snapshot), 2);
}

/// Serial 1 held locally; the server then offers serial 2 through `d2` and a snapshot.
/// The server, the update's notes and the copy's content after it.
type AfterUpdate = (Server, Vec<(&'static str, String)>, BTreeMap<String, Vec<u8>>);

fn at_serial_2_with(name: &str, d2: Vec<u8>, tamper_hash: bool) -> AfterUpdate {
    let s = Server::start(name);
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1"), (B, b"b1")], &[]);
    repo.update(0).unwrap();
    s.publish(SESSION, 2, &[(A, b"a2")], &[(2, d2)]);
    if tamper_hash {
        let p = format!("/{SESSION}/2/delta.xml");
        let mut body = s.files.lock().unwrap().map[&p].body.clone();
        body.extend_from_slice(b" ");
        s.set(&p, body);
    }
    let u = repo.update(0).unwrap();
    let c = contents(&u);
    (s, u.notes, c)
}

#[test]
fn rrdpc_6_a_tampered_delta_sends_the_client_to_the_snapshot() {
    let d2 = delta(SESSION, 2, &[Change::Publish(A, b"a2", Some(b"a1")), Change::Withdraw(B, b"b1")]);
    let (s, notes, c) = at_serial_2_with("tampered", d2, true);
    assert_eq!(c, expect(&[(A, b"a2")]));
    assert!(notes.iter().any(|(r, n)| *r == "RRDPC-6" && n.contains("hash differs")), "{notes:?}");
    assert_eq!(s.hits(&format!("/{SESSION}/2/snapshot.xml")), 1);
}

#[test]
fn rrdpc_5_a_missing_delta_sends_the_client_to_the_snapshot() {
    let s = Server::start("missing");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1")], &[]);
    repo.update(0).unwrap();
    let d2 = delta(SESSION, 2, &[Change::Publish(B, b"b1", None)]);
    let d3 = delta(SESSION, 3, &[Change::Publish(C, b"c1", None)]);
    s.publish(SESSION, 3, &[(A, b"a1"), (B, b"b1"), (C, b"c1")], &[(2, d2), (3, d3)]);
    s.remove(&format!("/{SESSION}/3/delta.xml"));
    let u = repo.update(0).unwrap();
    assert_eq!(contents(&u), expect(&[(A, b"a1"), (B, b"b1"), (C, b"c1")]));
    assert!(u.notes.iter().any(|(_, n)| n.contains("404")), "{:?}", u.notes);
    assert_eq!(s.hits(&format!("/{SESSION}/3/snapshot.xml")), 1);
}

#[test]
fn rrdpc_7_a_delta_touching_what_is_not_held_is_rejected() {
    // Withdraw of a URI never published, and a publish-with-hash of an unknown one.
    for (name, change) in [
        ("withdraw", delta(SESSION, 2, &[Change::Withdraw(C, b"c1")])),
        ("replace", delta(SESSION, 2, &[Change::Publish(C, b"c2", Some(b"c1"))])),
        ("new-exists", delta(SESSION, 2, &[Change::Publish(A, b"a2", None)])),
    ] {
        let (_s, notes, c) = at_serial_2_with(name, change, false);
        assert_eq!(c, expect(&[(A, b"a2")]), "{name}: the snapshot's content");
        assert!(notes.iter().any(|(r, n)| *r == "RRDPC-6" && n.contains("snapshot")), "{name}: {notes:?}");
    }
}

#[test]
fn rrdpc_9_10_a_changed_delta_hash_or_an_older_serial() {
    let s = Server::start("history");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    let d2 = delta(SESSION, 2, &[Change::Publish(B, b"b1", None)]);
    s.publish(SESSION, 2, &[(A, b"a1"), (B, b"b1")], &[(2, d2)]);
    repo.update(0).unwrap();
    // RRDPC-10: serial 1 after 2 changes nothing.
    s.publish(SESSION, 1, &[(A, b"a0")], &[]);
    let u = repo.update(0).unwrap();
    assert_eq!(u.serial, 2);
    assert!(u.notes.iter().any(|(r, _)| *r == "RRDPC-10"), "{:?}", u.notes);
    assert_eq!(contents(&u), expect(&[(A, b"a1"), (B, b"b1")]));
    // RRDPC-9: delta 2 listed with another hash next to delta 3: the snapshot.
    let d2b = delta(SESSION, 2, &[Change::Publish(B, b"bX", None)]);
    let d3 = delta(SESSION, 3, &[Change::Publish(C, b"c1", None)]);
    s.publish(SESSION, 3, &[(A, b"a1"), (B, b"b1"), (C, b"c1")], &[(2, d2b), (3, d3)]);
    let u = repo.update(0).unwrap();
    assert!(u.notes.iter().any(|(r, _)| *r == "RRDPC-9"), "{:?}", u.notes);
    assert_eq!(s.hits(&format!("/{SESSION}/3/snapshot.xml")), 1);
    assert_eq!(s.hits(&format!("/{SESSION}/3/delta.xml")), 0);
}

#[test]
fn rrdpc_17_an_old_snapshot_is_read_again() {
    let s = Server::start("aged");
    let http = s.http();
    let limits = Limits { snapshot_max_age_secs: 1000, ..Limits::default() };
    let notify = s.notify();
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1")], &[]);
    repo.update(0).unwrap();
    let d2 = delta(SESSION, 2, &[Change::Publish(B, b"b1", None)]);
    s.publish(SESSION, 2, &[(A, b"a1"), (B, b"b1")], &[(2, d2)]);
    let u = repo.update(5000).unwrap();
    assert_eq!(contents(&u), expect(&[(A, b"a1"), (B, b"b1")]));
    assert_eq!((s.hits(&format!("/{SESSION}/2/snapshot.xml")), s.hits(&format!("/{SESSION}/2/delta.xml"))), (1, 0));
}

#[test]
fn rrdpc_3_13_origin_and_status_rules() {
    let s = Server::start("origin");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    // A snapshot on another origin (another port).
    let snap = snapshot(SESSION, 1, &[(A, b"a1")]);
    let elsewhere = s.base.replace("https://localhost:", "https://localhost:1");
    s.set("/notification.xml", notification(SESSION, 1, &format!("{elsewhere}/snap.xml"), &sha256(&snap), &[]));
    let e = repo.update(0).unwrap_err().to_string();
    assert!(e.contains("RFC 9674"), "{e}");
    // A redirect of the notification to another origin.
    s.put(
        "/notification.xml",
        Resp { status: 302, body: vec![], gzip: false, etag: None, location: Some("https://127.0.0.1:1/n.xml".into()) },
    );
    let e = repo.update(0).unwrap_err().to_string();
    assert!(e.contains("another origin"), "{e}");
    // RRDPC-13: a 203 is not a 200.
    s.publish(SESSION, 1, &[(A, b"a1")], &[]);
    let p = format!("/{SESSION}/1/snapshot.xml");
    let body = s.files.lock().unwrap().map[&p].body.clone();
    s.put(&p, Resp { status: 203, body, gzip: false, etag: None, location: None });
    let e = repo.update(0).unwrap_err().to_string();
    assert!(e.contains("203"), "{e}");
    // TLS: a client without the test root refuses the server.
    let plain = Http::new(&[]).unwrap();
    let e = Repo::new(&plain, &s.dir.join("other"), &notify, &limits, Instant::now() + Duration::from_secs(30))
        .update(0)
        .unwrap_err()
        .to_string();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}

#[test]
fn conditional_requests_use_the_etag() {
    let s = Server::start("etag");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1")], &[]);
    let mut n = s.files.lock().unwrap().map["/notification.xml"].clone();
    n.etag = Some("\"v1\"".into());
    s.put("/notification.xml", n);
    repo.update(0).unwrap();
    let u = repo.update(0).unwrap();
    assert_eq!(u.serial, 1);
    assert_eq!(contents(&u), expect(&[(A, b"a1")]));
    assert_eq!(s.hits("/notification.xml"), 2);
    assert_eq!(s.hits(&format!("/{SESSION}/1/snapshot.xml")), 1);
}

/// RRDPC-12, RRDPC-14, RRDPC-15, RSYNC-3: each hostile snapshot fails the update
/// and leaves the previous copy as it was.
#[test]
fn rrdpc_14_hostile_documents_fail_and_change_nothing() {
    let s = Server::start("hostile");
    let http = s.http();
    let limits = Limits { max_snapshot: 16 << 20, ..Limits::default() };
    let notify = s.notify();
    let repo = s.repo(&http, &limits, &notify);
    s.publish(SESSION, 1, &[(A, b"a1")], &[]);
    let good = contents(&repo.update(0).unwrap());
    let head = format!("<snapshot xmlns=\"http://www.ripe.net/rpki/rrdp\" version=\"1\" session_id=\"{OTHER_SESSION}\" serial=\"2\">");
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>{head}<publish uri=\"{A}\">&lol2;</publish></snapshot>"
    );
    let external = format!("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{head}<publish uri=\"{A}\">&e;</publish></snapshot>");
    let big = format!("{head}<publish uri=\"{A}\">{}</publish></snapshot>", "A".repeat(12 << 20));
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        ("billion laughs", laughs.into_bytes(), false, "DOCTYPE"),
        ("external entity", external.into_bytes(), false, "DOCTYPE"),
        ("bad base64", format!("{head}<publish uri=\"{A}\">!!!!</publish></snapshot>").into_bytes(), false, "base64"),
        ("huge element", big.into_bytes(), false, "larger than"),
        ("gzip bomb", format!("{head}{}</snapshot>", " ".repeat(64 << 20)).into_bytes(), true, "larger than"),
        (
            "twice",
            format!("{head}<publish uri=\"{A}\">AA==</publish><publish uri=\"{A}\">AA==</publish></snapshot>").into_bytes(),
            false,
            "twice",
        ),
        (
            "traversal",
            format!("{head}<publish uri=\"rsync://h.test/repo/../../x\">AA==</publish></snapshot>").into_bytes(),
            false,
            "RSYNC-3",
        ),
        (
            "percent",
            format!("{head}<publish uri=\"rsync://h.test/repo/%2e%2e/x\">AA==</publish></snapshot>").into_bytes(),
            false,
            "RSYNC-3",
        ),
        ("wrong serial", snapshot(SESSION, 7, &[(B, b"b")]), false, "not the notification's"),
        ("nested", format!("{head}<publish uri=\"{A}\"><x/></publish></snapshot>").into_bytes(), false, "nested"),
    ];
    for (name, body, gzip, want) in cases {
        let path = format!("/{name}.xml").replace(' ', "-");
        let hash = sha256(&body);
        s.put(&path, Resp { status: 200, body, gzip, etag: None, location: None });
        // A new session forces the snapshot.
        s.set("/notification.xml", notification(OTHER_SESSION, 2, &s.url(&path), &hash, &[]));
        let t = Instant::now();
        let e = repo.update(0).unwrap_err().to_string();
        assert!(e.contains(want), "{name}: {e}");
        assert!(t.elapsed() < Duration::from_secs(30), "{name} took {:?}", t.elapsed());
        assert_eq!(pack_contents(&repo.objects().unwrap()), good, "{name}: the copy is unchanged");
    }
    assert!(!s.dir.join("x").exists() && !s.dir.join("cache/x").exists());
}

/// Serve a corpus notification (its RIPE URIs moved to the test server) and a
/// corpus snapshot where it points; one update from an empty cache, whose
/// files must carry their objects' times.
fn corpus_update(name: &str, notification: &str, snapshot: &str) -> Result<Updated, String> {
    let s = Server::start(name);
    let text = String::from_utf8(corpus(notification)).unwrap().replace("https://rrdp.ripe.net/", &s.url("/"));
    s.set("/notification.xml", text);
    s.set("/a2d845c4-5b91-4015-a2b7-988c03ce232a/1742/snapshot.xml", corpus(snapshot));
    let (http, limits) = (s.http(), Limits::default());
    let notify = s.notify();
    let r = s.repo(&http, &limits, &notify).update(0);
    if let Ok(u) = &r {
        assert_eq!(contents(u).len(), 277, "{name}");
        // The RIPE objects are BER, bar the certificates and CRLs.
        let n = cms_13_files_carry_their_object_time(u, false);
        assert!(n.get("cer").copied().unwrap_or(0) > 50 && n.get("crl").copied().unwrap_or(0) > 50, "{n:?}");
    }
    r.map_err(|e| e.to_string())
}

#[test]
fn rrdpc_8_12_corpus_snapshots_against_their_notifications() {
    // The consistent RIPE pair: 277 objects.
    let u = corpus_update("corpus-ok", "rpki-monitoring/rrdp/ripe-notification.xml", "rpki-rs/rrdp/ripe-snapshot.xml").unwrap();
    assert_eq!(u.serial, 1742);
    let fails = [
        ("corpus-hash", "rpki-rs/rrdp/ripe-notification.xml", "rpki-rs/rrdp/ripe-snapshot.xml", "hash differs"),
        (
            "corpus-serial",
            "rpki-monitoring/rrdp/ripe-notification-serial-2.xml",
            "rpki-rs/rrdp/ripe-snapshot.xml",
            "is not the notification's",
        ),
        (
            "corpus-session",
            "rpki-monitoring/rrdp/ripe-notification-session-mismatch.xml",
            "rpki-monitoring/rrdp/ripe-snapshot-session-mismatch.xml",
            "is not the notification's",
        ),
        (
            "corpus-collision",
            "rpki-monitoring/rrdp/ripe-notification-collision.xml",
            "rpki-monitoring/rrdp/ripe-snapshot-collision.xml",
            "published twice",
        ),
    ];
    for (name, n, snap, reason) in fails {
        match corpus_update(name, n, snap) {
            Err(e) => assert!(e.contains(reason), "{name}: {e}"),
            Ok(_) => panic!("{name}: accepted"),
        }
    }
}

/// CMS-13 (RFC 9589 §2.2): the copy written out as files, as an rsync
/// fallback starts from it, gives each file its object's signing-time,
/// thisUpdate or notBefore as mtime, as a full decode reads it. Files that do
/// not decode (BER in old corpus objects) have no time to carry; `strict`
/// refuses them. Returns the count checked per file extension.
fn cms_13_files_carry_their_object_time(u: &Updated, strict: bool) -> BTreeMap<String, usize> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rpkit-cms13-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = contents(u);
    assert_eq!(u.objects.write_files("rsync://", &dir).unwrap(), files.len());
    assert_eq!(u.objects.write_files("rsync://", &dir).unwrap(), 0, "files that exist are left alone");
    let mut checked = BTreeMap::new();
    for (rel, data) in files {
        assert_eq!(std::fs::read(dir.join(&rel)).unwrap(), data, "{rel}");
        let want = match Object::decode(&data) {
            Ok(Object::Cert(c)) => c.not_before,
            Ok(Object::Crl(c)) => c.this_update,
            Ok(o) => o.signed().map(|so| so.signing_time).unwrap_or_else(|| panic!("{rel}: no time")),
            Err(e) if strict => panic!("{rel}: {e}"),
            Err(_) => continue,
        };
        let mtime = std::fs::metadata(dir.join(&rel)).unwrap().modified().unwrap();
        let secs = mtime.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert_eq!(secs, want.0, "{rel}");
        *checked.entry(rel.rsplit('.').next().unwrap().to_string()).or_insert(0) += 1;
    }
    let _ = std::fs::remove_dir_all(&dir);
    checked
}

#[test]
fn cms_13_snapshot_and_delta_files_carry_their_object_times() {
    let r = common::repo();
    let s = Server::start("mtime");
    let (http, limits, notify) = (s.http(), Limits::default(), s.notify());
    let repo = s.repo(&http, &limits, &notify);
    let pairs = |m: &BTreeMap<String, Vec<u8>>| m.iter().map(|(u, d)| (u.clone(), d.clone())).collect::<Vec<_>>();
    let first = pairs(&r.objects);
    let refs: Vec<(&str, &[u8])> = first.iter().map(|(u, d)| (u.as_str(), d.as_slice())).collect();
    s.publish(SESSION, 1, &refs, &[]);
    let u = repo.update(0).unwrap();
    let n = cms_13_files_carry_their_object_time(&u, true);
    for ext in ["cer", "crl", "mft", "roa", "asa"] {
        assert!(n.get(ext).copied().unwrap_or(0) > 0, "no .{ext} in {n:?}");
    }

    // Serial 2 by delta: a new ROA, the member's manifest and CRL replaced.
    r.ca.apply_roas("isp-a", &rpkit_ca::contract::RoaDelta::parse_lines("10.1.2.0/24 AS64999").unwrap(), false).unwrap();
    let next = r.publisher.snapshot();
    let changes: Vec<Change<'_>> = next
        .iter()
        .filter(|(u, d)| r.objects.get(*u) != Some(*d))
        .map(|(u, d)| Change::Publish(u, d, r.objects.get(u).map(Vec::as_slice)))
        .chain(r.objects.iter().filter(|(u, _)| !next.contains_key(*u)).map(|(u, d)| Change::Withdraw(u, d)))
        .collect();
    assert!(changes.len() >= 3, "{} changes", changes.len());
    let second = pairs(&next);
    let refs: Vec<(&str, &[u8])> = second.iter().map(|(u, d)| (u.as_str(), d.as_slice())).collect();
    s.publish(SESSION, 2, &refs, &[(2, delta(SESSION, 2, &changes))]);
    let u = repo.update(0).unwrap();
    assert_eq!((u.serial, s.hits(&format!("/{SESSION}/2/delta.xml"))), (2, 1));
    assert_eq!(contents(&u).len(), next.len());
    cms_13_files_carry_their_object_time(&u, true);
}
