//! HTTPS fetches for RRDP and TA certificates (RFC 8182 §4.3, RFC 8630 §2.3):
//! TLS verified against the system's web roots plus any `--rrdp-root-cert`;
//! redirects only within the same origin (RFC 9674, RRDPC-3); only the statuses
//! RRDP allows (RRDPC-13); every body bounded in bytes after inflation
//! (RRDPC-15) and every request in time.

use crate::error::{FetchError, RunError};
// reqwest hides the TLS reason in an error's sources: `chain` says them.
use rpkit_objects::error::chain;
use std::io::Read;
use std::time::Instant;

use rpkit_objects::limits::{CONNECT_TIMEOUT, HTTP_REQUEST_TIMEOUT as REQUEST_TIMEOUT, MAX_REDIRECTS};

#[derive(Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
}

/// A response's body, or that nothing changed since `etag`/`last_modified`.
pub enum Fetched<R> {
    Body { body: R, etag: Option<String>, last_modified: Option<String> },
    NotModified,
}

/// Scheme, host and port of a URL (RFC 6454 origin).
pub fn origin(url: &str) -> Option<(String, String, u16)> {
    let u = reqwest::Url::parse(url).ok()?;
    Some((u.scheme().to_string(), u.host_str()?.to_ascii_lowercase(), u.port_or_known_default()?))
}

impl Http {
    /// A client trusting the web roots and `extra_roots` (PEM files).
    pub fn new(extra_roots: &[std::path::PathBuf]) -> Result<Http, RunError> {
        let mut b = reqwest::blocking::Client::builder()
            .user_agent(concat!("rpkit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .https_only(true)
            .gzip(true)
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first().and_then(|u| origin(u.as_str()));
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if first.is_some() && origin(attempt.url().as_str()) == first {
                    attempt.follow()
                } else {
                    attempt.error("redirect to another origin (RFC 9674)")
                }
            }));
        for path in extra_roots {
            let pem = std::fs::read(path).map_err(|source| RunError::RootCertUnreadable { path: path.clone(), source })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| RunError::RootCertNotPem { path: path.clone(), source })?;
            for cert in certs {
                b = b.add_root_certificate(cert);
            }
        }
        Ok(Http { client: b.build().map_err(RunError::HttpClient)? })
    }

    /// GET `url`, its body read through a bound of `max` bytes, before `deadline`.
    /// With `etag`/`last_modified`, a 304 answers `NotModified` (RRDPC-13: only
    /// 200, and 304 for a conditional request).
    pub fn get(
        &self,
        url: &str,
        max: u64,
        deadline: Instant,
        conditional: Option<(&Option<String>, &Option<String>)>,
    ) -> Result<Fetched<reqwest::blocking::Response>, FetchError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(FetchError::TimeLimit { url: url.to_string() });
        }
        let mut req = self.client.get(url).timeout(left.min(REQUEST_TIMEOUT));
        if let Some((etag, modified)) = conditional {
            if let Some(e) = etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(m) = modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
            }
        }
        let resp = req.send().map_err(|e| FetchError::Transport { url: url.to_string(), detail: chain(&e) })?;
        let status = resp.status().as_u16();
        if status == 304 && conditional.is_some() {
            return Ok(Fetched::NotModified);
        }
        if status != 200 {
            return Err(FetchError::Status { url: url.to_string(), status });
        }
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(FetchError::TooLarge { url: url.to_string(), max });
        }
        let header = |h| resp.headers().get(h).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_string);
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        Ok(Fetched::Body { body: resp, etag, last_modified })
    }

    /// GET a whole small body (a TA certificate), at most `max` bytes.
    pub fn get_bytes(&self, url: &str, max: u64, deadline: Instant) -> Result<Vec<u8>, FetchError> {
        let Fetched::Body { body, .. } = self.get(url, max, deadline, None)? else {
            return Err(FetchError::NotModified { url: url.to_string() });
        };
        let mut out = Vec::new();
        body.take(max + 1).read_to_end(&mut out).map_err(|e| FetchError::Transport { url: url.to_string(), detail: chain(&e) })?;
        if out.len() as u64 > max {
            return Err(FetchError::TooLarge { url: url.to_string(), max });
        }
        Ok(out)
    }
}
