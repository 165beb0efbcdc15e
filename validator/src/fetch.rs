//! Bringing repositories into the cache for a run: each RRDP repository and
//! each rsync module fetched at most once per run, whichever CA asks first
//! (the others wait for it); RRDP first, rsync when RRDP fails (RRDPC-11); the
//! TA certificate from the TAL's https URIs first, then rsync (TA-5), with the
//! last good copy kept for when every URI fails.

use crate::error::FetchError;
use crate::http::Http;
use crate::pack::Pack;
use crate::report::Warning;
use crate::rrdp;
use crate::rsync;
use crate::store::{DirStore, Store};
use crate::tree::Fetcher;
use rpkit_objects::limits;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How a run fetches.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    pub rrdp: bool,
    pub rsync: bool,
    /// Time allowed to one repository (RRDP update or rsync module).
    pub repository_timeout: Duration,
    /// rsync's I/O timeout.
    pub rsync_io_timeout: Duration,
    /// The whole run's time: no fetch runs past 7/8 of it, so that validation
    /// completes with the cache for whatever is unfinished (PIT-18).
    pub run_timeout: Duration,
    /// Repositories fetched at once: one slow repository holds one of these,
    /// never the run (PIT-18; rpki-client: 64 HTTP, 16 rsync).
    pub parallel: usize,
    /// Most repositories (RRDP and rsync) one run contacts; a CA pointing at one
    /// more fails with a warning (PIT-17; rpki-client: 1,000 per TAL).
    pub max_repositories: usize,
    pub limits: rrdp::Limits,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            rrdp: true,
            rsync: true,
            repository_timeout: limits::REPOSITORY_TIMEOUT,
            rsync_io_timeout: limits::RSYNC_IO_TIMEOUT,
            run_timeout: Duration::from_secs(3600),
            parallel: 32,
            max_repositories: limits::MAX_REPOSITORIES,
            limits: rrdp::Limits::default(),
        }
    }
}

/// What was fetched from one repository, for the run's summary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RepoFetch {
    pub uri: String,
    pub method: &'static str,
    pub ok: bool,
    pub serial: Option<u64>,
    pub millis: u128,
}

type Once<T> = Arc<OnceLock<T>>;
/// One cell per repository, filled by whichever CA asks first.
type Cells<T> = Mutex<HashMap<String, Once<T>>>;

pub struct Fetch {
    cache: PathBuf,
    http: Http,
    opts: FetchOptions,
    now: i64,
    rrdp: Cells<Result<Arc<Pack>, FetchError>>,
    /// A failure is shared by every CA of the module: in an `Arc`.
    rsync: Cells<Result<(), Arc<FetchError>>>,
    warnings: Mutex<Vec<Warning>>,
    repos: Mutex<Vec<RepoFetch>>,
    /// No fetch runs past this (7/8 of the run timeout).
    fetch_deadline: Instant,
    /// Repositories contacted so far.
    contacted: std::sync::atomic::AtomicUsize,
}

fn once<T>(map: &Cells<T>, key: &str) -> Once<T> {
    map.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_string()).or_default().clone()
}

impl Fetch {
    /// `now` in seconds since the epoch.
    pub fn new(cache: PathBuf, http: Http, opts: FetchOptions, now: i64) -> Self {
        Fetch {
            cache,
            http,
            now,
            rrdp: Default::default(),
            rsync: Default::default(),
            warnings: Default::default(),
            repos: Default::default(),
            fetch_deadline: Instant::now() + opts.run_timeout.mul_f64(7.0 / 8.0),
            contacted: Default::default(),
            opts,
        }
    }

    /// The deadline of a repository fetch starting now, or why none may start.
    fn start(&self, uri: &str) -> Result<Instant, FetchError> {
        let now = Instant::now();
        if now >= self.fetch_deadline {
            self.warn(uri, "PIT-18", FetchError::Deadline.to_string());
            return Err(FetchError::Deadline);
        }
        let n = self.contacted.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n > self.opts.max_repositories {
            let e = FetchError::TooManyRepositories(self.opts.max_repositories);
            self.warn(uri, "PIT-17", e.to_string());
            return Err(e);
        }
        Ok((now + self.opts.repository_timeout).min(self.fetch_deadline))
    }

    /// The repositories fetched so far.
    pub fn repositories(&self) -> Vec<RepoFetch> {
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn warn(&self, uri: &str, rule: &'static str, detail: String) {
        tracing::warn!("{uri}: {detail}");
        self.warnings.lock().unwrap_or_else(|e| e.into_inner()).push(Warning { uri: uri.to_string(), rule, detail });
    }

    fn record(&self, uri: &str, method: &'static str, ok: bool, serial: Option<u64>, started: Instant) {
        let r = RepoFetch { uri: uri.to_string(), method, ok, serial, millis: started.elapsed().as_millis() };
        self.repos.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    fn rrdp_update(&self, notify: &str) -> Result<Arc<Pack>, FetchError> {
        let started = Instant::now();
        let deadline = self.start(notify)?;
        let repo = rrdp::Repo::new(&self.http, &self.cache, notify, &self.opts.limits, deadline);
        match repo.update(self.now) {
            Ok(u) => {
                for (rule, n) in &u.notes {
                    self.warn(notify, rule, n.clone());
                }
                self.record(notify, "rrdp", true, Some(u.serial), started);
                Ok(Arc::new(u.objects))
            }
            Err(e) => {
                self.warn(notify, "RRDPC-11", format!("RRDP failed: {e}"));
                self.record(notify, "rrdp", false, None, started);
                Err(e)
            }
        }
    }

    /// rsync `module`; after RRDP failed for `seed`, the mirror of a module it
    /// does not hold yet starts from what RRDP last brought in.
    fn rsync_module(&self, module: &str, seed: Option<&str>) -> Result<(), FetchError> {
        let started = Instant::now();
        let deadline = self.start(module)?;
        if let Some(notify) = seed {
            self.seed_mirror(notify, module);
        }
        let r = rsync::fetch(&self.cache, module, deadline, self.opts.rsync_io_timeout);
        if let Err(e) = &r {
            self.warn(module, "RSYNC-2", e.to_string());
        }
        self.record(module, "rsync", r.is_ok(), None, started);
        r
    }

    /// RFC 9589 §2.2 (CMS-13): the RRDP copy's objects of `module` written
    /// into the rsync mirror with their objects' times, so that rsync's quick
    /// check moves only what changed since.
    fn seed_mirror(&self, notify: &str, module: &str) {
        let root = rsync::mirror_root(&self.cache);
        let Some(rest) = rpkit_objects::uri::rsync_safe(module.trim_end_matches('/')) else { return };
        let dir = rrdp::Repo::dir_of(&self.cache, notify);
        if root.join(rest).exists() || !Pack::exists(&dir, rrdp::PACK) {
            return;
        }
        match Pack::open(&dir, rrdp::PACK).and_then(|p| p.write_files(module, &root)) {
            Ok(n) => tracing::info!("{module}: {n} objects from the RRDP copy of {notify} seed the rsync mirror"),
            Err(e) => tracing::warn!("{module}: cannot seed the rsync mirror from {notify}'s copy: {e}"),
        }
    }

    fn ta_path(&self, uri: &str) -> PathBuf {
        let id = &rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(uri.as_bytes()))[..24];
        self.cache.join("ta").join(format!("{id}.cer"))
    }
}

impl Fetcher for Fetch {
    fn ta_cert(&self, uris: &[String]) -> Option<(String, Vec<u8>)> {
        let ordered = uris.iter().filter(|u| u.starts_with("https://")).chain(uris.iter().filter(|u| u.starts_with("rsync://")));
        for uri in ordered {
            let deadline = Instant::now() + self.opts.repository_timeout.min(Duration::from_secs(120));
            let got = if !self.opts.rrdp && !self.opts.rsync {
                continue;
            } else if uri.starts_with("https://") {
                self.http.get_bytes(uri, crate::store::MAX_OBJECT, deadline)
            } else if self.opts.rsync {
                rsync::fetch(&self.cache, uri, deadline, self.opts.rsync_io_timeout).and_then(|_| {
                    DirStore::new(rsync::mirror_root(&self.cache)).get(uri).ok_or_else(|| FetchError::Missing { uri: uri.clone() })
                })
            } else {
                continue;
            };
            match got {
                Ok(der) => {
                    let path = self.ta_path(&uris.join(" "));
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::create_dir_all(dir);
                    }
                    let _ = std::fs::write(&path, &der);
                    return Some((uri.clone(), der));
                }
                Err(e) => self.warn(uri, "TA-5", format!("cannot fetch the TA certificate: {e}")),
            }
        }
        // Every URI failed: the last good copy, checked against the TAL like a fresh one.
        let der = std::fs::read(self.ta_path(&uris.join(" "))).ok()?;
        let uri = uris.first()?.clone();
        self.warn(&uri, "TA-5", "using the TA certificate fetched by an earlier run".into());
        Some((uri, der))
    }

    fn publication_point<'s>(&'s self, ca_repository: &str, notify: Option<&str>) -> Result<Box<dyn Store + 's>, FetchError> {
        if let (true, Some(notify)) = (self.opts.rrdp, notify) {
            let cell = once(&self.rrdp, notify);
            if let Ok(pack) = cell.get_or_init(|| self.rrdp_update(notify)) {
                return Ok(Box::new(pack.clone()));
            }
        }
        if !self.opts.rsync {
            return Err(FetchError::NoTransport);
        }
        let module =
            rpkit_objects::uri::rsync_module(ca_repository).ok_or_else(|| FetchError::UnsafeUri { uri: ca_repository.to_string() })?;
        let cell = once(&self.rsync, &module);
        let seed = notify.filter(|_| self.opts.rrdp);
        match cell.get_or_init(|| self.rsync_module(&module, seed).map_err(Arc::new)) {
            Ok(()) => Ok(Box::new(DirStore::new(rsync::mirror_root(&self.cache)))),
            Err(e) => Err(FetchError::Shared(e.clone())),
        }
    }

    fn take_warnings(&self) -> Vec<Warning> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
