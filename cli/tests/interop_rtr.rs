//! `rpkit validator serve` as routers and other caches see it. The hosted CA
//! (1,000 ROAs, 20 ASPAs) publishes over RRDP; the daemon validates it and
//! serves RTR and HTTP. rtrclient (rtrlib) and rtrdump (StayRTR) in every
//! version they speak get exactly the VRP set of our `/json`; after ROA
//! changes through the CA API a router holding the old serial gets exactly the
//! difference, and a live rtrclient prints it after Serial Notify; after a
//! restart the session ID is new and the old one gets Cache Reset; StayRTR fed
//! with our `/json` over HTTP serves the same set. RTR over TLS gives rtrdump
//! the same set too.

#[path = "peers/hosted.rs"]
mod hosted;
use rpkit_test_vectors::peers;

use hosted::{first_prefix, json_vrps, run, Env, Vrps, BIN};
use peers::Proc;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    proc: Proc,
    rtr: String,
    rtr_tls: String,
    http: String,
}

fn start_daemon(e: &Env) -> Daemon {
    let mut proc = Proc::spawn(
        Command::new(BIN)
            .args(["validator", "serve", "--disable-rsync", "--refresh", "1", "--rtr", "127.0.0.1:0", "--http", "127.0.0.1:0", "--tal"])
            .arg(e.w.join("tals/ta.tal"))
            .arg("--cache")
            .arg(e.w.join("daemon-cache"))
            .arg("--rrdp-root-cert")
            .arg(&e.tls.ca_pem)
            .args(["--rtr-tls", "127.0.0.1:0", "--rtr-tls-cert"])
            .arg(&e.tls.chain_pem)
            .arg("--rtr-tls-key")
            .arg(&e.tls.key_pem)
            .env("RUST_LOG", "info"),
        &e.w.join("daemon.log"),
    );
    let rtr = proc.wait_line("RTR on ");
    let rtr_tls = proc.wait_line("RTR over TLS on ");
    let http = proc.wait_line("HTTP on ");
    Daemon { proc, rtr, rtr_tls, http }
}

impl Daemon {
    fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::get(format!("{}{path}", self.http)).unwrap()
    }
    fn status(&self) -> Value {
        self.get("/status").json().unwrap()
    }
    /// Wait until the served data has the CA's VRPs; returns the status.
    fn wait_for(&self, want: &Vrps) -> Value {
        let t0 = Instant::now();
        loop {
            if self.get("/health").status().is_success() {
                let j: Value = self.get("/json").json().unwrap();
                if &json_vrps(&j) == want {
                    return self.status();
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(120), "the daemon never served the CA's VRPs: {}", self.proc.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// What rtrdump received in one session at `version` (a Reset Query, or a
/// Serial Query from `serial`), read from its debug log: the prefix PDUs as
/// (announce, VRP), whether it got Cache Reset, and its exit status.
struct Dump {
    prefixes: Vec<(bool, (String, u8, u32))>,
    cache_reset: bool,
    ok: bool,
    log: String,
}

fn rtrdump(e: &Env, addr: &str, version: u8, serial: Option<(u64, u64)>) -> Dump {
    rtrdump_over(e, addr, version, serial, false)
}

fn rtrdump_over(e: &Env, addr: &str, version: u8, serial: Option<(u64, u64)>, tls: bool) -> Dump {
    let out = e.w.join(format!("rtrdump-v{version}.json"));
    let mut cmd = Command::new("timeout");
    cmd.args(["30", "rtrdump", "-connect", addr, "-rtr.version", &version.to_string(), "-loglevel", "debug", "-datapdu", "-file"])
        .arg(&out);
    if tls {
        // The test CA is not in the system store; the TLS session itself is what is checked.
        cmd.args(["-type", "tls", "-tls.validate=false"]);
    }
    if let Some((session, serial)) = serial {
        cmd.args(["-serial", "-session.id", &session.to_string(), "-serial.value", &serial.to_string()]);
    }
    let o = cmd.output().unwrap();
    let log = String::from_utf8_lossy(&o.stderr).to_string() + &String::from_utf8_lossy(&o.stdout);
    // `Received: PDU IPv4 Prefix v1 10.9.1.0/24(->/25), origin: AS64505, flags: 1`
    let prefixes = log
        .lines()
        .filter_map(|l| {
            let rest = l.split("Received: PDU IPv").nth(1)?;
            let mut w = rest.split_whitespace().skip(3);
            let (p, m) = w.next()?.trim_end_matches(',').split_once("(->/")?;
            let asn = w.nth(1)?.trim_start_matches("AS").trim_end_matches(',').parse().ok()?;
            let flags: u8 = w.nth(1)?.trim_end_matches('"').parse().ok()?;
            Some((flags & 1 == 1, (p.to_string(), m.trim_end_matches(')').parse().ok()?, asn)))
        })
        .collect();
    Dump { prefixes, cache_reset: log.contains("PDU Cache Reset"), ok: o.status.success(), log }
}

fn announced(d: &Dump) -> Vrps {
    d.prefixes.iter().filter(|(a, _)| *a).map(|(_, v)| v.clone()).collect()
}

/// rtrclient's export (one full sync, then exit): `prefix, length, maxLength, ASN` lines.
fn rtrclient(e: &Env, addr: &str) -> Vrps {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = e.w.join("rtrclient.csv");
    run(Command::new("timeout").args(["30", "rtrclient", "-e", "-t", "csv", "-o"]).arg(&out).args(["tcp", host, port]));
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_hexdigit()))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (format!("{}/{}", f[0], f[1]), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

/// A live rtrclient printing prefix updates (`-p`); its stdout lines arrive on a channel.
fn live_rtrclient(addr: &str) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    // Line-buffered: rtrclient writes through stdio, block-buffered into a pipe.
    let mut child = Command::new("stdbuf")
        .args(["-oL", "rtrclient", "-p", "tcp", host, port])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// The (session, serial) a version-`v` router holds now, from `/status`.
fn session_serial(d: &Daemon, v: u8) -> (u64, u64) {
    let st = d.status();
    (st["rtr"]["sessions"][format!("v{v}")].as_u64().unwrap(), st["rtr"]["serial"].as_u64().unwrap())
}

#[test]
fn routers_and_caches_get_exactly_our_payloads() {
    let Some(p) = peers::prepare() else { return };
    let e = Env::start(p, "interop-rtr");
    let (handles, holders) = e.populate();
    e.wait_published();
    let (want, want_aspas) = e.ca_payloads();
    assert_eq!(want.len(), 1000);
    let mut d = start_daemon(&e);
    d.wait_for(&want);
    let json: Value = d.get("/json").json().unwrap();
    assert_eq!(json["aspas"].as_array().unwrap().len(), want_aspas.len());

    // Full sets: rtrdump v0 and v1 (VRPs only: the CA issues no router keys), rtrclient (v1).
    for v in [0u8, 1] {
        let dump = rtrdump(&e, &d.rtr, v, None);
        assert!(dump.ok && dump.prefixes.iter().all(|(a, _)| *a), "rtrdump v{v}: {}", dump.log);
        assert_eq!(dump.prefixes.len(), want.len(), "rtrdump v{v}: each VRP once");
        assert_eq!(announced(&dump), want, "rtrdump v{v}");
    }
    assert_eq!(rtrclient(&e, &d.rtr), want, "rtrclient");
    let dump = rtrdump_over(&e, &d.rtr_tls, 1, None, true);
    assert!(dump.ok, "rtrdump over TLS: {}", dump.log);
    assert_eq!(announced(&dump), want, "rtrdump v1 over TLS");
    // rtrdump v2 (StayRTR 0.5.1) implements draft 8210bis-10, whose ASPA PDU
    // layout (AFI flags, provider count) the current draft replaced: it reads
    // every prefix PDU, which RTR-20 puts first, then stops at the first ASPA.
    let dump = rtrdump(&e, &d.rtr, 2, None);
    assert_eq!(announced(&dump), want, "rtrdump v2: {}", &dump.log[dump.log.len().saturating_sub(600)..]);

    // Incremental: ROAs removed and added through the CA API.
    let (session, serial) = session_serial(&d, 1);
    let (live, lines) = live_rtrclient(&d.rtr);
    let mut removed = Vrps::new();
    let mut added = Vrps::new();
    for h in handles.iter().take(3) {
        let (pfx, len, _) = first_prefix(&holders[h.as_str()].resources);
        let delta = json!({
            "removed": [{"prefix": pfx, "max_length": len, "asn": 64496}],
            "added": [{"prefix": pfx, "max_length": len, "asn": 65100}],
        });
        e.ca_call(reqwest::Method::POST, &format!("/api/v1/members/{h}/roas/delta"), Some(delta));
        removed.insert((pfx.clone(), len, 64496));
        added.insert((pfx, len, 65100));
    }
    e.wait_published();
    let (want2, _) = e.ca_payloads();
    assert_eq!(want2, want.difference(&removed).chain(&added).cloned().collect::<Vrps>());
    d.wait_for(&want2);
    // One serial, or more if a refresh caught the repository between the
    // three changes; the difference from `serial` is the same either way.
    let (_, serial2) = session_serial(&d, 1);
    assert!(serial2 > serial, "{serial2} after {serial}");
    for v in [1u8, 2] {
        let (s, _) = session_serial(&d, v);
        let dump = rtrdump(&e, &d.rtr, v, Some((s, serial)));
        let plus: Vrps = dump.prefixes.iter().filter(|(a, _)| *a).map(|(_, x)| x.clone()).collect();
        let minus: Vrps = dump.prefixes.iter().filter(|(a, _)| !*a).map(|(_, x)| x.clone()).collect();
        assert_eq!((plus, minus), (added.clone(), removed.clone()), "rtrdump v{v} -serial: exactly the difference");
        assert_eq!(dump.prefixes.len(), 6, "nothing else");
        assert!(dump.ok, "{}", dump.log);
    }
    // The live rtrclient got Serial Notify and printed the change.
    let mut seen = BTreeSet::new();
    let t0 = Instant::now();
    while seen.len() < 6 && t0.elapsed() < Duration::from_secs(60) {
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(500)) {
            let w: Vec<&str> = l.split_whitespace().collect();
            if let [sign @ ("+" | "-"), ip, len, "-", max, asn] = w.as_slice() {
                let vrp = (format!("{ip}/{len}"), max.parse::<u8>().unwrap(), asn.parse::<u32>().unwrap());
                if (*sign == "+" && added.contains(&vrp)) || (*sign == "-" && removed.contains(&vrp)) {
                    seen.insert((sign.to_string(), vrp));
                }
            }
        }
    }
    let mut live = live;
    let _ = live.kill();
    assert_eq!(seen.len(), 6, "the live rtrclient printed {seen:?}");

    // Restart: a new session ID; the old one gets Cache Reset, then the full set.
    d.proc.stop();
    let d2 = start_daemon(&e);
    d2.wait_for(&want2);
    let (session2, _) = session_serial(&d2, 1);
    assert_ne!(session2, session, "a new session ID per start");
    let dump = rtrdump(&e, &d2.rtr, 1, Some((session, serial2)));
    assert!(dump.cache_reset, "the old session gets Cache Reset: {}", dump.log);
    assert_eq!(announced(&rtrdump(&e, &d2.rtr, 1, None)), want2);

    // StayRTR fed with our /json over HTTP serves the same set.
    let port = peers::free_port();
    let _stayrtr = Proc::spawn(
        Command::new("stayrtr").arg("-bind").arg(format!("127.0.0.1:{port}")).arg("-cache").arg(format!("{}/json", d2.http)).args([
            "-metrics.addr",
            "",
            "-checktime=false",
        ]),
        &e.w.join("stayrtr.log"),
    );
    let t0 = Instant::now();
    loop {
        let dump = rtrdump(&e, &format!("127.0.0.1:{port}"), 1, None);
        if dump.ok && announced(&dump) == want2 {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "StayRTR never served our /json: {}", dump.log);
        std::thread::sleep(Duration::from_millis(500));
    }
    let w = e.w.clone();
    drop(d2);
    drop(e);
    let _ = std::fs::remove_dir_all(&w);
}
