//! The hosted CA and its repository for the interoperability tests: `rpkit
//! publication serve` (RRDP over HTTPS as `rpki.test`, an rsync tree behind a
//! real rsyncd) and `rpkit ca serve` publishing to it through RFC 8181.
#![allow(dead_code)]

use crate::peers::{self, Proc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

pub type Vrps = BTreeSet<(String, u8, u32)>;
pub type Aspas = BTreeMap<u32, Vec<u32>>;
/// (AS, router key identifier in upper-case hex without colons).
pub type RouterKeys = BTreeSet<(u32, String)>;

/// The router keys of an rpki-client-format JSON (`bgpsec_keys`).
pub fn json_router_keys(j: &Value) -> RouterKeys {
    j["bgpsec_keys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| (k["asn"].as_u64().unwrap() as u32, k["ski"].as_str().unwrap().replace(':', "").to_uppercase()))
        .collect()
}

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
    register_ca_with(w, pub_url, pub_token, &CaRun::default())
}

/// Extra arguments and environment for the CA's `ta init` and `ca serve`
/// (an HSM's flags and `SOFTHSM2_CONF`).
#[derive(Default)]
pub struct CaRun {
    pub args: Vec<String>,
    pub env: Vec<(String, PathBuf)>,
}

impl CaRun {
    fn apply<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.args(&self.args).envs(self.env.iter().map(|(k, v)| (k, v)))
    }
}

/// `register_ca`, the trust anchor made with `run`'s arguments.
pub fn register_ca_with(w: &Path, pub_url: &str, pub_token: &str, ca_run: &CaRun) -> PathBuf {
    let ca_data = w.join("ca");
    let req = run(ca_run.apply(Command::new(BIN).args(["ca", "publisher-request", "--data"]).arg(&ca_data)));
    std::fs::write(w.join("publisher_request.xml"), req).unwrap();
    let resp = run(Command::new(BIN)
        .args(["publication", "add-publisher", "--sia-base", "rsync://rpki.test/repo/"])
        .arg(w.join("publisher_request.xml"))
        .env("RPKIT_PUBLICATION_SERVER", pub_url)
        .env("RPKIT_PUBLICATION_TOKEN", pub_token));
    assert!(resp.contains("sia_base=\"rsync://rpki.test/repo/\""), "{resp}");
    std::fs::write(w.join("repository_response.xml"), resp).unwrap();
    run(Command::new(BIN).args(["ca", "repository", "--data"]).arg(&ca_data).arg(w.join("repository_response.xml")));
    run(ca_run.apply(Command::new(BIN).args(["ta", "init", "--data"]).arg(&ca_data)));
    ca_data
}

/// `rpkit ca serve` on `w/ca`, logging to `w/log`; its API URL.
fn spawn_ca(w: &Path, ca_run: &CaRun, log: &str) -> (Proc, String) {
    let mut ca = Proc::spawn(
        ca_run
            .apply(Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(w.join("ca")).env("RUST_LOG", "warn")),
        &w.join(log),
    );
    let url = ca.wait_line("rpkit CA API on ");
    (ca, url)
}

impl Env {
    /// Start everything in the working directory `name`.
    pub fn start(peers: peers::Peers, name: &str) -> Env {
        Env::start_with(peers, name, &[])
    }

    /// `start`, with these settings in the CA's `ca.json`.
    pub fn start_with(peers: peers::Peers, name: &str, ca_settings: &[(&str, Value)]) -> Env {
        Env::start_full(peers, name, ca_settings, &CaRun::default())
    }

    /// `start_with`, the CA run with `ca_run`'s arguments and environment.
    pub fn start_full(peers: peers::Peers, name: &str, ca_settings: &[(&str, Value)], ca_run: &CaRun) -> Env {
        let w = peers::open_dir(name);
        let tls = peers::tls(&w);
        let (publication, pub_url) = start_publication(&w, &tls, "127.0.0.1:0");
        let pub_token = std::fs::read_to_string(w.join("pub/admin-token")).unwrap().trim().to_string();
        let rsyncd = start_rsyncd(&w);
        // The CA: identity, registration at the publication server, TA, API.
        let ca_data = register_ca_with(&w, &pub_url, &pub_token, ca_run);
        let cfg_path = ca_data.join("ca.json");
        let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
        // The CA reads delegated members' repositories over RRDP as a relying party does.
        cfg["tls_roots"] = json!([tls.ca_pem]);
        for (k, v) in ca_settings {
            assert!(cfg.get(k).is_some(), "ca.json has no setting {k}");
            cfg[k] = v.clone();
        }
        std::fs::write(&cfg_path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
        let (ca, ca_url) = spawn_ca(&w, ca_run, "ca.log");
        let ca_token = std::fs::read_to_string(ca_data.join("admin-token")).unwrap().trim().to_string();
        std::fs::create_dir_all(w.join("tals")).unwrap();
        std::fs::copy(ca_data.join("ta.tal"), w.join("tals/ta.tal")).unwrap();
        peers::chmod(&w.join("tals/ta.tal"), 0o644);
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(1800)).build().unwrap();
        Env { w, tls, peers, publication: Some(publication), _rsyncd: rsyncd, _ca: ca, ca_url, ca_token, pub_url, pub_token, http }
    }

    /// kill -9 the CA and start it again (a new API address).
    pub fn restart_ca(&mut self, ca_run: &CaRun, log: &str) {
        self._ca.kill_now();
        let (ca, url) = spawn_ca(&self.w, ca_run, log);
        self._ca = ca;
        self.ca_url = url;
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

    /// Every TAL the validators trust: `w/tals/*.tal` (the CA's, and any a test adds).
    pub fn tals(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.w.join("tals"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "tal"))
            .collect();
        v.sort();
        v
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

    /// The router keys the CA certified, every member's.
    pub fn ca_router_keys(&self) -> RouterKeys {
        let members = self.ca_call(reqwest::Method::GET, "/api/v1/members", None);
        let mut out = RouterKeys::new();
        for m in members.as_array().unwrap() {
            let h = m["handle"].as_str().unwrap();
            for r in self.ca_call(reqwest::Method::GET, &format!("/api/v1/members/{h}/router-certs"), None).as_array().unwrap() {
                out.insert((r["asn"].as_u64().unwrap() as u32, r["key_id"].as_str().unwrap().to_string()));
            }
        }
        out
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

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Transport {
    Rrdp,
    Rsync,
}

pub struct Outcome {
    pub vrps: Vrps,
    pub aspas: Aspas,
    pub problems: Vec<String>,
    /// ASPA objects an older ASPA profile could not parse (see `rpki_client`).
    pub old_aspa_profile: usize,
    pub router_keys: RouterKeys,
}

/// rpki-client 8.2 over one transport: its VRPs and ASPAs, and every problem it reports.
pub fn rpki_client(e: &Env, mode: Transport) -> Outcome {
    let cache = e.w.join(format!("rpki-client-{mode:?}-cache"));
    let out = e.w.join(format!("rpki-client-{mode:?}-out"));
    peers::rpki_client_dir(&cache);
    peers::rpki_client_dir(&out);
    let mut cmd = Command::new("rpki-client");
    for tal in e.tals() {
        cmd.arg("-t").arg(tal);
    }
    cmd.arg("-d").arg(&cache).args(["-j", "-s", "300"]);
    match mode {
        Transport::Rrdp => cmd.args(["-e", "/bin/false"]),
        Transport::Rsync => cmd.arg("-R"),
    };
    let o = cmd.arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "rpki-client: {stderr}");
    // Without -v rpki-client prints only problems and its closing counts; every
    // count in parentheses ("0 failed parse, 0 invalid", "0 stale") must be 0.
    // One exception, counted exactly: rpki-client 8.2 implements an ASPA
    // profile older than version 1 (CHECKLIST ASPA-2) and fails to parse every
    // current ASPA object; nothing else may fail.
    let lines: Vec<&str> = stderr.lines().collect();
    let old_aspa_profile = lines.iter().filter(|l| l.ends_with(".asa: ASPA: failed to parse ASProviderAttestation")).count();
    let aspa_trace = |i: usize| {
        // OpenSSL's trace lines printed right before an ASPA parse failure.
        lines[i].starts_with("rpki-client:  ...trace:")
            && lines[i..]
                .iter()
                .find(|l| !l.starts_with("rpki-client:  ...trace:"))
                .is_some_and(|l| l.ends_with("failed to parse ASProviderAttestation"))
    };
    let mut problems: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| l.starts_with("rpki-client:") && !l.ends_with("failed to parse ASProviderAttestation") && !aspa_trace(*i))
        .map(|(_, l)| l.to_string())
        .collect();
    let aspa_summary = format!("AS Provider Attestations: {old_aspa_profile} ({old_aspa_profile} failed parse, 0 invalid)");
    for l in stderr.lines().filter(|l| l.contains('(') && !l.starts_with("Processing time") && *l != aspa_summary) {
        let inner = l.split_once('(').unwrap().1.trim_end_matches(')');
        if inner.split(',').any(|part| part.split_whitespace().next().is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0))) {
            problems.push(l.to_string());
        }
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(out.join("json")).unwrap()).unwrap();
    let vrps = json_vrps(&json);
    let aspas = json["aspas"]
        .as_array()
        .or(json["provider_authorizations"].as_array())
        .map(|a| {
            a.iter()
                .map(|x| {
                    let customer = x["customer_asid"].as_u64().unwrap() as u32;
                    let mut p: Vec<u32> = x["providers"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u32).collect();
                    p.sort();
                    (customer, p)
                })
                .collect()
        })
        .unwrap_or_default();
    let router_keys = json_router_keys(&json);
    Outcome { vrps, aspas, problems, old_aspa_profile, router_keys }
}

pub fn routinator(e: &Env, mode: Transport) -> Outcome {
    let cache = e.w.join(format!("routinator-{mode:?}-cache"));
    let out = e.w.join(format!("routinator-{mode:?}.json"));
    let mut cmd = Command::new(&e.peers.routinator);
    cmd.arg("-r").arg(&cache).args(["--no-rir-tals", "--extra-tals-dir"]).arg(e.w.join("tals"));
    cmd.arg("--rrdp-root-cert").arg(&e.tls.ca_pem).args(["--enable-aspa", "--enable-bgpsec", "--log-repository-issues"]);
    // A test's Krill serves its TA's repository at https://localhost:PORT/.
    if e.tals().iter().any(|t| std::fs::read_to_string(t).unwrap_or_default().contains("//localhost:")) {
        cmd.arg("--allow-dubious-hosts");
    }
    match mode {
        Transport::Rrdp => cmd.arg("--disable-rsync"),
        Transport::Rsync => cmd.arg("--disable-rrdp"),
    };
    let o = cmd.args(["vrps", "-f", "json", "-o"]).arg(&out).stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "routinator: {stderr}");
    let problems = stderr
        .lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && !l.contains("Using config file"))
        .map(str::to_string)
        .collect();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let asn = |v: &Value| v.as_str().unwrap().trim_start_matches("AS").parse::<u32>().unwrap();
    let vrps = json["roas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["prefix"].as_str().unwrap().to_string(), r["maxLength"].as_u64().unwrap() as u8, asn(&r["asn"])))
        .collect();
    let aspas = json["aspas"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let mut p: Vec<u32> = x["providers"].as_array().unwrap().iter().map(asn).collect();
                    p.sort();
                    (asn(&x["customer"]), p)
                })
                .collect()
        })
        .unwrap_or_default();
    let router_keys = json["routerKeys"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|k| (asn(&k["asn"]), k["SKI"].as_str().unwrap().replace(':', "").to_uppercase()))
        .collect();
    Outcome { vrps, aspas, problems, old_aspa_profile: 0, router_keys }
}

/// Our own validator, `rpkit validate`, with its own cache per transport.
pub fn rpkit_validate(e: &Env, mode: Transport) -> Outcome {
    let out = e.w.join(format!("rpkit-{mode:?}.json"));
    let mut cmd = Command::new(BIN);
    cmd.arg("validate");
    for tal in e.tals() {
        cmd.arg("--tal").arg(tal);
    }
    cmd.arg("--cache").arg(e.w.join(format!("rpkit-{mode:?}-cache")));
    cmd.arg("--rrdp-root-cert").arg(&e.tls.ca_pem).args(["--format", "json", "--output"]).arg(&out);
    match mode {
        Transport::Rrdp => cmd.arg("--disable-rsync"),
        Transport::Rsync => cmd.arg("--disable-rrdp"),
    };
    let o = cmd.stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "rpkit validate: {stderr}");
    let problems = stderr.lines().filter(|l| l.starts_with("warning:") || l.contains("WARN")).map(str::to_string).collect();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let vrps = json_vrps(&json);
    let aspas = peers::json_aspas(&json);
    let router_keys = json_router_keys(&json);
    Outcome { vrps, aspas, problems, old_aspa_profile: 0, router_keys }
}
