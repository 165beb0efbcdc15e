//! Publication benchmarks (issue figures):
//! - a 1-object change in repositories of growing size: applying it (what an
//!   RFC 8181 publisher waits for), cutting its serial and delta, and the whole
//!   RRDP update (delta, incremental snapshot, notification) next to writing
//!   the same snapshot in full from the database; medians of repeated runs;
//! - the baseline measured in the same run: SHA-256 over the snapshot's bytes;
//! - each with snapshots kept as whole files and as segments (`--layout`).
//!
//! Run: `cargo bench -p rpkit-publication --bench publication -- [--quick] [--sizes 1000,10000,100000,500000] [--layout whole|segments]`
//! (`--quick`: 1,000 and 10,000). Objects are 2,000 random bytes (a ROA is about
//! 1,900). The report is printed and written to `target/bench/publication.md`
//! (`publication-quick.md`).

use rpkit_objects::rfc8181::{Change, ChangeSet};
use rpkit_publication::repository::Repository;
use rpkit_publication::rrdp::snapshot::Layout;
use rpkit_publication::rrdp::{RrdpConfig, RrdpWriter};
use std::time::{Duration, Instant};

fn sizes() -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
        .unwrap_or_else(|| if quick() { vec![1_000, 10_000] } else { vec![1_000, 10_000, 100_000, 500_000] })
}

/// The process's peak resident set since the last reset (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    kib / 1024
}

/// Snapshot layouts measured (`--layout whole|segments`; both by default).
fn layouts() -> Vec<Layout> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--layout").and_then(|i| args.get(i + 1)).map(String::as_str) {
        Some("whole") => vec![Layout::Whole],
        Some("segments") => vec![Layout::Segments],
        _ => vec![Layout::Whole, Layout::Segments],
    }
}

fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

fn object(i: usize, version: u8) -> Vec<u8> {
    let mut v = Vec::with_capacity(2000);
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ version as u64;
    while v.len() < 2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(2000);
    v
}

fn uri(i: usize) -> String {
    format!("rsync://rpki.test/repo/m{}/o{i}.roa", i % 1000)
}

/// CPU time of this thread (the wall time of a snapshot is mostly fsync).
fn cpu() -> Duration {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(s.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    const BASE: &str = "rsync://rpki.test/repo/";
    let mut report = String::from(
        "## Publication: a 1-object change in repositories of growing size\n\n\
         Medians of 20 changes (apply, cut+delta) and of 3 to 10 RRDP updates (delta; snapshot from the \
         previous one: runs the change does not touch copied into a whole file, or reused as segment files; notification). \"full snapshot\": the same snapshot written in full from the database. The baseline, \
         measured in the same run: SHA-256 over the snapshot's bytes. Objects of 2,000 bytes. Peak RSS: each layout's own, the loaded repository included.\n\n\
         | objects | snapshot kept as | apply 1 (µs) | cut + delta (ms) | RRDP update, incremental (ms) | full snapshot (ms) | snapshot (MB) \
         | SHA-256 of it (ms) | update ÷ SHA-256 | update CPU (ms) | full CPU (ms) | update CPU ÷ SHA-256 | peak RSS (MiB) |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for n in sizes() {
        let dir = std::env::temp_dir().join(format!("rpkit-bench-pub-{n}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut repo = Repository::open(Some(&dir.join("p.sqlite"))).unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(20_000) {
            let changes = chunk.iter().map(|&i| Change::Publish { uri: uri(i), der: object(i, 0), replaces: None }).collect();
            repo.apply(BASE, &ChangeSet { changes }, true).unwrap();
        }
        let mut now = 1;
        for (k, layout) in layouts().into_iter().enumerate() {
            // Each layout's peak RSS its own (VmHWM reset; the loaded repository is in it).
            let _ = std::fs::write("/proc/self/clear_refs", "5");
            // The same objects for each layout: a new RRDP session (files of its own) from the second on.
            if k > 0 {
                repo.new_session(now).unwrap();
            }
            let mut cfg = RrdpConfig::new(dir.join(format!("rrdp-{layout:?}")), "https://rpki.test/rrdp/");
            cfg.snapshot_layout = layout;
            let writer = RrdpWriter::new(cfg);
            writer.update(&mut repo, now).unwrap();
            now += 1;
            let (mut apply, mut delta) = (Vec::new(), Vec::new());
            // A 1-object change: apply (publisher's wait), then the delta alone.
            for round in 0..20u8 {
                let i = (round as usize * 7919) % n;
                let old = rpkit_objects::crypto::sha256(&repo.object(&uri(i)).unwrap().unwrap());
                let cs = ChangeSet { changes: vec![Change::Publish { uri: uri(i), der: object(i, round + 1), replaces: Some(old) }] };
                let t = Instant::now();
                repo.apply(BASE, &cs, false).unwrap();
                apply.push(t.elapsed());
                let t = Instant::now();
                let serial = repo.cut_serial(now).unwrap().unwrap();
                let d = repo.delta(serial).unwrap();
                std::hint::black_box(&d);
                delta.push(t.elapsed());
                // Snapshot files are written by the full update below, not timed here.
                now += 1;
            }
            // Full snapshot (streamed from the database), repeated.
            let (mut snap, mut snap_cpu, mut full_cpu) = (Vec::new(), Vec::new(), Vec::new());
            let rounds = if n >= 100_000 { 3 } else { 10 };
            for r in 0..rounds {
                let i = (r * 104_729) % n;
                let cur = rpkit_objects::crypto::sha256(&repo.object(&uri(i)).unwrap().unwrap());
                let cs = ChangeSet { changes: vec![Change::Publish { uri: uri(i), der: object(i, 200 + r as u8), replaces: Some(cur) }] };
                repo.apply(BASE, &cs, false).unwrap();
                let (t, c) = (Instant::now(), cpu());
                writer.update(&mut repo, now).unwrap();
                snap.push(t.elapsed());
                snap_cpu.push(cpu() - c);
                now += 1;
            }
            // The same snapshot written in full from the database, for comparison.
            let mut full = Vec::new();
            for _ in 0..rounds.min(3) {
                let (session, serial) = repo.session().unwrap();
                let (t, c) = (Instant::now(), cpu());
                let f = std::fs::File::create(dir.join("full.xml")).unwrap();
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                rpkit_publication::rrdp::snapshot::full(&repo, &session, serial, &mut w).unwrap();
                w.into_inner().unwrap().sync_all().unwrap();
                full.push(t.elapsed());
                full_cpu.push(cpu() - c);
            }
            // Before the baseline below reads the whole snapshot into memory.
            let rss = peak_rss_mib();
            let snapshot = repo.files("snapshot").unwrap().pop().unwrap();
            let bytes = rpkit_publication::rrdp::segments::read(&dir.join(format!("rrdp-{layout:?}")), &snapshot.path).unwrap();
            let t = Instant::now();
            std::hint::black_box(rpkit_objects::crypto::sha256(&bytes));
            let sha = t.elapsed();
            let row = format!(
                "| {n} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}× | {:.1} | {:.1} | {:.2}× | {} |\n",
                match layout {
                    Layout::Whole => "whole file",
                    Layout::Segments => "segments",
                },
                median(apply).as_secs_f64() * 1e6,
                median(delta).as_secs_f64() * 1e3,
                median(snap.clone()).as_secs_f64() * 1e3,
                median(full).as_secs_f64() * 1e3,
                bytes.len() as f64 / 1e6,
                sha.as_secs_f64() * 1e3,
                median(snap).as_secs_f64() / sha.as_secs_f64(),
                median(snap_cpu.clone()).as_secs_f64() * 1e3,
                median(full_cpu).as_secs_f64() * 1e3,
                median(snap_cpu).as_secs_f64() / sha.as_secs_f64(),
                rss
            );
            print!("{row}");
            report.push_str(&row);
        }
        drop(repo);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(if quick() { "publication-quick.md" } else { "publication.md" }), report).unwrap();
}
