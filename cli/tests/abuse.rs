//! Abuse of every listener of `rpkit up`: the CA API, the publication API, RRDP
//! over HTTPS, the validator's HTTP API and RTR. While thousands of clients
//! connect and close at once, hundreds hold connections open with a request
//! dripping one byte a second (slowloris), and RTR clients send oversize and
//! truncated PDUs, a well-behaved client of each server must get every answer
//! right and in time. Latencies under attack are printed beside those measured
//! before it (the figures are for reading, not asserted beyond a liveness bound).
//! Afterwards the HTTP listeners must have dropped every slow client: a request
//! head has 10 s to arrive (the server-side counterpart of PIT-18).

use rpkit_test_vectors::peers;

use peers::Proc;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");
/// A well-behaved request that takes longer than this counts as not served.
const LIVENESS: Duration = Duration::from_secs(3);

fn addr(url: &str) -> SocketAddr {
    let hostport = url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap();
    hostport.replace("localhost", "127.0.0.1").parse().unwrap()
}

/// One RTR full sync (version 1 Reset Query): the number of prefix PDUs.
fn rtr_sync(a: SocketAddr) -> Result<usize, String> {
    let mut s = TcpStream::connect_timeout(&a, LIVENESS).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(LIVENESS)).unwrap();
    s.write_all(&[1, 2, 0, 0, 0, 0, 0, 8]).map_err(|e| e.to_string())?;
    let mut prefixes = 0;
    loop {
        let mut h = [0u8; 8];
        s.read_exact(&mut h).map_err(|e| format!("header: {e}"))?;
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let mut body = vec![0u8; len.saturating_sub(8)];
        s.read_exact(&mut body).map_err(|e| format!("body: {e}"))?;
        match h[1] {
            4 | 6 => prefixes += 1,
            7 => return Ok(prefixes),
            10 => return Err(format!("error report {}", u16::from_be_bytes([h[2], h[3]]))),
            _ => {}
        }
    }
}

struct Probe {
    name: &'static str,
    run: Box<dyn Fn() -> Result<String, String> + Send + Sync>,
}

/// `n` runs of a probe: all must succeed with the same answer within LIVENESS;
/// returns the median time.
fn measure(p: &Probe, n: usize, want: &str) -> Duration {
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let got = (p.run)();
        let took = t.elapsed();
        assert_eq!(got.as_deref(), Ok(want), "{}: a well-behaved request failed", p.name);
        assert!(took < LIVENESS, "{}: a well-behaved request took {took:?}", p.name);
        times.push(took);
    }
    times.sort();
    times[n / 2]
}

/// Slowloris: open, send the start of a request, then one byte a second.
/// `held` counts the connections made, `open` those the server has not closed.
fn slowloris(a: SocketAddr, head: &'static [u8], stop: Arc<AtomicBool>, held: Arc<AtomicUsize>, open: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let mut conns: Vec<TcpStream> = Vec::new();
        for _ in 0..200 {
            if let Ok(mut s) = TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                if s.write_all(head).is_ok() {
                    conns.push(s);
                }
            }
        }
        held.fetch_add(conns.len(), Ordering::Relaxed);
        open.store(conns.len(), Ordering::Relaxed);
        for s in &conns {
            let _ = s.set_nonblocking(true);
        }
        while !stop.load(Ordering::Relaxed) {
            // Closed by the server: the read sees the end or an error (a write
            // into a closed connection may still succeed once).
            conns.retain_mut(|s| {
                let mut b = [0u8; 512];
                let gone = match s.read(&mut b) {
                    Ok(_) => true,
                    Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
                };
                !gone && s.write_all(b"x").is_ok()
            });
            open.store(conns.len(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(1));
        }
    });
}

/// Connect and close as fast as possible, counting connections.
fn flood(a: SocketAddr, stop: Arc<AtomicBool>, count: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok() {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
}

/// RTR clients that send garbage: an oversize length, a truncated PDU left
/// hanging, an unknown type; each connection then closes or stalls.
fn rtr_garbage(a: SocketAddr, stop: Arc<AtomicBool>, count: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let pdus: [&[u8]; 3] = [&[1, 2, 0, 0, 0xff, 0xff, 0xff, 0xff], &[1, 4, 0, 0, 0, 0, 0, 20, 1, 24], &[1, 99, 0, 0, 0, 0, 0, 8]];
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) {
            if let Ok(mut s) = TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
                let _ = s.write_all(pdus[i % 3]);
                count.fetch_add(1, Ordering::Relaxed);
            }
            i += 1;
        }
    });
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("rpkit-abuse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start_up(data: &Path, log: &Path) -> (Proc, Value) {
    let mut cmd = Command::new(BIN);
    cmd.args(["up", "--data"]).arg(data);
    for k in ["ca.listen", "publication.listen", "publication.rrdp_listen", "validator.rtr", "validator.http"] {
        cmd.args(["--set", &format!("{k}=127.0.0.1:{}", peers::free_port())]);
    }
    let mut proc = Proc::spawn(&mut cmd, log);
    let t0 = Instant::now();
    while !data.join("up.json").exists() {
        assert!(t0.elapsed() < Duration::from_secs(300), "no up.json:\n{}", proc.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    proc.wait_line("rpkit is up");
    let json = serde_json::from_str(&std::fs::read_to_string(data.join("up.json")).unwrap()).unwrap();
    (proc, json)
}

#[test]
fn rtr_23_every_listener_serves_well_behaved_clients_through_floods_slowloris_and_bad_pdus() {
    let w = scratch();
    let (_up, j) = start_up(&w.join("data"), &w.join("up.log"));
    let s = |k: &str| j[k].as_str().unwrap().to_string();
    let (ca, publication, validator, rtr, notify) =
        (s("ca_api"), s("publication_api"), s("validator_http"), s("rtr"), s("rrdp_notification"));
    let tls_ca = std::fs::read(j["tls_ca"].as_str().unwrap()).unwrap();
    let https = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&tls_ca).unwrap())
        .timeout(LIVENESS)
        .build()
        .unwrap();
    let http = reqwest::blocking::Client::builder().timeout(LIVENESS).build().unwrap();
    // The validator has validated the demo repository once.
    let t0 = Instant::now();
    let vrp_count = loop {
        let n = http
            .get(format!("{validator}/json"))
            .send()
            .ok()
            .and_then(|r| r.json::<Value>().ok())
            .and_then(|v| v["roas"].as_array().map(Vec::len));
        if let Some(n) = n.filter(|n| *n > 0) {
            break n;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "no VRPs in /json");
        std::thread::sleep(Duration::from_millis(200));
    };

    let get = |client: reqwest::blocking::Client,
               url: String,
               probe: fn(&str) -> String|
     -> Box<dyn Fn() -> Result<String, String> + Send + Sync> {
        Box::new(move || {
            let r = client.get(&url).send().map_err(|e| e.to_string())?;
            let st = r.status().as_u16();
            let body = r.text().map_err(|e| e.to_string())?;
            Ok(format!("{st} {}", probe(&body)))
        })
    };
    let rtr_addr = addr(&rtr);
    let probes = [
        Probe {
            name: "CA API /api/v1/tal",
            run: get(http.clone(), format!("{ca}/api/v1/tal"), |b| b.lines().find(|l| l.starts_with("https://")).unwrap_or("").to_string()),
        },
        Probe { name: "publication /health", run: get(http.clone(), format!("{publication}/health"), |b| b.trim().to_string()) },
        Probe { name: "RRDP notification", run: get(https.clone(), notify.clone(), |b| b.contains("<notification").to_string()) },
        Probe {
            name: "validator /json",
            run: get(http.clone(), format!("{validator}/json"), |b| {
                serde_json::from_str::<Value>(b).ok().and_then(|v| v["roas"].as_array().map(|a| a.len().to_string())).unwrap_or_default()
            }),
        },
        Probe { name: "RTR reset query", run: Box::new(move || rtr_sync(rtr_addr).map(|n| format!("{n} prefixes"))) },
    ];
    let wants: Vec<String> = probes.iter().map(|p| (p.run)().unwrap_or_else(|e| panic!("{}: {e}", p.name))).collect();
    assert!(wants[0].starts_with("200 https://"), "{}", wants[0]);
    assert_eq!(wants[3], format!("200 {vrp_count}"));
    assert_eq!(wants[4], format!("{vrp_count} prefixes"));
    let before: Vec<Duration> = probes.iter().zip(&wants).map(|(p, want)| measure(p, 20, want)).collect();

    // The attack: against every listener at once.
    let stop = Arc::new(AtomicBool::new(false));
    let (floods, garbage) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let held: Vec<Arc<AtomicUsize>> = (0..5).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let open: Vec<Arc<AtomicUsize>> = (0..5).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let slow_started = Instant::now();
    let http_head: &'static [u8] = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let targets = [addr(&ca), addr(&publication), addr(&validator), addr(&notify), rtr_addr];
    for (i, a) in targets.iter().enumerate() {
        // RTR: half a header and then a byte a second.
        let head: &'static [u8] = if i == 4 { &[1, 2, 0, 0] } else { http_head };
        slowloris(*a, head, stop.clone(), held[i].clone(), open[i].clone());
    }
    // The slow clients first (1,000 connections held), then the floods.
    let t0 = Instant::now();
    while held.iter().any(|h| h.load(Ordering::Relaxed) == 0) && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    for a in targets {
        flood(a, stop.clone(), floods.clone());
    }
    rtr_garbage(rtr_addr, stop.clone(), garbage.clone());
    std::thread::sleep(Duration::from_secs(3));
    let during: Vec<Duration> = probes.iter().zip(&wants).map(|(p, want)| measure(p, 20, want)).collect();
    let open_during: Vec<usize> = open.iter().map(|o| o.load(Ordering::Relaxed)).collect();
    // The HTTP listeners close a connection whose request head is not complete
    // within 10 s; RRDP's TLS handshake fails on a plain-text request.
    let t0 = Instant::now();
    while open[..4].iter().any(|o| o.load(Ordering::Relaxed) > 0) && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let open_after: Vec<usize> = open.iter().map(|o| o.load(Ordering::Relaxed)).collect();
    let cut_after = slow_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let held: Vec<usize> = held.iter().map(|h| h.load(Ordering::Relaxed)).collect();
    let (floods, garbage) = (floods.load(Ordering::Relaxed), garbage.load(Ordering::Relaxed));
    eprintln!("under attack: slowloris connections opened {held:?} (CA, publication, validator, RRDP, RTR), {floods} connect-and-close, {garbage} bad RTR PDUs");
    for ((p, b), d) in probes.iter().zip(&before).zip(&during) {
        eprintln!("  {:<22} median {:>8.2?} before, {:>8.2?} during ({:.1}x)", p.name, b, d, d.as_secs_f64() / b.as_secs_f64().max(1e-6));
    }
    eprintln!(
        "  slowloris connections still open while measuring {open_during:?}, {:.1} s after they started {open_after:?}",
        cut_after.as_secs_f64()
    );
    assert!(held.iter().all(|h| *h == 200), "every slowloris client connects: {held:?}");
    assert!(open_during[..3].iter().all(|o| *o > 0), "the slow clients were still held while measuring: {open_during:?}");
    assert!(open_after[..4].iter().all(|o| *o == 0), "the HTTP listeners dropped every slow client: {open_after:?}");
    assert!(floods >= 1000, "the floods made only {floods} connections");
    // And afterwards everything still answers as before.
    std::thread::sleep(Duration::from_secs(1));
    for (p, want) in probes.iter().zip(&wants) {
        measure(p, 3, want);
    }
    let _ = std::fs::remove_dir_all(&w);
}
