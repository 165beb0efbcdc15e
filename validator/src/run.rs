//! One validation run over a set of TALs: fetch into the cache, validate each
//! trust anchor's tree, keep what validated, and sweep what no point uses.

use crate::cache::ValidCache;
use crate::error::RunError;
use crate::fetch::{Fetch, FetchOptions, RepoFetch};
use crate::http::Http;
use crate::report::Report;
use crate::slurm::Slurm;
use crate::tak::Follow;
use crate::tree::{validate_tal, Options};
use rpkit_objects::der::Time;
use rpkit_objects::tal::Tal;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct RunConfig {
    pub tals: Vec<PathBuf>,
    pub cache: PathBuf,
    /// Extra TLS roots for RRDP and https TA URIs (PEM files).
    pub rrdp_roots: Vec<PathBuf>,
    pub fetch: FetchOptions,
    pub options: Options,
    /// SLURM files (RFC 8416) applied to the result.
    pub slurm: Vec<PathBuf>,
}

pub struct RunResult {
    pub report: Report,
    pub repositories: Vec<RepoFetch>,
}

/// The name a TAL's payloads carry: its file stem (rpki-client's `ta` field).
pub fn tal_name(path: &std::path::Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "tal".into())
}

/// Read and parse every TAL first, so that a bad one stops the run before any fetch.
pub fn read_tals(paths: &[PathBuf]) -> Result<Vec<(String, Tal)>, RunError> {
    if paths.is_empty() {
        return Err(RunError::NoTal);
    }
    paths
        .iter()
        .map(|p| {
            let data = std::fs::read(p).map_err(|source| RunError::TalUnreadable { path: p.clone(), source })?;
            let tal = Tal::parse(&data).map_err(|source| RunError::TalInvalid { path: p.clone(), source })?;
            Ok((tal_name(p), tal))
        })
        .collect()
}

/// One run at a time per cache, whose packs it appends to: an exclusive
/// lock on `CACHE/lock`, held while the returned file is open.
fn lock_cache(cache: &Path) -> Result<std::fs::File, RunError> {
    use std::os::fd::AsRawFd;
    let path = cache.join("lock");
    let err = |source| RunError::Cache { path: path.clone(), source };
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(err)?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(f)
}

pub fn run(cfg: &RunConfig, now: Time) -> Result<RunResult, RunError> {
    let tals = read_tals(&cfg.tals)?;
    // A broken SLURM file stops the run before anything is fetched (SLURM-11).
    let slurm = if cfg.slurm.is_empty() { None } else { Some(Slurm::load(&cfg.slurm)?) };
    std::fs::create_dir_all(&cfg.cache).map_err(|source| RunError::Cache { path: cfg.cache.clone(), source })?;
    let _lock = lock_cache(&cfg.cache)?;
    let http = Http::new(&cfg.rrdp_roots)?;
    let fetch = Fetch::new(cfg.cache.clone(), http, cfg.fetch.clone(), now.0);
    let cache = ValidCache::new(&cfg.cache).map_err(|source| RunError::Cache { path: cfg.cache.join("valid"), source })?;
    let mut report = Report::default();
    // Validation blocks on fetches: a pool of `parallel` threads, not one per
    // core, so that slow repositories cannot hold every worker (PIT-18).
    let threads = cfg.fetch.parallel.max(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let follow = Follow::new(&cfg.cache, cfg.options.tak_acceptance_secs);
    pool.install(|| {
        for (name, file) in &tals {
            // The TAL's key, or the successor a TA key roll moved it to (RFC 9691).
            let tal = follow.tal(name, file);
            let mut r = validate_tal(&tal, name, &fetch, Some(&cache), now, &cfg.options);
            let taks: Vec<_> = r.taks.iter().filter(|(n, _)| n == name).map(|(_, t)| t.clone()).collect();
            if let Some(next) = follow.observe(name, file, &tal, &taks, now.0) {
                let rn = validate_tal(&next, name, &fetch, Some(&cache), now, &cfg.options);
                let next_taks: Vec<_> = rn.taks.iter().map(|(_, t)| t.clone()).collect();
                if Follow::confirms(&next, &tal, &next_taks) {
                    tracing::info!("TAL {name}: moved to the successor key {} its TAK announced (RFC 9691)", next.key.key_id());
                    follow.adopt(name, file, &next);
                    r = rn;
                } else {
                    r.warnings.push(crate::report::Warning {
                        uri: name.clone(),
                        rule: "OBJ-3",
                        detail: "the successor key a TAK names does not validate with a TAK naming this key as predecessor: staying".into(),
                    });
                }
            }
            report.absorb(r);
        }
    });
    cache.sweep();
    report.finish();
    if let Some(s) = slurm {
        s.apply(&mut report);
    }
    Ok(RunResult { report, repositories: fetch.repositories() })
}
