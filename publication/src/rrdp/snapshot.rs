//! Snapshot files (RFC 8182 §3.5.2). A full snapshot is streamed from the
//! database; the next one is made from the previous one's [`Index`] and the
//! delta between them: both are sorted by URI, so runs of lines the delta
//! does not touch are kept as they are (no database read, no base64) and
//! only the delta's objects are encoded. The bytes are always those of a
//! full write. Kept as one whole file (for any static web server), an
//! untouched run is copied; kept as segment files (`segments`), it is not
//! written at all, so a serial costs little more than hashing its snapshot.

use super::segments;
use crate::repository::{DeltaElement, RepoError, Repository};
use rpkit_objects::rrdp::write as xml;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How snapshots are kept on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// One whole file per snapshot, for any static web server (the default).
    Whole,
    /// Segment files shared between serials, served as one file by rpkit's
    /// own HTTP server (see `segments`): a serial writes only what changed.
    Segments,
}

/// One `<publish>` line: its URI and where it lies in its segment.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    uri: Arc<str>,
    off: u64,
    len: u64,
}

/// A run of lines in URI order: a segment file (`base` 0), or a range of a
/// whole snapshot file starting at `base`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Segment {
    name: Arc<str>,
    base: u64,
    size: u64,
    entries: Arc<[Entry]>,
}

/// Where each element of one snapshot lies: its runs, in URI order, and
/// for a whole file its length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    segments: Vec<Segment>,
    whole_len: Option<u64>,
}

impl Index {
    /// Elements in the snapshot.
    pub fn len(&self) -> usize {
        self.segments.iter().map(|s| s.entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Runs (segment files, or ranges of a whole file) the snapshot is made of.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

/// A run closes once it holds this many bytes (the default): with segment
/// files a 1-object change rewrites about this much, and W2's snapshot is
/// some 330 segments.
pub const SEGMENT_BYTES: u64 = 4 << 20;

/// Where the bytes of a snapshot being built go.
enum Sink {
    /// The whole file, under a temporary name until `finish`; `pos` is its length so far.
    Whole { out: BufWriter<File>, tmp: PathBuf, pos: u64 },
    /// Segment files; the one being written, if any.
    Segments { out: Option<BufWriter<File>> },
}

/// The run being written.
struct Fresh {
    name: Arc<str>,
    base: u64,
    size: u64,
    entries: Vec<Entry>,
}

/// Builds one snapshot: its header, runs fresh and reused, in order,
/// hashing every byte as served.
pub struct Builder<'a> {
    dir: &'a Path,
    rel: &'a str,
    session: &'a str,
    target: u64,
    hash: ring::digest::Context,
    head: String,
    sink: Sink,
    done: Vec<Segment>,
    fresh: Option<Fresh>,
    line: Vec<u8>,
}

impl<'a> Builder<'a> {
    /// A snapshot of `serial` for the URI path `rel`, in runs of about `target` bytes.
    pub fn new(dir: &'a Path, rel: &'a str, session: &'a str, serial: u64, target: u64, layout: Layout) -> io::Result<Self> {
        let mut head = Vec::new();
        xml::open(&mut head, "snapshot", session, serial)?;
        let head = String::from_utf8(head).map_err(|_| mismatch("header is not UTF-8".into()))?;
        let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
        hash.update(head.as_bytes());
        let sink = match layout {
            Layout::Whole => {
                let path = dir.join(rel);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p)?;
                }
                let tmp = path.with_extension("tmp");
                let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
                out.write_all(head.as_bytes())?;
                Sink::Whole { out, tmp, pos: head.len() as u64 }
            }
            Layout::Segments => Sink::Segments { out: None },
        };
        Ok(Builder { dir, rel, session, target, hash, head, sink, done: Vec::new(), fresh: None, line: Vec::new() })
    }

    /// A new element, encoded now.
    pub fn publish(&mut self, uri: &str, der: &[u8]) -> io::Result<()> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        xml::publish(&mut line, uri, None, der)?;
        let r = self.append(uri.into(), &line);
        self.line = line;
        r
    }

    /// An element's line, as it is, at the end of the run being written.
    fn append(&mut self, uri: Arc<str>, line: &[u8]) -> io::Result<()> {
        if self.fresh.is_none() {
            self.fresh = Some(match &mut self.sink {
                Sink::Whole { pos, .. } => Fresh { name: self.rel.into(), base: *pos, size: 0, entries: Vec::new() },
                Sink::Segments { out } => {
                    let name = format!("{}/segments/{}.seg", self.session, random_hex());
                    let path = self.dir.join(&name);
                    if let Some(p) = path.parent() {
                        std::fs::create_dir_all(p)?;
                    }
                    *out = Some(BufWriter::with_capacity(1 << 20, File::create(path)?));
                    Fresh { name: name.into(), base: 0, size: 0, entries: Vec::new() }
                }
            });
        }
        self.write(line)?;
        let f = self.fresh.as_mut().expect("just opened");
        f.entries.push(Entry { uri, off: f.size, len: line.len() as u64 });
        f.size += line.len() as u64;
        if f.size >= self.target {
            self.close()?;
        }
        Ok(())
    }

    /// Bytes of the snapshot, in order.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        match &mut self.sink {
            Sink::Whole { out, pos, .. } => {
                *pos += bytes.len() as u64;
                out.write_all(bytes)
            }
            Sink::Segments { out } => out.as_mut().expect("a segment is open").write_all(bytes),
        }
    }

    /// Finish the run being written (a segment file is on disk before any
    /// parts file names it).
    fn close(&mut self) -> io::Result<()> {
        if let Some(f) = self.fresh.take() {
            if let Sink::Segments { out } = &mut self.sink {
                let file = out.take().expect("a segment is open").into_inner().map_err(|e| e.into_error())?;
                file.sync_data()?;
            }
            self.done.push(Segment { name: f.name, base: f.base, size: f.size, entries: f.entries.into() });
        }
        Ok(())
    }

    /// A run being written that is small enough to take its neighbour in.
    fn small(&self) -> bool {
        self.fresh.as_ref().is_some_and(|f| f.size < self.target / 4)
    }

    /// An unchanged run can be kept: copied into a whole file, or named
    /// again when it is a segment file.
    fn can_reuse(&self, seg: &Segment) -> bool {
        !self.small() && (matches!(self.sink, Sink::Whole { .. }) || (seg.base == 0 && segments::valid_segment_name(&seg.name)))
    }

    /// An unchanged run (its bytes `bytes`), kept as it is.
    fn reuse(&mut self, seg: &Segment, bytes: &[u8]) -> io::Result<()> {
        self.close()?;
        match &self.sink {
            Sink::Whole { pos, .. } => {
                let base = *pos;
                self.write(bytes)?;
                self.done.push(Segment { name: self.rel.into(), base, size: seg.size, entries: seg.entries.clone() });
            }
            Sink::Segments { .. } => {
                self.hash.update(bytes);
                self.done.push(seg.clone());
            }
        }
        Ok(())
    }

    /// Write the closing tag and put the snapshot in place (the whole file,
    /// or its parts file): its hash, size and index.
    pub fn finish(mut self) -> io::Result<([u8; 32], u64, Index)> {
        self.close()?;
        self.hash.update(segments::FOOTER);
        let body: u64 = self.done.iter().map(|s| s.size).sum();
        let size = self.head.len() as u64 + body + segments::FOOTER.len() as u64;
        let mut hash = [0u8; 32];
        hash.copy_from_slice(self.hash.finish().as_ref());
        let whole_len = match self.sink {
            Sink::Whole { mut out, tmp, pos } => {
                out.write_all(segments::FOOTER)?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&tmp, self.dir.join(self.rel))?;
                debug_assert_eq!(pos + segments::FOOTER.len() as u64, size);
                Some(size)
            }
            Sink::Segments { .. } => {
                let parts = segments::Parts {
                    hash,
                    size,
                    head: self.head,
                    segments: self.done.iter().map(|s| (s.name.to_string(), s.size)).collect(),
                };
                let path = segments::parts_path(self.dir, self.rel);
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p)?;
                }
                let tmp = path.with_extension("tmp");
                let mut f = File::create(&tmp)?;
                f.write_all(parts.encode().as_bytes())?;
                f.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                None
            }
        };
        Ok((hash, size, Index { segments: self.done, whole_len }))
    }
}

/// An unguessable path part (RRDPS-12) or segment name.
pub(crate) fn random_hex() -> String {
    use rand::RngCore;
    let mut b = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut b);
    rpkit_objects::hex::lower(&b)
}

/// Write the snapshot of the repository's current objects as one stream
/// (the reference what is stored must equal).
pub fn full(repo: &Repository, session: &str, serial: u64, w: &mut dyn Write) -> Result<(), RepoError> {
    xml::open(w, "snapshot", session, serial).map_err(io)?;
    repo.for_each_object(|uri, der| xml::publish(w, uri, None, der))?;
    w.write_all(segments::FOOTER).map_err(io)
}

/// How a snapshot is written: its layout and run size.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub layout: Layout,
    pub target: u64,
}

/// Write the snapshot of the repository's current objects for `rel`.
pub fn write_full(
    repo: &Repository,
    dir: &Path,
    session: &str,
    serial: u64,
    rel: &str,
    shape: Shape,
) -> Result<([u8; 32], u64, Index), RepoError> {
    let mut b = Builder::new(dir, rel, session, serial, shape.target, shape.layout).map_err(io)?;
    repo.for_each_object(|uri, der| b.publish(uri, der))?;
    b.finish().map_err(io)
}

/// Mapping offsets are aligned to this (a multiple of every page size in use).
const ALIGN: u64 = 64 << 10;

/// A run's bytes, mapped.
struct Mapped {
    map: memmap2::Mmap,
    skip: usize,
}

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map[self.skip..]
    }
}

/// The bytes of `seg`; its file must hold them.
fn map(dir: &Path, seg: &Segment) -> io::Result<Mapped> {
    let f = File::open(dir.join(&*seg.name))?;
    let len = f.metadata()?.len();
    if (seg.base == 0 && len != seg.size) || len < seg.base + seg.size || seg.size == 0 {
        return Err(mismatch(format!("{} does not hold the run its index records", seg.name)));
    }
    let start = seg.base & !(ALIGN - 1);
    // SAFETY: snapshot files and segments are written once under a fresh
    // name and never changed; removing one leaves a mapping valid.
    let map = unsafe { memmap2::MmapOptions::new().offset(start).len((seg.base + seg.size - start) as usize).populate().map(&f)? };
    Ok(Mapped { map, skip: (seg.base - start) as usize })
}

/// Write the snapshot of `serial` at `rel` from the previous snapshot's
/// `index` and the delta of `serial` (sorted by URI): each delta element
/// goes to the run whose URIs it falls among; untouched runs are kept
/// (segment files named again, or copied whole), touched ones written
/// again, and a small one takes in its neighbour. A file that does not
/// match the index, or a delta that does not fit the previous snapshot, is
/// an error (the caller then writes a full snapshot).
pub fn join(
    dir: &Path,
    index: &Index,
    delta: &[DeltaElement],
    (session, serial): (&str, u64),
    rel: &str,
    shape: Shape,
) -> io::Result<([u8; 32], u64, Index)> {
    if let (Some(len), Some(first)) = (index.whole_len, index.segments.first()) {
        if std::fs::metadata(dir.join(&*first.name))?.len() != len {
            return Err(mismatch("the previous snapshot is not the file its index describes".into()));
        }
    }
    let mut b = Builder::new(dir, rel, session, serial, shape.target, shape.layout)?;
    let segs = &index.segments;
    let mut from = 0;
    for (k, seg) in segs.iter().enumerate() {
        let to = match segs.get(k + 1) {
            Some(next) => from + delta[from..].partition_point(|d| *d.uri < *next.entries[0].uri),
            None => delta.len(),
        };
        let bytes = map(dir, seg)?;
        if from == to && b.can_reuse(seg) {
            b.reuse(seg, &bytes)?;
        } else {
            merge(&mut b, &seg.entries, &bytes, &delta[from..to])?;
        }
        from = to;
    }
    if segs.is_empty() {
        merge(&mut b, &[], &[], delta)?;
    }
    b.finish()
}

/// The lines of one run (`entries` over `bytes`) with `delta` applied.
fn merge(b: &mut Builder, entries: &[Entry], bytes: &[u8], delta: &[DeltaElement]) -> io::Result<()> {
    let copy = |b: &mut Builder, run: &[Entry]| -> io::Result<()> {
        for e in run {
            b.append(e.uri.clone(), &bytes[e.off as usize..(e.off + e.len) as usize])?;
        }
        Ok(())
    };
    let mut i = 0;
    for d in delta {
        let j = i + entries[i..].partition_point(|e| *e.uri < *d.uri);
        copy(b, &entries[i..j])?;
        i = j;
        let exists = entries.get(i).is_some_and(|e| *e.uri == *d.uri);
        match (&d.der, d.replaces, exists) {
            (Some(der), None, false) => b.publish(&d.uri, der)?,
            (Some(der), Some(_), true) => {
                b.publish(&d.uri, der)?;
                i += 1;
            }
            (None, Some(_), true) => i += 1,
            _ => return Err(mismatch(format!("the delta's change of {} does not fit the previous snapshot", d.uri))),
        }
    }
    copy(b, &entries[i..])
}

/// The lines of `bytes` (from `base` in file `name`) as runs of about
/// `target` bytes, each URI after `last`.
fn runs(name: &str, base: u64, bytes: &[u8], target: u64, last: &mut Option<Arc<str>>, out: &mut Vec<Segment>) -> io::Result<()> {
    let (mut entries, mut start, mut off) = (Vec::new(), base, 0u64);
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        let uri: Arc<str> = line_uri(line).ok_or_else(|| mismatch(format!("unexpected line in {name}")))?.into();
        if !line.ends_with(b"\n") || last.as_ref().is_some_and(|l| *l >= uri) {
            return Err(mismatch(format!("{name} is not in URI order")));
        }
        *last = Some(uri.clone());
        entries.push(Entry { uri, off, len: line.len() as u64 });
        off += line.len() as u64;
        if off >= target {
            out.push(Segment { name: name.into(), base: start, size: off, entries: std::mem::take(&mut entries).into() });
            (start, off) = (start + off, 0);
        }
    }
    if !entries.is_empty() {
        out.push(Segment { name: name.into(), base: start, size: off, entries: entries.into() });
    }
    Ok(())
}

/// The index of the snapshot stored at `rel`, read back from its parts or
/// its whole file (after a restart, when none is held).
pub fn rebuild(dir: &Path, rel: &str, target: u64) -> io::Result<Index> {
    let mut out = Vec::new();
    let mut last = None;
    let whole = dir.join(rel);
    if whole.is_file() {
        let len = std::fs::metadata(&whole)?.len();
        let all = Segment { name: rel.into(), base: 0, size: len, entries: Arc::new([]) };
        let bytes = map(dir, &all)?;
        let head = bytes.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        if !bytes.starts_with(b"<snapshot ") || !bytes.ends_with(segments::FOOTER) {
            return Err(mismatch(format!("{rel} is not a snapshot file")));
        }
        let body = &bytes[head..bytes.len() - segments::FOOTER.len()];
        runs(rel, head as u64, body, target, &mut last, &mut out)?;
        return Ok(Index { segments: out, whole_len: Some(len) });
    }
    for (name, size) in segments::Parts::load(dir, rel)?.segments {
        let seg = Segment { name: name.into(), base: 0, size, entries: Arc::new([]) };
        let bytes = map(dir, &seg)?;
        let before = out.len();
        runs(&seg.name, 0, &bytes, u64::MAX, &mut last, &mut out)?;
        if out.len() != before + 1 {
            return Err(mismatch(format!("segment {} is empty", seg.name)));
        }
    }
    Ok(Index { segments: out, whole_len: None })
}

fn io(e: io::Error) -> RepoError {
    RepoError::io("writing a snapshot", e)
}

fn mismatch(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// The unescaped URI of a `  <publish uri="...">` line.
fn line_uri(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"  <publish uri=\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let raw = std::str::from_utf8(&rest[..end]).ok()?;
    Some(raw.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&"))
}
