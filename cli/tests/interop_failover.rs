//! Two CA nodes on one PostgreSQL database, one active (issue: HA). Clients
//! send 1,000 ROA changes and retry on a 503 or a dead node at the other one;
//! the active node is killed (SIGKILL) in the middle. The standby takes over
//! within 10 s; afterwards every acknowledged change is there exactly once,
//! the repository holds exactly what the database says is published, and
//! rpki-client 8.2 validates it without a warning, with exactly the VRPs of
//! the acknowledged changes. Then a paused active node (SIGSTOP) loses the
//! lease, and once it runs again it takes no change and publishes nothing.

#[path = "peers/hosted.rs"]
mod hosted;
use rpkit_test_vectors::peers;

use hosted::{rpki_client, CaRun, Env, Transport, Vrps, BIN};
use peers::Proc;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MEMBER: &str = "member-ha";
const CHANGES: usize = 1000;
const CLIENTS: usize = 4;

/// The two nodes' API URLs (the index of the one a client tries first is its own).
struct Nodes {
    urls: Mutex<[String; 2]>,
    token: String,
    http: reqwest::blocking::Client,
}

/// Where a node stands, from its /health.
fn role(http: &reqwest::blocking::Client, url: &str) -> Option<String> {
    let body = http.get(format!("{url}/health")).timeout(Duration::from_secs(2)).send().ok()?.text().ok()?;
    body.lines().find_map(|l| l.strip_prefix("role: ")).map(|r| r.split_whitespace().next().unwrap_or("").to_string())
}

impl Nodes {
    /// Send one change, at whichever node takes it: a 503 (standby, fenced)
    /// or an unreachable node sends the client to the other one. Returns the
    /// acknowledgement. A removal retried after a lost answer may find its
    /// ROA gone already (422 `not_found`): it was applied the first time.
    fn change(&self, first: usize, path: &str, body: &Value) -> Value {
        let t0 = Instant::now();
        let mut at = first;
        loop {
            let url = self.urls.lock().unwrap()[at % 2].clone();
            match self.http.post(format!("{url}{path}")).bearer_auth(&self.token).json(body).send() {
                Ok(r) if r.status().is_success() => return r.json().unwrap(),
                Ok(r) if r.status() == reqwest::StatusCode::UNPROCESSABLE_ENTITY && at != first && body.get("removed").is_some() => {
                    let report: Value = r.json().unwrap();
                    assert_eq!(report["rejected"][0]["code"], "not_found", "{report}");
                    return json!({"added": [], "removed": body["removed"].clone(), "replayed": true});
                }
                Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                    assert!(r.headers().contains_key("retry-after"), "a 503 without Retry-After");
                }
                Ok(r) => {
                    let st = r.status();
                    panic!("{path} {body}: {st} {}", r.text().unwrap_or_default());
                }
                Err(_) => {}
            }
            at += 1;
            assert!(t0.elapsed() < Duration::from_secs(120), "no node took {path} {body} in 120 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn roa(i: usize) -> (String, u8, u32) {
    (format!("10.{}.{}.0/24", i / 256, i % 256), 24, 64496 + (i % 8) as u32)
}

fn roa_json(r: &(String, u8, u32)) -> Value {
    json!({"prefix": r.0, "max_length": r.1, "asn": r.2})
}

/// A second node of the CA: its own copy of the data directory (as a second
/// machine has), the same database.
fn spawn_node(w: &Path, data: &Path, name: &str, url: &str) -> (Proc, String) {
    let mut p = Proc::spawn(
        Command::new(BIN)
            .args(["ca", "serve", "--listen", "127.0.0.1:0", "--node", name, "--data"])
            .arg(data)
            .env("RPKIT_DATABASE_URL", url)
            .env("RUST_LOG", "info"),
        &w.join(format!("{name}.log")),
    );
    let api = p.wait_line("rpkit CA API on ");
    (p, api)
}

fn wait_role(http: &reqwest::blocking::Client, url: &str, want: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    while role(http, url).as_deref() != Some(want) {
        assert!(t0.elapsed() < within, "{url} is not {want} after {within:?} (it is {:?})", role(http, url));
        std::thread::sleep(Duration::from_millis(100));
    }
    t0.elapsed()
}

/// The CA database's published objects and the publication server's, by URI and SHA-256.
fn published(url: &str, pub_db: &Path) -> (BTreeMap<String, [u8; 32]>, BTreeMap<String, [u8; 32]>) {
    let mut pg = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let ca = pg
        .query("SELECT uri, der FROM rpkit_ca.objects", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get::<_, String>(0), rpkit_objects::crypto::sha256(r.get::<_, &[u8]>(1))))
        .collect();
    let db = rusqlite::Connection::open_with_flags(pub_db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = db.prepare("SELECT uri, hash FROM objects").unwrap();
    let repo = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?.try_into().unwrap())))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (ca, repo)
}

fn metric(http: &reqwest::blocking::Client, url: &str, name: &str) -> Option<String> {
    let text = http.get(format!("{url}/metrics")).send().ok()?.text().ok()?;
    text.lines().find_map(|l| l.strip_prefix(&format!("{name} "))).map(str::to_string)
}

/// Every acknowledged change exactly once: the adds there once, the removals gone.
fn check_roas(http: &reqwest::blocking::Client, at: &str, token: &str, want: &Vrps) {
    let list: Value = http.get(format!("{at}/api/v1/members/{MEMBER}/roas")).bearer_auth(token).send().unwrap().json().unwrap();
    let mut seen = BTreeMap::new();
    for r in list.as_array().unwrap() {
        let k = (r["prefix"].as_str().unwrap().to_string(), r["max_length"].as_u64().unwrap() as u8, r["asn"].as_u64().unwrap() as u32);
        *seen.entry(k).or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "a ROA twice");
    assert_eq!(&seen.keys().cloned().collect::<Vrps>(), want, "exactly the acknowledged ROAs");
}

/// Wait until the repository holds what the database says, and its files are written.
fn in_line(e: &Env, url: &str, what: &str) {
    let t0 = Instant::now();
    loop {
        let (ca, repo) = published(url, &e.w.join("pub/publication.sqlite"));
        if ca == repo && !ca.is_empty() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{what}: the repository differs from the database");
        std::thread::sleep(Duration::from_millis(200));
    }
    e.wait_published();
}

#[test]
fn failover_keeps_every_acknowledged_change_exactly_once_and_the_repository_in_line() {
    let Some(peers) = peers::prepare() else { return };
    let Some(url) = rpkit_test_vectors::postgres::database("ca_failover") else { return };
    let run = CaRun { args: vec![], env: vec![("RPKIT_DATABASE_URL".into(), PathBuf::from(&url))] };
    let mut e = Env::start_full(peers, "failover", &[], &run);
    let w = e.w.clone();
    // The second machine: a copy of the first one's data directory.
    let data_b = w.join("ca-b");
    assert!(Command::new("cp").arg("-a").arg(w.join("ca")).arg(&data_b).status().unwrap().success());
    let (mut node_b, url_b) = spawn_node(&w, &data_b, "node-b", &url);
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    assert_eq!(role(&http, &e.ca_url).as_deref(), Some("active"), "the first node took the lease");
    assert_eq!(role(&http, &url_b).as_deref(), Some("standby"));
    assert_eq!(metric(&http, &url_b, "rpkit_ca_node_active").as_deref(), Some("0"));
    assert_eq!(metric(&http, &e.ca_url, "rpkit_ca_node_active").as_deref(), Some("1"));
    e.ca_call(reqwest::Method::POST, "/api/v1/members", Some(json!({"handle": MEMBER, "resources": "AS64496-AS64511, 10.0.0.0/8"})));

    // The standby takes no change, names itself and says when to retry; reads work.
    let r = http.post(format!("{url_b}/api/v1/members/{MEMBER}/roas")).bearer_auth(&e.ca_token).json(&roa_json(&roa(9999))).send().unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().unwrap();
    assert_eq!(body["code"], "standby", "{body}");
    assert!(body["message"].as_str().unwrap().contains("node node-b is the standby"), "{body}");
    let members: Value = http.get(format!("{url_b}/api/v1/members")).bearer_auth(&e.ca_token).send().unwrap().json().unwrap();
    assert!(members.as_array().unwrap().iter().any(|m| m["handle"] == MEMBER), "the standby reads the shared state: {members}");

    // 1,000 changes from 4 clients: adds, and every fifth a removal of an
    // earlier add of the same client. The active node dies after 300.
    let nodes = Arc::new(Nodes { urls: Mutex::new([e.ca_url.clone(), url_b.clone()]), token: e.ca_token.clone(), http: http.clone() });
    let acked = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (nodes, acked) = (nodes.clone(), acked.clone());
            std::thread::spawn(move || {
                let path = format!("/api/v1/members/{MEMBER}/roas/delta");
                let (mut added, mut removed) = (Vec::new(), Vec::new());
                for k in 0..CHANGES / CLIENTS {
                    if k % 5 == 4 {
                        let r: (String, u8, u32) = added.remove(k % added.len());
                        let ack = nodes.change(c, &path, &json!({"removed": [roa_json(&r)]}));
                        assert!(ack["added"].as_array().unwrap().is_empty(), "{ack}");
                        removed.push(r);
                    } else {
                        let r = roa(c * CHANGES + k);
                        let ack = nodes.change(c, &path, &json!({"added": [roa_json(&r)]}));
                        assert_eq!(ack["removed"].as_array().unwrap().len(), 0, "{ack}");
                        added.push(r);
                    }
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                (added, removed)
            })
        })
        .collect();
    while acked.load(Ordering::SeqCst) < 300 {
        std::thread::sleep(Duration::from_millis(20));
    }
    e._ca.kill_now();
    let killed_at = acked.load(Ordering::SeqCst);
    let takeover = wait_role(&http, &url_b, "active", Duration::from_secs(10));
    eprintln!("node-a killed after {killed_at} acknowledged changes; node-b active after {takeover:?}");
    let mut want = Vrps::new();
    let mut gone = Vrps::new();
    for c in clients {
        let (added, removed) = c.join().unwrap();
        want.extend(added);
        gone.extend(removed);
    }
    assert_eq!(acked.load(Ordering::SeqCst), CHANGES);
    assert!(gone.is_disjoint(&want));

    // Every acknowledged change exactly once: the adds there once, the removals gone.
    check_roas(&http, &url_b, &e.ca_token, &want);

    // The killed node comes back as the standby.
    let data_a = w.join("ca");
    let (node_a, url_a) = spawn_node(&w, &data_a, "node-a", &url);
    wait_role(&http, &url_a, "standby", Duration::from_secs(10));

    // The repository holds what the database says; rpki-client agrees, without a warning.
    in_line(&e, &url, "after the kill");
    e.ca_url = url_b.clone();
    let o = rpki_client(&e, Transport::Rrdp);
    assert!(o.problems.is_empty(), "rpki-client: {:?}", o.problems);
    assert_eq!(o.vrps, want, "rpki-client's VRPs are the acknowledged ROAs");

    // A paused active node loses the lease; running again, it is the standby,
    // takes no change, and what it had in flight cannot reach the repository.
    let stop = |pid: u32, sig: &str| assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
    stop(node_b.id(), "-STOP");
    let takeover = wait_role(&http, &url_a, "active", Duration::from_secs(10));
    eprintln!("node-b paused; node-a active after {takeover:?}");
    let extra = roa(5000);
    nodes.urls.lock().unwrap()[0] = url_a.clone();
    nodes.change(0, &format!("/api/v1/members/{MEMBER}/roas/delta"), &json!({"added": [roa_json(&extra)]}));
    want.insert(extra);
    stop(node_b.id(), "-CONT");
    wait_role(&http, &url_b, "standby", Duration::from_secs(10));
    let r = http.post(format!("{url_b}/api/v1/members/{MEMBER}/roas")).bearer_auth(&e.ca_token).json(&roa_json(&roa(9998))).send().unwrap();
    assert_eq!(r.status(), 503, "the old active node takes no change");
    check_roas(&http, &url_a, &e.ca_token, &want);
    in_line(&e, &url, "after the pause");
    let o = rpki_client(&e, Transport::Rrdp);
    assert!(o.problems.is_empty(), "rpki-client: {:?}", o.problems);
    assert_eq!(o.vrps, want);
    let log_b = std::fs::read_to_string(w.join("node-b.log")).unwrap();
    assert!(log_b.contains("the lease was taken over: this node is the standby now"), "{log_b}");
    drop(node_a);
    node_b.stop();
}
