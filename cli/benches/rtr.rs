//! RTR benchmark (issue figures): 800,000 synthetic VRPs (`--quick`: 80,000;
//! `--w2`: W2's 350,000, the VRPs of today's whole RPKI, from test-vectors)
//! served over RTR v1 by `rpkit validator serve` (the VRPs as SLURM
//! assertions), StayRTR 0.5.1 (fed the `/json` rpkit serves) and Routinator
//! 0.15.2 (the same SLURM file), one after the other in the same run. For each:
//! a full Reset Query sync of one router, of `--clients` (100) routers at once,
//! the time from new data (a 1,000-VRP change written to the server's input)
//! to every one of those routers having applied it after Serial Notify and
//! Serial Query, and the server's peak RSS. Every router's final set is
//! checked against the expected one (count and an order-free checksum; the
//! single router keeps the whole set and is compared exactly).
//!
//! Run (as root, like the interoperability tests): `cargo bench -p rpkit --bench rtr -- [--quick | --w2] [--runs N] [--clients N]`.
//! The report is printed and written to `target/bench/rtr.md` (`rtr-quick.md`, `rtr-w2.md`).

use rpkit_test_vectors::peers;

#[path = "support/rtr_client.rs"]
mod rtr_client;

#[path = "support/rss.rs"]
mod rss;

use peers::Proc;
use rss::{tree_rss, RssWatch};
use rtr_client::{Router, Vrp};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

/// W2's VRPs (test-vectors' workload), as the RTR clients hold them.
fn w2_vrps() -> Vec<Vrp> {
    rpkit_test_vectors::workload::vrps(rpkit_test_vectors::workload::W2)
        .into_iter()
        .map(|(prefix, max, asn)| {
            let (addr, len) = prefix.split_once('/').expect("a prefix");
            let len: u8 = len.parse().expect("a length");
            match addr.parse::<std::net::IpAddr>().expect("an address") {
                std::net::IpAddr::V4(a) => Vrp { v6: false, addr: u32::from(a) as u128, len, max, asn },
                std::net::IpAddr::V6(a) => Vrp { v6: true, addr: u128::from(a), len, max, asn },
            }
        })
        .collect()
}

/// `n` distinct VRPs: four in five IPv4 /24s, the rest IPv6 /48s; `from` offsets the numbering.
fn synthetic(from: usize, n: usize) -> Vec<Vrp> {
    (from..from + n)
        .map(|i| {
            let asn = 64_512 + (i as u32).wrapping_mul(2_654_435_761) % 200_000;
            if i % 5 == 4 {
                Vrp { v6: true, addr: (0x2a00u128 << 112) | ((i as u128) << 80), len: 48, max: 48, asn }
            } else {
                Vrp { v6: false, addr: ((1u32 << 24) + ((i as u32) << 8)) as u128, len: 24, max: 24, asn }
            }
        })
        .collect()
}

fn prefix(v: &Vrp) -> String {
    if v.v6 {
        format!("{}/{}", Ipv6Addr::from(v.addr), v.len)
    } else {
        format!("{}/{}", Ipv4Addr::from(v.addr as u32), v.len)
    }
}

/// An RFC 8416 file asserting exactly `vrps`, replaced atomically.
fn write_slurm(path: &Path, vrps: &BTreeSet<Vrp>) {
    let mut s = String::with_capacity(vrps.len() * 64);
    s.push_str("{\"slurmVersion\":1,\"validationOutputFilters\":{\"prefixFilters\":[],\"bgpsecFilters\":[]},");
    s.push_str("\"locallyAddedAssertions\":{\"prefixAssertions\":[\n");
    for (i, v) in vrps.iter().enumerate() {
        let sep = if i + 1 < vrps.len() { "," } else { "" };
        s.push_str(&format!("{{\"asn\":{},\"prefix\":\"{}\",\"maxPrefixLength\":{}}}{sep}\n", v.asn, prefix(v), v.max));
    }
    s.push_str("],\"bgpsecAssertions\":[]}}\n");
    replace_file(path, s.as_bytes());
}

fn replace_file(path: &Path, data: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data).unwrap();
    peers::chmod(&tmp, 0o644);
    std::fs::rename(&tmp, path).unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One server's figures.
#[derive(Default)]
struct Figures {
    one: Vec<f64>,
    many: Vec<f64>,
    delta: f64,
    notify: f64,
    rss_loaded: f64,
    rss_peak: f64,
}

/// What the benchmark drives: a server that is up, and how to give it new data.
struct Server {
    name: &'static str,
    proc: Proc,
    addr: String,
    /// Writes the changed data to the server's input.
    update: Box<dyn Fn()>,
    /// Run once the first set is served, and once the change is applied.
    on_ready: Option<Box<dyn FnOnce()>>,
    on_changed: Option<Box<dyn FnOnce()>>,
}

struct Plan {
    before: BTreeSet<Vrp>,
    after: BTreeSet<Vrp>,
    clients: usize,
    runs: usize,
}

/// Measure `s` per the plan on the runtime `rt`.
fn measure(rt: &tokio::runtime::Runtime, mut s: Server, plan: &Plan) -> Figures {
    let watch = RssWatch::start(s.proc.id());
    let mut f = Figures::default();
    let t0 = Instant::now();
    // Ready: a full sync that yields the whole set.
    loop {
        let got = rt.block_on(async { Router::sync(&s.addr, true).await });
        match got {
            Ok(r) if r.count() == plan.before.len() => break,
            Ok(r) => eprintln!("  {}: {} of {} VRPs so far", s.name, r.count(), plan.before.len()),
            Err(e) if t0.elapsed() > Duration::from_secs(600) => panic!("{} never served the set: {e}", s.name),
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("  {}: serving {} VRPs after {:.1} s", s.name, plan.before.len(), t0.elapsed().as_secs_f64());
    if let Some(f) = s.on_ready.take() {
        f();
    }
    std::thread::sleep(Duration::from_secs(1));
    f.rss_loaded = tree_rss(s.proc.id()) as f64 / 1024.0;
    let want = rtr_client::checksum(plan.before.iter());
    for _ in 0..plan.runs {
        let t = Instant::now();
        let r = rt.block_on(Router::sync(&s.addr, true)).unwrap();
        f.one.push(t.elapsed().as_secs_f64());
        assert!(r.set.as_ref() == Some(&plan.before), "{}: one router's set differs from the served VRPs", s.name);
    }
    let mut routers = Vec::new();
    for run in 0..plan.runs {
        let t = Instant::now();
        let all = rt.block_on(async {
            let tasks: Vec<_> = (0..plan.clients).map(|_| tokio::spawn(Router::sync_owned(s.addr.clone(), false))).collect();
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap().unwrap());
            }
            out
        });
        f.many.push(t.elapsed().as_secs_f64());
        for r in &all {
            assert!(r.count() == plan.before.len() && r.sum == want, "{}: a router's set differs from the served VRPs", s.name);
        }
        if run + 1 == plan.runs {
            routers = all;
        }
    }
    // New data: every router waits for Serial Notify, queries, applies.
    let changed = Instant::now();
    let waiting: Vec<_> = routers.into_iter().map(|r| rt.spawn(r.follow(Duration::from_secs(300)))).collect();
    (s.update)();
    let done = rt.block_on(async {
        let mut out = Vec::new();
        for w in waiting {
            out.push(w.await.unwrap().unwrap_or_else(|e| panic!("{}: {e}", s.name)));
        }
        out
    });
    let want_after = rtr_client::checksum(plan.after.iter());
    let mut last = changed;
    let mut first_notify = None::<Instant>;
    for (r, applied, notified) in &done {
        assert!(r.count() == plan.after.len() && r.sum == want_after, "{}: a router's set after the change is wrong", s.name);
        last = last.max(*applied);
        first_notify = Some(first_notify.map_or(*notified, |n: Instant| n.min(*notified)));
    }
    f.delta = (last - changed).as_secs_f64();
    f.notify = (first_notify.unwrap() - changed).as_secs_f64();
    f.rss_peak = watch.peak_mib().max(f.rss_loaded);
    eprintln!(
        "  {}: one sync {:.2} s, {} at once {:.2} s, delta to all {:.2} s (first notify {:.2} s), RSS {:.0}/{:.0} MiB",
        s.name,
        median(f.one.clone()),
        plan.clients,
        median(f.many.clone()),
        f.delta,
        f.notify,
        f.rss_loaded,
        f.rss_peak
    );
    if let Some(f) = s.on_changed.take() {
        f();
    }
    drop(s);
    f
}

use rpkit_test_vectors::peers::free_port;

fn http_get(url: &str) -> Vec<u8> {
    let out = Command::new("curl").args(["-sf", "--max-time", "120", url]).output().unwrap();
    assert!(out.status.success(), "GET {url} failed");
    out.stdout
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let w2 = args.iter().any(|a| a == "--w2");
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<usize>().ok());
    let runs = arg("--runs").unwrap_or(3);
    let clients = arg("--clients").unwrap_or(if quick { 20 } else { 100 });
    let set = if w2 { w2_vrps() } else { synthetic(0, if quick { 80_000 } else { 800_000 }) };
    let n = set.len();
    let delta = 1_000;
    let Some(p) = peers::prepare() else {
        eprintln!("the RTR benchmark needs root and the peer tools, as the interoperability tests");
        return;
    };
    let w = peers::open_dir("bench-rtr");

    // The data: n VRPs, then half the delta withdrawn and half announced.
    let before: BTreeSet<Vrp> = set.into_iter().collect();
    let gone: BTreeSet<Vrp> = before.iter().step_by(n / (delta / 2)).take(delta / 2).copied().collect();
    let mut after: BTreeSet<Vrp> = before.difference(&gone).copied().collect();
    // New ones from the 1.0.0.0/8 and 2a00::/16 numbering, which W2 does not use.
    after.extend(synthetic(800_000, delta / 2));
    assert_eq!(after.len(), n);
    let plan = Plan { before, after, clients, runs };

    // A trust anchor nobody can fetch: every VRP comes from the SLURM file.
    std::fs::create_dir_all(w.join("tals")).unwrap();
    let key = &rpkit_objects::crypto::generate_rsa_keys(1).unwrap()[0];
    let tal =
        rpkit_objects::tal::Tal { comments: vec![], uris: vec!["rsync://127.0.0.1:9/none/ta.cer".into()], key: key.public_key().clone() };
    std::fs::write(w.join("tals/none.tal"), tal.encode()).unwrap();
    peers::chmod(&w.join("tals/none.tal"), 0o644);
    let slurm = w.join("slurm.json");
    write_slurm(&slurm, &plan.before);

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut figures: Vec<(&str, Figures)> = Vec::new();

    // rpkit validator serve; its /json before and after the change feeds StayRTR.
    let json = w.join("vrps.json");
    let json_after = w.join("vrps-after.json");
    {
        let (rtr, http) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
        let mut proc = Proc::spawn(
            Command::new(BIN)
                .args(["validator", "serve", "--offline", "--refresh", "1", "--rtr", &rtr, "--http", &http, "--tal"])
                .arg(w.join("tals/none.tal"))
                .arg("--cache")
                .arg(w.join("rpkit-cache"))
                .arg("--slurm")
                .arg(&slurm)
                .env("RUST_LOG", "warn"),
            &w.join("rpkit.log"),
        );
        proc.wait_line("RTR on ");
        let (slurm2, after) = (slurm.clone(), plan.after.clone());
        let url = format!("http://{http}/json");
        let (url2, json2, json_after2) = (url.clone(), json.clone(), json_after.clone());
        let s = Server {
            name: "rpkit",
            proc,
            addr: rtr,
            update: Box::new(move || write_slurm(&slurm2, &after)),
            on_ready: Some(Box::new(move || std::fs::write(&json2, http_get(&url)).unwrap())),
            on_changed: Some(Box::new(move || std::fs::write(&json_after2, http_get(&url2)).unwrap())),
        };
        let fig = measure(&rt, s, &plan);
        figures.push(("rpkit validator serve", fig));
    }
    // StayRTR, fed our /json from a file.
    {
        let live = w.join("stayrtr.json");
        std::fs::copy(&json, &live).unwrap();
        let rtr = format!("127.0.0.1:{}", free_port());
        let proc = Proc::spawn(
            Command::new("stayrtr").args(["-bind", &rtr, "-checktime=false", "-refresh", "1", "-metrics.addr", "", "-cache"]).arg(&live),
            &w.join("stayrtr.log"),
        );
        let (src, dst) = (json_after.clone(), live.clone());
        let update = Box::new(move || replace_file(&dst, &std::fs::read(&src).unwrap()));
        let s = Server { name: "StayRTR", proc, addr: rtr, update, on_ready: None, on_changed: None };
        figures.push(("StayRTR 0.5.1", measure(&rt, s, &plan)));
    }
    // Routinator: the same SLURM file as its exceptions, no repository to fetch.
    {
        write_slurm(&slurm, &plan.before);
        let rtr = format!("127.0.0.1:{}", free_port());
        let proc = Proc::spawn(
            Command::new(&p.routinator)
                .arg("-r")
                .arg(w.join("routinator-cache"))
                .args(["--no-rir-tals", "--extra-tals-dir"])
                .arg(w.join("tals"))
                .args(["--disable-rsync", "--disable-rrdp", "--exceptions"])
                .arg(&slurm)
                .args(["server", "--refresh", "1", "--rtr", &rtr]),
            &w.join("routinator.log"),
        );
        let (slurm2, after) = (slurm.clone(), plan.after.clone());
        let update = Box::new(move || write_slurm(&slurm2, &after));
        let s = Server { name: "Routinator", proc, addr: rtr, update, on_ready: None, on_changed: None };
        figures.push(("Routinator 0.15.2", measure(&rt, s, &plan)));
    }

    let report = render(&figures, &plan, n, delta, if w2 { " (W2's VRP set)" } else { "" });
    println!("{report}");
    let dir = peers::workspace().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    let file = match (w2, quick) {
        (true, _) => "rtr-w2.md",
        (_, true) => "rtr-quick.md",
        _ => "rtr.md",
    };
    std::fs::write(dir.join(file), &report).unwrap();
    let _ = std::fs::remove_dir_all(&w);
}

fn render(figures: &[(&str, Figures)], plan: &Plan, n: usize, delta: usize, what: &str) -> String {
    let mut out = format!(
        "## RTR: {n} VRPs{what} over RTR v1 on loopback, {} routers, a {delta}-VRP change\n\n\
         Medians of {} runs. Every router's set was checked against the served VRPs, before and after the change. \
         \"Change to all applied\": from writing the server's input to the last of the {} routers having applied the \
         difference (each server re-reads its input every second).\n\n",
        plan.clients, plan.runs, plan.clients
    );
    out.push_str(&format!(
        "| server | full sync, 1 router (s) | full sync, {} routers (s) | change to first Serial Notify (s) | change to all applied (s) | RSS loaded (MiB) | peak RSS (MiB) |\n|---|---:|---:|---:|---:|---:|---:|\n",
        plan.clients
    ));
    for (name, f) in figures {
        out.push_str(&format!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} | {:.0} |\n",
            median(f.one.clone()),
            median(f.many.clone()),
            f.notify,
            f.delta,
            f.rss_loaded,
            f.rss_peak
        ));
    }
    let ours = &figures[0].1;
    out.push_str(&format!(
        "\n| rpkit ÷ | full sync, 1 | full sync, {} | change to all applied | peak RSS |\n|---|---:|---:|---:|---:|\n",
        plan.clients
    ));
    for (name, f) in &figures[1..] {
        out.push_str(&format!(
            "| {name} | {:.2}× | {:.2}× | {:.2}× | {:.2}× |\n",
            median(ours.one.clone()) / median(f.one.clone()),
            median(ours.many.clone()) / median(f.many.clone()),
            ours.delta / f.delta,
            ours.rss_peak / f.rss_peak
        ));
    }
    out
}
