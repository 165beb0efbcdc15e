//! The hosted CA and its repository for the interoperability tests: `rpkit
//! publication serve` (RRDP over HTTPS as `rpki.test`, an rsync tree behind a
//! real rsyncd) and `rpkit ca serve` publishing to it through RFC 8181.
#![allow(dead_code)]

use crate::peers::{self, Proc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

pub type Vrps = BTreeSet<(String, u8, u32)>;
pub type Aspas = BTreeMap<u32, Vec<u32>>;

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{:?}: {}{}", cmd, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

pub struct Env {
    pub w: PathBuf,
    pub tls: peers::Tls,
    pub peers: peers::Peers,
    pub publication: Option<Proc>,
    pub _rsyncd: Proc,
    pub _ca: Proc,
    pub ca_url: String,
    pub ca_token: String,
    pub pub_url: String,
    pub pub_token: String,
    pub http: reqwest::blocking::Client,
}

pub fn start_publication(w: &Path, tls: &peers::Tls, listen: &str) -> (Proc, String) {
    let mut p = Proc::spawn(
        Command::new(BIN)
            .args(["publication", "serve", "--listen", listen, "--rrdp-listen", "127.0.0.1:443", "--interval-ms", "300"])
            .arg("--data")
            .arg(w.join("pub"))
            .arg("--tls-cert")
            .arg(&tls.chain_pem)
            .arg("--tls-key")
            .arg(&tls.key_pem)
            .env("RUST_LOG", "info,rpkit_publication::http=debug"),
        &w.join("publication.log"),
    );
    let url = p.wait_line("publication server API and RFC 8181 on ");
    (p, url)
}

/// rsyncd on port 873 serving the rsync tree of the publication server in `w/pub`.
pub fn start_rsyncd(w: &Path) -> Proc {
    let conf = run(Command::new(BIN).args(["publication", "rsyncd-conf", "--port", "873", "--data"]).arg(w.join("pub")));
    std::fs::write(w.join("rsyncd.conf"), conf).unwrap();
    Proc::spawn(
        Command::new("rsync").arg("--daemon").arg("--no-detach").arg(format!("--config={}", w.join("rsyncd.conf").display())),
        &w.join("rsyncd.log"),
    )
}

/// A CA in `w/ca`: its identity registered at the publication server (RFC
/// 8183), its repository set and its trust anchor made. Returns its data directory.
pub fn register_ca(w: &Path, pub_url: &str, pub_token: &str) -> PathBuf {
    let ca_data = w.join("ca");
    let req = run(Command::new(BIN).args(["ca", "publisher-request", "--data"]).arg(&ca_data));
    std::fs::write(w.join("publisher_request.xml"), req).unwrap();
    let resp = run(Command::new(BIN)
        .args(["publication", "add-publisher", "--sia-base", "rsync://rpki.test/repo/"])
        .arg(w.join("publisher_request.xml"))
        .env("RPKIT_PUBLICATION_SERVER", pub_url)
        .env("RPKIT_PUBLICATION_TOKEN", pub_token));
    assert!(resp.contains("sia_base=\"rsync://rpki.test/repo/\""), "{resp}");
    std::fs::write(w.join("repository_response.xml"), resp).unwrap();
    run(Command::new(BIN).args(["ca", "repository", "--data"]).arg(&ca_data).arg(w.join("repository_response.xml")));
    run(Command::new(BIN).args(["ta", "init", "--data"]).arg(&ca_data));
    ca_data
}

impl Env {
    /// Start everything in the working directory `name`.
    pub fn start(peers: peers::Peers, name: &str) -> Env {
        Env::start_with(peers, name, &[])
    }

    /// `start`, with these settings in the CA's `ca.json`.
    pub fn start_with(peers: peers::Peers, name: &str, ca_settings: &[(&str, Value)]) -> Env {
        let w = peers::open_dir(name);
        let tls = peers::tls(&w);
        let (publication, pub_url) = start_publication(&w, &tls, "127.0.0.1:0");
        let pub_token = std::fs::read_to_string(w.join("pub/admin-token")).unwrap().trim().to_string();
        let rsyncd = start_rsyncd(&w);
        // The CA: identity, registration at the publication server, TA, API.
        let ca_data = register_ca(&w, &pub_url, &pub_token);
        let cfg_path = ca_data.join("ca.json");
        let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
        for (k, v) in ca_settings {
            assert!(cfg.get(k).is_some(), "ca.json has no setting {k}");
            cfg[k] = v.clone();
        }
        std::fs::write(&cfg_path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
        let mut ca = Proc::spawn(
            Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(&ca_data).env("RUST_LOG", "warn"),
            &w.join("ca.log"),
        );
        let ca_url = ca.wait_line("rpkit CA API on ");
        let ca_token = std::fs::read_to_string(ca_data.join("admin-token")).unwrap().trim().to_string();
        std::fs::create_dir_all(w.join("tals")).unwrap();
        std::fs::copy(ca_data.join("ta.tal"), w.join("tals/ta.tal")).unwrap();
        peers::chmod(&w.join("tals/ta.tal"), 0o644);
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(1800)).build().unwrap();
        Env { w, tls, peers, publication: Some(publication), _rsyncd: rsyncd, _ca: ca, ca_url, ca_token, pub_url, pub_token, http }
    }

    /// Members from a generated delegated-extended file; 100 of those holding
    /// prefixes get 10 ROAs each, 20 an ASPA. Returns the 100 handles and every holder.
    pub fn populate(&self) -> (Vec<String>, BTreeMap<String, rpkit_ca::delegated::Holder>) {
        let text = rpkit_test_vectors::delegated::generate(130, 7);
        std::fs::write(self.w.join("delegated.txt"), &text).unwrap();
        let report = self.ca_call(reqwest::Method::POST, "/api/v1/members/import", Some(Value::String(text.clone())));
        assert_eq!(report["added"].as_array().map(Vec::len), Some(130), "{report}");
        let holders = rpkit_ca::delegated::parse(&text).unwrap();
        let mut handles: Vec<String> =
            holders.iter().filter(|(_, h)| !h.resources.ipv4.is_empty() || !h.resources.ipv6.is_empty()).map(|(k, _)| k.clone()).collect();
        handles.sort();
        assert!(handles.len() >= 100, "{} members with prefixes", handles.len());
        handles.truncate(100);
        for (i, h) in handles.iter().enumerate() {
            let r = &holders[h.as_str()].resources;
            let (pfx, len, longest) = first_prefix(r);
            let added: Vec<Value> = (0..10u32)
                .map(|k| json!({"prefix": pfx, "max_length": if k < 5 { len } else { (len + 1).min(longest) }, "asn": 64496 + k}))
                .collect();
            self.ca_call(reqwest::Method::POST, &format!("/api/v1/members/{h}/roas/delta"), Some(json!({ "added": added })));
            if i < 20 {
                if let Some((first, _)) = r.asn.set.ranges().first() {
                    self.ca_call(
                        reqwest::Method::PUT,
                        &format!("/api/v1/members/{h}/aspas/{first}"),
                        Some(json!({"providers": [65000, 65001 + i as u32]})),
                    );
                }
            }
        }
        (handles, holders)
    }

    pub fn ca_call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.ca_url)).bearer_auth(&self.ca_token);
        match body {
            Some(Value::String(text)) => rb = rb.body(text),
            Some(b) => rb = rb.json(&b),
            None => {}
        }
        let resp = rb.send().unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub fn pub_status(&self) -> Value {
        self.http.get(format!("{}/api/v1/status", self.pub_url)).bearer_auth(&self.pub_token).send().unwrap().json().unwrap()
    }

    /// Wait until everything applied is in a serial whose files are written.
    pub fn wait_published(&self) -> (String, u64) {
        let t0 = Instant::now();
        loop {
            let st = self.pub_status();
            let note = std::fs::read_to_string(self.w.join("pub/rrdp/notification.xml")).unwrap_or_default();
            let serial = st["serial"].as_u64().unwrap();
            if st["pending_revisions"] == 0 && note.contains(&format!("serial=\"{serial}\">")) {
                std::thread::sleep(Duration::from_millis(500)); // the rsync tree switch precedes the notification
                return (st["session_id"].as_str().unwrap().to_string(), serial);
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "repository not written: {st}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the CA holds: every member's ROAs and ASPAs.
    pub fn ca_payloads(&self) -> (Vrps, Aspas) {
        let mut vrps = Vrps::new();
        let mut aspas = Aspas::new();
        let members = self.ca_call(reqwest::Method::GET, "/api/v1/members", None);
        for m in members.as_array().unwrap() {
            let h = m["handle"].as_str().unwrap();
            for r in self.ca_call(reqwest::Method::GET, &format!("/api/v1/members/{h}/roas"), None).as_array().unwrap() {
                vrps.insert((
                    r["prefix"].as_str().unwrap().to_string(),
                    r["max_length"].as_u64().unwrap() as u8,
                    r["asn"].as_u64().unwrap() as u32,
                ));
            }
            for a in self.ca_call(reqwest::Method::GET, &format!("/api/v1/members/{h}/aspas"), None).as_array().unwrap() {
                let providers = a["providers"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u32).collect();
                aspas.insert(a["customer"].as_u64().unwrap() as u32, providers);
            }
        }
        (vrps, aspas)
    }

    pub fn publication_log_len(&self) -> usize {
        std::fs::metadata(self.w.join("publication.log")).map(|m| m.len() as usize).unwrap_or(0)
    }

    /// RRDP files fetched since `from` (offset in the server log): (deltas, snapshots).
    pub fn rrdp_fetches_since(&self, from: usize) -> (usize, usize) {
        let log = std::fs::read(self.w.join("publication.log")).unwrap();
        let new = String::from_utf8_lossy(&log[from.min(log.len())..]).to_string();
        let served: Vec<&str> = new.lines().filter(|l| l.contains("RRDP file served")).collect();
        (served.iter().filter(|l| l.contains("delta.xml")).count(), served.iter().filter(|l| l.contains("snapshot.xml")).count())
    }
}

/// A member's first prefix (IPv4 if it has any): text, length, longest length of its family.
pub fn first_prefix(r: &rpkit_objects::resources::ResourceSet) -> (String, u8, u8) {
    match r.ipv4.to_prefixes().first() {
        Some(p) => (p.to_string(), p.len, 32),
        None => {
            let p = r.ipv6.to_prefixes()[0];
            (p.to_string(), p.len, 128)
        }
    }
}

/// The VRPs of an rpki-client-format JSON (`roas`; `asn` a number or `"AS<N>"`).
pub fn json_vrps(j: &Value) -> Vrps {
    j["roas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let asn = match &r["asn"] {
                Value::String(s) => s.trim_start_matches("AS").parse().unwrap(),
                n => n.as_u64().unwrap() as u32,
            };
            (r["prefix"].as_str().unwrap().to_string(), r["maxLength"].as_u64().unwrap() as u8, asn)
        })
        .collect()
}
