//! The publication server over HTTP, in process: RFC 8183 registration, RFC 8181
//! queries from our client and from the `rpki` crate's, every refusal with its
//! RFC 8181 error code and nothing changed, the shrink guard, and RRDP serving
//! (caching headers, ETag / If-None-Match, gzip, no path escapes).

use rpkit_objects::bpki::Identity;
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::rfc8181::{Query, QueryPdu, Reply};
use rpkit_objects::rfc8183::{PublisherRequest, RepositoryResponse};
use rpkit_objects::signed_message::SignedMessage;
use rpkit_publication::service::{PublicationServer, ServerConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "test-admin-token";

struct Env {
    dir: PathBuf,
    url: String,
    server: Arc<PublicationServer>,
    _rt: tokio::runtime::Runtime,
    http: reqwest::blocking::Client,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(name: &str) -> Env {
    start_on(name, None)
}

/// The server with its state in `database_url` (PostgreSQL) or SQLite.
fn start_on(name: &str, database_url: Option<String>) -> Env {
    start_with(name, database_url, 0)
}

/// ... and a floor of `min_objects`.
fn start_with(name: &str, database_url: Option<String>, min_objects: usize) -> Env {
    start_configured(name, |c| {
        c.database_url = database_url;
        c.min_objects = min_objects;
    })
}

/// The server with its configuration changed by `f`.
fn start_configured(name: &str, f: impl FnOnce(&mut ServerConfig)) -> Env {
    let dir = std::env::temp_dir().join(format!("rpkit-pubsrv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ServerConfig {
        data_dir: dir.clone(),
        rrdp_base_uri: "https://rpki.test/rrdp/".into(),
        rsync_base_uri: "rsync://rpki.test/repo/".into(),
        service_base_uri: format!("http://{addr}/"),
        interval: Duration::from_millis(50),
        rsync_tree: true,
        shrink_guard: 0.10,
        min_objects: 0,
        snapshot_segments: false,
        database_url: None,
    };
    f(&mut config);
    let server = PublicationServer::open(config).unwrap();
    let s2 = server.clone();
    rt.spawn(async move { rpkit_publication::http::serve(s2, TOKEN, listener, None, std::future::pending()).await });
    // Raw responses: the gzip test looks at the encoding itself.
    let http = reqwest::blocking::Client::builder().no_gzip().build().unwrap();
    Env { dir, url: format!("http://{addr}"), server, _rt: rt, http }
}

struct Publisher {
    id: Identity,
    response: RepositoryResponse,
}

impl Env {
    fn register(&self, handle: &str) -> Publisher {
        let id = Identity::create().unwrap();
        let req = PublisherRequest { tag: None, publisher_handle: handle.into(), id_cert: id.cert.clone() };
        let resp = self.http.post(format!("{}/api/v1/publishers", self.url)).bearer_auth(TOKEN).body(req.encode()).send().unwrap();
        assert_eq!(resp.status(), 200);
        let response = RepositoryResponse::decode(&resp.bytes().unwrap()).unwrap();
        assert_eq!(response.sia_base, format!("rsync://rpki.test/repo/{handle}/"));
        assert_eq!(response.rrdp_notification_uri.as_deref(), Some("https://rpki.test/rrdp/notification.xml"));
        Publisher { id, response }
    }

    /// Send signed bytes to a service URI; returns the verified reply.
    fn post(&self, service_uri: &str, body: Vec<u8>) -> Reply {
        let resp = self.http.post(service_uri).header("Content-Type", "application/rpki-publication").body(body).send().unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/rpki-publication");
        let msg = SignedMessage::decode(&resp.bytes().unwrap()).unwrap();
        msg.verify(&self.server.identity.cert, Time::now()).expect("reply signed by the server identity");
        Reply::decode(msg.content()).unwrap()
    }

    fn send(&self, p: &Publisher, q: &Query) -> Reply {
        self.post(&p.response.service_uri, p.id.sign(q.encode().as_bytes(), Time::now()).unwrap())
    }

    fn objects(&self) -> Vec<(String, [u8; 32])> {
        self.server.lock().list("rsync://").unwrap()
    }

    fn wait_written(&self) -> u64 {
        for _ in 0..200 {
            let r = self.server.lock();
            let (_, serial) = r.session().unwrap();
            if r.pending_revisions().unwrap() == 0 && r.files("snapshot").unwrap().iter().any(|f| f.serial == serial) {
                return serial;
            }
            drop(r);
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("RRDP files not written");
    }
}

fn publish(uri: &str, der: &[u8], hash: Option<[u8; 32]>) -> QueryPdu {
    QueryPdu::Publish { tag: Some(format!("t-{uri}")), uri: uri.into(), der: der.to_vec(), hash }
}

fn error_code(r: &Reply) -> String {
    match r {
        Reply::Errors(e) => e[0].code.clone(),
        other => panic!("expected an error reply, got {other:?}"),
    }
}

const A: &str = "rsync://rpki.test/repo/alice/a.roa";

#[test]
fn rfc8181_publish_list_withdraw_and_every_refusal_changes_nothing() {
    rfc8181_publish_list_withdraw_and_every_refusal_changes_nothing_on(start("protocol"));
}

#[test]
fn rfc8181_publish_list_withdraw_and_every_refusal_changes_nothing_on_postgresql() {
    if let Some(url) = rpkit_test_vectors::postgres::database("pub_protocol") {
        rfc8181_publish_list_withdraw_and_every_refusal_changes_nothing_on(start_on("protocol-pg", Some(url)));
    }
}

fn rfc8181_publish_list_withdraw_and_every_refusal_changes_nothing_on(e: Env) {
    let alice = e.register("alice");
    let bob = e.register("bob");
    assert_eq!(e.send(&alice, &Query::Pdus(vec![publish(A, b"A1", None)])), Reply::Success);
    assert_eq!(e.send(&alice, &Query::List), Reply::List(vec![(A.to_string(), sha256(b"A1"))]));
    assert_eq!(e.send(&bob, &Query::List), Reply::List(vec![]), "list shows only the publisher's own objects");
    let before = e.objects();

    // Wrong hash on replace and on withdraw.
    let r = e.send(&alice, &Query::Pdus(vec![publish(A, b"A2", Some(sha256(b"nope")))]));
    assert_eq!(error_code(&r), "no_object_matching_hash");
    let r = e.send(&alice, &Query::Pdus(vec![QueryPdu::Withdraw { tag: None, uri: A.into(), hash: sha256(b"nope") }]));
    assert_eq!(error_code(&r), "no_object_matching_hash");
    // Publishing over an existing object without its hash; withdrawing what is not there.
    assert_eq!(error_code(&e.send(&alice, &Query::Pdus(vec![publish(A, b"A2", None)]))), "object_already_present");
    let r = e.send(&alice, &Query::Pdus(vec![QueryPdu::Withdraw { tag: None, uri: format!("{A}x"), hash: sha256(b"A1") }]));
    assert_eq!(error_code(&r), "no_object_present");
    // Outside the base URI: another publisher's directory, a path escape; in one
    // message with a valid PDU, which is not applied either.
    for uri in ["rsync://rpki.test/repo/bob/b.roa", "rsync://rpki.test/repo/alice/../bob/b.roa", "rsync://other.test/repo/alice/x.roa"] {
        let r = e.send(&alice, &Query::Pdus(vec![publish("rsync://rpki.test/repo/alice/ok.roa", b"ok", None), publish(uri, b"x", None)]));
        assert_eq!(error_code(&r), "permission_failure", "{uri}");
        if let Reply::Errors(errs) = &r {
            assert_eq!(errs[0].tag.as_deref(), Some(format!("t-{uri}").as_str()), "the tag names the refused PDU");
        }
    }
    // Bob signing for alice: bad CMS signature.
    let forged = bob.id.sign(Query::Pdus(vec![publish(A, b"evil", Some(sha256(b"A1")))]).encode().as_bytes(), Time::now()).unwrap();
    assert_eq!(error_code(&e.post(&alice.response.service_uri, forged)), "bad_cms_signature");
    // Tampered content: bad CMS signature (digest).
    let mut cms = alice.id.sign(Query::List.encode().as_bytes(), Time::now()).unwrap();
    let at = cms.windows(4).position(|w| w == b"list").unwrap();
    cms[at] = b'L';
    assert_eq!(error_code(&e.post(&alice.response.service_uri, cms)), "bad_cms_signature");
    // Not CMS at all.
    assert_eq!(error_code(&e.post(&alice.response.service_uri, b"hello".to_vec())), "bad_cms_signature");
    // Malformed XML, correctly signed.
    let bad_xml = alice
        .id
        .sign(b"<msg xmlns=\"http://www.hactrn.net/uris/rpki/publication-spec/\" version=\"4\" type=\"query\"><publish", Time::now())
        .unwrap();
    assert_eq!(error_code(&e.post(&alice.response.service_uri, bad_xml)), "xml_error");
    let wrong_version = alice.id.sign(Query::List.encode().replace("version=\"4\"", "version=\"3\"").as_bytes(), Time::now()).unwrap();
    assert_eq!(error_code(&e.post(&alice.response.service_uri, wrong_version)), "xml_error");
    // Unknown publisher.
    let stranger = alice.id.sign(Query::List.encode().as_bytes(), Time::now()).unwrap();
    assert_eq!(error_code(&e.post(&format!("{}/rfc8181/mallory", e.url), stranger)), "permission_failure");
    assert_eq!(e.objects(), before, "no refused message changed anything");

    // Replace and withdraw with the right hashes.
    assert_eq!(e.send(&alice, &Query::Pdus(vec![publish(A, b"A2", Some(sha256(b"A1")))])), Reply::Success);
    assert_eq!(e.send(&alice, &Query::Pdus(vec![QueryPdu::Withdraw { tag: None, uri: A.into(), hash: sha256(b"A2") }])), Reply::Success);
    assert!(e.objects().is_empty());
    // A non-8181 content type is refused at the HTTP level.
    let resp = e.http.post(&alice.response.service_uri).header("Content-Type", "text/plain").body("x").send().unwrap();
    assert_eq!(resp.status(), 415);
    // The operator API needs the admin token.
    assert_eq!(e.http.get(format!("{}/api/v1/publishers", e.url)).send().unwrap().status(), 401);
    assert_eq!(e.http.get(format!("{}/api/v1/publishers", e.url)).bearer_auth("wrong").send().unwrap().status(), 401);
}

/// A publisher's base nested in another's (an RIR's CA owns the module, a
/// delegated member a directory in it): each object is the publisher's with
/// the longest base above it; neither sees or changes the other's.
#[test]
fn nested_base_uris_keep_their_objects_apart_and_bad_requests_are_refused() {
    nested_base_uris_keep_their_objects_apart_and_bad_requests_are_refused_on(start("register"));
}

#[test]
fn nested_base_uris_keep_their_objects_apart_and_bad_requests_are_refused_on_postgresql() {
    if let Some(url) = rpkit_test_vectors::postgres::database("pub_register") {
        nested_base_uris_keep_their_objects_apart_and_bad_requests_are_refused_on(start_on("register-pg", Some(url)));
    }
}

fn nested_base_uris_keep_their_objects_apart_and_bad_requests_are_refused_on(e: Env) {
    let alice = e.register("alice");
    let taken = "rsync://rpki.test/repo/alice/taken/x.cer";
    assert_eq!(e.send(&alice, &Query::Pdus(vec![publish(taken, b"alice's", None)])), Reply::Success);
    let add = |handle: &str, base: &str| {
        let id = Identity::create().unwrap();
        let req = PublisherRequest { tag: None, publisher_handle: handle.into(), id_cert: id.cert.clone() };
        let resp =
            e.http.post(format!("{}/api/v1/publishers?sia_base={base}", e.url)).bearer_auth(TOKEN).body(req.encode()).send().unwrap();
        let status = resp.status().as_u16();
        let body = resp.bytes().unwrap();
        (status, String::from_utf8_lossy(&body).to_string(), id)
    };
    // A base holding another publisher's objects, or the very same base: refused.
    let (status, text, _) = add("intruder", "rsync://rpki.test/repo/alice/taken/");
    assert_eq!(status, 400);
    assert!(text.contains("cannot become another publisher's"), "{text}");
    let (status, text, _) = add("twin", "rsync://rpki.test/repo/alice/");
    assert_eq!(status, 400);
    assert!(text.contains("is publisher alice's base"), "{text}");
    // An empty directory in alice's base: bob's.
    let (status, text, bob_id) = add("bob", "rsync://rpki.test/repo/alice/bob/");
    assert_eq!(status, 200, "{text}");
    let bob = Publisher { id: bob_id, response: RepositoryResponse::decode(text.as_bytes()).unwrap() };
    let bobs = "rsync://rpki.test/repo/alice/bob/b.cer";
    assert_eq!(e.send(&bob, &Query::Pdus(vec![publish(bobs, b"bob's", None)])), Reply::Success);
    // Alice neither lists nor touches bob's objects.
    assert_eq!(e.send(&alice, &Query::List), Reply::List(vec![(taken.to_string(), sha256(b"alice's"))]));
    let r = e.send(&alice, &Query::Pdus(vec![QueryPdu::Withdraw { tag: Some("w".into()), uri: bobs.into(), hash: sha256(b"bob's") }]));
    assert_eq!(error_code(&r), "permission_failure");
    let r = e.send(&alice, &Query::Pdus(vec![publish("rsync://rpki.test/repo/alice/bob/evil.roa", b"x", None)]));
    assert_eq!(error_code(&r), "permission_failure");
    assert_eq!(e.send(&bob, &Query::List), Reply::List(vec![(bobs.to_string(), sha256(b"bob's"))]));
    let resp = e.http.post(format!("{}/api/v1/publishers", e.url)).bearer_auth(TOKEN).body("<publisher_request/>").send().unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().unwrap().contains("publisher_request"));
}

#[test]
fn any_rfc8181_publisher_works_the_rpki_crate_as_client() {
    use rpki::ca::idexchange;
    use rpki::ca::publication::{Base64, Message, PublicationCms, PublishDelta};
    use rpki::crypto::{PublicKeyFormat, Signer as _};
    let e = start("oracle");
    let signer = rpki::crypto::softsigner::SoftSigner::new();
    let key = signer.create_key(PublicKeyFormat::Rsa).unwrap();
    let ta = rpki::ca::idcert::IdCert::new_ta(rpki::repository::x509::Validity::from_secs(3600), &key, &signer).unwrap();
    let req = idexchange::PublisherRequest::new(Base64::from_content(&ta.to_bytes()), "carol".parse().unwrap(), None);
    let resp = e.http.post(format!("{}/api/v1/publishers", e.url)).bearer_auth(TOKEN).body(req.to_xml_string()).send().unwrap();
    assert_eq!(resp.status(), 200);
    let response = idexchange::RepositoryResponse::parse(resp.bytes().unwrap().as_ref()).unwrap();
    let server_ta = response.validate().unwrap();
    let exchange = |msg: Message| {
        let cms = PublicationCms::create(msg, &key, &signer).unwrap().to_bytes();
        let body = e
            .http
            .post(response.service_uri().to_string())
            .header("Content-Type", "application/rpki-publication")
            .body(cms.to_vec())
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        let reply = PublicationCms::decode(&body).unwrap();
        reply.validate(server_ta.public_key()).unwrap();
        reply.into_message()
    };
    let uri: rpki::uri::Rsync = "rsync://rpki.test/repo/carol/c.cer".parse().unwrap();
    let mut delta = PublishDelta::empty();
    delta.add_publish(rpki::ca::publication::Publish::new(None, uri.clone(), Base64::from_content(b"carol's object")));
    assert_eq!(exchange(Message::delta(delta)), Message::success());
    let list = exchange(Message::list_query()).as_reply().unwrap();
    let rpki::ca::publication::Reply::List(l) = list else { panic!("{list:?}") };
    assert_eq!(l.elements().len(), 1);
    assert_eq!(l.elements()[0].uri(), &uri);
    assert_eq!(l.elements()[0].hash().as_ref(), sha256(b"carol's object"));
}

#[test]
fn shrink_guard_refuses_mass_withdrawal_through_rfc8181() {
    shrink_guard_refuses_mass_withdrawal_through_rfc8181_on(start("shrink"));
}

#[test]
fn shrink_guard_refuses_mass_withdrawal_through_rfc8181_on_postgresql() {
    if let Some(url) = rpkit_test_vectors::postgres::database("pub_shrink") {
        shrink_guard_refuses_mass_withdrawal_through_rfc8181_on(start_on("shrink-pg", Some(url)));
    }
}

fn shrink_guard_refuses_mass_withdrawal_through_rfc8181_on(e: Env) {
    let alice = e.register("alice");
    let pdus: Vec<QueryPdu> =
        (0..200).map(|i| publish(&format!("rsync://rpki.test/repo/alice/{i}.roa"), format!("o{i}").as_bytes(), None)).collect();
    assert_eq!(e.send(&alice, &Query::Pdus(pdus)), Reply::Success);
    let all: Vec<QueryPdu> = (0..200)
        .map(|i| QueryPdu::Withdraw {
            tag: None,
            uri: format!("rsync://rpki.test/repo/alice/{i}.roa"),
            hash: sha256(format!("o{i}").as_bytes()),
        })
        .collect();
    let r = e.send(&alice, &Query::Pdus(all.clone()));
    assert_eq!(error_code(&r), "consistency_problem");
    if let Reply::Errors(errs) = &r {
        assert!(errs[0].text.as_deref().unwrap().contains("shrink guard"), "{errs:?}");
    }
    assert_eq!(e.objects().len(), 200);
    // 10% at once is allowed.
    assert_eq!(e.send(&alice, &Query::Pdus(all[..20].to_vec())), Reply::Success);
    assert_eq!(e.objects().len(), 180);
    // The operator lets the next change set through, once.
    let allow = e.http.post(format!("{}/api/v1/shrink-guard/allow-next", e.url)).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(allow.status(), 200);
    assert_eq!(e.send(&alice, &Query::Pdus(all[20..100].to_vec())), Reply::Success);
    assert_eq!(e.objects().len(), 100);
    assert_eq!(error_code(&e.send(&alice, &Query::Pdus(all[100..].to_vec()))), "consistency_problem", "only once");
}

/// The floor (`--min-objects`): a change set that withdraws objects and
/// leaves fewer than the floor is refused, one that only publishes is not,
/// and the operator's allow-shrink lets the next one through.
#[test]
fn a_change_set_leaving_fewer_objects_than_the_floor_is_refused() {
    let e = start_with("floor", None, 150);
    let alice = e.register("alice");
    let uri = |i: usize| format!("rsync://rpki.test/repo/alice/{i}.roa");
    let pdus: Vec<QueryPdu> = (0..170).map(|i| publish(&uri(i), format!("o{i}").as_bytes(), None)).collect();
    assert_eq!(e.send(&alice, &Query::Pdus(pdus)), Reply::Success);
    let withdraw = |r: std::ops::Range<usize>| -> Vec<QueryPdu> {
        r.map(|i| QueryPdu::Withdraw { tag: None, uri: uri(i), hash: sha256(format!("o{i}").as_bytes()) }).collect()
    };
    // 170 - 15 = 155: above the floor (and within the shrink guard).
    assert_eq!(e.send(&alice, &Query::Pdus(withdraw(0..15))), Reply::Success);
    // 155 - 10 = 145: below it.
    let r = e.send(&alice, &Query::Pdus(withdraw(15..25)));
    assert_eq!(error_code(&r), "consistency_problem");
    if let Reply::Errors(errs) = &r {
        assert!(errs[0].text.as_deref().unwrap().contains("below the repository's floor of 150"), "{errs:?}");
    }
    assert_eq!(e.objects().len(), 155, "nothing was applied");
    // Publishing only is never refused; a change that stays above the floor goes through.
    assert_eq!(e.send(&alice, &Query::Pdus((170..180).map(|i| publish(&uri(i), b"new", None)).collect())), Reply::Success);
    assert_eq!(e.send(&alice, &Query::Pdus(withdraw(15..25))), Reply::Success);
    assert_eq!(e.objects().len(), 155);
    // Below the floor once the operator allows it, and only once.
    assert_eq!(error_code(&e.send(&alice, &Query::Pdus(withdraw(25..35)))), "consistency_problem");
    let allow = e.http.post(format!("{}/api/v1/shrink-guard/allow-next", e.url)).bearer_auth(TOKEN).send().unwrap();
    assert_eq!(allow.status(), 200);
    assert_eq!(e.send(&alice, &Query::Pdus(withdraw(25..35))), Reply::Success);
    assert_eq!(e.objects().len(), 145);
    assert_eq!(error_code(&e.send(&alice, &Query::Pdus(withdraw(35..36)))), "consistency_problem", "only once");
}

#[test]
fn rrdp_files_are_served_with_caching_headers_etags_and_gzip() {
    rrdp_files_are_served_with_caching_headers_etags_and_gzip_on(&start("serving"));
}

/// The same with snapshots kept as segments: served as one file, with its
/// hash as ETag; parts files and segments are not served on their own.
#[test]
fn rrdp_files_are_served_with_caching_headers_etags_and_gzip_from_segments() {
    let e = start_configured("serving-seg", |c| c.snapshot_segments = true);
    let snapshot = rrdp_files_are_served_with_caching_headers_etags_and_gzip_on(&e);
    let notification = e.http.get(format!("{}/rrdp/notification.xml", e.url)).send().unwrap().text().unwrap();
    let hash = notification.split("<snapshot uri=\"").nth(1).unwrap().split("hash=\"").nth(1).unwrap().split('"').next().unwrap();
    let s = e.http.get(format!("{}/rrdp/{snapshot}", e.url)).send().unwrap();
    assert_eq!(s.headers()["etag"], format!("\"{hash}\""));
    let body = s.bytes().unwrap();
    assert_eq!(rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(&body)), hash);
    let rrdp = e.dir.join("rrdp");
    let parts = rpkit_publication::rrdp::segments::Parts::load(&rrdp, &snapshot).unwrap();
    assert!(!rrdp.join(&snapshot).exists() && !parts.segments.is_empty());
    for path in [format!("{snapshot}.parts"), parts.segments[0].0.clone()] {
        assert_eq!(e.http.get(format!("{}/rrdp/{path}", e.url)).send().unwrap().status(), 404, "{path}");
    }
}

#[test]
fn rrdp_files_are_served_with_caching_headers_etags_and_gzip_on_postgresql() {
    if let Some(url) = rpkit_test_vectors::postgres::database("pub_serving") {
        rrdp_files_are_served_with_caching_headers_etags_and_gzip_on(&start_on("serving-pg", Some(url)));
    }
}

/// Returns the path of the last snapshot served.
fn rrdp_files_are_served_with_caching_headers_etags_and_gzip_on(e: &Env) -> String {
    let alice = e.register("alice");
    // RRDPS-10: a notification sharing its Last-Modified second with the one
    // before is never 304 on the date alone, so this one gets a second of its own.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(e.send(&alice, &Query::Pdus(vec![publish(A, &[7u8; 3000], None)])), Reply::Success);
    let serial = e.wait_written();
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut rb = e.http.get(format!("{}/rrdp/{path}", e.url));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.send().unwrap()
    };
    // The notification served is swapped right after the files are written.
    let current = |serial: u64| {
        for _ in 0..100 {
            let n = get("notification.xml", &[]);
            let (headers, text) = (n.headers().clone(), n.text().unwrap());
            if text.contains(&format!("serial=\"{serial}\"")) {
                return (headers, text);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("notification of serial {serial} not served");
    };
    let (h, text) = current(serial);
    assert_eq!(h["cache-control"], "public, max-age=60");
    let etag = h["etag"].to_str().unwrap().to_string();
    let lm = h["last-modified"].to_str().unwrap().to_string();
    assert_eq!(get("notification.xml", &[("If-None-Match", &etag)]).status(), 304);
    assert_eq!(get("notification.xml", &[("If-Modified-Since", &lm)]).status(), 304);
    let snap_uri = text.split("<snapshot uri=\"").nth(1).unwrap().split('"').next().unwrap();
    let snap_path = snap_uri.strip_prefix("https://rpki.test/rrdp/").unwrap();
    let s = get(snap_path, &[]);
    assert_eq!(s.headers()["cache-control"], "public, max-age=604800, immutable");
    let plain = s.bytes().unwrap();
    let z = get(snap_path, &[("Accept-Encoding", "gzip")]);
    assert_eq!(z.headers()["content-encoding"], "gzip");
    let zipped = z.bytes().unwrap();
    assert!(zipped.len() < plain.len() / 2, "gzip: {} -> {}", plain.len(), zipped.len());
    // A snapshot above MAX_GZIP goes as it is, whatever the client accepts;
    // the notification still goes compressed.
    let big = "rsync://rpki.test/repo/alice/big.roa";
    assert_eq!(e.send(&alice, &Query::Pdus(vec![publish(big, &vec![9u8; 1 << 20], None)])), Reply::Success);
    let serial2 = e.wait_written();
    assert!(serial2 > serial);
    let (_, text2) = current(serial2);
    let big_snap = text2.split("<snapshot uri=\"").nth(1).unwrap().split('"').next().unwrap();
    let big_snap = big_snap.strip_prefix("https://rpki.test/rrdp/").unwrap();
    let s = get(big_snap, &[("Accept-Encoding", "gzip")]);
    assert!(s.headers().get("content-encoding").is_none(), "{:?}", s.headers());
    let len = s.bytes().unwrap().len() as u64;
    assert!(len > rpkit_publication::http::MAX_GZIP, "{len}");
    let n = get("notification.xml", &[("Accept-Encoding", "gzip")]);
    assert_eq!(n.headers()["content-encoding"], "gzip");
    // RRDPS-11: files only.
    let session = text.split("session_id=\"").nth(1).unwrap().split('"').next().unwrap();
    for bad in ["../publication.sqlite", "..%2Fpublication.sqlite", "%2e%2e/publication.sqlite", "nothing.xml", "", &format!("{session}/")]
    {
        assert_eq!(get(bad, &[]).status(), 404, "{bad}");
    }
    assert_eq!(get("notification.xml?x=1", &[]).status(), 400);
    big_snap.to_string()
}

#[test]
fn rrdps_4_a_database_restored_from_backup_starts_a_new_session() {
    let dir = std::env::temp_dir().join(format!("rpkit-pubsrv-restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = ServerConfig {
        data_dir: dir.clone(),
        rrdp_base_uri: "https://rpki.test/rrdp/".into(),
        rsync_base_uri: "rsync://rpki.test/repo/".into(),
        service_base_uri: "http://127.0.0.1:1/".into(),
        interval: Duration::from_millis(50),
        rsync_tree: false,
        shrink_guard: 0.10,
        min_objects: 0,
        snapshot_segments: false,
        database_url: None,
    };
    let cs = |name: &str| rpkit_objects::rfc8181::ChangeSet {
        changes: vec![rpkit_objects::rfc8181::Change::Publish {
            uri: format!("rsync://rpki.test/repo/x/{name}"),
            der: name.as_bytes().to_vec(),
            replaces: None,
        }],
    };
    let s = PublicationServer::open(config.clone()).unwrap();
    s.lock().apply("rsync://rpki.test/repo/", &cs("a.roa"), false).unwrap();
    assert_eq!(s.write_files().unwrap(), Some(2));
    let (session, _) = s.lock().session().unwrap();
    drop(s);
    std::fs::copy(config.db_path(), dir.join("backup.sqlite")).unwrap();
    let s = PublicationServer::open(config.clone()).unwrap();
    s.lock().apply("rsync://rpki.test/repo/", &cs("b.roa"), false).unwrap();
    assert_eq!(s.write_files().unwrap(), Some(3));
    drop(s);
    // Restore the backup (serial 2) under files published for serial 3.
    std::fs::copy(dir.join("backup.sqlite"), config.db_path()).unwrap();
    let s = PublicationServer::open(config.clone()).unwrap();
    let (new_session, serial) = s.lock().session().unwrap();
    assert_ne!(new_session, session);
    assert_eq!(serial, 1);
    let note = std::fs::read_to_string(config.rrdp_dir().join("notification.xml")).unwrap();
    assert!(note.contains(&format!("session_id=\"{new_session}\" serial=\"1\"")), "{note}");
    assert!(!note.contains("<delta"), "a new session starts without deltas");
    // A plain restart of an intact database keeps the session.
    drop(s);
    let s = PublicationServer::open(config).unwrap();
    assert_eq!(s.lock().session().unwrap(), (new_session, 1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The operator API, route by route: every (path, method) the router answers is
/// in this stated policy, each admin route refuses a missing, wrong or
/// publisher-held credential with 401 and changes nothing, and answers the
/// admin token. Undeclared methods get 405.
#[test]
fn operator_api_every_route_needs_the_admin_token_and_nothing_else_answers() {
    let e = start("access");
    let alice = e.register("alice");
    e.send(&alice, &Query::Pdus(vec![publish(A, b"A1", None)]));
    let carol = PublisherRequest { tag: None, publisher_handle: "carol".into(), id_cert: Identity::create().unwrap().cert }.encode();
    let dave = PublisherRequest { tag: None, publisher_handle: "dave".into(), id_cert: Identity::create().unwrap().cert }.encode();
    // (method, path, body, access): "admin" or "public".
    let policy: &[(&str, &str, &str, &str)] = &[
        ("GET", "/health", "", "public"),
        ("GET", "/api/v1/status", "", "admin"),
        ("POST", "/api/v1/shrink-guard/allow-next", "", "admin"),
        ("GET", "/api/v1/publishers", "", "admin"),
        ("POST", "/api/v1/publishers", "carol", "admin"),
        ("GET", "/api/v1/publishers/alice", "", "admin"),
        ("DELETE", "/api/v1/publishers/bob", "", "admin"),
    ];
    let state = |e: &Env| {
        let publishers = e.http.get(format!("{}/api/v1/publishers", e.url)).bearer_auth(TOKEN).send().unwrap().text().unwrap();
        (publishers, e.objects())
    };
    e.register("bob");
    let before = state(&e);
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH"];
    for (method, path, body, access) in policy {
        let req = |m: &str, token: Option<&str>| {
            let body = match *body {
                "carol" => carol.clone(),
                _ => String::new(),
            };
            let mut r = e.http.request(m.parse().unwrap(), format!("{}{path}", e.url)).body(body);
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send().unwrap().status().as_u16()
        };
        if *access == "admin" {
            for bad in [None, Some("wrong"), Some(&format!("{TOKEN}x")[..]), Some(&TOKEN[..TOKEN.len() - 1]), Some("")] {
                assert_eq!(req(method, bad), 401, "{method} {path} with {bad:?}");
            }
            assert_eq!(state(&e), before, "{method} {path}: a refused request changed nothing");
        } else {
            // A public route answers without a token, and a wrong one does not matter.
            assert_eq!((req(method, None), req(method, Some("wrong"))), (200, 200), "{method} {path}");
        }
        // Methods the policy does not list for this path are not routed.
        // (`/publishers/{handle}` answers GET and DELETE whatever the handle.)
        let per_handle = path.starts_with("/api/v1/publishers/");
        for m in methods.iter().filter(|m| !policy.iter().any(|(pm, pp, _, _)| pp == path && pm == *m)) {
            if per_handle && (*m == "GET" || *m == "DELETE") {
                continue;
            }
            assert_eq!(req(m, Some(TOKEN)), 405, "{m} {path} is not in the policy");
        }
    }
    // With the admin token each admin route does its work.
    let ok = |m: &str, path: &str, body: String| {
        e.http.request(m.parse().unwrap(), format!("{}{path}", e.url)).bearer_auth(TOKEN).body(body).send().unwrap().status().as_u16()
    };
    assert_eq!(ok("GET", "/api/v1/status", String::new()), 200);
    assert_eq!(ok("POST", "/api/v1/shrink-guard/allow-next", String::new()), 200);
    assert_eq!(ok("POST", "/api/v1/publishers", dave), 200);
    assert_eq!(ok("GET", "/api/v1/publishers/alice", String::new()), 200);
    assert_eq!(ok("DELETE", "/api/v1/publishers/bob", String::new()), 200);
    let (publishers, _) = state(&e);
    assert!(publishers.contains("dave") && !publishers.contains("bob"), "{publishers}");
}
