//! Two publication servers on one PostgreSQL database, one active (issue:
//! HA). The standby answers RFC 8181 and RRDP with 503 and `Retry-After`;
//! after the active one is killed (SIGKILL) it takes over within 10 s and
//! serves the same RRDP session: the deltas the old node listed are written
//! again, byte for byte (their hashes as listed), so relying parties go on
//! from delta to delta; the changes that follow extend the same session.

use rpkit_objects::bpki::Identity;
use rpkit_objects::rfc8181::{Query, QueryPdu, Reply};
use rpkit_objects::rfc8183::PublisherRequest;
use rpkit_test_vectors::peers::Proc;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

/// `rpkit publication serve` as node `name` on `url`; its API address.
fn serve(w: &Path, name: &str, url: &str) -> (Proc, String) {
    let mut p = Proc::spawn(
        Command::new(BIN)
            .args(["publication", "serve", "--listen", "127.0.0.1:0", "--interval-ms", "50", "--node", name, "--data"])
            .arg(w.join(name))
            .env("RPKIT_DATABASE_URL", url)
            .env("RUST_LOG", "info"),
        &w.join(format!("{name}.log")),
    );
    let api = p.wait_line("publication server API and RFC 8181 on ");
    (p, api)
}

fn get(url: &str) -> (u16, String, Option<String>) {
    match reqwest::blocking::Client::new().get(url).timeout(Duration::from_secs(2)).send() {
        Ok(r) => {
            let retry = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), r.text().unwrap(), retry)
        }
        Err(_) => (0, String::new(), None),
    }
}

fn wait_role(api: &str, want: &str) -> Duration {
    let t0 = Instant::now();
    while !get(&format!("{api}/health")).1.contains(&format!("role: {want} ")) {
        assert!(t0.elapsed() < Duration::from_secs(10), "{api} is not {want} after 10 s: {}", get(&format!("{api}/health")).1);
        std::thread::sleep(Duration::from_millis(100));
    }
    t0.elapsed()
}

/// Publish `n` objects from `start` as the publisher `id` at `api`; the HTTP status.
fn publish(api: &str, id: &Identity, start: usize, n: usize) -> u16 {
    let pdus = (start..start + n)
        .map(|i| QueryPdu::Publish { tag: None, uri: format!("rsync://rpki.test/repo/t/o{i}.roa"), der: vec![i as u8; 64], hash: None })
        .collect();
    let cms = id.sign(Query::Pdus(pdus).encode().as_bytes(), rpkit_objects::der::Time::now()).unwrap();
    let r = reqwest::blocking::Client::new()
        .post(format!("{api}/rfc8181/t"))
        .header("Content-Type", "application/rpki-publication")
        .body(cms)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    if status == 200 {
        let msg = rpkit_objects::signed_message::SignedMessage::decode(&r.bytes().unwrap()).unwrap();
        assert!(matches!(Reply::decode(msg.content()).unwrap(), Reply::Success));
    }
    status
}

/// The notification a node serves: (session, serial, [(serial or 0 for the snapshot, uri, hash)]).
fn notification(api: &str) -> (String, u64, Vec<(u64, String, String)>) {
    let (st, xml, _) = get(&format!("{api}/rrdp/notification.xml"));
    assert_eq!(st, 200, "{xml}");
    let attr = |tag: &str, name: &str| tag.split(&format!(" {name}=\"")).nth(1).and_then(|r| r.split('"').next()).map(str::to_string);
    let head = xml.split('>').find(|t| t.contains("<notification")).unwrap();
    let mut files = Vec::new();
    for tag in xml.split('<').filter(|t| t.starts_with("snapshot ") || t.starts_with("delta ")) {
        let serial = attr(tag, "serial").map_or(0, |s| s.parse().unwrap());
        files.push((serial, attr(tag, "uri").unwrap(), attr(tag, "hash").unwrap()));
    }
    (attr(head, "session_id").unwrap(), attr(head, "serial").unwrap().parse().unwrap(), files)
}

/// Every file the notification of `api` lists is served with the hash it names.
fn check_files(api: &str, files: &[(u64, String, String)]) {
    for (_, uri, hash) in files {
        let path = uri.split("/rrdp/").nth(1).unwrap();
        let r = reqwest::blocking::get(format!("{api}/rrdp/{path}")).unwrap();
        assert_eq!(r.status(), 200, "{uri}");
        let got = rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(&r.bytes().unwrap()));
        assert_eq!(&got, hash, "{uri}: its hash as listed");
    }
}

#[test]
fn the_standby_publication_server_takes_over_the_same_rrdp_session() {
    let Some(url) = rpkit_test_vectors::postgres::database("publication_pair") else { return };
    let w = std::env::temp_dir().join(format!("rpkit-publication-pair-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(&w).unwrap();
    let (mut a, api_a) = serve(&w, "pub-a", &url);
    wait_role(&api_a, "active");
    let (_b, api_b) = serve(&w, "pub-b", &url);
    wait_role(&api_b, "standby");
    let metrics = get(&format!("{api_b}/metrics")).1;
    assert!(metrics.contains("rpkit_publication_node_active 0\n"), "{metrics}");

    // A publisher registered at the active node.
    let token = std::fs::read_to_string(w.join("pub-a/admin-token")).unwrap();
    let id = Identity::create().unwrap();
    let req = PublisherRequest { tag: None, publisher_handle: "t".into(), id_cert: id.cert.clone() };
    let r = reqwest::blocking::Client::new()
        .post(format!("{api_a}/api/v1/publishers?sia_base=rsync://rpki.test/repo/t/"))
        .bearer_auth(token.trim())
        .body(req.encode())
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().unwrap());

    // The standby takes no change and serves no RRDP file, and says when to retry.
    assert_eq!(publish(&api_b, &id, 0, 1), 503);
    let (st, body, retry) = get(&format!("{api_b}/rrdp/notification.xml"));
    assert_eq!((st, retry.as_deref()), (503, Some("1")), "{body}");
    assert!(body.contains("node pub-b is the standby publication server (active node: pub-a)"), "{body}");

    // Ten change sets, each its own serial at the active node.
    for k in 0..10 {
        assert_eq!(publish(&api_a, &id, k * 10, 10), 200);
        std::thread::sleep(Duration::from_millis(150));
    }
    let t0 = Instant::now();
    let before = loop {
        let m = get(&format!("{api_a}/metrics")).1;
        let n = notification(&api_a);
        let settled = m.contains("rpkit_publication_pending_revisions 0\n") && m.contains(&format!("rpkit_publication_serial {}\n", n.1));
        if settled && n.2.iter().filter(|f| f.0 > 0).count() >= 5 {
            break n;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "the active node wrote too few serials: {n:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    check_files(&api_a, &before.2);

    // The active node dies; the standby takes over the same session.
    a.kill_now();
    let took = wait_role(&api_b, "active");
    eprintln!("pub-b active {took:?} after pub-a was killed");
    let after = notification(&api_b);
    assert_eq!(after.0, before.0, "the same RRDP session");
    assert_eq!(after.1, before.1, "nothing was pending: the same serial");
    assert_eq!(after.2, before.2, "the same snapshot and deltas, as listed before");
    check_files(&api_b, &after.2);
    let log = std::fs::read_to_string(w.join("pub-b.log")).unwrap();
    assert!(log.contains("RRDP files written again from the database"), "{log}");

    // Changes go on at the new active node, in the same session.
    assert_eq!(publish(&api_b, &id, 100, 5), 200);
    let t0 = Instant::now();
    let next = loop {
        let n = notification(&api_b);
        if n.1 > after.1 {
            break n;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no new serial");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(next.0, before.0);
    assert!(next.2.iter().any(|f| f.0 == after.1), "the delta chain goes on from the old node's serial: {next:?}");
    check_files(&api_b, &next.2);
    let metrics = get(&format!("{api_b}/metrics")).1;
    assert!(metrics.contains("rpkit_publication_node_active 1\n") && metrics.contains("rpkit_publication_objects 105\n"), "{metrics}");
    let _ = std::fs::remove_dir_all(&w);
}
