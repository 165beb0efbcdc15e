//! TLS to a PostgreSQL server, with libpq's `sslmode` meanings: `disable`
//! (none), `prefer` (the default) and `require` (encrypted, the certificate
//! not checked, as libpq does), `verify-ca` (a chain to `sslrootcert`) and
//! `verify-full` (the chain and the host name). The driver knows neither
//! verify mode nor `sslrootcert`, so both are read from the URL here
//! (`PGSSLMODE` and `PGSSLROOTCERT` when the URL has none) and the rest of
//! the URL goes to the driver.

use super::{DbError, DbResult};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres::config::SslMode;
use std::path::PathBuf;

/// How a connection is secured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    pub mode: Sslmode,
    /// Trust anchors for the server's certificate (else the system's).
    pub root: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sslmode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Sslmode {
    fn parse(v: &str) -> DbResult<Self> {
        Ok(match v {
            "disable" => Sslmode::Disable,
            "allow" | "prefer" => Sslmode::Prefer,
            "require" => Sslmode::Require,
            "verify-ca" => Sslmode::VerifyCa,
            "verify-full" => Sslmode::VerifyFull,
            _ => return Err(DbError::Other(format!("sslmode={v}: not one of disable, prefer, require, verify-ca, verify-full"))),
        })
    }
}

/// `%XX` escapes of a URL's query value.
fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).and_then(|&c| hex(c)), b.get(i + 2).and_then(|&c| hex(c))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL without `sslmode` and `sslrootcert`, and the TLS they ask for.
pub fn split(url: &str) -> DbResult<(String, Tls)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut mode, mut root) = (None, None);
    let mut rest = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("sslmode", v)) => mode = Some(Sslmode::parse(&unescape(v))?),
            Some(("sslrootcert", v)) => root = Some(PathBuf::from(unescape(v))),
            _ => rest.push(kv),
        }
    }
    let mode = match mode {
        Some(m) => m,
        None => std::env::var("PGSSLMODE").ok().map(|v| Sslmode::parse(&v)).transpose()?.unwrap_or(Sslmode::Prefer),
    };
    let root = root.or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from));
    let url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, Tls { mode, root }))
}

/// The driver's mode and a connector for `tls`.
pub fn connector(tls: &Tls) -> DbResult<(SslMode, postgres_openssl::MakeTlsConnector)> {
    let failed = |e: openssl::error::ErrorStack| DbError::Other(format!("setting up TLS to PostgreSQL: {e}"));
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(failed)?;
    let verify = matches!(tls.mode, Sslmode::VerifyCa | Sslmode::VerifyFull);
    if verify {
        match &tls.root {
            Some(root) => b.set_ca_file(root).map_err(|e| DbError::Other(format!("sslrootcert {}: {e}", root.display())))?,
            None => b.set_default_verify_paths().map_err(failed)?,
        }
        b.set_verify(SslVerifyMode::PEER);
    } else {
        b.set_verify(SslVerifyMode::NONE);
    }
    let mut c = postgres_openssl::MakeTlsConnector::new(b.build());
    let full = tls.mode == Sslmode::VerifyFull;
    c.set_callback(move |cfg, _host| {
        cfg.set_verify_hostname(full);
        Ok(())
    });
    let mode = match tls.mode {
        Sslmode::Disable => SslMode::Disable,
        Sslmode::Prefer => SslMode::Prefer,
        Sslmode::Require | Sslmode::VerifyCa | Sslmode::VerifyFull => SslMode::Require,
    };
    Ok((mode, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_read_from_the_url_and_taken_out() {
        let (url, tls) =
            split("postgresql://u@db.example:5432/ca?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x").unwrap();
        assert_eq!(url, "postgresql://u@db.example:5432/ca?application_name=x");
        assert_eq!(tls, Tls { mode: Sslmode::VerifyFull, root: Some("/etc/ca.pem".into()) });
        let (url, tls) = split("postgresql://u@h/db?sslmode=disable").unwrap();
        assert_eq!((url.as_str(), tls.mode), ("postgresql://u@h/db", Sslmode::Disable));
        assert!(split("postgresql://u@h/db?sslmode=sometimes").unwrap_err().to_string().contains("sslmode=sometimes"));
    }
}
