//! Repository state: the current objects and one RRDP serial per accepted change
//! set. A change set is checked against RFC 8181 rules (hashes, the publisher's
//! base URI) and the shrink guard, then applied in one SQLite transaction; its
//! delta is kept with it so RRDP files can always be rebuilt. The SQL is in
//! `store`.

use crate::store;
use rpkit_objects::rfc8181::{Change, ChangeSet, ErrorCode};
use rpkit_serve::db::{Db, DbError, Location, Mode};
use std::path::Path;

pub use crate::store::SCHEMA;

/// An RRDP file on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrdpFile {
    pub serial: u64,
    pub path: String,
    pub hash: [u8; 32],
    pub size: u64,
    pub written: i64,
}

/// Why an operation failed; a refused or failed change set applied nothing.
/// A refusal is the publisher's fault, with its RFC 8181 code; a database or
/// disk fault is the server's, and is logged as such.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("{code:?}: {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("database: {0}")]
    Storage(#[from] DbError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

impl RepoError {
    pub(crate) fn refused(code: ErrorCode, message: impl Into<String>) -> Self {
        RepoError::Refused { code, message: message.into() }
    }

    /// A disk fault while doing `what`.
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        RepoError::Io { what: what.into(), source }
    }

    /// The RFC 8181 error code a publisher is told (RFC 8181 §2.5): its
    /// refusal's, or `other_error` for the server's own faults.
    pub fn code(&self) -> ErrorCode {
        match self {
            RepoError::Refused { code, .. } => *code,
            RepoError::Storage(_) | RepoError::Io { .. } => ErrorCode::OtherError,
        }
    }
}

/// Settings of the shrink guard (Krill once published an empty repository).
#[derive(Clone, Copy, Debug)]
pub struct ShrinkGuard {
    /// Refuse a change set that withdraws more than this share of all objects.
    pub max_share: f64,
    /// ... unless the repository holds fewer objects than this.
    pub min_objects: usize,
    /// The floor: refuse a change set that withdraws objects and leaves fewer
    /// than this (RIPE NCC's repository refuses below 100,000); 0 is no floor.
    pub floor: usize,
}

impl Default for ShrinkGuard {
    fn default() -> Self {
        ShrinkGuard { max_share: 0.10, min_objects: 100, floor: 0 }
    }
}

pub struct Repository {
    pub(crate) db: Db,
    pub guard: ShrinkGuard,
}

/// One element of a delta as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaElement {
    pub uri: String,
    /// The new object (publish) or `None` (withdraw).
    pub der: Option<Vec<u8>>,
    /// Hash of the object replaced or withdrawn (RRDPS-7).
    pub replaces: Option<[u8; 32]>,
}

fn new_session_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let h = rpkit_objects::hex::lower(&b);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl Repository {
    /// Open or create the repository in SQLite at `path` (`None`: in memory).
    pub fn open(path: Option<&Path>) -> Result<Self, RepoError> {
        Self::open_at(&Location::Sqlite(path.map(Path::to_path_buf)))
    }

    /// Open or create the repository; a new one starts a session at serial 1
    /// with no objects (RRDPS-1).
    pub fn open_at(at: &Location) -> Result<Self, RepoError> {
        let mut db = store::open(at)?;
        db.with(Mode::Write, |tx| {
            if !store::session::exists(tx)? {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                store::session::create(tx, &new_session_id())?;
                store::serials::first(tx, now)?;
            }
            Ok::<_, DbError>(())
        })?;
        Ok(Repository { db, guard: ShrinkGuard::default() })
    }

    /// The RRDP session id and the current serial.
    pub fn session(&self) -> Result<(String, u64), RepoError> {
        Ok(store::session::id_and_serial(&self.db)?)
    }

    pub fn object_count(&self) -> Result<usize, RepoError> {
        Ok(store::session::object_count(&self.db)?)
    }

    /// One current object.
    pub fn object(&self, uri: &str) -> Result<Option<Vec<u8>>, RepoError> {
        Ok(store::objects::der(&self.db, uri)?)
    }

    /// Every current object (URI, SHA-256) under `base` (RFC 8181 `list`).
    pub fn list(&self, base: &str) -> Result<Vec<(String, [u8; 32])>, RepoError> {
        Ok(store::objects::under(&self.db, base)?)
    }

    /// Visit every current object in URI order (the snapshot), without loading
    /// them all. `f` must not query the repository.
    pub fn for_each_object(&self, mut f: impl FnMut(&str, &[u8]) -> std::io::Result<()>) -> Result<(), RepoError> {
        store::objects::for_each(&self.db, |uri, der| f(uri, der).map_err(|e| RepoError::refused(ErrorCode::OtherError, e.to_string())))
    }

    /// The delta of one serial: its revisions merged per URI (in URI order), so
    /// an object published and withdrawn within one serial does not appear.
    pub fn delta(&self, serial: u64) -> Result<Vec<DeltaElement>, RepoError> {
        let mut out = Vec::new();
        self.for_each_delta(serial, |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    /// `delta`, one element at a time: a serial holding every object (the
    /// first after a bulk load) is never in memory at once.
    pub fn for_each_delta(&self, serial: u64, mut f: impl FnMut(DeltaElement) -> Result<(), RepoError>) -> Result<(), RepoError> {
        let (first, last) = store::serials::revs(&self.db, serial)?;
        // Per URI: the state before the first revision (`replaces`) and after the last (`der`).
        let mut cur: Option<DeltaElement> = None;
        // Created and withdrawn within the serial: nothing to tell.
        let mut emit = |e: DeltaElement| if e.der.is_some() || e.replaces.is_some() { f(e) } else { Ok(()) };
        store::changes::for_each_between(&self.db, first, last, |e| {
            match &mut cur {
                Some(c) if c.uri == e.uri => c.der = e.der,
                _ => {
                    if let Some(done) = cur.take() {
                        emit(done)?;
                    }
                    cur = Some(e);
                }
            }
            Ok::<(), RepoError>(())
        })?;
        match cur {
            Some(done) => emit(done),
            None => Ok(()),
        }
    }

    /// Make the revisions applied since the last serial a new RRDP serial; `None`
    /// when there are none (no empty deltas, RRDPS-4).
    pub fn cut_serial(&mut self, now: i64) -> Result<Option<u64>, RepoError> {
        self.db.with(Mode::Write, |tx| {
            let (serial, rev) = store::session::serial_and_rev(tx)?;
            let last = store::serials::last_rev(tx)?;
            if rev <= last {
                return Ok(None);
            }
            let next = serial + 1;
            store::serials::insert(tx, next, now, last + 1, rev)?;
            store::session::set_serial(tx, next)?;
            Ok(Some(next as u64))
        })
    }

    /// Start a new RRDP session at serial 1 over the current objects (RRDPS-4):
    /// when no correct delta can be produced, e.g. after a restore from backup.
    pub fn new_session(&mut self, now: i64) -> Result<String, RepoError> {
        let id = new_session_id();
        self.db.with(Mode::Write, |tx| {
            let rev = store::session::rev(tx)?;
            store::session::restart(tx, &id)?;
            store::serials::forget_all(tx)?;
            store::serials::restart(tx, now, rev)?;
            Ok::<_, RepoError>(())
        })?;
        Ok(id)
    }

    /// Open a read transaction: later reads see one consistent state.
    pub fn begin_read(&self) -> Result<(), RepoError> {
        Ok(self.db.pin_read()?)
    }

    pub fn end_read(&self) -> Result<(), RepoError> {
        Ok(self.db.unpin_read()?)
    }

    /// Revisions applied but not yet part of a serial.
    pub fn pending_revisions(&self) -> Result<u64, RepoError> {
        let (rev, last) = store::serials::applied_and_covered(&self.db)?;
        Ok((rev - last).max(0) as u64)
    }

    /// Serials with a delta, oldest first, with their creation times.
    pub fn serials(&self) -> Result<Vec<(u64, i64)>, RepoError> {
        Ok(store::serials::with_delta(&self.db)?)
    }

    /// Apply a publisher's change set as one revision; `cut_serial` makes it
    /// (with others) an RRDP serial. `base` confines the publisher (RFC 8181
    /// §2.4: permission_failure outside it); `force` skips the shrink guard.
    /// An empty change set is no revision. Returns the revision.
    pub fn apply(&mut self, base: &str, cs: &ChangeSet, force: bool) -> Result<Option<u64>, RepoError> {
        self.apply_fenced(base, cs, force, None)
    }

    /// `apply`, refused when `fence` (a publisher's handle and the fencing
    /// token its CA node sent) is below a token that publisher sent before:
    /// that node lost its lease to another (see the CA's node.rs).
    pub fn apply_fenced(&mut self, base: &str, cs: &ChangeSet, force: bool, fence: Option<(&str, i64)>) -> Result<Option<u64>, RepoError> {
        if cs.is_empty() {
            return Ok(None);
        }
        let guard = self.guard;
        self.db.with(Mode::Write, |tx| {
            if let Some((handle, token)) = fence {
                if !store::publishers::advance_fence(tx, handle, token)? {
                    let newest = store::publishers::fence(tx, handle)?.unwrap_or(0);
                    return Err(RepoError::refused(
                        ErrorCode::OtherError,
                        format!("fencing token {token} is older than {newest}: this CA node lost its lease to another node"),
                    ));
                }
            }
            let (rev, total) = store::session::rev_and_objects(tx)?;
            let rev = rev + 1;
            let mut created = 0usize;
            let mut seen = std::collections::HashSet::new();
            let mut withdrawn = 0usize;
            for c in &cs.changes {
                let uri = c.uri();
                if !uri.starts_with(base) || rpkit_objects::uri::rsync_safe(uri).is_none() {
                    return Err(RepoError::refused(ErrorCode::PermissionFailure, format!("{uri} is outside {base}")));
                }
                if !seen.insert(uri.to_string()) {
                    return Err(RepoError::refused(ErrorCode::ConsistencyProblem, format!("{uri} appears twice in one message")));
                }
                let current = store::objects::hash(tx, uri)?;
                match c {
                    Change::Publish { der, replaces, .. } => {
                        match (replaces, current) {
                            (None, Some(_)) => return Err(RepoError::refused(ErrorCode::ObjectAlreadyPresent, uri)),
                            (Some(_), None) => return Err(RepoError::refused(ErrorCode::NoObjectPresent, uri)),
                            (Some(h), Some(c)) if *h != c => return Err(RepoError::refused(ErrorCode::NoObjectMatchingHash, uri)),
                            _ => {}
                        }
                        created += usize::from(current.is_none());
                        store::objects::put(tx, uri, der)?;
                        store::changes::publish(tx, rev, uri, der, current)?;
                    }
                    Change::Withdraw { hash, .. } => {
                        match current {
                            None => return Err(RepoError::refused(ErrorCode::NoObjectPresent, uri)),
                            Some(c) if c != *hash => return Err(RepoError::refused(ErrorCode::NoObjectMatchingHash, uri)),
                            _ => {}
                        }
                        store::objects::delete(tx, uri)?;
                        store::changes::withdraw(tx, rev, uri, hash)?;
                        withdrawn += 1;
                    }
                }
            }
            if !force && total >= guard.min_objects && withdrawn as f64 > guard.max_share * total as f64 {
                let msg = format!(
                    "withdrawing {withdrawn} of {total} objects exceeds the shrink guard ({:.0}%); use force if this is intended",
                    guard.max_share * 100.0
                );
                return Err(RepoError::refused(ErrorCode::ConsistencyProblem, msg));
            }
            let after = total + created - withdrawn;
            if !force && withdrawn > 0 && after < guard.floor {
                let msg = format!(
                    "withdrawing {withdrawn} objects would leave {after}, below the repository's floor of {} (--min-objects); use force if this is intended",
                    guard.floor
                );
                return Err(RepoError::refused(ErrorCode::ConsistencyProblem, msg));
            }
            store::session::set_rev(tx, rev, after as i64)?;
            Ok(Some(rev as u64))
        })
    }

    /// Record an RRDP file written for `serial` (`kind`: snapshot or delta).
    /// A write transaction, so that a node that lost its lease records nothing.
    pub fn record_file(&mut self, kind: &str, f: &RrdpFile) -> Result<(), RepoError> {
        self.db.with(Mode::Write, |tx| Ok(store::files::record(tx, kind, f)?))
    }

    /// RRDP files of a kind, oldest serial first.
    pub fn files(&self, kind: &str) -> Result<Vec<RrdpFile>, RepoError> {
        Ok(store::files::of_kind(&self.db, kind)?)
    }

    pub fn forget_file(&mut self, kind: &str, serial: u64) -> Result<(), RepoError> {
        self.db.with(Mode::Write, |tx| Ok(store::files::forget(tx, kind, serial)?))
    }

    /// Check `fence` before every write commits (nodes sharing the database).
    pub fn set_fence(&mut self, fence: std::sync::Arc<rpkit_serve::db::Fence>) {
        self.db.set_fence(fence);
    }

    /// Forget deltas older than `keep_from` (they are no longer listed).
    pub fn prune_deltas(&mut self, keep_from: u64) -> Result<(), RepoError> {
        // A write from the start: a read turned write would fail at once (not
        // wait) if an RFC 8181 change committed in between.
        self.db.with(Mode::Write, |tx| {
            if let Some(first) = store::serials::first_rev(tx, keep_from)? {
                store::changes::delete_before(tx, first)?;
            }
            store::serials::delete_before(tx, keep_from)?;
            Ok(())
        })
    }
}
