//! Validator benchmark W1 (issue figures): test-vectors builds W1 (10,000 CAs,
//! 60,000 ROAs, 1,000 ASPAs; `--quick`: a tenth) in benchmark mode, our
//! publication server serves it over RRDP (HTTPS) as `rpki.test`, and
//! `rpkit validate`, rpki-client 8.2 and Routinator 0.15.2 each validate it
//! cold (empty cache) and warm (nothing changed), in turn, `--runs` times.
//! Reported: median wall time and peak RSS (the whole process tree, sampled)
//! as ratios against rpki-client and Routinator measured in the same run; every
//! tool must output exactly W1's VRPs. Then the per-object cost of validation
//! in process on one thread against one bare RSA-2048 verification.
//!
//! Run (as root, like the interoperability tests): `cargo bench -p rpkit --bench validator_w1 -- [--quick] [--runs N]`.
//! CA keys are cached in `target/bench-keys/` between runs; the report is
//! printed and written to `target/bench/validator-w1.md`.

use rpkit_test_vectors::peers;

#[path = "support/rss.rs"]
mod rss;

#[path = "support/keys.rs"]
mod keys;

use peers::Proc;
use rpkit_objects::crypto::KeyPair;
use rpkit_objects::der::Time;
use rpkit_objects::rfc8181::{Change, ChangeSet};
use rpkit_publication::service::{PublicationServer, ServerConfig};
use rpkit_test_vectors::workload::{self, Sizes, Workload};
use rpkit_validator::tree::{validate_tal, NoFetch, Options};
use rss::tree_rss;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

type Vrps = BTreeSet<(String, u8, u32)>;

/// CA keys cached across runs: length-prefixed PKCS#1 DER.
struct Sample {
    wall: Duration,
    peak_kib: u64,
}

/// Run `cmd` to completion: wall time and the peak RSS of its process tree.
fn measure(cmd: &mut Command, what: &str) -> Sample {
    let t = Instant::now();
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut peak = 0;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        peak = peak.max(tree_rss(child.id()));
        std::thread::sleep(Duration::from_millis(20));
    };
    let wall = t.elapsed();
    let err = err.join().unwrap();
    assert!(status.success(), "{what} failed: {err}");
    Sample { wall, peak_kib: peak }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn vrps_of(json: &Value, asn_prefix: bool) -> Vrps {
    json["roas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let asn = match &r["asn"] {
                Value::String(s) if asn_prefix => s.trim_start_matches("AS").parse().unwrap(),
                v => v.as_u64().unwrap() as u32,
            };
            (r["prefix"].as_str().unwrap().to_string(), r["maxLength"].as_u64().unwrap() as u8, asn)
        })
        .collect()
}

struct Env {
    w: PathBuf,
    tls: peers::Tls,
    routinator: PathBuf,
}

#[derive(Clone, Copy, PartialEq)]
enum Tool {
    Rpkit,
    RpkiClient,
    Routinator,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Rpkit => "rpkit validate",
            Tool::RpkiClient => "rpki-client 8.2",
            Tool::Routinator => "Routinator 0.15.2",
        }
    }
}

/// One validation by `tool` with `cache` (empty for a cold run); returns the sample and its VRPs.
fn validate(e: &Env, tool: Tool, cache: &Path) -> (Sample, Vrps) {
    let tal = e.w.join("tals/w1.tal");
    let out = e.w.join("out");
    let _ = std::fs::remove_dir_all(&out);
    match tool {
        Tool::Rpkit => {
            std::fs::create_dir_all(&out).unwrap();
            let json = out.join("vrps.json");
            let mut cmd = Command::new(BIN);
            cmd.args(["validate", "--quiet", "--disable-rsync", "--tal"]).arg(&tal).arg("--cache").arg(cache);
            cmd.arg("--rrdp-root-cert").arg(&e.tls.ca_pem).arg("--output").arg(&json);
            let s = measure(&mut cmd, tool.name());
            (s, vrps_of(&serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap(), false))
        }
        Tool::RpkiClient => {
            peers::rpki_client_dir(cache);
            peers::rpki_client_dir(&out);
            let mut cmd = Command::new("rpki-client");
            cmd.arg("-t").arg(&tal).arg("-d").arg(cache).args(["-j", "-e", "/bin/false", "-s", "3600"]).arg(&out);
            let s = measure(&mut cmd, tool.name());
            (s, vrps_of(&serde_json::from_str(&std::fs::read_to_string(out.join("json")).unwrap()).unwrap(), false))
        }
        Tool::Routinator => {
            std::fs::create_dir_all(&out).unwrap();
            let json = out.join("vrps.json");
            let mut cmd = Command::new(&e.routinator);
            cmd.arg("-r").arg(cache).args(["--no-rir-tals", "--extra-tals-dir"]).arg(e.w.join("tals"));
            cmd.arg("--rrdp-root-cert")
                .arg(&e.tls.ca_pem)
                .args(["--enable-aspa", "--disable-rsync", "vrps", "-f", "json", "-o"])
                .arg(&json);
            let s = measure(&mut cmd, tool.name());
            (s, vrps_of(&serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap(), true))
        }
    }
}

/// Put W1 into a publication server's data directory, as one publisher's change set.
fn publish(data: &Path, wl: &Workload) {
    let config = ServerConfig {
        data_dir: data.to_path_buf(),
        rrdp_base_uri: "https://rpki.test/rrdp/".into(),
        rsync_base_uri: workload::BASE.into(),
        service_base_uri: "http://127.0.0.1:8181/".into(),
        interval: Duration::from_millis(100),
        rsync_tree: true,
        shrink_guard: 1.0,
        min_objects: 0,
        database_url: None,
    };
    let server = PublicationServer::open(config).unwrap();
    let changes: Vec<Change> = wl.objects.iter().map(|(u, d)| Change::Publish { uri: u.clone(), der: d.clone(), replaces: None }).collect();
    for chunk in changes.chunks(20_000) {
        server.lock().apply(workload::BASE, &ChangeSet { changes: chunk.to_vec() }, true).unwrap();
    }
    server.write_files().unwrap();
}

/// µs of one RSA-2048 PKCS#1 v1.5 SHA-256 verification, on one thread.
fn rsa_verify_micros(key: &KeyPair) -> f64 {
    let msg = [7u8; 200];
    let sig = key.sign(&msg).unwrap();
    let n = 5_000;
    let t = Instant::now();
    for _ in 0..n {
        key.public_key().verify(&msg, &sig).unwrap();
    }
    t.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let runs: usize = args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(3);
    let sizes: Sizes = if quick { workload::W1_QUICK } else { workload::W1 };
    let Some(p) = peers::prepare() else {
        eprintln!("the W1 benchmark needs root and the peer tools, as the interoperability tests");
        return;
    };
    let w = peers::open_dir("bench-w1");
    let tls = peers::tls(&w);
    let env = Env { w: w.clone(), tls, routinator: p.routinator.clone() };

    // Build W1.
    let keys_path = peers::workspace().join("target/bench-keys/ca-keys.bin");
    let mut keys = keys::cached(&keys_path, workload::ca_keys_needed(sizes) + 32);
    let ee = keys.split_off(keys.len() - 32);
    let verify_key = KeyPair::from_pkcs1(ee[0].to_pkcs1()).unwrap();
    let t = Instant::now();
    let now = Time::now();
    let wl = workload::w1(sizes, keys, ee, now);
    let build_secs = t.elapsed().as_secs_f64();
    eprintln!("W1 {sizes:?}: {} objects built in {build_secs:.0} s", wl.objects.len());
    std::fs::create_dir_all(w.join("tals")).unwrap();
    std::fs::write(w.join("tals/w1.tal"), wl.tal.encode()).unwrap();
    peers::chmod(&w.join("tals/w1.tal"), 0o644);

    // Serve it: our publication server (RRDP over HTTPS on rpki.test:443).
    let t = Instant::now();
    publish(&w.join("pub"), &wl);
    eprintln!("published in {:.0} s", t.elapsed().as_secs_f64());
    let mut server = Proc::spawn(
        Command::new(BIN)
            .args(["publication", "serve", "--listen", "127.0.0.1:0", "--rrdp-listen", "127.0.0.1:443", "--data"])
            .arg(w.join("pub"))
            .arg("--tls-cert")
            .arg(&env.tls.chain_pem)
            .arg("--tls-key")
            .arg(&env.tls.key_pem)
            .env("RUST_LOG", "warn"),
        &w.join("publication.log"),
    );
    server.wait_line("publication server API and RFC 8181 on ");

    // In turn: cold then warm, for each tool, `runs` times.
    let tools = [Tool::Rpkit, Tool::RpkiClient, Tool::Routinator];
    let mut wall: BTreeMap<(usize, bool), Vec<f64>> = BTreeMap::new();
    let mut rss: BTreeMap<(usize, bool), Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        for (i, &tool) in tools.iter().enumerate() {
            let cache = w.join(format!("cache-{i}-{run}"));
            let _ = std::fs::remove_dir_all(&cache);
            std::fs::create_dir_all(&cache).unwrap();
            for warm in [false, true] {
                let (s, vrps) = validate(&env, tool, &cache);
                assert!(vrps == wl.vrps, "{}: {} VRPs, W1 has {}", tool.name(), vrps.len(), wl.vrps.len());
                eprintln!(
                    "run {run} {} {}: {:.2} s, {} MiB",
                    tool.name(),
                    if warm { "warm" } else { "cold" },
                    s.wall.as_secs_f64(),
                    s.peak_kib / 1024
                );
                wall.entry((i, warm)).or_default().push(s.wall.as_secs_f64());
                rss.entry((i, warm)).or_default().push(s.peak_kib as f64 / 1024.0);
            }
            let _ = std::fs::remove_dir_all(&cache);
        }
    }
    drop(server);

    // Per-object cost in process on one thread against a bare RSA verification.
    let verify_us = rsa_verify_micros(&verify_key);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let t = Instant::now();
    let report = pool.install(|| validate_tal(&wl.tal, "w1", &NoFetch(&wl.objects), None, now, &Options::default()));
    let one_thread = t.elapsed().as_secs_f64();
    assert_eq!(report.vrps.len(), wl.vrps.len());
    let per_object_us = one_thread * 1e6 / wl.objects.len() as f64;

    let m = |map: &BTreeMap<(usize, bool), Vec<f64>>, i: usize, warm: bool| median(map[&(i, warm)].clone());
    let mut out = String::new();
    out.push_str(&format!(
        "## Validator, W1{}: {} CAs, {} ROAs, {} ASPAs ({} objects), RRDP over HTTPS from `rpkit publication serve`\n\n",
        if quick { " (quick: a tenth)" } else { "" },
        sizes.cas,
        sizes.roas,
        sizes.aspas,
        wl.objects.len()
    ));
    out.push_str(&format!("Medians of {runs} runs; every run of every tool output exactly W1's {} VRPs.\n\n", wl.vrps.len()));
    out.push_str("| tool | cold wall (s) | warm wall (s) | cold peak RSS (MiB) | warm peak RSS (MiB) |\n|---|---:|---:|---:|---:|\n");
    for (i, t) in tools.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.0} | {:.0} |\n",
            t.name(),
            m(&wall, i, false),
            m(&wall, i, true),
            m(&rss, i, false),
            m(&rss, i, true)
        ));
    }
    out.push_str("\n| rpkit ÷ | cold wall | warm wall | cold peak RSS | warm peak RSS |\n|---|---:|---:|---:|---:|\n");
    for i in [1, 2] {
        out.push_str(&format!(
            "| {} | {:.2}× | {:.2}× | {:.2}× | {:.2}× |\n",
            tools[i].name(),
            m(&wall, 0, false) / m(&wall, i, false),
            m(&wall, 0, true) / m(&wall, i, true),
            m(&rss, 0, false) / m(&rss, i, false),
            m(&rss, 0, true) / m(&rss, i, true)
        ));
    }
    out.push_str(&format!(
        "\nPer object, in process on one thread (no I/O): {per_object_us:.0} µs = {:.2}× one bare RSA-2048 verification ({verify_us:.0} µs); \
         a ROA needs two (CMS and EE certificate).\n\nBuilding W1 took {build_secs:.0} s (benchmark mode: cached CA keys, 32 reused EE keys).\n",
        per_object_us / verify_us
    ));
    println!("{out}");
    let dir = peers::workspace().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(if quick { "validator-w1-quick.md" } else { "validator-w1.md" }), &out).unwrap();
    let _ = std::fs::remove_dir_all(&w);
}
