//! Validator benchmark W1 (issue figures): test-vectors builds W1 (10,000 CAs,
//! 60,000 ROAs, 1,000 ASPAs; `--quick`: a tenth; `--w2`: W2, 50,000 CAs,
//! 350,000 ROAs, 5,000 ASPAs, the size of the whole RPKI) in benchmark mode, our
//! publication server serves it over RRDP (HTTPS) as `rpki.test`, and
//! `rpkit validate`, rpki-client 8.2 and Routinator 0.15.2 each validate it
//! cold (empty cache) and warm (nothing changed), in turn, `--runs` times.
//! Reported: median wall time and peak RSS (the whole process tree, sampled)
//! as ratios against rpki-client and Routinator measured in the same run; every
//! tool must output exactly W1's VRPs. Then the per-object cost of validation
//! in process on one thread against one bare RSA-2048 verification, and the
//! CPU limit it sets (objects × that cost ÷ cores) beside each cold and warm
//! run; and where rpkit's cold run spends its CPU (one more cold run under
//! `perf record`, samples summed by family of symbol: TLS, XML, signatures…).
//!
//! Run (as root, like the interoperability tests): `cargo bench -p rpkit --bench validator_w1 -- [--quick | --w2] [--runs N]`.
//! CA keys are cached in `target/bench-keys/` between runs; the report is
//! printed and written to `target/bench/validator-w1.md` (`-quick`, `validator-w2.md`).
//! For work on rpkit: `--rpkit-only` (its runs and profile, no report) and
//! `RPKIT_BENCH_PERF_DATA=FILE` (keeps the profile's recording).

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

/// The arguments of `rpkit validate` on the workload's TAL, output to `json`.
fn rpkit_args(e: &Env, cache: &Path, json: &Path) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = ["validate", "--quiet", "--disable-rsync", "--tal"].map(Into::into).into();
    a.extend([e.w.join("tals/w1.tal").into(), "--cache".into(), cache.into(), "--rrdp-root-cert".into()]);
    a.extend([e.tls.ca_pem.clone().into(), "--output".into(), json.into()]);
    a
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
            cmd.args(rpkit_args(e, cache, &json));
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
        snapshot_segments: false,
        database_url: None,
    };
    let server = PublicationServer::open(config).unwrap();
    let changes: Vec<Change> = wl.objects.iter().map(|(u, d)| Change::Publish { uri: u.clone(), der: d.clone(), replaces: None }).collect();
    for chunk in changes.chunks(20_000) {
        server.lock().apply(workload::BASE, &ChangeSet { changes: chunk.to_vec() }, true).unwrap();
    }
    server.write_files().unwrap();
}

/// Families of symbols, by the first pattern a symbol's name contains; kernel
/// symbols are split into networking and the rest (files, memory, scheduling).
const FAMILIES: &[(&str, &[&str])] = &[
    ("RSA signature checks", &["bn_mul_mont", "bn_sqr", "limbs_", "ring::rsa", "ring::arithmetic", "bigint", "mont"]),
    ("SHA-256 (manifest hashes, RRDP hash, SKI)", &["sha256", "sha1_block", "sha512"]),
    ("TLS (rustls, AES-GCM, ChaCha20)", &["rustls", "aes_", "aesni", "gcm_", "ghash", "chacha", "poly1305"]),
    ("XML (quick-xml)", &["quick_xml"]),
    ("base64", &["base64"]),
    ("HTTP client (reqwest, hyper)", &["reqwest", "hyper", "h2::"]),
    ("object decoding and checks (rpkit_objects)", &["rpkit_objects"]),
    ("tree walk, cache and output (rpkit_validator, rpkit)", &["rpkit_validator", "rpkit::"]),
    ("allocation and copies (libc)", &["malloc", "free", "memcpy", "memmove", "memset", "realloc", "_int_", "memcmp"]),
    ("thread pool and channels (rayon, tokio, crossbeam)", &["rayon", "tokio", "crossbeam"]),
];

/// A cold `rpkit validate` of the tal under `perf record` (software clock,
/// every thread): its samples by family of symbol, as a Markdown table. None
/// when perf cannot record on this machine.
fn cold_profile(e: &Env, cache: &Path) -> Option<String> {
    let data = e.w.join("perf.data");
    let out = e.w.join("out-profile");
    std::fs::create_dir_all(&out).ok()?;
    std::fs::create_dir_all(cache).ok()?;
    let status = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-F", "499", "-o"])
        .arg(&data)
        .arg("--")
        .arg(BIN)
        .args(rpkit_args(e, cache, &out.join("vrps.json")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !status.success() {
        return None;
    }
    let report = Command::new("perf")
        .args(["report", "--stdio", "--no-children", "--sort", "sym", "--percent-limit", "0", "-q", "-i"])
        .arg(&data)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&report.stdout);
    let mut shares: BTreeMap<&str, f64> = BTreeMap::new();
    let mut order: Vec<&str> = FAMILIES.iter().map(|(f, _)| *f).collect();
    order.extend(["kernel: networking (loopback TCP)", "kernel: files, memory and the rest", "other"]);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(pct) = parts.next().and_then(|p| p.strip_suffix('%')).and_then(|p| p.parse::<f64>().ok()) else { continue };
        let kernel = parts.next() == Some("[k]");
        let sym = parts.collect::<Vec<_>>().join(" ").to_ascii_lowercase();
        let family = if kernel {
            if ["tcp", "skb", "sock", "net_", "ip_", "loopback", "__dev", "inet"].iter().any(|p| sym.contains(p)) {
                "kernel: networking (loopback TCP)"
            } else {
                "kernel: files, memory and the rest"
            }
        } else {
            FAMILIES.iter().find(|(_, pats)| pats.iter().any(|p| sym.contains(p))).map_or("other", |(f, _)| *f)
        };
        *shares.entry(family).or_default() += pct;
    }
    // The recording, for a closer look (`perf report -i`); the cache stays
    // until the end, as the measured runs' caches do.
    let _ = match std::env::var_os("RPKIT_BENCH_PERF_DATA") {
        Some(keep) => std::fs::rename(&data, keep),
        None => std::fs::remove_file(&data),
    };
    if shares.is_empty() {
        return None;
    }
    let mut table =
        String::from("| where (symbols sampled by `perf record -e cpu-clock`, all threads) | share of CPU samples |\n|---|---:|\n");
    order.sort_by(|a, b| shares.get(b).unwrap_or(&0.0).total_cmp(shares.get(a).unwrap_or(&0.0)));
    for f in order {
        if let Some(p) = shares.get(f).filter(|p| **p >= 0.05) {
            table.push_str(&format!("| {f} | {p:.1}% |\n"));
        }
    }
    Some(table)
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
    let w2 = args.iter().any(|a| a == "--w2");
    let runs: usize = args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(3);
    let (sizes, name): (Sizes, &str) = match (w2, quick) {
        (true, _) => (workload::W2, "W2"),
        (_, true) => (workload::W1_QUICK, "W1 (quick: a tenth)"),
        _ => (workload::W1, "W1"),
    };
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
    eprintln!("{name} {sizes:?}: {} objects built in {build_secs:.0} s", wl.objects.len());
    assert_eq!(wl.objects.len(), sizes.objects());
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
    // `--rpkit-only`: rpkit's runs and profile alone, for working on it (no report).
    let rpkit_only = args.iter().any(|a| a == "--rpkit-only");
    let tools: &[Tool] = if rpkit_only { &[Tool::Rpkit] } else { &[Tool::Rpkit, Tool::RpkiClient, Tool::Routinator] };
    let mut wall: BTreeMap<(usize, bool), Vec<f64>> = BTreeMap::new();
    let mut rss: BTreeMap<(usize, bool), Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        for (i, &tool) in tools.iter().enumerate() {
            let cache = w.join(format!("cache-{i}-{run}"));
            let _ = std::fs::remove_dir_all(&cache);
            std::fs::create_dir_all(&cache).unwrap();
            for warm in [false, true] {
                let (s, vrps) = validate(&env, tool, &cache);
                assert!(vrps == wl.vrps, "{}: {} VRPs, {name} has {}", tool.name(), vrps.len(), wl.vrps.len());
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
            // Removed at the end, not now: after many files are deleted, ext4 slows
            // the allocation of new inodes for minutes (`recently_deleted`), and the
            // next cold run would measure this clean-up rather than the tool.
        }
    }
    let timings = cold_profile(&env, &w.join("cache-profile"))
        .unwrap_or_else(|| "(no profile: `perf record` is not available on this machine)\n".into());
    drop(server);
    if rpkit_only {
        eprintln!("{timings}");
        return;
    }

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
        "## Validator, {name}: {} CAs, {} ROAs, {} ASPAs ({} objects), RRDP over HTTPS from `rpkit publication serve`\n\n",
        sizes.cas,
        sizes.roas,
        sizes.aspas,
        wl.objects.len()
    ));
    out.push_str(&format!("Medians of {runs} runs; every run of every tool output exactly {name}'s {} VRPs.\n\n", wl.vrps.len()));
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
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = per_object_us * wl.objects.len() as f64 / 1e6 / cores as f64;
    out.push_str(&format!(
        "\nPer object, in process on one thread (no I/O): {per_object_us:.0} µs = {:.2}× one bare RSA-2048 verification ({verify_us:.0} µs); \
         a ROA needs two (CMS and EE certificate). The CPU limit, {} objects × {per_object_us:.0} µs ÷ {cores} cores: {limit:.2} s; \
         rpkit's cold run is {:.1}× it, its warm run {:.1}×.\n",
        per_object_us / verify_us,
        wl.objects.len(),
        m(&wall, 0, false) / limit,
        m(&wall, 0, true) / limit,
    ));
    out.push_str(&format!("\nWhere a cold `rpkit validate` spends its CPU time (one more cold run, under `perf record`; the publication server's own time is not in it):\n\n{timings}"));
    out.push_str(&format!(
        "\nBuilding {name} took {build_secs:.0} s (benchmark mode: CA keys from a pool of shared primes, cached; 32 reused EE keys).\n"
    ));
    println!("{out}");
    let dir = peers::workspace().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let file = match (w2, quick) {
        (true, _) => "validator-w2.md",
        (_, true) => "validator-w1-quick.md",
        _ => "validator-w1.md",
    };
    std::fs::write(dir.join(file), &out).unwrap();
    let _ = std::fs::remove_dir_all(&w);
}
