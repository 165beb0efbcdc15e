//! Crash consistency of the CA and the publication server: ROA changes go to
//! `rpkit ca serve`, which publishes them to `rpkit publication serve` over
//! RFC 8181, and at a different moment of each change the CA, the server or
//! both are killed with SIGKILL (60 kill points). After every restart:
//! - every change the client saw acknowledged is there, and an unacknowledged
//!   one is there whole or not at all;
//! - the repository the server publishes (its rsync tree) holds exactly the
//!   objects the CA's database says are published, by hash;
//! - every tenth time and at the end, rpki-client validates the repository over
//!   rsync with no warning and outputs exactly the CA's VRPs.

#[path = "peers/hosted.rs"]
mod hosted;
use rpkit_test_vectors::peers;

use hosted::BIN;
use peers::Proc;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const KILL_POINTS: usize = 60;

struct Rig {
    w: PathBuf,
    tls: peers::Tls,
    pub_listen: String,
    ca: Option<Proc>,
    publication: Option<Proc>,
    ca_url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Rig {
    fn start_publication(&mut self) {
        let (p, _) = hosted::start_publication(&self.w, &self.tls, &self.pub_listen);
        self.publication = Some(p);
    }

    fn start_ca(&mut self) {
        let mut ca = Proc::spawn(
            Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(self.w.join("ca")).env("RUST_LOG", "warn"),
            &self.w.join("ca.log"),
        );
        self.ca_url = ca.wait_line("rpkit CA API on ");
        self.ca = Some(ca);
    }

    fn call(&self, m: reqwest::Method, path: &str, body: Option<Value>) -> Result<(u16, Value), String> {
        let mut rq = self.http.request(m, format!("{}{path}", self.ca_url)).bearer_auth(&self.token);
        if let Some(b) = body {
            rq = rq.json(&b);
        }
        let r = rq.send().map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let text = r.text().map_err(|e| e.to_string())?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn roas(&self) -> BTreeSet<String> {
        let (st, v) = self.call(reqwest::Method::GET, "/api/v1/members/m1/roas", None).unwrap();
        assert_eq!(st, 200, "{v}");
        v.as_array().unwrap().iter().map(|r| format!("{}-{} AS{}", r["prefix"].as_str().unwrap(), r["max_length"], r["asn"])).collect()
    }

    /// The CA's published objects (URI → SHA-256), from its database.
    fn intended(&self) -> BTreeMap<String, String> {
        let (st, v) = self.call(reqwest::Method::GET, "/api/v1/export", None).unwrap();
        assert_eq!(st, 200, "{v}");
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["uri"].as_str().unwrap().to_string(), o["sha256"].as_str().unwrap().to_string()))
            .collect()
    }

    /// The server's rsync tree (URI → SHA-256), once the CA says the repository
    /// is in line with its database and the server has written every change.
    fn published(&self) -> BTreeMap<String, String> {
        let t0 = Instant::now();
        loop {
            let m = self.http.get(format!("{}/metrics", self.ca_url)).send().and_then(|r| r.text()).unwrap_or_default();
            if m.contains("\nrpkit_ca_repository_in_sync 1\n") {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "the CA never brought the repository back in line");
            std::thread::sleep(Duration::from_millis(100));
        }
        let pub_url = std::fs::read_to_string(self.w.join("publication.log"))
            .unwrap()
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("publication server API and RFC 8181 on ").map(str::to_string))
            .unwrap();
        let pub_token = std::fs::read_to_string(self.w.join("pub/admin-token")).unwrap().trim().to_string();
        let t0 = Instant::now();
        loop {
            let st: Value =
                self.http.get(format!("{pub_url}/api/v1/status")).bearer_auth(&pub_token).send().and_then(|r| r.json()).unwrap_or_default();
            if st["pending_revisions"] == 0 {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "the repository is not written: {st}");
            std::thread::sleep(Duration::from_millis(100));
        }
        // The tree switch follows the revision by a moment.
        std::thread::sleep(Duration::from_millis(700));
        let files = peers::tree_digests(&self.w.join("pub/rsync/current/repo"));
        files.into_iter().map(|(rel, digest)| (format!("rsync://rpki.test/repo/{rel}"), digest)).collect()
    }
}

fn rpki_client(w: &Path, round: usize) -> (BTreeSet<String>, Vec<String>) {
    let out = w.join(format!("rpki-client-out-{round}"));
    let o = peers::rpki_client_rsync(&w.join("ta.tal"), &w.join(format!("rpki-client-cache-{round}")), &out);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "rpki-client: {stderr}");
    // Problems print as `rpki-client: ...`; every closing count in parentheses must be 0.
    let mut problems: Vec<String> = stderr.lines().filter(|l| l.starts_with("rpki-client:")).map(str::to_string).collect();
    for l in stderr.lines().filter(|l| l.contains('(') && !l.starts_with("Processing time")) {
        let inner = l.split_once('(').unwrap().1.trim_end_matches(')');
        if inner.split(',').any(|p| p.split_whitespace().next().is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))) {
            problems.push(l.to_string());
        }
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(out.join("json")).unwrap()).unwrap();
    let vrps = json["roas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}-{} AS{}", r["prefix"].as_str().unwrap(), r["maxLength"], r["asn"].as_u64().unwrap()))
        .collect();
    (vrps, problems)
}

#[test]
fn sigkill_at_60_points_loses_no_acknowledged_change_and_leaves_a_valid_repository() {
    let Some(_peers) = peers::prepare() else { return };
    let w = peers::open_dir("crash");
    let tls = peers::tls(&w);
    let mut rig = Rig {
        w: w.clone(),
        tls,
        pub_listen: format!("127.0.0.1:{}", peers::free_port()),
        ca: None,
        publication: None,
        ca_url: String::new(),
        token: String::new(),
        http: reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
    };
    rig.start_publication();
    let pub_url = format!("http://{}", rig.pub_listen);
    let pub_token = std::fs::read_to_string(w.join("pub/admin-token")).unwrap().trim().to_string();
    let _rsyncd = hosted::start_rsyncd(&w);
    let ca_data = hosted::register_ca(&w, &pub_url, &pub_token);
    std::fs::copy(ca_data.join("ta.tal"), w.join("ta.tal")).unwrap();
    peers::chmod(&w.join("ta.tal"), 0o644);
    rig.token = std::fs::read_to_string(ca_data.join("admin-token")).unwrap().trim().to_string();
    rig.start_ca();
    let (st, v) = rig
        .call(reqwest::Method::POST, "/api/v1/members", Some(json!({"handle": "m1", "resources": "AS64496-AS64511, 10.0.0.0/8"})))
        .unwrap();
    assert_eq!(st, 201, "{v}");

    let mut model: BTreeSet<String> = BTreeSet::new();
    let (mut acked, mut lost_in_flight, mut applied_unacked) = (0, 0, 0);
    let mut rpki_client_runs = 0;
    for i in 0..KILL_POINTS {
        // Two ROAs in, one out: a change of three objects, manifest and CRL.
        let add: Vec<Value> =
            (0..2).map(|k| json!({"prefix": format!("10.{}.{}.0/24", i / 100, (i * 2 + k) % 200), "asn": 64496 + (i % 16)})).collect();
        let remove: Vec<Value> = model
            .iter()
            .nth(i % model.len().max(1))
            .filter(|_| i % 2 == 1)
            .map(|r| {
                let (pm, asn) = r.split_once(" AS").unwrap();
                let (p, m) = pm.rsplit_once('-').unwrap();
                json!({"prefix": p, "max_length": m.parse::<u8>().unwrap(), "asn": asn.parse::<u32>().unwrap()})
            })
            .into_iter()
            .collect();
        let delta = json!({"added": add, "removed": remove});
        let mut after = model.clone();
        for a in &add {
            after.insert(format!("{}-24 AS{}", a["prefix"].as_str().unwrap(), a["asn"]));
        }
        for r in &remove {
            after.remove(&format!("{}-{} AS{}", r["prefix"].as_str().unwrap(), r["max_length"], r["asn"]));
        }
        let (url, token) = (rig.ca_url.clone(), rig.token.clone());
        let request = std::thread::spawn(move || {
            let c = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
            c.post(format!("{url}/api/v1/members/m1/roas/delta")).bearer_auth(token).json(&delta).send().map(|r| r.status().as_u16())
        });
        // A different moment each time, across the life of a change (about 100 ms with a warm key pool).
        std::thread::sleep(Duration::from_millis(((i * 7919) % 150) as u64));
        let victim = i % 3;
        if victim != 1 {
            rig.ca.take().unwrap().kill();
        }
        if victim != 0 {
            rig.publication.take().unwrap().kill();
        }
        let ok = matches!(request.join().unwrap(), Ok(200));
        if rig.publication.is_none() {
            rig.start_publication();
        }
        if rig.ca.is_none() {
            rig.start_ca();
        }
        let now = rig.roas();
        if ok {
            acked += 1;
            assert_eq!(now, after, "kill point {i}: an acknowledged change is missing or altered");
        } else {
            lost_in_flight += 1;
            assert!(now == model || now == after, "kill point {i}: a change applied in part: {now:?}");
            applied_unacked += usize::from(now == after && now != model);
        }
        model = now;
        let (intended, published) = (rig.intended(), rig.published());
        assert_eq!(published, intended, "kill point {i}: the published repository differs from the CA's database");
        if i % 10 == 9 {
            let (vrps, problems) = rpki_client(&w, i);
            rpki_client_runs += 1;
            assert!(problems.is_empty(), "kill point {i}: rpki-client: {problems:#?}");
            assert_eq!(vrps, model, "kill point {i}: rpki-client's VRPs");
        }
    }
    eprintln!(
        "{KILL_POINTS} kill points: {acked} changes acknowledged before the kill, {lost_in_flight} cut off \
         ({applied_unacked} of them applied whole), {rpki_client_runs} rpki-client runs clean, {} ROAs at the end",
        model.len()
    );
    assert!(lost_in_flight > 0 && acked > 0, "the kills must land both during and after changes");
}
