//! A PostgreSQL server for the tests of the shared-database backend. The test
//! script starts one for the whole run (`scripts/postgres.sh`) and names it in
//! `RPKIT_TEST_DATABASE_URL`; a test run without it starts one of its own that
//! stops when the test process ends. Each test gets a fresh database of its own.
//! Under `CI=true` a missing server fails the run.

use crate::peers::free_port;
use std::process::Command;
use std::sync::OnceLock;

const ENV: &str = "RPKIT_TEST_DATABASE_URL";
/// The CA of the server's TLS certificate (`scripts/postgres.sh` makes it).
const CA_ENV: &str = "RPKIT_TEST_DATABASE_CA";
static CA: OnceLock<std::path::PathBuf> = OnceLock::new();

/// The URL of the server's maintenance database, or `None` (skip: not CI).
fn server() -> Option<&'static str> {
    static URL: OnceLock<Option<String>> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var(ENV) {
            return Some(u);
        }
        let ci = std::env::var("CI").as_deref() == Ok("true");
        if crate::peers::is_root() && !std::path::Path::new("/usr/lib/postgresql").exists() {
            let st = Command::new(crate::peers::workspace().join("scripts/apt-install.sh")).arg("postgresql").status();
            assert!(st.is_ok_and(|s| s.success()), "installing postgresql failed");
        }
        let dir = std::env::temp_dir().join(format!("rpkit-pg-{}", std::process::id()));
        let port = free_port();
        let out = Command::new(crate::peers::workspace().join("scripts/postgres.sh"))
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .output();
        match out {
            Ok(o) if o.status.success() => {
                let _ = CA.set(dir.join("tls/ca.pem"));
                Some(String::from_utf8_lossy(&o.stdout).trim().to_string())
            }
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(!ci, "no PostgreSQL server for the tests ({ENV} unset, and starting one failed: {why})");
                eprintln!("SKIPPED: no PostgreSQL server ({why})");
                None
            }
        }
    })
    .as_deref()
}

/// A new, empty database `name` (dropped first if a previous run left it);
/// its URL, or `None` when the test must skip.
pub fn database(name: &str) -> Option<String> {
    let url = server()?;
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connecting to the test PostgreSQL server");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).expect("dropping an old test database");
    c.batch_execute(&format!("CREATE DATABASE {name}")).expect("creating a test database");
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    Some(format!("{base}/{name}"))
}

/// The trust anchor of the test server's TLS certificate, once a server is
/// known (`database` first).
pub fn tls_root() -> Option<std::path::PathBuf> {
    server()?;
    std::env::var_os(CA_ENV).map(Into::into).or_else(|| CA.get().cloned())
}
