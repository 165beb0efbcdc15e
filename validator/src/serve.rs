//! The validator daemon: validation runs every `refresh`, each complete
//! result replacing the last at once for RTR and HTTP; a failed run keeps the
//! previous result and says so in `/status` and `/metrics`. A partial result
//! is never served.

use crate::error::RunError;
use crate::fetch::RepoFetch;
use crate::report::Report;
use crate::rtr::payload::Snapshot;
use crate::rtr::pdu::Timers;
use crate::rtr::server::Clients;
use crate::rtr::state::{Cache, State};
use crate::run::{run, RunConfig};
use rpkit_objects::der::Time;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A complete validation result, as served.
pub struct Published {
    pub report: Report,
    /// When the run that made it started.
    pub generated: Time,
    pub completed: Instant,
    pub run_secs: f64,
    pub repositories: Vec<RepoFetch>,
    /// The RTR serial it was served under.
    pub serial: u32,
    json: OnceLock<String>,
    csv: OnceLock<String>,
}

impl Published {
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| crate::output::json(&self.report, self.generated))
    }
    pub fn csv(&self) -> &str {
        self.csv.get_or_init(|| crate::output::csv(&self.report))
    }
}

/// One run's outcome, for `/status`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunOutcome {
    pub started: String,
    pub seconds: f64,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Default)]
pub struct Status {
    pub runs: u64,
    pub failed_runs: u64,
    pub last: Option<RunOutcome>,
}

/// What the RTR and HTTP sides read.
pub struct Shared {
    pub data: RwLock<Option<Arc<Published>>>,
    pub status: Mutex<Status>,
    pub clients: Arc<Clients>,
    pub states: watch::Receiver<Option<Arc<State>>>,
    /// `/health` fails when the data is older than this.
    pub max_age: Duration,
    pub started: Instant,
}

impl Shared {
    pub fn current(&self) -> Option<Arc<Published>> {
        self.data.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Clone, Debug)]
pub struct DaemonConfig {
    pub run: RunConfig,
    /// Pause between the end of one run and the start of the next.
    pub refresh: Duration,
    /// Older serials answered incrementally (RTR-5).
    pub history: usize,
    pub timers: Timers,
    pub max_age: Duration,
}

/// The validation loop's handle: the shared view and the RTR state sender.
pub struct Daemon {
    pub shared: Arc<Shared>,
    tx: watch::Sender<Option<Arc<State>>>,
    cache: Mutex<Cache>,
    cfg: DaemonConfig,
}

impl Daemon {
    pub fn new(cfg: DaemonConfig) -> Daemon {
        let (tx, rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            data: RwLock::new(None),
            status: Mutex::new(Status::default()),
            clients: Arc::new(Clients::default()),
            states: rx,
            max_age: cfg.max_age,
            started: Instant::now(),
        });
        Daemon { shared, tx, cache: Mutex::new(Cache::new(cfg.history, cfg.timers)), cfg }
    }

    /// One run; on success its result replaces the served one whole.
    pub fn run_once(&self) -> Result<(), RunError> {
        let started = Time::now();
        let t = Instant::now();
        let result = run(&self.cfg.run, started);
        let seconds = t.elapsed().as_secs_f64();
        let mut status = self.shared.status.lock().unwrap_or_else(|e| e.into_inner());
        status.runs += 1;
        let outcome = |ok, error| RunOutcome { started: started.rfc3339(), seconds, ok, error };
        match result {
            Ok(r) => {
                let snapshot = Snapshot::from_report(&r.report);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                let changed = cache.update(snapshot);
                let serial = cache.current().map(|s| s.serial).unwrap_or(0);
                let published = Published {
                    report: r.report,
                    generated: started,
                    completed: Instant::now(),
                    run_secs: seconds,
                    repositories: r.repositories,
                    serial,
                    json: OnceLock::new(),
                    csv: OnceLock::new(),
                };
                *self.shared.data.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(published));
                if let Some(state) = changed {
                    self.tx.send_replace(Some(state));
                }
                status.last = Some(outcome(true, None));
                tracing::info!("validation run done in {seconds:.1} s; serial {serial}");
                Ok(())
            }
            Err(e) => {
                status.failed_runs += 1;
                status.last = Some(outcome(false, Some(e.to_string())));
                tracing::warn!("validation run failed: {e}");
                Err(e)
            }
        }
    }

    /// Run forever (on a thread of its own): a run, then `refresh`, until `stop` turns true.
    pub fn run_loop(&self, stop: &std::sync::atomic::AtomicBool) {
        use std::sync::atomic::Ordering;
        while !stop.load(Ordering::Relaxed) {
            let _ = self.run_once();
            let until = Instant::now() + self.cfg.refresh;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100).min(until.saturating_duration_since(Instant::now())));
            }
        }
    }
}
