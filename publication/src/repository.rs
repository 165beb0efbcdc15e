//! Repository state: the current objects and one RRDP serial per accepted change
//! set. A change set is checked against RFC 8181 rules (hashes, the publisher's
//! base URI) and the shrink guard, then applied in one SQLite transaction; its
//! delta is kept with it so RRDP files can always be rebuilt.

use rpkit_objects::crypto::sha256;
use rpkit_objects::rfc8181::{Change, ChangeSet, ErrorCode};
use rpkit_serve::args;
use rpkit_serve::db::{Db, DbError, Location, Mode, Schema, Sql};
use std::path::Path;

/// SQLite's migrations, in order.
const SQLITE: &[&str] = &[
    "
    CREATE TABLE session (id TEXT NOT NULL, serial INTEGER NOT NULL);
    CREATE TABLE objects (
        uri TEXT PRIMARY KEY,
        hash BLOB NOT NULL,
        der BLOB NOT NULL
    );
    -- The delta of every serial: (serial, uri, new object or NULL, hash of the replaced object or NULL).
    CREATE TABLE changes (
        serial INTEGER NOT NULL,
        uri TEXT NOT NULL,
        der BLOB,
        replaces BLOB,
        PRIMARY KEY (serial, uri)
    );
    CREATE TABLE serials (serial INTEGER PRIMARY KEY, created INTEGER NOT NULL);
    -- RRDP files written: kind is 'snapshot' or 'delta'; path relative to the RRDP directory.
    CREATE TABLE files (
        serial INTEGER NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        hash BLOB NOT NULL,
        size INTEGER NOT NULL,
        written INTEGER NOT NULL,
        PRIMARY KEY (serial, kind)
    );
",
    "
    -- Each accepted change set is a revision; an RRDP serial covers a run of
    -- revisions (at most one serial per batching interval).
    ALTER TABLE changes RENAME COLUMN serial TO rev;
    ALTER TABLE session ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    UPDATE session SET rev = serial;
    ALTER TABLE serials ADD COLUMN first_rev INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE serials ADD COLUMN last_rev INTEGER NOT NULL DEFAULT 0;
    UPDATE serials SET first_rev = serial, last_rev = serial;
    -- RFC 8181 publishers: the identity that signs their messages, the base URI they own.
    CREATE TABLE publishers (
        handle TEXT PRIMARY KEY,
        id_cert BLOB NOT NULL,
        base_uri TEXT NOT NULL UNIQUE,
        added INTEGER NOT NULL
    );
    -- The server's own BPKI identity: its key, a message-signing key, the identity certificate.
    CREATE TABLE identity (key BLOB NOT NULL, ee_key BLOB NOT NULL, cert BLOB NOT NULL);
",
    "
    -- The object count, kept so a change costs O(change) (no COUNT(*) scan).
    ALTER TABLE session ADD COLUMN objects INTEGER NOT NULL DEFAULT 0;
    UPDATE session SET objects = (SELECT COUNT(*) FROM objects);
",
    "
    -- The highest fencing token each publisher's CA nodes sent (Rpkit-Fence).
    ALTER TABLE publishers ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
",
];

/// PostgreSQL's migrations: the first is SQLite's three in one.
const POSTGRES: &[&str] = &["
    CREATE TABLE session (id TEXT NOT NULL, serial BIGINT NOT NULL, rev BIGINT NOT NULL DEFAULT 0, objects BIGINT NOT NULL DEFAULT 0);
    CREATE TABLE objects (uri TEXT COLLATE \"C\" PRIMARY KEY, hash BYTEA NOT NULL, der BYTEA NOT NULL);
    CREATE TABLE changes (rev BIGINT NOT NULL, uri TEXT COLLATE \"C\" NOT NULL, der BYTEA, replaces BYTEA, PRIMARY KEY (rev, uri));
    CREATE TABLE serials (serial BIGINT PRIMARY KEY, created BIGINT NOT NULL, first_rev BIGINT NOT NULL DEFAULT 0, last_rev BIGINT NOT NULL DEFAULT 0);
    CREATE TABLE files (
        serial BIGINT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, hash BYTEA NOT NULL,
        size BIGINT NOT NULL, written BIGINT NOT NULL, PRIMARY KEY (serial, kind)
    );
    CREATE TABLE publishers (handle TEXT PRIMARY KEY, id_cert BYTEA NOT NULL, base_uri TEXT COLLATE \"C\" NOT NULL UNIQUE, added BIGINT NOT NULL);
    CREATE TABLE identity (key BYTEA NOT NULL, ee_key BYTEA NOT NULL, cert BYTEA NOT NULL);
", "
    ALTER TABLE publishers ADD COLUMN fence BIGINT NOT NULL DEFAULT 0;
"];

/// The repository's schema on either backend.
pub const SCHEMA: Schema = Schema { name: "publication", sqlite: SQLITE, postgres: POSTGRES, secure_delete: false };

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
        let mut db = Db::open(at, &SCHEMA)?;
        db.with(Mode::Write, |tx| {
            if !tx.value::<bool>("SELECT EXISTS (SELECT 1 FROM session)", args![])? {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
                tx.execute("INSERT INTO session (id, serial, rev) VALUES (?1, 1, 0)", args![new_session_id()])?;
                tx.execute("INSERT INTO serials (serial, created, first_rev, last_rev) VALUES (1, ?1, 0, 0)", args![now])?;
            }
            Ok::<_, DbError>(())
        })?;
        Ok(Repository { db, guard: ShrinkGuard::default() })
    }

    /// The RRDP session id and the current serial.
    pub fn session(&self) -> Result<(String, u64), RepoError> {
        let r = self.db.query_one("SELECT id, serial FROM session", args![])?;
        Ok((r.get(0)?, r.get(1)?))
    }

    pub fn object_count(&self) -> Result<usize, RepoError> {
        Ok(self.db.value("SELECT objects FROM session", args![])?)
    }

    /// One current object.
    pub fn object(&self, uri: &str) -> Result<Option<Vec<u8>>, RepoError> {
        Ok(self.db.value_opt("SELECT der FROM objects WHERE uri = ?1", args![uri])?)
    }

    /// Every current object (URI, SHA-256) under `base` (RFC 8181 `list`).
    pub fn list(&self, base: &str) -> Result<Vec<(String, [u8; 32])>, RepoError> {
        let rows = self.db.query(
            "SELECT uri, hash FROM objects WHERE substr(uri, 1, length(CAST(?1 AS TEXT))) = CAST(?1 AS TEXT) ORDER BY uri",
            args![base],
        )?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
    }

    /// Visit every current object in URI order (the snapshot), without loading
    /// them all. `f` must not query the repository.
    pub fn for_each_object(&self, mut f: impl FnMut(&str, &[u8]) -> std::io::Result<()>) -> Result<(), RepoError> {
        self.db.for_each("SELECT uri, der FROM objects ORDER BY uri", args![], |r| {
            let uri: String = r.get(0)?;
            f(&uri, r.blob(1)?).map_err(|e| RepoError::refused(ErrorCode::OtherError, e.to_string()))
        })
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
        let r = self.db.query_one("SELECT first_rev, last_rev FROM serials WHERE serial = ?1", args![serial as i64])?;
        let (first, last): (i64, i64) = (r.get(0)?, r.get(1)?);
        // Per URI: the state before the first revision (`replaces`) and after the last (`der`).
        let mut cur: Option<DeltaElement> = None;
        // Created and withdrawn within the serial: nothing to tell.
        let mut emit = |e: DeltaElement| if e.der.is_some() || e.replaces.is_some() { f(e) } else { Ok(()) };
        self.db.for_each(
            "SELECT uri, der, replaces FROM changes WHERE rev BETWEEN ?1 AND ?2 ORDER BY uri, rev",
            args![first, last],
            |r| {
                let uri: String = r.get(0)?;
                let der: Option<Vec<u8>> = r.get(1)?;
                match &mut cur {
                    Some(c) if c.uri == uri => c.der = der,
                    _ => {
                        if let Some(done) = cur.take() {
                            emit(done)?;
                        }
                        cur = Some(DeltaElement { uri, der, replaces: r.get(2)? });
                    }
                }
                Ok::<(), RepoError>(())
            },
        )?;
        match cur {
            Some(done) => emit(done),
            None => Ok(()),
        }
    }

    /// Make the revisions applied since the last serial a new RRDP serial; `None`
    /// when there are none (no empty deltas, RRDPS-4).
    pub fn cut_serial(&mut self, now: i64) -> Result<Option<u64>, RepoError> {
        self.db.with(Mode::Write, |tx| {
            let r = tx.query_one("SELECT serial, rev FROM session", args![])?;
            let (serial, rev): (i64, i64) = (r.get(0)?, r.get(1)?);
            let last: i64 = tx.value("SELECT COALESCE(MAX(last_rev), 0) FROM serials", args![])?;
            if rev <= last {
                return Ok(None);
            }
            let next = serial + 1;
            tx.execute(
                "INSERT INTO serials (serial, created, first_rev, last_rev) VALUES (?1, ?2, ?3, ?4)",
                args![next, now, last + 1, rev],
            )?;
            tx.execute("UPDATE session SET serial = ?1", args![next])?;
            Ok(Some(next as u64))
        })
    }

    /// Start a new RRDP session at serial 1 over the current objects (RRDPS-4):
    /// when no correct delta can be produced, e.g. after a restore from backup.
    pub fn new_session(&mut self, now: i64) -> Result<String, RepoError> {
        let id = new_session_id();
        self.db.with(Mode::Write, |tx| {
            let rev: i64 = tx.value("SELECT rev FROM session", args![])?;
            tx.execute("UPDATE session SET id = ?1, serial = 1", args![id])?;
            tx.batch("DELETE FROM serials; DELETE FROM changes; DELETE FROM files;")?;
            tx.execute("INSERT INTO serials (serial, created, first_rev, last_rev) VALUES (1, ?1, ?2, ?2)", args![now, rev])?;
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
        let r = self.db.query_one("SELECT (SELECT rev FROM session), (SELECT COALESCE(MAX(last_rev), 0) FROM serials)", args![])?;
        let (rev, last): (i64, i64) = (r.get(0)?, r.get(1)?);
        Ok((rev - last).max(0) as u64)
    }

    /// Serials with a delta, oldest first, with their creation times.
    pub fn serials(&self) -> Result<Vec<(u64, i64)>, RepoError> {
        let rows = self.db.query("SELECT serial, created FROM serials WHERE serial > 1 ORDER BY serial", args![])?;
        rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?))).collect()
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
                if tx.execute("UPDATE publishers SET fence = ?2 WHERE handle = ?1 AND fence <= ?2", args![handle, token])? == 0 {
                    let newest: i64 = tx.value_opt("SELECT fence FROM publishers WHERE handle = ?1", args![handle])?.unwrap_or(0);
                    return Err(RepoError::refused(
                        ErrorCode::OtherError,
                        format!("fencing token {token} is older than {newest}: this CA node lost its lease to another node"),
                    ));
                }
            }
            let r = tx.query_one("SELECT rev, objects FROM session", args![])?;
            let (rev, total): (i64, usize) = (r.get::<i64>(0)? + 1, r.get(1)?);
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
                let current: Option<[u8; 32]> = tx.value_opt("SELECT hash FROM objects WHERE uri = ?1", args![uri])?;
                match c {
                    Change::Publish { der, replaces, .. } => {
                        match (replaces, current) {
                            (None, Some(_)) => return Err(RepoError::refused(ErrorCode::ObjectAlreadyPresent, uri)),
                            (Some(_), None) => return Err(RepoError::refused(ErrorCode::NoObjectPresent, uri)),
                            (Some(h), Some(c)) if *h != c => return Err(RepoError::refused(ErrorCode::NoObjectMatchingHash, uri)),
                            _ => {}
                        }
                        created += usize::from(current.is_none());
                        tx.execute(
                            "INSERT INTO objects (uri, hash, der) VALUES (?1, ?2, ?3) ON CONFLICT (uri) DO UPDATE SET hash = excluded.hash, der = excluded.der",
                            args![uri, sha256(der), der],
                        )?;
                        tx.execute("INSERT INTO changes (rev, uri, der, replaces) VALUES (?1, ?2, ?3, ?4)", args![rev, uri, der, current])?;
                    }
                    Change::Withdraw { hash, .. } => {
                        match current {
                            None => return Err(RepoError::refused(ErrorCode::NoObjectPresent, uri)),
                            Some(c) if c != *hash => return Err(RepoError::refused(ErrorCode::NoObjectMatchingHash, uri)),
                            _ => {}
                        }
                        tx.execute("DELETE FROM objects WHERE uri = ?1", args![uri])?;
                        tx.execute("INSERT INTO changes (rev, uri, der, replaces) VALUES (?1, ?2, NULL, ?3)", args![rev, uri, hash])?;
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
            tx.execute("UPDATE session SET rev = ?1, objects = ?2", args![rev, after as i64])?;
            Ok(Some(rev as u64))
        })
    }

    /// Record an RRDP file written for `serial` (`kind`: snapshot or delta).
    /// A write transaction, so that a node that lost its lease records nothing.
    pub fn record_file(&mut self, kind: &str, f: &RrdpFile) -> Result<(), RepoError> {
        self.db.with(Mode::Write, |tx| {
            tx.execute(
                "INSERT INTO files (serial, kind, path, hash, size, written) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (serial, kind) DO UPDATE SET path = excluded.path, hash = excluded.hash, size = excluded.size, written = excluded.written",
                args![f.serial as i64, kind, f.path, f.hash, f.size as i64, f.written],
            )?;
            Ok(())
        })
    }

    /// RRDP files of a kind, oldest serial first.
    pub fn files(&self, kind: &str) -> Result<Vec<RrdpFile>, RepoError> {
        let rows = self.db.query("SELECT serial, path, hash, size, written FROM files WHERE kind = ?1 ORDER BY serial", args![kind])?;
        rows.iter()
            .map(|r| Ok(RrdpFile { serial: r.get(0)?, path: r.get(1)?, hash: r.get(2)?, size: r.get(3)?, written: r.get(4)? }))
            .collect()
    }

    pub fn forget_file(&mut self, kind: &str, serial: u64) -> Result<(), RepoError> {
        self.db.with(Mode::Write, |tx| {
            tx.execute("DELETE FROM files WHERE kind = ?1 AND serial = ?2", args![kind, serial as i64])?;
            Ok(())
        })
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
            if let Some(first) = tx.value_opt::<i64>("SELECT first_rev FROM serials WHERE serial = ?1", args![keep_from as i64])? {
                tx.execute("DELETE FROM changes WHERE rev < ?1", args![first])?;
            }
            tx.execute("DELETE FROM serials WHERE serial < ?1 AND serial > 1", args![keep_from as i64])?;
            Ok(())
        })
    }
}
