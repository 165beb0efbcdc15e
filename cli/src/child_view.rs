//! What a delegated child published, read the way a relying party reads it:
//! its repository fetched (RRDP, else rsync) and validated below the
//! certificate the CA issued it. The CA uses it to see a member's own CA
//! take over its ROAs and ASPAs before the hosted CA is retired.

use rpkit_ca::moves::{ChildView, Published};
use rpkit_objects::cert::Cert;
use rpkit_objects::der::Time;
use rpkit_validator::fetch::{Fetch, FetchOptions};
use rpkit_validator::http::Http;
use rpkit_validator::tree::{validate_below, Options};
use std::path::PathBuf;

pub struct ValidatorView {
    /// The fetch cache (in the CA's data directory).
    cache: PathBuf,
    /// TLS roots for RRDP besides the public ones.
    roots: Vec<PathBuf>,
}

impl ValidatorView {
    pub fn new(cache: PathBuf, roots: &[String]) -> ValidatorView {
        ValidatorView { cache, roots: roots.iter().map(PathBuf::from).collect() }
    }
}

impl ChildView for ValidatorView {
    fn published(&self, cert: &Cert, uri: &str) -> Result<Published, String> {
        std::fs::create_dir_all(&self.cache).map_err(|e| format!("{}: {e}", self.cache.display()))?;
        let http = Http::new(&self.roots).map_err(|e| e.to_string())?;
        let now = Time::now();
        let fetch = Fetch::new(self.cache.clone(), http, FetchOptions::default(), now.0);
        let report = validate_below(cert.clone(), uri, "child", &fetch, now, &Options::default());
        if report.counts.failed_manifests > 0 {
            let why: Vec<String> = report.warnings.iter().map(|w| format!("{}: {}", w.uri, w.detail)).collect();
            return Err(format!("its publication point did not validate: {}", why.join("; ")));
        }
        let mut out = Published { roas: report.vrps.into_iter().map(|v| v.origin).collect(), ..Published::default() };
        for a in report.aspas {
            out.aspas.entry(a.customer).or_default().extend(a.providers);
        }
        Ok(out)
    }
}
