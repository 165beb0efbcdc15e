//! The RRDP client (RFC 8182 §3.4): keeps one local copy per notification URI
//! (RRDPC-4, RRDPC-16), brought up to date by deltas when the session is the
//! same and the chain is complete (RRDPC-5, RRDPC-6), otherwise by the snapshot,
//! which replaces the whole copy (RRDPC-8). The copy is a pack (`pack`): a
//! snapshot is written as a new one, deltas are appended to it. The state
//! file is written only after the objects, and removed before deltas touch
//! them, so an interrupted update leads to a snapshot next time.

use crate::error::FetchError;
use crate::http::{origin, Fetched, Http};
use crate::pack::Pack;
use rpkit_objects::error::chain;
use rpkit_objects::limits;
use rpkit_objects::rrdp::notification::Notification;
use rpkit_objects::rrdp::read as xml;
use rpkit_objects::rrdp::{FileRef, Item, Kind, XmlError};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The notification fetched from `notify_uri`, whose snapshot and deltas
/// must share its origin (RFC 9674, RRDPC-3).
pub fn parse_notification(body: impl Read, notify_uri: &str) -> Result<Notification, FetchError> {
    let n = Notification::parse(body).map_err(|source| FetchError::Notification { uri: notify_uri.to_string(), source })?;
    let home = origin(notify_uri);
    let foreign = n.file_uris().find(|uri| home.is_none() || origin(uri) != home).map(str::to_string);
    match foreign {
        Some(uri) => Err(FetchError::ForeignOrigin { notify: notify_uri.to_string(), uri }),
        None => Ok(n),
    }
}

/// Bounds on one repository's update (RRDPC-12, RRDPC-15).
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_snapshot: u64,
    pub max_delta: u64,
    /// More deltas than this to catch up: take the snapshot.
    pub max_deltas: usize,
    /// Re-fetch the snapshot when the last one is older than this (RRDPC-17).
    pub snapshot_max_age_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_snapshot: limits::MAX_SNAPSHOT,
            max_delta: limits::MAX_DELTA,
            max_deltas: limits::MAX_DELTAS,
            snapshot_max_age_secs: 60 * 86_400,
        }
    }
}

/// What is kept between runs for one notification URI.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    notify: String,
    session: String,
    serial: u64,
    /// (serial, hash) of the deltas listed by the last notification (RRDPC-9).
    deltas: Vec<(u64, String)>,
    etag: Option<String>,
    last_modified: Option<String>,
    /// When the snapshot was last processed (seconds since the epoch).
    snapshot_at: i64,
}

/// The result of an update: the objects and what was noticed.
#[derive(Debug)]
pub struct Updated {
    pub objects: Pack,
    pub serial: u64,
    /// Problems that did not stop the update: (rule, what happened).
    pub notes: Vec<(&'static str, String)>,
}

/// One repository's local copy under `CACHE/rrdp/<hash of the notification URI>/`.
pub struct Repo<'a> {
    http: &'a Http,
    notify: &'a str,
    dir: PathBuf,
    limits: &'a Limits,
    deadline: Instant,
}

fn io_err(p: &Path, source: std::io::Error) -> FetchError {
    FetchError::Io { path: p.to_path_buf(), source }
}

fn hex(h: &[u8; 32]) -> String {
    rpkit_objects::hex::lower(h)
}

/// A reader that hashes what passes through it.
struct Hashing<R> {
    inner: R,
    ctx: ring::digest::Context,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.ctx.update(&buf[..n]);
        Ok(n)
    }
}

/// An rsync URI a repository may publish (RSYNC-3).
fn checked(uri: &str) -> Result<(), XmlError> {
    match rpkit_objects::uri::rsync_safe(uri) {
        Some(_) => Ok(()),
        None => Err(XmlError(format!("unsafe URI {uri:?} (RSYNC-3)"))),
    }
}

/// The name of a repository's pack in its directory.
pub const PACK: &str = "objects";

impl<'a> Repo<'a> {
    pub fn new(http: &'a Http, cache: &Path, notify: &'a str, limits: &'a Limits, deadline: Instant) -> Self {
        Repo { http, notify, dir: Self::dir_of(cache, notify), limits, deadline }
    }

    /// The directory of the copy of `notify`'s repository in `cache`.
    pub fn dir_of(cache: &Path, notify: &str) -> PathBuf {
        let id = &hex(&rpkit_objects::crypto::sha256(notify.as_bytes()))[..24];
        cache.join("rrdp").join(id)
    }

    /// The directory of the repository's copy (its pack and state).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The copy as it is, without fetching.
    pub fn objects(&self) -> Result<Pack, FetchError> {
        Pack::open(&self.dir, PACK).map_err(|e| io_err(&self.dir, e))
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    fn load_state(&self) -> Option<State> {
        let s: State = serde_json::from_slice(&std::fs::read(self.state_path()).ok()?).ok()?;
        (s.notify == self.notify && Pack::exists(&self.dir, PACK)).then_some(s)
    }

    fn save_state(&self, s: &State) -> Result<(), FetchError> {
        let tmp = self.dir.join("state.json.tmp");
        let body = serde_json::to_vec_pretty(s).map_err(|e| io_err(&tmp, e.into()))?;
        std::fs::write(&tmp, body).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, self.state_path()).map_err(|e| io_err(&tmp, e))
    }

    /// Bring the local copy up to date; `now` in seconds since the epoch.
    pub fn update(&self, now: i64) -> Result<Updated, FetchError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        // Copies kept as a file per object (before packs) go: a snapshot refills.
        for old in ["objects", "objects.new", "objects.old"].map(|d| self.dir.join(d)) {
            if old.is_dir() {
                let _ = std::fs::remove_dir_all(&old);
            }
        }
        // The state and the copy it describes. A copy whose index does not
        // read is no copy: the state goes with it, and the snapshot comes next.
        let mut notes = Vec::new();
        let old = match self.load_state().map(|s| (s, Pack::open(&self.dir, PACK))) {
            Some((s, Ok(pack))) => Some((s, pack)),
            Some((_, Err(e))) => {
                notes.push(("RRDPC-8", format!("the local copy cannot be read ({e}); reading the snapshot")));
                None
            }
            None => None,
        };
        let cond = old.as_ref().map(|(s, _)| (&s.etag, &s.last_modified));
        let (body, etag, last_modified) = match self.http.get(self.notify, limits::MAX_NOTIFICATION, self.deadline, cond)? {
            // Only a conditional request is answered by a 304 (the client refuses others, RRDPC-13).
            Fetched::NotModified => {
                let (s, objects) = old.ok_or_else(|| FetchError::NotModified { url: self.notify.to_string() })?;
                return Ok(Updated { objects, serial: s.serial, notes });
            }
            Fetched::Body { body, etag, last_modified } => (body, etag, last_modified),
        };
        let n = parse_notification(body, self.notify)?;
        let mut state = State {
            notify: self.notify.to_string(),
            session: n.session.clone(),
            serial: n.serial,
            deltas: n.deltas.iter().map(|(s, f)| (*s, hex(&f.hash))).collect(),
            etag,
            last_modified,
            snapshot_at: old.as_ref().map_or(now, |(s, _)| s.snapshot_at),
        };
        if let Some((old, held)) = old.filter(|(o, _)| o.session == n.session) {
            if n.serial == old.serial {
                self.save_state(&state)?;
                return Ok(Updated { objects: held, serial: n.serial, notes });
            }
            if n.serial < old.serial {
                // RRDPC-10: an older notification changes nothing.
                notes.push(("RRDPC-10", format!("the notification's serial {} is below the last processed {}", n.serial, old.serial)));
                return Ok(Updated { objects: held, serial: old.serial, notes });
            }
            let changed = n.deltas.iter().find(|(s, f)| old.deltas.iter().any(|(os, oh)| os == s && *oh != hex(&f.hash)));
            let aged = now - old.snapshot_at > self.limits.snapshot_max_age_secs;
            match (changed, n.deltas_after(old.serial)) {
                (Some((s, _)), _) => notes.push(("RRDPC-9", format!("the hash of delta {s} changed since the last notification"))),
                (None, _) if aged => notes.push(("RRDPC-17", "the snapshot is re-read now and then".into())),
                (None, Some(chain)) if chain.len() <= self.limits.max_deltas => match self.apply_deltas(&n, &chain, held) {
                    Ok(objects) => {
                        self.save_state(&state)?;
                        return Ok(Updated { objects, serial: n.serial, notes });
                    }
                    Err(e) => notes.push(("RRDPC-6", format!("{e}; reading the snapshot instead"))),
                },
                (None, Some(chain)) => notes.push((
                    "RRDPC-12",
                    format!("{} deltas to catch up, more than {}; reading the snapshot", chain.len(), self.limits.max_deltas),
                )),
                (None, None) => {
                    notes.push(("RRDPC-5", format!("the deltas after serial {} are not all listed; reading the snapshot", old.serial)))
                }
            }
        }
        let objects = self.apply_snapshot(&n)?;
        state.snapshot_at = now;
        self.save_state(&state)?;
        Ok(Updated { objects, serial: n.serial, notes })
    }

    /// RRDPC-8: the snapshot, checked in full, replaces the whole copy.
    fn apply_snapshot(&self, n: &Notification) -> Result<Pack, FetchError> {
        let FileRef { uri, hash } = &n.snapshot;
        let Fetched::Body { body, .. } = self.http.get(uri, self.limits.max_snapshot, self.deadline, None)? else {
            return Err(FetchError::NotModified { url: uri.clone() });
        };
        // Removed unless committed below.
        let mut fresh = Pack::writer(&self.dir, PACK).map_err(|e| io_err(&self.dir, e))?;
        let mut hashing = Hashing { inner: body, ctx: ring::digest::Context::new(&ring::digest::SHA256) };
        let doc = Doc { kind: Kind::Snapshot, uri, session: &n.session, serial: n.serial };
        doc.read(&mut hashing, self.limits.max_snapshot, |item| match item {
            Item::Publish { uri, data, .. } => {
                checked(&uri)?;
                match fresh.add(&uri, &data) {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(Stop::Rule(XmlError(format!("{uri} is published twice (RRDPC-12)")))),
                    Err(e) => Err(Stop::Fault(io_err(&self.dir, e))),
                }
            }
            _ => Err(XmlError("unexpected element".into()).into()),
        })?;
        // Drain what the parser left (trailing whitespace) so the hash covers the whole file.
        std::io::copy(&mut (&mut hashing).take(self.limits.max_snapshot), &mut std::io::sink())
            .map_err(|e| FetchError::Transport { url: uri.clone(), detail: chain(&e) })?;
        if hashing.ctx.finish().as_ref() != hash {
            return Err(FetchError::Hash { kind: Kind::Snapshot, uri: uri.clone(), rule: "RRDPC-8" });
        }
        let _ = std::fs::remove_file(self.state_path());
        fresh.commit().map_err(|e| io_err(&self.dir, e))
    }

    /// RRDPC-5/6/7: each delta fetched whole, hash-checked, then applied in order.
    fn apply_deltas(&self, n: &Notification, deltas: &[&(u64, FileRef)], live: Pack) -> Result<Pack, FetchError> {
        // From here the copy may change: without a state file the next run reads the snapshot.
        let _ = std::fs::remove_file(self.state_path());
        let max = self.limits.max_delta;
        for (serial, FileRef { uri, hash }) in deltas {
            let Fetched::Body { body, .. } = self.http.get(uri, max, self.deadline, None)? else {
                return Err(FetchError::NotModified { url: uri.clone() });
            };
            let mut raw = Vec::new();
            body.take(max + 1).read_to_end(&mut raw).map_err(|e| FetchError::Transport { url: uri.clone(), detail: chain(&e) })?;
            if raw.len() as u64 > max {
                return Err(FetchError::TooLarge { url: uri.clone(), max });
            }
            if rpkit_objects::crypto::sha256(&raw) != *hash {
                return Err(FetchError::Hash { kind: Kind::Delta, uri: uri.clone(), rule: "RRDPC-6" });
            }
            let doc = Doc { kind: Kind::Delta, uri, session: &n.session, serial: *serial };
            doc.read(raw.as_slice(), max, |item| apply_change(&live, &self.dir, item))?;
        }
        live.save().map_err(|e| io_err(&self.dir, e))?;
        Ok(live)
    }
}

/// Why reading a snapshot or delta stopped at one of its elements.
enum Stop {
    /// The document broke a rule of its syntax or of the copy held.
    Rule(XmlError),
    /// A fault reported as it is: a session mismatch, our own disk.
    Fault(FetchError),
}

impl From<XmlError> for Stop {
    fn from(e: XmlError) -> Self {
        Stop::Rule(e)
    }
}

/// A snapshot or delta expected with the notification's session and serial.
struct Doc<'a> {
    kind: Kind,
    uri: &'a str,
    session: &'a str,
    serial: u64,
}

impl Doc<'_> {
    /// Read the document, checking its session and serial (RRDPC-7, RRDPC-8)
    /// and handing each other element to `f`.
    fn read(&self, body: impl Read, max: u64, mut f: impl FnMut(Item) -> Result<(), Stop>) -> Result<(), FetchError> {
        // `xml::read` stops on an XmlError only: a fault is kept here meanwhile.
        let mut fault = None;
        let read = xml::read(body, max, self.kind, |item| {
            let stop = match item {
                Item::Root { session, serial } if session == self.session && serial == self.serial => return Ok(()),
                Item::Root { session, serial } => {
                    let (kind, uri, want_session, want_serial) = (self.kind, self.uri.to_string(), self.session.to_string(), self.serial);
                    Stop::Fault(FetchError::Session { kind, uri, session, serial, want_session, want_serial })
                }
                item => match f(item) {
                    Ok(()) => return Ok(()),
                    Err(stop) => stop,
                },
            };
            match stop {
                Stop::Rule(e) => Err(e),
                Stop::Fault(e) => {
                    let text = XmlError(e.to_string());
                    fault = Some(e);
                    Err(text)
                }
            }
        });
        read.map_err(|source| fault.take().unwrap_or_else(|| FetchError::Document { kind: self.kind, uri: self.uri.to_string(), source }))
    }
}

/// One element of a delta against the local copy (RRDPC-7), kept in `dir`.
fn apply_change(live: &Pack, dir: &Path, item: Item) -> Result<(), Stop> {
    let current = |uri: &str| live.bytes(uri).map(|d| rpkit_objects::crypto::sha256(&d));
    match item {
        Item::Publish { uri, hash, data } => {
            checked(&uri)?;
            match (hash, current(&uri)) {
                (None, None) => {}
                (None, Some(_)) => return Err(XmlError(format!("{uri} is published as new but exists")).into()),
                (Some(h), Some(c)) if h == c => {}
                (Some(_), _) => return Err(XmlError(format!("{uri}: the replaced object is not the one held")).into()),
            }
            live.put(&uri, &data).map_err(|e| Stop::Fault(io_err(dir, e)))
        }
        Item::Withdraw { uri, hash } => {
            checked(&uri)?;
            match current(&uri) {
                Some(c) if c == hash => {
                    live.remove(&uri);
                    Ok(())
                }
                _ => Err(XmlError(format!("{uri}: the withdrawn object is not the one held")).into()),
            }
        }
        _ => Err(XmlError("unexpected element".into()).into()),
    }
}
