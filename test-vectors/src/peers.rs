//! The independent tools the interoperability tests run (rpki-client,
//! Routinator, rsyncd) and the machine set-up they need: `rpki.test` resolving
//! to 127.0.0.1, a test TLS CA trusted by the system store, root for ports
//! 443 and 873. Under `CI=true` anything missing fails the test; elsewhere the
//! test is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The workspace's root directory.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A loopback port free at the moment of asking, below Linux's ephemeral
/// range (32768-60999): a port the kernel hands out by itself can be taken by
/// any outgoing connection before the process it is meant for binds it. Each
/// test process starts at its own offset and counts up.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 32_768 - LOW;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let port = (LOW + (base + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port below 32768")
}

pub fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// Everything the interop tests need, or `None` (skip) outside CI and in
/// the quick tier.
pub fn prepare() -> Option<Peers> {
    if std::env::var_os("RPKIT_TEST_QUICK").is_some() {
        eprintln!("SKIPPED: the quick tier (scripts/test.sh --quick) leaves out the peer tools");
        return None;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !is_root() {
        assert!(!ci, "the interoperability tests need root (ports 443/873, /etc/hosts, the CA store)");
        eprintln!("SKIPPED: the interoperability tests need root");
        return None;
    }
    let st = Command::new(workspace().join("scripts/peers.sh")).status().expect("scripts/peers.sh runs");
    assert!(st.success(), "installing the peer tools failed");
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if !hosts.lines().any(|l| l.split_whitespace().skip(1).any(|h| h == "rpki.test") && l.starts_with("127.0.0.1")) {
        let mut f = std::fs::OpenOptions::new().append(true).open("/etc/hosts").expect("/etc/hosts is writable");
        std::io::Write::write_all(&mut f, b"\n127.0.0.1 rpki.test\n").unwrap();
    }
    let routinator = workspace().join(".peers/routinator-0.15.2/bin/routinator");
    let krill = workspace().join(".peers/krill-0.16.1/bin");
    for p in [&routinator, &krill.join("krill"), &krill.join("krillc")] {
        assert!(p.exists(), "{} missing", p.display());
    }
    Some(Peers { routinator, krill })
}

pub struct Peers {
    pub routinator: PathBuf,
    /// Directory of `krill` and `krillc`.
    pub krill: PathBuf,
}

/// A test TLS CA and a leaf for rpki.test (CA:FALSE, serverAuth), written to
/// `dir`; the CA is added to the system store (rpki-client reads only that).
pub struct Tls {
    pub ca_pem: PathBuf,
    pub chain_pem: PathBuf,
    pub key_pem: PathBuf,
}

pub fn tls(dir: &Path) -> Tls {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "rpkit interop test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["rpki.test".to_string(), "localhost".to_string()]).unwrap();
    leaf.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    leaf.distinguished_name.push(DnType::CommonName, "rpki.test");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
    let t = Tls { ca_pem: dir.join("tls-ca.pem"), chain_pem: dir.join("tls-chain.pem"), key_pem: dir.join("tls-key.pem") };
    std::fs::write(&t.ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&t.chain_pem, format!("{}{}", leaf_cert.pem(), ca_cert.pem())).unwrap();
    std::fs::write(&t.key_pem, leaf_key.serialize_pem()).unwrap();
    std::fs::copy(&t.ca_pem, "/usr/local/share/ca-certificates/rpkit-interop-test.crt").unwrap();
    let st = Command::new("update-ca-certificates").output().expect("update-ca-certificates runs");
    assert!(st.status.success(), "update-ca-certificates: {}", String::from_utf8_lossy(&st.stderr));
    t
}

/// A directory every user can traverse (rpki-client drops to _rpki-client).
pub fn open_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rpkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    chmod(&d, 0o755);
    d
}

/// Every file below `root` (a repository tree): its path relative to `root`
/// and the SHA-256 of its content, in path order.
pub fn tree_digests(root: &Path) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
                out.insert(rel, rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(&std::fs::read(&p).unwrap())));
            }
        }
    }
    out
}

pub fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// rpki-client over rsync only (`-R`): TAL, cache and output directories
/// (made its own), a 120 s run limit, JSON output.
pub fn rpki_client_rsync(tal: &Path, cache: &Path, out: &Path) -> std::process::Output {
    rpki_client_dir(cache);
    rpki_client_dir(out);
    Command::new("rpki-client").arg("-t").arg(tal).arg("-d").arg(cache).args(["-j", "-R", "-s", "120"]).arg(out).output().unwrap()
}

/// A directory owned by _rpki-client.
pub fn rpki_client_dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    let st = Command::new("chown").args(["-R", "_rpki-client:_rpki-client"]).arg(p).status().unwrap();
    assert!(st.success());
}

/// A child process with its output in a log file; stopped with SIGINT on drop.
pub struct Proc {
    child: Child,
    log: PathBuf,
    /// Where this process's output starts in the (appended) log.
    from: usize,
}

impl Proc {
    pub fn spawn(cmd: &mut Command, log: &Path) -> Proc {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let from = f.metadata().unwrap().len() as usize;
        let child = cmd.stdout(f.try_clone().unwrap()).stderr(f).spawn().unwrap();
        Proc { child, log: log.to_path_buf(), from }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        let all = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&all[self.from.min(all.len())..]).to_string()
    }

    /// Wait for a log line starting with `prefix`; returns the rest of it.
    pub fn wait_line(&mut self, prefix: &str) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(l) = self.log_text().lines().rev().find_map(|l| l.strip_prefix(prefix)) {
                return l.to_string();
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("process exited ({st}) before '{prefix}':\n{}", self.log_text());
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "no '{prefix}' in {}", self.log.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exit status, if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, at once.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGKILL, at once, keeping the handle (a process replaced afterwards).
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGINT, then SIGKILL after 30 s; the exit status when it stopped by itself.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        // Already reaped (stopped before, or dropped after a stop): its pid may
        // be another process's by now.
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(st);
        }
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The ASPAs of an rpki-client-format JSON: customer → providers.
pub fn json_aspas(j: &serde_json::Value) -> std::collections::BTreeMap<u32, Vec<u32>> {
    j["aspas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let p = a["providers"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap() as u32).collect();
            (a["customer_asid"].as_u64().unwrap() as u32, p)
        })
        .collect()
}
