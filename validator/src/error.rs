//! The validator's errors. A fetch fails by the repository's fault (its server
//! refused or failed, its data broke a rule) or by ours (`FetchError::Io`: our
//! own disk); neither stops a run, which then uses the last validated copy
//! (MFT-14). A run stops only on its own input (TALs, SLURM files) or set-up.

use rpkit_objects::rrdp::{Kind, XmlError};
use std::path::PathBuf;
use std::sync::Arc;

/// Why a repository, or a TA certificate, could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request or its body failed on the way (connection, TLS, redirect,
    /// timeout): the error and its causes as text.
    #[error("{url}: {detail}")]
    Transport { url: String, detail: String },
    /// A status RRDP does not allow (RRDPC-13).
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    /// A body above its bound (RRDPC-15).
    #[error("{url}: larger than the limit of {max} bytes")]
    TooLarge { url: String, max: u64 },
    #[error("{url}: the repository's time limit has passed")]
    TimeLimit { url: String },
    /// A 304 answering a request that was not conditional (RRDPC-13).
    #[error("{url}: unexpected 304")]
    NotModified { url: String },
    /// The notification is not a valid one (RFC 8182 §3.5.1).
    #[error("notification {uri}: {source}")]
    Notification { uri: String, source: XmlError },
    /// A snapshot or delta away from the notification's origin (RFC 9674, RRDPC-3).
    #[error("notification {notify}: {uri} is not on the notification's origin (RFC 9674)")]
    ForeignOrigin { notify: String, uri: String },
    /// A snapshot or delta that is invalid or does not apply to the copy held
    /// (RRDPC-7, RRDPC-12, RRDPC-14).
    #[error("{} {uri}: {source}", .kind.root())]
    Document { kind: Kind, uri: String, source: XmlError },
    /// A snapshot or delta of another session or serial than the notification's.
    #[error("{} {uri}: session {session} serial {serial} is not the notification's {want_session} {want_serial}", .kind.root())]
    Session { kind: Kind, uri: String, session: String, serial: u64, want_session: String, want_serial: u64 },
    /// A snapshot (RRDPC-8) or delta (RRDPC-6) whose hash is not the notification's.
    #[error("{} {uri}: its hash differs from the notification's ({rule})", .kind.root())]
    Hash { kind: Kind, uri: String, rule: &'static str },
    /// A file of our own cache could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// RSYNC-3: never handed to rsync nor mapped to a path.
    #[error("unsafe rsync URI {uri:?} (RSYNC-3)")]
    UnsafeUri { uri: String },
    /// rsync could not be started or waited for.
    #[error("rsync {uri}: cannot run: {source}")]
    RsyncProcess { uri: String, source: std::io::Error },
    /// RSYNC-2: killed at the deadline.
    #[error("rsync {uri}: stopped at the repository's time limit (RSYNC-2)")]
    RsyncTimeLimit { uri: String },
    /// rsync failed: its exit status and last line of error output.
    #[error("rsync {uri}: {status}: {last}")]
    RsyncExit { uri: String, status: std::process::ExitStatus, last: String },
    /// The fetch succeeded but the file is not there (a TA certificate over rsync).
    #[error("{uri}: not fetched")]
    Missing { uri: String },
    /// PIT-18: no fetch starts after 7/8 of the run timeout.
    #[error("not fetched: the run's fetch deadline has passed (7/8 of the run timeout)")]
    Deadline,
    /// PIT-17: the run's bound on repositories contacted.
    #[error("not fetched: more than {0} repositories in this run")]
    TooManyRepositories(usize),
    /// RRDP failed or is not offered, and there is no rsync to fall back to (RRDPC-11).
    #[error("RRDP failed or is not offered, and rsync is off")]
    NoTransport,
    /// The failure of a fetch made once for every CA of a repository.
    #[error(transparent)]
    Shared(Arc<FetchError>),
}

/// Why a validated point could not be kept in the cache: our side, never the repository's.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("unsafe URI {0:?}")]
    UnsafeUri(String),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Why SLURM files (RFC 8416) are refused; the run then does not start (SLURM-11).
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error("{}: {source}", .path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    /// What is wrong with the file at `path`.
    #[error("{}: {source}", .path.display())]
    File { path: PathBuf, source: Box<SlurmError> },
    #[error("not a SLURM file: the top level must be a JSON object (SLURM-1)")]
    NotObject,
    #[error("not JSON: {0} (SLURM-1)")]
    NotJson(serde_json::Error),
    #[error("no numeric slurmVersion (SLURM-1)")]
    NoVersion,
    /// SLURM-13: version 2 (ASPA) is still a draft.
    #[error("slurmVersion {0} is not supported; only 1 (RFC 8416, SLURM-13)")]
    Version(u64),
    /// Members or value types other than RFC 8416 §3's (SLURM-1).
    #[error("not a SLURM file: {0} (SLURM-1)")]
    Schema(serde_json::Error),
    /// Every wrong entry, not only the first.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Entries(Vec<BadEntry>),
    /// SLURM-12 (RFC 8416 §4.2).
    #[error("{} and {} overlap ({why}); neither is used (SLURM-12)", .first.display(), .second.display())]
    Overlap { first: PathBuf, second: PathBuf, why: String },
}

/// One wrong entry of a SLURM file: what is wrong, and the rule (SLURM-2, SLURM-3, SLURM-6).
#[derive(Debug, thiserror::Error)]
#[error("{detail} ({rule})")]
pub struct BadEntry {
    pub rule: &'static str,
    pub detail: String,
}

/// Why a validation run could not start. Repository faults never stop a run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no trust anchor: give --tal FILE (repeatable)")]
    NoTal,
    #[error("{}: {source}", .path.display())]
    TalUnreadable { path: PathBuf, source: std::io::Error },
    /// The TAL does not parse (RFC 8630 §2.2).
    #[error("{}: {} ({})", .path.display(), .source.detail, .source.rule)]
    TalInvalid { path: PathBuf, source: rpkit_objects::Error },
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    /// The cache directory cannot be created.
    #[error("{}: {source}", .path.display())]
    Cache { path: PathBuf, source: std::io::Error },
    /// An extra TLS root (`--rrdp-root-cert`) cannot be read.
    #[error("{}: {source}", .path.display())]
    RootCertUnreadable { path: PathBuf, source: std::io::Error },
    /// An extra TLS root is not a PEM certificate bundle.
    #[error("{}: {source}", .path.display())]
    RootCertNotPem { path: PathBuf, source: reqwest::Error },
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    #[error("validation threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}
