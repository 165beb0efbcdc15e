//! Krill 0.16.1 for the interoperability tests: the daemon on a free port
//! with a configuration of the test's own, and `krillc` against it.
#![allow(dead_code)]

use rpkit_test_vectors::peers::{self, Peers, Proc};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const TOKEN: &str = "krill-interop-token";

pub struct Krill {
    pub proc: Proc,
    pub port: u16,
    bin: PathBuf,
    log: PathBuf,
}

impl Krill {
    /// Start Krill with its data in `w/krill-data`, serving https with `tls`'s
    /// certificate (else one it makes); `extra` is appended to its
    /// configuration (a `[testbed]` section), `PORT` in it replaced by Krill's
    /// port. Waits until it answers.
    pub fn start(p: &Peers, w: &Path, tls: Option<&peers::Tls>, extra: &str, env: &[(&str, &str)]) -> Krill {
        let port = peers::free_port();
        let https = match tls {
            Some(t) => {
                let dir = w.join("krill-tls");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::copy(&t.chain_pem, dir.join("cert.pem")).unwrap();
                std::fs::copy(&t.key_pem, dir.join("key.pem")).unwrap();
                format!("https_mode = \"existing\"\ntls_keys_dir = \"{}\"\n", dir.display())
            }
            None => "https_mode = \"generate\"\n".to_string(),
        };
        let conf = w.join("krill.conf");
        std::fs::write(
            &conf,
            format!(
                "storage_uri = \"{data}\"\nadmin_token = \"{TOKEN}\"\nip = \"127.0.0.1\"\nport = {port}\nservice_uri = \"https://localhost:{port}/\"\n\
                 {https}bgp_riswhois_enabled = false\nlog_type = \"stderr\"\nlog_level = \"info\"\n{extra}",
                data = w.join("krill-data").display(),
                extra = extra.replace("PORT", &port.to_string())
            ),
        )
        .unwrap();
        let log = w.join("krill.log");
        let proc = Proc::spawn(Command::new(p.krill.join("krill")).arg("-c").arg(&conf).envs(env.iter().copied()), &log);
        let k = Krill { proc, port, bin: p.krill.join("krillc"), log };
        let t0 = Instant::now();
        while k.try_run(&["health"]).is_none() {
            assert!(t0.elapsed() < Duration::from_secs(60), "krill did not start:\n{}", k.log());
            std::thread::sleep(Duration::from_millis(200));
        }
        k
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("KRILL_CLI_SERVER", format!("https://localhost:{}/", self.port)).env("KRILL_CLI_TOKEN", TOKEN);
        cmd
    }

    /// `krillc ARGS`: its stdout, or None when it fails.
    pub fn try_run(&self, args: &[&str]) -> Option<String> {
        let o = self.cmd(args).output().ok()?;
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).to_string())
    }

    /// `krillc ARGS`, which must succeed.
    pub fn run(&self, args: &[&str]) -> String {
        let o = self.cmd(args).output().unwrap();
        assert!(
            o.status.success(),
            "krillc {args:?}: {}{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
