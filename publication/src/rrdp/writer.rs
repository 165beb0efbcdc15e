//! Writing RRDP files after each new serial: the delta of that serial, a
//! snapshot streamed from the database, then the notification listing the
//! snapshot and the retained deltas (RRDPS-2, RRDPS-3), replaced atomically.

use super::{segments, snapshot};
use crate::repository::{DeltaElement, RepoError, Repository, RrdpFile};
use rpkit_objects::rrdp::write as xml;
use segments::remove_file_and_dirs;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

/// Where and how RRDP files are written.
#[derive(Clone, Debug)]
pub struct RrdpConfig {
    /// Directory served at `base_uri`.
    pub dir: PathBuf,
    /// https URI of `dir`, ending in `/`; every file shares its origin (RFC 9674, RRDPS-8).
    pub base_uri: String,
    /// Deltas listed beyond this count only while younger than `min_delta_age_secs`
    /// (RPs fall back to the snapshot beyond a few hundred).
    pub max_deltas: usize,
    /// Deltas kept at least this long, within the size rule (BCP: 4 hours).
    pub min_delta_age_secs: i64,
    /// Files no longer listed stay this long for slow clients (RRDPS-9: at least 5 minutes).
    pub grace_secs: i64,
    /// A serial's delta is held in memory for the next snapshot up to this
    /// many bytes; a larger one (the first serial after a bulk load) is only
    /// streamed to its file, and the snapshot written in full: memory stays bounded.
    pub max_held_delta_bytes: usize,
    /// Snapshots as whole files or as shared segments (see `snapshot`).
    pub snapshot_layout: snapshot::Layout,
    /// Runs of a snapshot (segment files) close at this size.
    pub segment_bytes: u64,
}

impl RrdpConfig {
    pub fn new(dir: impl Into<PathBuf>, base_uri: &str) -> Self {
        RrdpConfig {
            dir: dir.into(),
            base_uri: base_uri.to_string(),
            max_deltas: 500,
            min_delta_age_secs: 4 * 3600,
            grace_secs: 2 * 3600,
            max_held_delta_bytes: 64 << 20,
            snapshot_layout: snapshot::Layout::Whole,
            segment_bytes: snapshot::SEGMENT_BYTES,
        }
    }
}

pub struct RrdpWriter {
    pub cfg: RrdpConfig,
    /// Snapshots written incrementally and in full (metrics, tests).
    pub incremental_snapshots: std::sync::atomic::AtomicU64,
    pub full_snapshots: std::sync::atomic::AtomicU64,
    /// Of the incremental ones, those joined from the previous file's index.
    pub joined_snapshots: std::sync::atomic::AtomicU64,
    /// The last snapshot written: its serial, file and index.
    last: std::sync::Mutex<Option<(u64, String, snapshot::Index)>>,
}

fn io_err(e: std::io::Error) -> RepoError {
    RepoError::io("writing RRDP files", e)
}

/// A writer that hashes and counts what it writes.
struct Hashing<W: Write> {
    inner: W,
    ctx: ring::digest::Context,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.ctx.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl RrdpWriter {
    pub fn new(cfg: RrdpConfig) -> Self {
        RrdpWriter {
            cfg,
            incremental_snapshots: Default::default(),
            full_snapshots: Default::default(),
            joined_snapshots: Default::default(),
            last: std::sync::Mutex::new(None),
        }
    }

    fn shape(&self) -> snapshot::Shape {
        snapshot::Shape { layout: self.cfg.snapshot_layout, target: self.cfg.segment_bytes }
    }

    /// Write a file under `dir` via a temporary name; returns its hash and size.
    fn write_file(&self, rel: &str, body: impl FnOnce(&mut dyn Write) -> Result<(), RepoError>) -> Result<([u8; 32], u64), RepoError> {
        let path = self.cfg.dir.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).map_err(io_err)?;
        }
        let tmp = path.with_extension("tmp");
        let file = std::fs::File::create(&tmp).map_err(io_err)?;
        let inner = BufWriter::with_capacity(1 << 20, file);
        let mut w = Hashing { inner, ctx: ring::digest::Context::new(&ring::digest::SHA256), len: 0 };
        body(&mut w)?;
        w.flush().map_err(io_err)?;
        let Hashing { inner, ctx, len } = w;
        inner.into_inner().map_err(|e| io_err(e.into_error()))?.sync_all().map_err(io_err)?;
        std::fs::rename(&tmp, &path).map_err(io_err)?;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(ctx.finish().as_ref());
        Ok((hash, len))
    }

    /// Make the revisions applied since the last call one new serial and bring
    /// the RRDP files up to it (see `update_with`). Returns the new serial, if any.
    pub fn update(&self, repo: &mut Repository, now: i64) -> Result<Option<u64>, RepoError> {
        self.update_with(repo, now, || (), |_| Ok(()))
    }

    /// As `update`, for a repository other connections publish into at the same
    /// time: `exclusive` returns a guard that keeps publishers out while the
    /// serial is cut and a read transaction opens, so the files written (and
    /// whatever `also` writes, e.g. the rsync tree) show exactly that serial.
    /// The delta of every serial not yet written, the snapshot of the current
    /// serial, then the notification (RRDPS-9: files before the notification).
    pub fn update_with<G>(
        &self,
        repo: &mut Repository,
        now: i64,
        exclusive: impl FnOnce() -> G,
        also: impl FnOnce(&Repository) -> Result<(), RepoError>,
    ) -> Result<Option<u64>, RepoError> {
        let guard = exclusive();
        let new = repo.cut_serial(now)?;
        repo.begin_read()?;
        drop(guard);
        let written = self.write_serial_files(repo, now).and_then(|files| {
            if new.is_some() {
                also(repo)?;
            }
            Ok(files)
        });
        repo.end_read()?;
        for (kind, f) in written? {
            repo.record_file(kind, &f)?;
        }
        self.write_notification(repo, now)?;
        Ok(new)
    }

    /// Inside a read transaction: the files missing for the current state.
    fn write_serial_files(&self, repo: &Repository, now: i64) -> Result<Vec<(&'static str, RrdpFile)>, RepoError> {
        let (session, serial) = repo.session()?;
        let mut out = Vec::new();
        // The current serial's delta, kept for the incremental snapshot.
        let mut current_delta = None;
        let written: std::collections::HashSet<u64> = repo.files("delta")?.iter().map(|f| f.serial).collect();
        for (s, _) in repo.serials()? {
            if written.contains(&s) {
                continue;
            }
            let rel = format!("{session}/{s}/{}/delta.xml", snapshot::random_hex());
            let ((hash, size), kept) = self.write_delta(repo, &session, s, &rel, s == serial)?;
            out.push(("delta", RrdpFile { serial: s, path: rel, hash, size, written: now }));
            if s == serial {
                current_delta = Some(kept);
            }
        }
        let snapshots = repo.files("snapshot")?;
        if !snapshots.iter().any(|f| f.serial == serial) {
            let rel = format!("{session}/{serial}/{}/snapshot.xml", snapshot::random_hex());
            let last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
            // From the previous snapshot and this serial's delta when both are at hand.
            let joined = match snapshots.iter().find(|f| f.serial + 1 == serial) {
                Some(prev) => {
                    // A delta too large to hold (the first serial after a bulk load): written in full.
                    let delta = match current_delta.take() {
                        Some(d) => d,
                        None => bounded_delta(repo, serial, self.cfg.max_held_delta_bytes)?,
                    };
                    delta.and_then(|delta| self.join(&prev.path, last, &delta, &session, serial, &rel))
                }
                None => None,
            };
            use std::sync::atomic::Ordering::Relaxed;
            let (hash, size, index) = match joined {
                Some(done) => {
                    self.incremental_snapshots.fetch_add(1, Relaxed);
                    done
                }
                None => {
                    self.full_snapshots.fetch_add(1, Relaxed);
                    snapshot::write_full(repo, &self.cfg.dir, &session, serial, &rel, self.shape())?
                }
            };
            *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((serial, rel.clone(), index));
            out.push(("snapshot", RrdpFile { serial, path: rel, hash, size, written: now }));
        }
        Ok(out)
    }

    /// Write the delta of `serial` at `rel`, streamed from the database: its
    /// hash and size, and (with `keep`) its elements if they are few enough
    /// to hold for the snapshot join.
    fn write_delta(
        &self,
        repo: &Repository,
        session: &str,
        serial: u64,
        rel: &str,
        keep: bool,
    ) -> Result<(([u8; 32], u64), Held), RepoError> {
        let mut kept = Kept::new(keep, self.cfg.max_held_delta_bytes);
        let (hash, size) = self.write_file(rel, |w| {
            xml::open(w, "delta", session, serial).map_err(io_err)?;
            repo.for_each_delta(serial, |e| {
                match (&e.der, &e.replaces) {
                    (Some(der), r) => xml::publish(w, &e.uri, r.as_ref(), der).map_err(io_err)?,
                    (None, Some(h)) => xml::withdraw(w, &e.uri, h).map_err(io_err)?,
                    (None, None) => {}
                }
                kept.push(e);
                Ok(())
            })?;
            w.write_all(b"</delta>\n").map_err(io_err)
        })?;
        Ok(((hash, size), kept.into_inner()))
    }

    /// Write again, at the paths the database names, the files this node
    /// lacks (a node taking over from another has none of them): each listed
    /// delta from its changes, and the current snapshot when no revision is
    /// pending (else the next serial brings a new one). A file that cannot be
    /// written with the recorded hash is forgotten, so the notification stops
    /// listing it. Returns the files written.
    pub fn restore(&self, repo: &mut Repository) -> Result<usize, RepoError> {
        let present = |f: &RrdpFile| std::fs::metadata(self.cfg.dir.join(&f.path)).is_ok_and(|m| m.len() == f.size);
        // A snapshot is kept as segments (or, written before them, whole).
        let stored = |f: &RrdpFile| present(f) || segments::stored_size(&self.cfg.dir, &f.path) == Some(f.size);
        repo.begin_read()?;
        let done = (|| {
            let (session, serial) = repo.session()?;
            let mut forget = Vec::new();
            let mut written = 0;
            // Deltas no longer listed (their changes pruned) stay gone.
            let kept: std::collections::HashSet<u64> = repo.serials()?.into_iter().map(|(s, _)| s).collect();
            for f in repo.files("delta")?.into_iter().filter(|f| kept.contains(&f.serial) && !present(f)) {
                let ((hash, _), _) = self.write_delta(repo, &session, f.serial, &f.path, false)?;
                if hash == f.hash {
                    written += 1;
                } else {
                    tracing::warn!(serial = f.serial, "the delta written again differs from the one listed: no longer listed");
                    remove_file_and_dirs(&self.cfg.dir, &f.path);
                    forget.push(("delta", f.serial));
                }
            }
            let current = repo.files("snapshot")?.into_iter().find(|f| f.serial == serial && !stored(f));
            if let Some(f) = current {
                if repo.pending_revisions()? > 0 {
                    forget.push(("snapshot", serial));
                } else {
                    let (hash, size, index) = snapshot::write_full(repo, &self.cfg.dir, &session, serial, &f.path, self.shape())?;
                    self.full_snapshots.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some((serial, f.path.clone(), index));
                    if hash != f.hash {
                        // The same objects, other bytes: list the snapshot as now written.
                        tracing::warn!(serial, "the snapshot written again differs from the one recorded: its new hash is listed");
                        return Ok((written + 1, forget, Some(RrdpFile { hash, size, ..f })));
                    }
                    written += 1;
                }
            }
            Ok::<_, RepoError>((written, forget, None))
        })();
        repo.end_read()?;
        let (written, forget, changed) = done?;
        for (kind, serial) in forget {
            repo.forget_file(kind, serial)?;
        }
        if let Some(f) = changed {
            repo.record_file("snapshot", &f)?;
        }
        Ok(written)
    }

    /// The snapshot of `serial` at `rel` from the previous one (at
    /// `prev_rel`) and `delta`: by the index held when it is the previous
    /// one's, else by one read back from its segments; `None` (write it in
    /// full) if that fails.
    fn join(
        &self,
        prev_rel: &str,
        last: Option<(u64, String, snapshot::Index)>,
        delta: &[DeltaElement],
        session: &str,
        serial: u64,
        rel: &str,
    ) -> Option<([u8; 32], u64, snapshot::Index)> {
        let held = last.filter(|(s, path, _)| s + 1 == serial && path == prev_rel).map(|(_, _, index)| index);
        let was_held = held.is_some();
        let index = match held {
            Some(index) => index,
            None => match snapshot::rebuild(&self.cfg.dir, prev_rel, self.cfg.segment_bytes) {
                Ok(index) => index,
                Err(e) => {
                    tracing::warn!("the snapshot before serial {serial} cannot be read back, writing this one in full: {e}");
                    return None;
                }
            },
        };
        match snapshot::join(&self.cfg.dir, &index, delta, (session, serial), rel, self.shape()) {
            Ok(done) => {
                if was_held {
                    self.joined_snapshots.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Some(done)
            }
            Err(e) => {
                tracing::warn!("joining the snapshot of serial {serial} failed, writing it in full: {e}");
                None
            }
        }
    }

    /// The notification: the current snapshot and the newest deltas whose total
    /// size stays below the snapshot's (RRDPS-3), contiguous down from the serial.
    fn write_notification(&self, repo: &mut Repository, now: i64) -> Result<(), RepoError> {
        let (session, serial) = repo.session()?;
        let snapshot = repo.files("snapshot")?.into_iter().find(|f| f.serial == serial);
        let snapshot = snapshot.ok_or_else(|| io_err(std::io::Error::other("no snapshot for the current serial")))?;
        let mut listed: Vec<RrdpFile> = Vec::new();
        let mut total = 0u64;
        let mut deltas = repo.files("delta")?;
        deltas.reverse();
        let mut expect = serial;
        for d in deltas {
            let over_count = listed.len() >= self.cfg.max_deltas && now - d.written >= self.cfg.min_delta_age_secs;
            if d.serial != expect || over_count || total + d.size > snapshot.size {
                break;
            }
            total += d.size;
            expect -= 1;
            listed.push(d);
        }
        let base = &self.cfg.base_uri;
        self.write_file("notification.xml", |w| {
            xml::open(w, "notification", &session, serial).map_err(io_err)?;
            xml::snapshot_ref(w, &format!("{base}{}", snapshot.path), &snapshot.hash).map_err(io_err)?;
            for d in &listed {
                xml::delta_ref(w, d.serial, &format!("{base}{}", d.path), &d.hash).map_err(io_err)?;
            }
            xml::close(w, "notification").map_err(io_err)
        })?;
        // Files no longer listed go after the grace period (RRDPS-9).
        let oldest_listed = listed.last().map_or(serial, |d| d.serial);
        for (kind, files) in [("delta", repo.files("delta")?), ("snapshot", repo.files("snapshot")?)] {
            for f in files {
                let unlisted = if kind == "delta" { f.serial < oldest_listed } else { f.serial < serial };
                if unlisted && now - f.written >= self.cfg.grace_secs {
                    match kind {
                        "delta" => remove_file_and_dirs(&self.cfg.dir, &f.path),
                        _ => segments::remove(&self.cfg.dir, &f.path),
                    }
                    repo.forget_file(kind, f.serial)?;
                }
            }
        }
        // Segments no snapshot still names.
        let kept: Vec<String> = repo.files("snapshot")?.into_iter().map(|f| f.path).collect();
        if let Err(e) = segments::collect_garbage(&self.cfg.dir, &kept) {
            tracing::warn!("old snapshot segments kept: {e}");
        }
        // Deltas no longer listed are never listed again: forget their content.
        repo.prune_deltas(oldest_listed)?;
        Ok(())
    }
}

/// A delta's elements, when few enough to hold.
type Held = Option<Vec<DeltaElement>>;

/// A delta's elements held for the snapshot join while they stay below
/// `limit` bytes; beyond, none are (the snapshot is then written in full).
struct Kept {
    elements: Option<Vec<DeltaElement>>,
    bytes: usize,
    limit: usize,
}

impl Kept {
    fn new(keep: bool, limit: usize) -> Self {
        Kept { elements: keep.then(Vec::new), bytes: 0, limit }
    }

    fn push(&mut self, e: DeltaElement) {
        self.bytes += e.uri.len() + e.der.as_ref().map_or(0, Vec::len);
        if self.bytes > self.limit {
            self.elements = None;
        } else if let Some(v) = &mut self.elements {
            v.push(e);
        }
    }

    fn into_inner(self) -> Option<Vec<DeltaElement>> {
        self.elements
    }
}

/// The delta of `serial` if it stays below `limit` bytes.
fn bounded_delta(repo: &Repository, serial: u64, limit: usize) -> Result<Option<Vec<DeltaElement>>, RepoError> {
    let mut kept = Kept::new(true, limit);
    repo.for_each_delta(serial, |e| {
        kept.push(e);
        Ok(())
    })?;
    Ok(kept.into_inner())
}
