//! CA benchmarks, rpkit next to Krill 0.16.1 and to bare key generation, all
//! measured in the same run:
//! - a bulk add of N ROAs to one member in one API call, `rpkit ca serve` with
//!   an empty and with a warm key pool, Krill through its API; both
//!   CAs publish through the same `rpkit publication serve` (RFC 8181);
//! - the same bulk add with every CA key in an HSM (SoftHSM2 over PKCS#11),
//!   warm pool, against the software keys' figure of the same run;
//! - `GET` of all those ROAs (median of 5), and each CA server's peak RSS;
//! - a scheduled re-issue of the manifests and CRLs of M member CAs (in process,
//!   with the clock moved 17 hours on), against key generation for as many keys.
//!   The members are set up with keys cached in `target/bench-keys/` (two per
//!   member); the re-issue itself makes every key it needs.
//!
//! - a scheduled key roll of every member CA and the RIR CA (in process, staging
//!   time 0), from start to all active, against key generation for as many keys;
//! - one member with K ROAs (added in rounds of 10,000 with cached keys; from
//!   10,000 on the CA packs them into ROAs of up to 500 prefixes): the time to
//!   add them, `GET` of all of them and the peak RSS of `rpkit ca serve`.
//!
//! - `--w2` alone: the import of W2's 50,000 members from a delegated file
//!   (each a CA certificate, manifest and CRL), in process with the keys in
//!   the pool, against generating the keys it took on all cores.
//!
//! Run: `cargo bench -p rpkit --bench ca -- [--quick] [--runs N] [--roas N] [--members M] [--many K] [--roll R] [--reissue-only] [--w2]`
//! (defaults 1,000 ROAs, 10,000 members, 100,000 ROAs, 1,000 rolled CAs; `--quick` 100, 50, 300, 50). The report is
//! printed and written to `target/bench/ca.md` (`ca-quick.md`; `ca-reissue.md`).

use rpkit_test_vectors::peers;
use rpkit_test_vectors::softhsm;

#[path = "support/rss.rs"]
mod rss;

#[path = "support/keys.rs"]
mod keys;

use peers::Proc;
use rpkit_ca::publisher::MemoryPublisher;
use rpkit_ca::{Ca, CaConfig};
use rpkit_objects::crypto::generate_rsa_keys;
use rpkit_objects::der::Time;
use rss::RssWatch;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");
const KRILL_TOKEN: &str = "krill-bench-token";

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

use rpkit_test_vectors::peers::free_port;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds from `t0` until the publication server's rsync tree holds exactly
/// `n` ROA objects in `dir` (the request's ROAs are then in the repository).
fn published(dir: &Path, n: usize, t0: Instant) -> f64 {
    loop {
        let count =
            std::fs::read_dir(dir).map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".roa")).count()).unwrap_or(0);
        if count == n {
            return t0.elapsed().as_secs_f64();
        }
        assert!(count < n && t0.elapsed() < Duration::from_secs(7200), "{}: {count} ROA objects, want {n}", dir.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `n` ROAs for /24s of 10.0.0.0/8 from AS64496.
fn roas(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.{}.{}.0/24", i / 256, i % 256)).collect()
}

/// `n` ROAs (at most 131,072) for /25s of 10.0.0.0/8 from AS64496.
fn halves(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("10.{}.{}.{}/25", i / 512, (i / 2) % 256, (i % 2) * 128)).collect()
}

/// The publication server both CAs publish to.
struct Publication {
    _proc: Proc,
    url: String,
    token: String,
}

fn publication(w: &Path) -> Publication {
    let mut proc = Proc::spawn(
        Command::new(BIN).args(["publication", "serve", "--listen", "127.0.0.1:0", "--interval-ms", "500", "--data"]).arg(w.join("pub")),
        &w.join("publication.log"),
    );
    let url = proc.wait_line("publication server API and RFC 8181 on ");
    let token = std::fs::read_to_string(w.join("pub/admin-token")).unwrap().trim().to_string();
    Publication { _proc: proc, url, token }
}

impl Publication {
    /// Register a publisher from its request file; the response's path.
    fn add(&self, request: &Path, sia_base: Option<&str>) -> String {
        let mut cmd = Command::new(BIN);
        cmd.args(["publication", "add-publisher"]).arg(request);
        if let Some(b) = sia_base {
            cmd.args(["--sia-base", b]);
        }
        run(cmd.env("RPKIT_PUBLICATION_SERVER", &self.url).env("RPKIT_PUBLICATION_TOKEN", &self.token))
    }
}

/// `rpkit ca serve` on a new data directory with member `bulk` (AS64496, 10.0.0.0/8),
/// publishing through `publication`; the key pool kept at `pool` keys.
struct RpkitCa {
    hsm: Option<Hsm>,
    proc: Proc,
    url: String,
    token: String,
    http: reqwest::blocking::Client,
    data: std::path::PathBuf,
    log: std::path::PathBuf,
}

/// The PKCS#11 flags and `SOFTHSM2_CONF` of a CA whose keys are in SoftHSM2.
#[derive(Clone)]
struct Hsm {
    args: Vec<String>,
    conf: std::path::PathBuf,
}

impl Hsm {
    fn new(dir: &Path) -> Hsm {
        let t = softhsm::Token::new(dir, "rpkit-bench", "1357");
        let mut args: Vec<String> = ["--pkcs11-module", softhsm::MODULE, "--pkcs11-token", "rpkit-bench", "--pkcs11-pin-file"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.push(t.pin_file.display().to_string());
        Hsm { args, conf: t.conf }
    }
}

/// `rpkit` with the HSM's flags and configuration, if any.
fn rpkit(hsm: Option<&Hsm>, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    if let Some(h) = hsm {
        c.args(&h.args).env("SOFTHSM2_CONF", &h.conf);
    }
    c
}

fn spawn_ca(data: &Path, log: &Path, hsm: Option<&Hsm>) -> (Proc, String) {
    let mut proc =
        Proc::spawn(rpkit(hsm, &["ca", "serve", "--listen", "127.0.0.1:0"]).arg("--data").arg(data).env("RUST_LOG", "warn"), log);
    let url = proc.wait_line("rpkit CA API on ");
    (proc, url)
}

fn rpkit_ca(w: &Path, name: &str, p: &Publication, pool: usize, hsm: Option<&Hsm>) -> RpkitCa {
    let data = w.join(name);
    let base = format!("rsync://rpki.test/repo/{name}/");
    std::fs::write(
        w.join(format!("{name}-req.xml")),
        run(rpkit(hsm, &["ca", "publisher-request", "--handle", name]).arg("--data").arg(&data)),
    )
    .unwrap();
    let resp = p.add(&w.join(format!("{name}-req.xml")), Some(&base));
    std::fs::write(w.join(format!("{name}-resp.xml")), resp).unwrap();
    run(Command::new(BIN).args(["ca", "repository", "--data"]).arg(&data).arg(w.join(format!("{name}-resp.xml"))));
    run(rpkit(hsm, &["ta", "init", "--rsync-base", &base]).arg("--data").arg(&data));
    let cfg_path = data.join("ca.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["key_pool_target"] = json!(pool);
    cfg["key_pool_batch"] = json!(pool.max(1));
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let log = w.join(format!("{name}.log"));
    let (proc, url) = spawn_ca(&data, &log, hsm);
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap().trim().to_string();
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(7200)).build().unwrap();
    let ca = RpkitCa { hsm: hsm.cloned(), proc, url, token, http, data, log };
    ca.call(reqwest::Method::POST, "/api/v1/members", Some(json!({"handle": "bulk", "resources": "AS64496, 10.0.0.0/8"})));
    ca
}

impl RpkitCa {
    /// Stop (SIGINT: the pool is saved), add `keys` to the saved pool that the
    /// next start claims, and start again.
    fn restart_with_keys(&mut self, keys: &[rpkit_objects::crypto::KeyPair]) {
        assert!(self.proc.stop().is_some_and(|s| s.success()), "rpkit ca serve did not stop cleanly");
        let db = rusqlite::Connection::open(self.data.join("ca.sqlite")).unwrap();
        let tx = db.unchecked_transaction().unwrap();
        for k in keys {
            tx.execute("INSERT INTO key_pool (pkcs1) VALUES (?1)", [k.to_pkcs1()]).unwrap();
        }
        tx.commit().unwrap();
        drop(db);
        (self.proc, self.url) = spawn_ca(&self.data, &self.log, self.hsm.as_ref());
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }
    fn pool_size(&self) -> usize {
        let text = self.http.get(format!("{}/metrics", self.url)).send().unwrap().text().unwrap();
        text.lines().find_map(|l| l.strip_prefix("rpkit_ca_key_pool_size ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }
    /// Wait until the key pool holds `n` keys.
    fn wait_pool(&self, n: usize) {
        let t0 = Instant::now();
        while self.pool_size() < n {
            assert!(t0.elapsed() < Duration::from_secs(7200), "the key pool never filled");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Seconds from sending one delta adding `prefixes` until its ROA objects
    /// (one per prefix) are in the repository's tree `dir`.
    fn bulk_add(&self, prefixes: &[String], dir: &Path) -> f64 {
        let added: Vec<Value> = prefixes.iter().map(|p| json!({"prefix": p, "asn": 64496})).collect();
        let t = Instant::now();
        let report = self.call(reqwest::Method::POST, "/api/v1/members/bulk/roas/delta", Some(json!({ "added": added })));
        assert!(report.to_string().contains(&prefixes[prefixes.len() - 1]), "{report}");
        published(dir, prefixes.len(), t)
    }
    /// Median seconds of 5 `GET`s of all ROAs, checking the count.
    fn get_all(&self, n: usize) -> f64 {
        median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    let v = self.call(reqwest::Method::GET, "/api/v1/members/bulk/roas", None);
                    let secs = t.elapsed().as_secs_f64();
                    assert_eq!(v.as_array().map(Vec::len), Some(n));
                    secs
                })
                .collect(),
        )
    }
}

/// Krill with its testbed TA as parent of `ca` (10.0.0.0/8, AS64496), `ca`
/// publishing through our publication server.
struct Krill {
    proc: Proc,
    port: u16,
    ca: String,
    bin: std::path::PathBuf,
    http: reqwest::blocking::Client,
}

impl Krill {
    fn krillc(&self, args: &[&str]) -> String {
        run(Command::new(self.bin.join("krillc"))
            .args(args)
            .env("KRILL_CLI_SERVER", format!("https://localhost:{}/", self.port))
            .env("KRILL_CLI_TOKEN", KRILL_TOKEN))
    }
    fn routes(&self) -> Vec<Value> {
        let r = self
            .http
            .get(format!("https://localhost:{}/api/v1/cas/{}/routes", self.port, self.ca))
            .bearer_auth(KRILL_TOKEN)
            .send()
            .unwrap();
        r.json().unwrap()
    }
}

fn krill(w: &Path, bin: &Path, p: &Publication, ca: &str) -> Krill {
    let port = free_port();
    let data = w.join("krill-data");
    std::fs::write(
        w.join("krill.conf"),
        format!(
            "storage_uri = \"{}\"\nadmin_token = \"{KRILL_TOKEN}\"\nip = \"127.0.0.1\"\nport = {port}\nservice_uri = \"https://localhost:{port}/\"\n\
             https_mode = \"generate\"\nbgp_riswhois_enabled = false\nlog_type = \"stderr\"\nlog_level = \"warn\"\n\
             roa_aggregate_threshold = 10000000\nroa_deaggregate_threshold = 9999999\n\n[testbed]\n\
             rrdp_base_uri = \"https://localhost:{port}/rrdp/\"\nrsync_jail = \"rsync://localhost/krill/\"\n\
             ta_aia = \"rsync://localhost/krill/ta/ta.cer\"\nta_uri = \"https://localhost:{port}/ta/ta.cer\"\n",
            data.display()
        ),
    )
    .unwrap();
    let proc = Proc::spawn(Command::new(bin.join("krill")).arg("-c").arg(w.join("krill.conf")), &w.join("krill.log"));
    let http = reqwest::blocking::Client::builder().danger_accept_invalid_certs(true).timeout(Duration::from_secs(7200)).build().unwrap();
    let k = Krill { proc, port, ca: ca.to_string(), bin: bin.to_path_buf(), http };
    let t0 = Instant::now();
    loop {
        let ok = Command::new(bin.join("krillc"))
            .arg("list")
            .env("KRILL_CLI_SERVER", format!("https://localhost:{port}/"))
            .env("KRILL_CLI_TOKEN", KRILL_TOKEN)
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("testbed"))
            .unwrap_or(false);
        if ok {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "krill did not start:\n{}", k.proc.log_text());
        std::thread::sleep(Duration::from_millis(200));
    }
    k.krillc(&["add", "--ca", ca]);
    std::fs::write(w.join("krill-req.xml"), k.krillc(&["repo", "request", "--ca", ca])).unwrap();
    std::fs::write(w.join("krill-resp.xml"), p.add(&w.join("krill-req.xml"), None)).unwrap();
    k.krillc(&["repo", "configure", "--ca", ca, "--response", w.join("krill-resp.xml").to_str().unwrap()]);
    std::fs::write(w.join("krill-child.xml"), k.krillc(&["parents", "request", "--ca", ca])).unwrap();
    let child = w.join("krill-child.xml");
    let parent = k.krillc(&[
        "children",
        "add",
        "--ca",
        "testbed",
        "--child",
        ca,
        "--ipv4",
        "10.0.0.0/8",
        "--asn",
        "AS64496",
        "--request",
        child.to_str().unwrap(),
    ]);
    std::fs::write(w.join("krill-parent.xml"), parent).unwrap();
    k.krillc(&["parents", "add", "--ca", ca, "--parent", "testbed", "--response", w.join("krill-parent.xml").to_str().unwrap()]);
    // Ready once the CA holds its certificate (its resources show).
    let t0 = Instant::now();
    while !k.krillc(&["show", "--ca", ca]).contains("10.0.0.0/8") {
        assert!(t0.elapsed() < Duration::from_secs(120), "Krill's {ca} never got its certificate:\n{}", k.proc.log_text());
        std::thread::sleep(Duration::from_millis(300));
    }
    k
}

struct Figures {
    keys_per_s: f64,
    rpkit_empty: Vec<f64>,
    rpkit_warm: Vec<f64>,
    rpkit_hsm: Vec<f64>,
    rpkit_get: f64,
    rpkit_rss: f64,
    krill_add: Vec<f64>,
    krill_get: f64,
    krill_rss: f64,
    reissue_cas: usize,
    reissue_secs: f64,
    many: usize,
    many_add_secs: f64,
    many_get: f64,
    many_rss: f64,
    many_objects: usize,
    roll_cas: usize,
    roll_secs: f64,
    roll_keygen_secs: f64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = arg("--roas").unwrap_or(if quick { 100 } else { 1000 });
    let members = arg("--members").unwrap_or(if quick { 50 } else { 10_000 });
    let reissue_only = std::env::args().any(|a| a == "--reissue-only");
    let many = arg("--many").unwrap_or(if quick { 300 } else { 100_000 });
    let runs = arg("--runs").unwrap_or(1).max(1);
    // In process: no peer tool, no root.
    if std::env::args().any(|a| a == "--w2") {
        return w2_import(rpkit_test_vectors::workload::W2.cas);
    }
    let Some(peers) = peers::prepare() else { return };
    let w = peers::open_dir("bench-ca");
    let prefixes = roas(n);

    // Bare key generation on all cores: the floor for anything needing fresh keys.
    let k = n.clamp(20, 200);
    let t = Instant::now();
    generate_rsa_keys(k).unwrap();
    let keys_per_s = k as f64 / t.elapsed().as_secs_f64();
    eprintln!("bare RSA-2048 key generation, all cores: {keys_per_s:.1} keys/s");

    let p = publication(&w);
    let mut f = Figures {
        keys_per_s,
        rpkit_empty: vec![],
        rpkit_warm: vec![],
        rpkit_hsm: vec![],
        rpkit_get: 0.0,
        rpkit_rss: 0.0,
        krill_add: vec![],
        krill_get: 0.0,
        krill_rss: 0.0,
        reissue_cas: 0,
        reissue_secs: 0.0,
        many: 0,
        many_add_secs: 0.0,
        many_get: 0.0,
        many_rss: 0.0,
        many_objects: 0,
        roll_cas: 0,
        roll_secs: 0.0,
        roll_keygen_secs: 0.0,
    };
    for r in (0..runs).filter(|_| !reissue_only) {
        // rpkit, empty pool: every key is made inside the request.
        let tree = w.join("pub/rsync/current/repo");
        let ca = rpkit_ca(&w, &format!("empty{r}"), &p, 0, None);
        let rss = RssWatch::start(ca.proc.id());
        f.rpkit_empty.push(ca.bulk_add(&prefixes, &tree.join(format!("empty{r}/bulk"))));
        f.rpkit_rss = f.rpkit_rss.max(rss.peak_mib());
        eprintln!("rpkit, empty key pool: {:.1} s", f.rpkit_empty[r]);
        drop(ca);
        // rpkit, warm pool: filled in the background before the request, as in service.
        let ca = rpkit_ca(&w, &format!("warm{r}"), &p, n + 8, None);
        ca.wait_pool(n);
        let rss = RssWatch::start(ca.proc.id());
        f.rpkit_warm.push(ca.bulk_add(&prefixes, &tree.join(format!("warm{r}/bulk"))));
        f.rpkit_get = ca.get_all(n);
        f.rpkit_rss = f.rpkit_rss.max(rss.peak_mib());
        eprintln!("rpkit, warm key pool: {:.2} s; GET {:.1} ms", f.rpkit_warm[r], f.rpkit_get * 1000.0);
        drop(ca);
        // The same with every CA key in SoftHSM2 (one-time keys in software, the default).
        assert!(softhsm::available(), "the HSM benchmark needs SoftHSM2");
        let hsm = Hsm::new(&w.join(format!("hsm{r}-token")));
        let ca = rpkit_ca(&w, &format!("hsm{r}"), &p, n + 8, Some(&hsm));
        ca.wait_pool(n);
        f.rpkit_hsm.push(ca.bulk_add(&prefixes, &tree.join(format!("hsm{r}/bulk"))));
        eprintln!("rpkit, warm key pool, CA keys in SoftHSM2: {:.2} s", f.rpkit_hsm[r]);
        drop(ca);
        // Krill: the same ROAs in one delta.
        let _ = std::fs::remove_dir_all(w.join("krill-data"));
        let kr = krill(&w, &peers.krill, &p, &format!("kca{r}"));
        let rss = RssWatch::start(kr.proc.id());
        // Krill's API directly: krillc gives up on a request that long.
        let added: Vec<Value> = prefixes.iter().map(|p| json!({"asn": 64496, "prefix": p, "max_length": 24})).collect();
        let t = Instant::now();
        let resp = kr
            .http
            .post(format!("https://localhost:{}/api/v1/cas/{}/routes", kr.port, kr.ca))
            .bearer_auth(KRILL_TOKEN)
            .json(&json!({"added": added, "removed": []}))
            .send()
            .unwrap();
        assert!(resp.status().is_success(), "Krill: {} {}", resp.status(), resp.text().unwrap_or_default());
        // Krill publishes under `0/` below its base; one ROA object per prefix, as rpkit.
        f.krill_add.push(published(&tree.join(format!("{}/0", kr.ca)), n, t));
        f.krill_get = median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    let got = kr.routes();
                    let secs = t.elapsed().as_secs_f64();
                    assert_eq!(got.len(), n, "Krill lists every ROA");
                    secs
                })
                .collect(),
        );
        f.krill_rss = f.krill_rss.max(rss.peak_mib());
        eprintln!("Krill: {:.1} s; GET {:.1} ms", f.krill_add[r], f.krill_get * 1000.0);
        drop(kr);
    }

    // One member with `many` ROAs, added through the API in rounds of at most
    // 10,000; before each round `rpkit ca serve` is restarted with the keys that
    // round needs (cached between runs) in its saved pool. From 10,000 ROAs on,
    // the CA packs them into ROAs of up to 500 prefixes (see `roa_packing`).
    // Then a fresh start: its peak RSS over 5 GETs of all ROAs.
    if many > 0 && !reissue_only {
        let cfg = CaConfig::default();
        let (at, max) = (cfg.roa_aggregate_threshold, cfg.roa_max_prefixes);
        let cache = peers::workspace().join("target/bench-keys/ca-pool-keys.bin");
        let rounds: Vec<Vec<String>> = halves(many).chunks(10_000).map(<[String]>::to_vec).collect();
        // Keys a round uses: one per new object, and a few for manifests.
        let mut need = Vec::new();
        for (i, round) in rounds.iter().enumerate() {
            let (before, after) = (i * 10_000, i * 10_000 + round.len());
            need.push(
                8 + match (before >= at, after >= at) {
                    (_, false) => round.len(),
                    (false, true) => after.div_ceil(max),
                    (true, true) => round.len().div_ceil(max) + 1,
                },
            );
        }
        let cached = keys::cached(&cache, need.iter().sum());
        let mut ca = rpkit_ca(&w, "many", &p, 0, None);
        let (t, mut used) = (Instant::now(), 0);
        for (round, n) in rounds.iter().zip(&need) {
            ca.restart_with_keys(&cached[used..used + n]);
            used += n;
            let added: Vec<Value> = round.iter().map(|p| json!({"prefix": p, "asn": 64496})).collect();
            ca.call(reqwest::Method::POST, "/api/v1/members/bulk/roas/delta", Some(json!({ "added": added })));
        }
        // Until the publication server's rsync tree holds every object.
        let listed = ca.call(reqwest::Method::GET, "/api/v1/members/bulk/roas", None);
        let objects: std::collections::BTreeSet<&str> = listed.as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap()).collect();
        f.many_objects = objects.len();
        f.many_add_secs = published(&w.join("pub/rsync/current/repo/many/bulk"), f.many_objects, t);
        ca.restart_with_keys(&[]);
        let rss = RssWatch::start(ca.proc.id());
        f.many_get = ca.get_all(many);
        f.many_rss = rss.peak_mib();
        f.many = many;
        eprintln!(
            "{many} ROAs on one member in {} objects: added in {:.0} s; GET {:.0} ms; peak RSS {:.0} MiB",
            f.many_objects,
            f.many_add_secs,
            f.many_get * 1e3,
            f.many_rss
        );
    }

    // Scheduled re-issue, in process: the clock moved past the re-issue margin.
    let mut ca = Ca::open(None, CaConfig { key_pool_target: 0, ..CaConfig::default() }, Arc::new(MemoryPublisher::new())).unwrap();
    let clock = Arc::new(Mutex::new(Time::now()));
    let c = clock.clone();
    ca.set_clock(Arc::new(move || *c.lock().unwrap()));
    ca.init(&"AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap()).unwrap();
    let cached = keys::cached(&peers::workspace().join("target/bench-keys/ca-pool-keys.bin"), 2 * members + 16);
    ca.signer().add_to_pool(cached);
    let t = Instant::now();
    ca.import_delegated(&rpkit_test_vectors::delegated::generate(members, 1)).unwrap();
    eprintln!("{members} members imported in {:.0} s (cached keys)", t.elapsed().as_secs_f64());
    // The re-issue makes its own keys, as the scheduler would with an empty pool.
    drop(ca.signer().take_pool());
    let later = clock.lock().unwrap().add_secs(17 * 3600);
    *clock.lock().unwrap() = later;
    let t = Instant::now();
    f.reissue_cas = ca.reissue_due().unwrap();
    f.reissue_secs = t.elapsed().as_secs_f64();
    eprintln!("re-issue of {} CAs: {:.1} s", f.reissue_cas, f.reissue_secs);

    // A scheduled key roll of every member CA (RFC 6489), in process, staging
    // time 0: from the first start to the last old key destroyed, against
    // bare generation of as many keys on all cores, in the same run.
    let roll = arg("--roll").unwrap_or(if quick { 50 } else { 1000 });
    if roll > 0 && !reissue_only {
        let cfg = CaConfig { key_pool_target: 0, keyroll_staging_seconds: 0, keyroll_interval_days: 1, ..CaConfig::default() };
        let mut ca = Ca::open(None, cfg, Arc::new(MemoryPublisher::new())).unwrap();
        let clock = Arc::new(Mutex::new(Time::now()));
        let c = clock.clone();
        ca.set_clock(Arc::new(move || *c.lock().unwrap()));
        ca.init(&"AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap()).unwrap();
        let cached = keys::cached(&peers::workspace().join("target/bench-keys/ca-pool-keys.bin"), 2 * roll + 16);
        ca.signer().add_to_pool(cached);
        ca.import_delegated(&rpkit_test_vectors::delegated::generate(roll, 1)).unwrap();
        drop(ca.signer().take_pool());
        let handles: Vec<String> = ca.members().unwrap().into_iter().map(|m| m.handle).collect();
        let before: Vec<String> = handles.iter().map(|h| ca.keyroll_status(h).unwrap().key).collect();
        let later = clock.lock().unwrap().add_secs(2 * 86400);
        *clock.lock().unwrap() = later;
        let t = Instant::now();
        while ca.keyroll_due().unwrap() > 0 {}
        f.roll_secs = t.elapsed().as_secs_f64();
        for (h, old) in handles.iter().zip(&before) {
            let s = ca.keyroll_status(h).unwrap();
            assert!(s.phase == "active" && s.key != *old, "{h}: {s:?}");
        }
        f.roll_cas = handles.len() + 1;
        let t = Instant::now();
        generate_rsa_keys(f.roll_cas).unwrap();
        f.roll_keygen_secs = t.elapsed().as_secs_f64();
        eprintln!("key roll of {} CAs: {:.1} s; {} bare keys: {:.1} s", f.roll_cas, f.roll_secs, f.roll_cas, f.roll_keygen_secs);
    }

    let report = render(&f, n, runs);
    println!("{report}");
    let dir = peers::workspace().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let name = match (quick, reissue_only) {
        (_, true) => "ca-reissue.md",
        (true, _) => "ca-quick.md",
        _ => "ca.md",
    };
    std::fs::write(dir.join(name), &report).unwrap();
    let _ = std::fs::remove_dir_all(&w);
}

/// W2's members imported in process: the CA's own work with every key taken
/// from the pool, against generating those keys (all cores, same run).
fn w2_import(members: usize) {
    let publisher = Arc::new(MemoryPublisher::new());
    let ca = Ca::open(None, CaConfig { key_pool_target: 0, ..CaConfig::default() }, publisher.clone()).unwrap();
    ca.init(&"AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap()).unwrap();
    let cached = keys::cached(&peers::workspace().join("target/bench-keys/ca-pool-keys.bin"), 2 * members + 16);
    let pooled = cached.len();
    ca.signer().add_to_pool(cached);
    let file = rpkit_test_vectors::delegated::generate(members, 1);
    let rss = RssWatch::start(std::process::id());
    let t = Instant::now();
    let report = ca.import_delegated(&file).unwrap();
    let import_secs = t.elapsed().as_secs_f64();
    let peak = rss.peak_mib();
    let keys_taken = pooled - ca.signer().pool_size();
    assert_eq!(ca.members().unwrap().len(), members, "{report:?}");
    let objects = publisher.snapshot().len();
    assert!(objects >= 3 * members, "{objects} objects published for {members} members");
    let sample = 200;
    let t = Instant::now();
    generate_rsa_keys(sample).unwrap();
    let per_key = t.elapsed().as_secs_f64() / sample as f64;
    let keygen_secs = per_key * keys_taken as f64;
    let out = format!(
        "## CA, W2: {members} members imported from a delegated file\n\n\
         In process (`Ca::import_delegated`, SQLite), every key from the pool: **{import_secs:.1} s** for {members} members, \
         {objects} objects published (a certificate, manifest and CRL each, and the RIR CA's), peak RSS of the process {peak:.0} MiB.\n\n\
         The import took {keys_taken} keys. Generating them on all cores ({:.1} keys/s, {sample} measured in this run) takes \
         {keygen_secs:.0} s: the key-generation limit of an import with an empty pool. The import's own work is {:.2}× that limit, \
         so with an empty pool it is bound by key generation.\n",
        1.0 / per_key,
        import_secs / keygen_secs
    );
    println!("{out}");
    let dir = peers::workspace().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ca-w2.md"), &out).unwrap();
}

fn render(f: &Figures, n: usize, runs: usize) -> String {
    let reissue = format!(
        "Scheduled re-issue of {} member CAs' manifests and CRLs (one fresh key each): {:.1} s, {:.2}× key generation \
         alone ({:.1} keys/s on all cores, measured in the same run).\n",
        f.reissue_cas,
        f.reissue_secs,
        f.reissue_secs / (f.reissue_cas as f64 / f.keys_per_s),
        f.keys_per_s
    );
    if f.rpkit_empty.is_empty() {
        return format!("## CA: re-issue of {} member CAs\n\n{reissue}", f.reissue_cas);
    }
    let roll = if f.roll_cas > 0 {
        format!(
            "Scheduled key roll (RFC 6489, staging time 0) of {} CAs (the RIR CA and every member), in batches of 100: \
             {:.1} s from the first start to the last old key destroyed, {:.2}× bare generation of {} keys on all cores \
             ({:.1} s, same run); each roll also signs a CA certificate and two manifests and CRLs with fresh one-time keys.\n",
            f.roll_cas,
            f.roll_secs,
            f.roll_secs / f.roll_keygen_secs,
            f.roll_cas,
            f.roll_keygen_secs
        )
    } else {
        String::new()
    };
    let (empty, warm, krill) = (median(f.rpkit_empty.clone()), median(f.rpkit_warm.clone()), median(f.krill_add.clone()));
    let keygen = n as f64 / f.keys_per_s;
    let ms = |s: f64| s * 1000.0 / n as f64;
    let mut out = format!(
        "## CA: {n} ROAs added to one member in one request; re-issue of {} member CAs\n\n\
         Medians of {runs} runs. Both CAs publish through the same `rpkit publication serve` (RFC 8181); a bulk \
         add is timed from the request until all {n} ROA objects, one per prefix, are in its rsync tree (Krill with \
         `roa_aggregate_threshold` raised so that it, too, issues one ROA per prefix, as RFC 9455 recommends). \
         Bare RSA-2048 key generation on all cores, measured in the same run: {:.1} keys/s, so {n} fresh keys \
         take at least {keygen:.1} s. rpkit's \"warm\" pool was filled in the background before the request, \
         as `rpkit ca serve` keeps it; Krill has no key pool.\n\n",
        f.reissue_cas, f.keys_per_s
    );
    out.push_str("| | rpkit ca serve | Krill 0.16.1 | rpkit ÷ Krill |\n|---|---:|---:|---:|\n");
    out.push_str(&format!("| bulk add, empty key pool (s) | {empty:.1} | {krill:.1} | {:.2}× |\n", empty / krill));
    out.push_str(&format!("| per ROA (ms) | {:.1} | {:.1} | |\n", ms(empty), ms(krill)));
    out.push_str(&format!("| bulk add, warm key pool (s) | {warm:.2} | | {:.3}× |\n", warm / krill));
    let hsm = median(f.rpkit_hsm.clone());
    out.push_str(&format!(
        "| bulk add, warm key pool, CA keys in SoftHSM2 (s) | {hsm:.2} | | {:.3}× (HSM ÷ software keys: {:.2}×) |\n",
        hsm / krill,
        hsm / warm
    ));
    out.push_str(&format!(
        "| `GET` of all {n} ROAs (ms) | {:.1} | {:.1} | {:.2}× |\n",
        f.rpkit_get * 1000.0,
        f.krill_get * 1000.0,
        f.rpkit_get / f.krill_get
    ));
    out.push_str(&format!(
        "| peak RSS of the CA server (MiB) | {:.0} | {:.0} | {:.2}× |\n",
        f.rpkit_rss,
        f.krill_rss,
        f.rpkit_rss / f.krill_rss
    ));
    if f.many > 0 {
        out.push_str(&format!(
            "| one member with {} ROAs ({} objects): added in rounds of 10,000 (s) / `GET` of all (ms) / peak RSS of `rpkit ca serve` (MiB) | {:.0} / {:.0} / {:.0} | | |\n",
            f.many,
            f.many_objects,
            f.many_add_secs,
            f.many_get * 1000.0,
            f.many_rss
        ));
    }
    out.push_str(&format!(
        "\nEmpty-pool bulk add ÷ key generation alone: {:.2}× (rpkit), {:.2}× (Krill). {reissue}{roll}",
        empty / keygen,
        krill / keygen
    ));
    out
}
