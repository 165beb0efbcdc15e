//! The hostile-repository catalogue (test-vectors `hostile`) against `rpkit
//! validate`: two HTTPS servers of this test on loopback, G honest and H
//! hostile, each case changing what H does. For every case the run must exit
//! 0 within the case's time bound and peak RSS bound, output exactly the
//! expected VRPs (good's always), name the expected rule in a warning, and
//! leave nothing outside its cache. A table of case → expected → observed is
//! written to `target/hostile.md`.

use rpkit_objects::der::Time;
use rpkit_test_vectors::hostile::{build, Hostile, Serve, Site, CASES};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

/// A server of this test: HTTP/1.1 over TLS written by hand, so that it can
/// misbehave at the byte level (drip, stall, never end).
struct Server {
    url: String,
    site: Arc<Mutex<Site>>,
}

fn tls(dir: &Path) -> (PathBuf, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "rpkit hostile test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    let ca_pem = dir.join("tls-ca.pem");
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], der)
        .unwrap();
    (ca_pem, Arc::new(config))
}

fn start(rt: &tokio::runtime::Runtime, config: Arc<rustls::ServerConfig>) -> Server {
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let site: Arc<Mutex<Site>> = Arc::default();
    let s = site.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, site) = (acceptor.clone(), s.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = answer(tls, site).await;
                }
            });
        }
    });
    Server { url, site }
}

async fn answer(mut c: tokio_rustls::server::TlsStream<tokio::net::TcpStream>, site: Arc<Mutex<Site>>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        let n = c.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    let serve = site.lock().unwrap().get(&path).cloned();
    let plain = |status: &str, extra: &str, body: &[u8]| {
        let mut r = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n", body.len()).into_bytes();
        r.extend_from_slice(body);
        r
    };
    let open = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
    match serve {
        None => c.write_all(&plain("404 Not Found", "", b"")).await?,
        Some(Serve::Bytes(b)) => c.write_all(&plain("200 OK", "", &b)).await?,
        Some(Serve::Status(code, b)) => c.write_all(&plain(&format!("{code} Whatever"), "", &b)).await?,
        Some(Serve::Redirect(to)) => c.write_all(&plain("302 Found", &format!("Location: {to}\r\n"), b"")).await?,
        Some(Serve::Gzip(b)) => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&b)?;
            c.write_all(&plain("200 OK", "Content-Encoding: gzip\r\n", &enc.finish()?)).await?;
        }
        Some(Serve::Drip { head, every_ms }) => {
            c.write_all(open).await?;
            c.write_all(&head).await?;
            c.flush().await?;
            loop {
                tokio::time::sleep(Duration::from_millis(every_ms)).await;
                c.write_all(b" ").await?;
                c.flush().await?;
            }
        }
        Some(Serve::Silent) => {
            // Until the client gives up.
            while c.read(&mut buf).await? > 0 {}
        }
        Some(Serve::Endless { head }) => {
            c.write_all(open).await?;
            c.write_all(&head).await?;
            let spaces = vec![b' '; 1 << 16];
            loop {
                c.write_all(&spaces).await?;
            }
        }
    }
    c.shutdown().await
}

/// What one run did.
struct Observed {
    code: Option<i32>,
    secs: f64,
    rss_mib: u64,
    vrps: BTreeSet<String>,
    warnings: Vec<String>,
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn validate(case: &Hostile, dir: &Path, ca_pem: &Path) -> Observed {
    let sandbox = dir.join("sandbox");
    std::fs::create_dir_all(&sandbox).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.arg("validate");
    for (i, t) in case.tals.iter().enumerate() {
        let p = dir.join(format!("{i}.tal"));
        std::fs::write(&p, t.encode()).unwrap();
        cmd.arg("--tal").arg(p);
    }
    cmd.arg("--cache").arg(sandbox.join("cache")).arg("--rrdp-root-cert").arg(ca_pem);
    cmd.args(["--disable-rsync", "--run-timeout", &(case.max_secs * 2).to_string(), "--format", "json", "--output"]);
    cmd.arg(sandbox.join("out.json")).args(&case.args).env("RUST_LOG", "off");
    let t = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (mut peak, pid) = (0, child.id());
    let limit = Duration::from_secs(case.max_secs * 3);
    let status = loop {
        if let Some(k) = vm_hwm_kib(pid) {
            peak = peak.max(k);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let secs = t.elapsed().as_secs_f64();
    let err = reader.join().unwrap();
    let out: serde_json::Value =
        std::fs::read(sandbox.join("out.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let vrps = out["roas"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| format!("{}-{} AS{}", r["prefix"].as_str().unwrap_or(""), r["maxLength"], r["asn"].as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    let warnings = err.lines().filter(|l| l.starts_with("warning: ")).map(str::to_string).collect();
    Observed { code: status.and_then(|s| s.code()), secs, rss_mib: peak / 1024, vrps, warnings }
}

/// Everything under `sandbox` must be in its cache (or the output), no link
/// anywhere, and no `escape-*` file anywhere near.
fn outside_cache(dir: &Path) -> Vec<String> {
    let sandbox = dir.join("sandbox");
    let mut bad = Vec::new();
    let mut stack = vec![sandbox.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let ty = e.file_type().unwrap();
            if ty.is_symlink() {
                bad.push(format!("a link: {}", p.display()));
            } else if ty.is_dir() {
                stack.push(p.clone());
            }
            let rel = p.strip_prefix(&sandbox).unwrap();
            if !(rel.starts_with("cache") || rel == Path::new("out.json") || rel == Path::new(".out.json.tmp")) {
                bad.push(format!("outside the cache: {}", p.display()));
            }
            if p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("escape-")) {
                bad.push(format!("an escaped name: {}", p.display()));
            }
        }
    }
    for root in [dir.to_path_buf(), dir.parent().unwrap().to_path_buf(), std::env::temp_dir(), PathBuf::from("/")] {
        for n in ["escape-a", "escape-b", "escape-c"] {
            if root.join(n).exists() {
                bad.push(format!("{} exists", root.join(n).display()));
            }
        }
    }
    bad
}

#[test]
fn pit_14_to_25_hostile_repositories_cost_bounded_time_and_memory_and_harm_no_one_else() {
    let top = std::env::temp_dir().join(format!("rpkit-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&top);
    std::fs::create_dir_all(&top).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ca_pem, config) = tls(&top);
    let (g, h) = (start(&rt, config.clone()), start(&rt, config));
    let now = Time::now();
    // Key generation dominates building: every case at once.
    let cases: Vec<Hostile> = std::thread::scope(|t| {
        let hs: Vec<_> = CASES.iter().map(|(name, _, _)| t.spawn(|| build(name, &g.url, &h.url, now))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut failures = Vec::new();
    let mut table =
        String::from("| case | CHECKLIST | expected | observed | time (bound) | peak RSS (bound) |\n|---|---|---|---|---|---|\n");
    for (case, (name, pit, what)) in cases.iter().zip(CASES) {
        *g.site.lock().unwrap() = case.g.clone();
        *h.site.lock().unwrap() = case.h.clone();
        let dir = top.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let o = validate(case, &dir, &ca_pem);
        let mut problems = Vec::new();
        if o.code != Some(0) {
            problems.push(format!("exit {:?}", o.code));
        }
        if o.vrps != case.vrps {
            problems.push(format!("VRPs {:?}, want {:?}", o.vrps, case.vrps));
        }
        let named =
            case.warning.map(|(rule, text)| o.warnings.iter().find(|w| w.ends_with(&format!("[{rule}]")) && w.contains(text)).cloned());
        match (&case.warning, &named) {
            (Some((rule, text)), Some(None)) => problems.push(format!("no warning [{rule}] with {text:?} among {:#?}", o.warnings)),
            (None, _) if !o.warnings.is_empty() => problems.push(format!("warnings {:#?}", o.warnings)),
            _ => {}
        }
        if o.secs > case.max_secs as f64 {
            problems.push(format!("took {:.1} s, bound {} s", o.secs, case.max_secs));
        }
        if o.rss_mib > case.max_rss_mib {
            problems.push(format!("peak RSS {} MiB, bound {} MiB", o.rss_mib, case.max_rss_mib));
        }
        problems.extend(outside_cache(&dir));
        let expected = match case.warning {
            Some((rule, text)) => format!("{rule} \"{text}\"; {} VRPs kept", case.vrps.len()),
            None => format!("no warning; {} VRPs", case.vrps.len()),
        };
        let observed = match &named {
            Some(Some(w)) => w.trim_start_matches("warning: ").replace(&g.url, "G").replace(&h.url, "H").replace('|', "\\|"),
            _ => format!("{} warnings", o.warnings.len()),
        };
        let verdict = if problems.is_empty() { "" } else { " **FAILED**" };
        table += &format!(
            "| {name} | {pit} | {expected} | {observed}; {} VRPs{verdict} | {:.1} s ({} s) | {} MiB ({} MiB) |\n",
            o.vrps.len(),
            o.secs,
            case.max_secs,
            o.rss_mib,
            case.max_rss_mib
        );
        eprintln!("{name}: {:.1} s, {} MiB, {} warnings{verdict}", o.secs, o.rss_mib, o.warnings.len());
        if !problems.is_empty() {
            failures.push(format!("{name} ({what}):\n  {}", problems.join("\n  ")));
        }
    }
    let report = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/hostile.md");
    let _ = std::fs::write(&report, &table);
    eprintln!("{table}");
    let _ = std::fs::remove_dir_all(&top);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
