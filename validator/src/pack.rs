//! A copy of many objects kept as one file of their bytes (a pack) and an
//! index of them by rsync URI: how the validator keeps what RRDP brings in and
//! what validated. One sequential write replaces a file per object; a cold run
//! used to spend most of its CPU time in the kernel creating and linking
//! 91,000 files twice.
//!
//! `DIR/NAME.idx` names the pack file it indexes (`DIR/NAME-<id>.pack`) and
//! how many of its bytes it covers. Objects are appended; the index is
//! replaced by rename once they are written, so a process stopped midway
//! leaves the old index, and the bytes past what it covers are cut on the next
//! open. A new pack (an RRDP snapshot, a compaction) is written beside the old
//! one and becomes current with its index; the old file is removed after.

use crate::store::{Store, MAX_OBJECT};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

const MAGIC: &[u8; 8] = b"RPKITPK1";
/// Longest URI an index holds.
const MAX_URI: usize = 4096;
/// Most entries an index may declare (twenty times the whole RPKI of 2026).
const MAX_ENTRIES: u64 = 10_000_000;
/// Compact once this many bytes are dead and they outweigh the live ones.
const COMPACT_AFTER: u64 = 32 << 20;

#[derive(Clone, Copy, Debug)]
struct Loc {
    offset: u64,
    len: u32,
}

struct Inner {
    file: File,
    /// The pack file's name in the directory.
    pack: String,
    /// The append position: bytes the index may cover.
    end: u64,
    /// Bytes no entry names any more.
    dead: u64,
    index: BTreeMap<String, Loc>,
    /// Changed since the index was last written.
    dirty: bool,
}

/// A pack open for reading and appending.
pub struct Pack {
    dir: PathBuf,
    name: String,
    inner: RwLock<Inner>,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.read();
        f.debug_struct("Pack").field("dir", &self.dir).field("pack", &inner.pack).field("objects", &inner.index.len()).finish()
    }
}

fn invalid(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

/// A name no earlier pack of this directory had.
fn fresh_name(name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    format!("{name}-{nanos:x}-{:x}-{}.pack", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn open_rw(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().read(true).write(true).open(path)
}

impl Pack {
    fn index_path(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}.idx"))
    }

    /// Whether `DIR/NAME` has an index (a pack was committed there).
    pub fn exists(dir: &Path, name: &str) -> bool {
        Self::index_path(dir, name).is_file()
    }

    /// Open the pack `NAME` of `dir`, or start an empty one when it has none.
    /// An index that does not parse, or names a pack or bytes that are not
    /// there, is an `InvalidData` error: the caller starts afresh ([`Pack::empty`]).
    pub fn open(dir: &Path, name: &str) -> std::io::Result<Pack> {
        std::fs::create_dir_all(dir)?;
        let inner = match File::open(Self::index_path(dir, name)) {
            Ok(f) => Some(read_index(f, dir, name)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let pack = match inner {
            Some(inner) => Pack { dir: dir.to_path_buf(), name: name.to_string(), inner: RwLock::new(inner) },
            None => Self::empty(dir, name)?,
        };
        pack.remove_others();
        Ok(pack)
    }

    /// An empty pack, replacing whatever `DIR/NAME` held once it is saved.
    pub fn empty(dir: &Path, name: &str) -> std::io::Result<Pack> {
        Writer::new(dir, name)?.commit()
    }

    /// A new pack written from scratch, current once committed.
    pub fn writer(dir: &Path, name: &str) -> std::io::Result<Writer> {
        Writer::new(dir, name)
    }

    /// Remove the pack files of this name the index does not name (left by a
    /// process stopped between writing a pack and switching to it).
    fn remove_others(&self) {
        let current = self.read().pack.clone();
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let prefix = format!("{}-", self.name);
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&prefix) && n.ends_with(".pack") && n != current {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every URI held, in order.
    pub fn uris(&self) -> Vec<String> {
        self.read().index.keys().cloned().collect()
    }

    /// URIs held under `prefix`, all of them (no `MAX_LISTED` bound).
    pub fn uris_under(&self, prefix: &str) -> Vec<String> {
        let inner = self.read();
        inner.index.range(prefix.to_string()..).map(|(k, _)| k).take_while(|k| k.starts_with(prefix)).cloned().collect()
    }

    /// The bytes held for `uri`, whatever their size ([`Store::get`] stops
    /// at [`MAX_OBJECT`]).
    pub fn bytes(&self, uri: &str) -> Option<Vec<u8>> {
        self.read_up_to(uri, u64::MAX)
    }

    /// The bytes held for `uri` when there are at most `max` of them: one
    /// lookup, one read.
    fn read_up_to(&self, uri: &str, max: u64) -> Option<Vec<u8>> {
        let inner = self.read();
        let loc = *inner.index.get(uri).filter(|l| u64::from(l.len) <= max)?;
        let mut data = vec![0; loc.len as usize];
        inner.file.read_exact_at(&mut data, loc.offset).ok()?;
        Some(data)
    }

    /// Append objects; each replaces what its URI held. One write for all.
    pub fn put_all<'d>(&self, objects: impl IntoIterator<Item = (&'d str, &'d [u8])>) -> std::io::Result<()> {
        let objects: Vec<(&str, &[u8])> = objects.into_iter().collect();
        let mut buf = Vec::with_capacity(objects.iter().map(|(_, d)| d.len()).sum());
        for (_, d) in &objects {
            buf.extend_from_slice(d);
        }
        let mut inner = self.write();
        let start = inner.end;
        inner.file.write_all_at(&buf, start)?;
        let mut offset = start;
        for (uri, data) in objects {
            let len = u32::try_from(data.len()).map_err(|_| invalid(format!("{uri}: an object over 4 GiB")))?;
            if let Some(old) = inner.index.insert(uri.to_string(), Loc { offset, len }) {
                inner.dead += u64::from(old.len);
            }
            offset += u64::from(len);
        }
        inner.end = offset;
        inner.dirty = true;
        Ok(())
    }

    /// Append one object.
    pub fn put(&self, uri: &str, data: &[u8]) -> std::io::Result<()> {
        self.put_all([(uri, data)])
    }

    /// Forget `uri`; whether it was held.
    pub fn remove(&self, uri: &str) -> bool {
        let mut inner = self.write();
        match inner.index.remove(uri) {
            Some(old) => {
                inner.dead += u64::from(old.len);
                inner.dirty = true;
                true
            }
            None => false,
        }
    }

    /// Write the index if anything changed, compacting first when dead bytes
    /// outweigh live ones.
    pub fn save(&self) -> std::io::Result<()> {
        let mut inner = self.write();
        if !inner.dirty {
            return Ok(());
        }
        let live = inner.end - inner.dead;
        if inner.dead > COMPACT_AFTER && inner.dead > live {
            let mut w = Writer::new(&self.dir, &self.name)?;
            // In file order: one sequential read of the old pack.
            let mut by_offset: Vec<(&String, &Loc)> = inner.index.iter().collect();
            by_offset.sort_by_key(|(_, l)| l.offset);
            let mut buf = Vec::new();
            for (uri, loc) in by_offset {
                buf.resize(loc.len as usize, 0);
                inner.file.read_exact_at(&mut buf, loc.offset)?;
                w.add(uri, &buf)?;
            }
            let fresh = w.commit()?;
            *inner = fresh.inner.into_inner().unwrap_or_else(|e| e.into_inner());
            return Ok(());
        }
        write_index(&self.dir, &self.name, &inner)?;
        inner.dirty = false;
        Ok(())
    }

    /// Write the objects under `prefix` (an rsync URI ending in `/`) as files
    /// of `root`, as the rsync mirror keeps them, each with its object's time
    /// as mtime (CMS-13, RFC 9589 §2.2: an rsync fetch into them then moves
    /// only what changed). Files that exist are left alone. Returns how many
    /// were written.
    pub fn write_files(&self, prefix: &str, root: &Path) -> std::io::Result<usize> {
        let mut written = 0;
        let mut dirs = crate::store::Dirs::default();
        for uri in self.uris_under(prefix) {
            let (Some(rest), Some(data)) = (rpkit_objects::uri::rsync_safe(&uri), self.get(&uri)) else { continue };
            let path = root.join(rest);
            dirs.make_for(&path)?;
            match write_new(&path, &data) {
                Ok(()) => written += 1,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }
}

/// A new file whose mtime is the object's own time (CMS-13 RP side).
fn write_new(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(data)?;
    if let Some(t) = rpkit_objects::object::file_time(data).filter(|t| t.0 >= 0) {
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t.0 as u64))?;
    }
    Ok(())
}

impl Store for Pack {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        self.read_up_to(uri, MAX_OBJECT)
    }
    fn too_large(&self, uri: &str) -> bool {
        self.read().index.get(uri).is_some_and(|l| u64::from(l.len) > MAX_OBJECT)
    }
    fn list(&self, dir: &str) -> Vec<String> {
        crate::store::names_in(&self.read().index, dir)
    }
}

/// A pack written from scratch in one pass; removed unless committed.
pub struct Writer {
    dir: PathBuf,
    name: String,
    pack: String,
    out: Option<BufWriter<File>>,
    end: u64,
    index: BTreeMap<String, Loc>,
}

impl Writer {
    fn new(dir: &Path, name: &str) -> std::io::Result<Writer> {
        std::fs::create_dir_all(dir)?;
        let pack = fresh_name(name);
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(dir.join(&pack))?;
        let out = Some(BufWriter::with_capacity(1 << 20, file));
        Ok(Writer { dir: dir.to_path_buf(), name: name.to_string(), pack, out, end: 0, index: BTreeMap::new() })
    }

    /// Add an object; `false`, adding nothing, when its URI is already there.
    pub fn add(&mut self, uri: &str, data: &[u8]) -> std::io::Result<bool> {
        if self.index.contains_key(uri) {
            return Ok(false);
        }
        let len = u32::try_from(data.len()).map_err(|_| invalid(format!("{uri}: an object over 4 GiB")))?;
        self.out.as_mut().ok_or_else(|| invalid("written after commit"))?.write_all(data)?;
        self.index.insert(uri.to_string(), Loc { offset: self.end, len });
        self.end += u64::from(len);
        Ok(true)
    }

    /// Make this the pack of its name: index written and switched to by
    /// rename, the packs before it removed.
    pub fn commit(mut self) -> std::io::Result<Pack> {
        let file = self.out.take().ok_or_else(|| invalid("committed twice"))?.into_inner().map_err(|e| e.into_error())?;
        let inner = Inner { file, pack: self.pack.clone(), end: self.end, dead: 0, index: std::mem::take(&mut self.index), dirty: false };
        write_index(&self.dir, &self.name, &inner)?;
        let pack = Pack { dir: self.dir.clone(), name: self.name.clone(), inner: RwLock::new(inner) };
        self.pack.clear();
        pack.remove_others();
        Ok(pack)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.pack.is_empty() {
            self.out.take();
            let _ = std::fs::remove_file(self.dir.join(&self.pack));
        }
    }
}

/// The index: magic, the pack's name, the bytes covered, the entry count,
/// then each entry as URI length (u16), URI, offset (u64), length (u32).
fn write_index(dir: &Path, name: &str, inner: &Inner) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.idx.tmp"));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    out.write_all(MAGIC)?;
    out.write_all(&(inner.pack.len() as u16).to_le_bytes())?;
    out.write_all(inner.pack.as_bytes())?;
    out.write_all(&inner.end.to_le_bytes())?;
    out.write_all(&(inner.index.len() as u64).to_le_bytes())?;
    for (uri, loc) in &inner.index {
        out.write_all(&(uri.len() as u16).to_le_bytes())?;
        out.write_all(uri.as_bytes())?;
        out.write_all(&loc.offset.to_le_bytes())?;
        out.write_all(&loc.len.to_le_bytes())?;
    }
    out.into_inner().map_err(|e| e.into_error())?;
    std::fs::rename(&tmp, Pack::index_path(dir, name))
}

fn read_index(f: File, dir: &Path, name: &str) -> std::io::Result<Inner> {
    let mut r = BufReader::with_capacity(1 << 20, f);
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(invalid(format!("{name}.idx: not a pack index")));
    }
    let name_len = read_u16(&mut r)? as usize;
    let pack = String::from_utf8(read_bytes(&mut r, name_len)?).map_err(|_| invalid("pack name"))?;
    if !pack.starts_with(&format!("{name}-")) || !pack.ends_with(".pack") || pack.contains('/') {
        return Err(invalid(format!("{name}.idx names {pack:?}")));
    }
    let covered = read_u64(&mut r)?;
    let count = read_u64(&mut r)?;
    if count > MAX_ENTRIES {
        return Err(invalid(format!("{name}.idx declares {count} entries")));
    }
    // A pack gone from under its index is as unreadable as a broken index.
    let file = open_rw(&dir.join(&pack)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => invalid(format!("{name}.idx names {pack}, which is missing")),
        _ => e,
    })?;
    let size = file.metadata()?.len();
    if size < covered {
        return Err(invalid(format!("{pack} holds {size} bytes, its index covers {covered}")));
    }
    // Bytes appended by a process that stopped before writing the index.
    if size > covered {
        file.set_len(covered)?;
    }
    let mut index = BTreeMap::new();
    let mut live = 0u64;
    for _ in 0..count {
        let n = read_u16(&mut r)? as usize;
        if n > MAX_URI {
            return Err(invalid(format!("{name}.idx: a URI of {n} bytes")));
        }
        let uri = String::from_utf8(read_bytes(&mut r, n)?).map_err(|_| invalid(format!("{name}.idx: a URI not in UTF-8")))?;
        let offset = read_u64(&mut r)?;
        let len = read_u32(&mut r)?;
        if offset.checked_add(u64::from(len)).is_none_or(|e| e > covered) || rpkit_objects::uri::rsync_safe(&uri).is_none() {
            return Err(invalid(format!("{name}.idx: the entry of {uri:?} is out of bounds or unsafe")));
        }
        live += u64::from(len);
        index.insert(uri, Loc { offset, len });
    }
    let dead = covered.saturating_sub(live);
    Ok(Inner { file, pack, end: covered, dead, index, dirty: false })
}

fn read_bytes(r: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut v = vec![0; n];
    r.read_exact(&mut v)?;
    Ok(v)
}

fn read_u16(r: &mut impl Read) -> std::io::Result<u16> {
    let mut b = [0; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> std::io::Result<u64> {
    let mut b = [0; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}
