//! Snapshot files (RFC 8182 §3.5.2). A full snapshot is streamed from the
//! database; the next one is made from the previous file and the delta between
//! them: both are sorted by URI, so unchanged `<publish>` elements are copied as
//! they are (no database read, no base64) and only the delta's objects are
//! encoded. The result is byte-identical to a full write.
//!
//! Each snapshot written leaves an [`Index`]: where every element lies in the
//! file. With it the next snapshot joins whole runs of unchanged elements in
//! large copies, so a serial costs little more than hashing its snapshot;
//! without it (the first serial after a start) the previous file is read line
//! by line.

use crate::repository::{DeltaElement, RepoError, Repository};
use rpkit_objects::rrdp::write as xml;
use std::io::{self, BufRead, Write};
use std::sync::Arc;

/// A writer that knows how many bytes it has written.
pub trait Position: Write {
    fn position(&self) -> u64;
}

/// A writer that counts what passes through it.
pub struct Counting<W: Write> {
    pub inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    pub fn new(inner: W) -> Self {
        Counting { inner, written: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Position for Counting<W> {
    fn position(&self) -> u64 {
        self.written
    }
}

impl Position for Vec<u8> {
    fn position(&self) -> u64 {
        self.len() as u64
    }
}

/// One `<publish>` element of a snapshot file: its URI and where its line lies.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    uri: Arc<str>,
    off: u64,
    len: u64,
}

/// Where each element of one snapshot file lies, in URI order; `end` is
/// where the closing tag starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    entries: Vec<Entry>,
    end: u64,
}

impl Index {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// An element written now, recorded in `index`.
fn publish(w: &mut dyn Position, index: &mut Vec<Entry>, uri: &str, der: &[u8]) -> io::Result<()> {
    let off = w.position();
    xml::publish(w, uri, None, der)?;
    index.push(Entry { uri: uri.into(), off, len: w.position() - off });
    Ok(())
}

/// Write the snapshot of the repository's current objects.
pub fn full(repo: &Repository, session: &str, serial: u64, w: &mut dyn Position) -> Result<Index, RepoError> {
    xml::open(w, "snapshot", session, serial).map_err(io)?;
    let mut entries = Vec::new();
    repo.for_each_object(|uri, der| publish(w, &mut entries, uri, der))?;
    let end = w.position();
    w.write_all(b"</snapshot>\n").map_err(io)?;
    Ok(Index { entries, end })
}

/// Bytes of a file mapped at a time: a copy's memory stays bounded.
const WINDOW: u64 = 64 << 20;
/// Mapping offsets are aligned to this (a multiple of every page size in use).
const ALIGN: u64 = 64 << 10;

/// Write bytes `start..stop` of `prev` to `w` from its mapped pages (no read
/// into a buffer first), one window at a time.
fn copy_mapped(prev: &std::fs::File, start: u64, stop: u64, w: &mut dyn Position) -> io::Result<()> {
    let mut at = start;
    while at < stop {
        let base = at & !(ALIGN - 1);
        let end = (base + WINDOW).min(stop);
        // SAFETY: snapshot files are written under a temporary name and renamed
        // into place, never changed afterwards; removing one (after its grace
        // period) leaves a mapping valid.
        let map = unsafe { memmap2::MmapOptions::new().offset(base).len((end - base) as usize).populate().map(prev)? };
        w.write_all(&map[(at - base) as usize..])?;
        at = end;
    }
    Ok(())
}

/// Write the snapshot of `serial` from the previous serial's snapshot file
/// `prev`, its `index`, and the delta of `serial` (sorted by URI): runs of
/// unchanged elements are copied whole. A file that does not match its index,
/// or a delta that does not fit the previous snapshot, is an error (the
/// caller then writes a full snapshot).
pub fn join(
    prev: &std::fs::File,
    index: &Index,
    delta: &[DeltaElement],
    session: &str,
    serial: u64,
    w: &mut dyn Position,
) -> io::Result<Index> {
    if prev.metadata()?.len() != index.end + b"</snapshot>\n".len() as u64 {
        return Err(mismatch("the previous snapshot is not the file its index describes".into()));
    }
    xml::open(w, "snapshot", session, serial)?;
    let old = &index.entries;
    let mut entries = Vec::with_capacity(old.len() + delta.len());
    let copy_run = |from: usize, to: usize, w: &mut dyn Position, entries: &mut Vec<Entry>| -> io::Result<()> {
        if from == to {
            return Ok(());
        }
        let (start, stop) = (old[from].off, old[to - 1].off + old[to - 1].len);
        let at = w.position();
        copy_mapped(prev, start, stop, w)?;
        entries.extend(old[from..to].iter().map(|e| Entry { uri: e.uri.clone(), off: e.off - start + at, len: e.len }));
        Ok(())
    };
    let mut i = 0;
    for d in delta {
        let j = i + old[i..].partition_point(|e| *e.uri < *d.uri);
        copy_run(i, j, w, &mut entries)?;
        i = j;
        let exists = old.get(i).is_some_and(|e| *e.uri == *d.uri);
        match (&d.der, d.replaces, exists) {
            (Some(der), None, false) => publish(w, &mut entries, &d.uri, der)?,
            (Some(der), Some(_), true) => {
                publish(w, &mut entries, &d.uri, der)?;
                i += 1;
            }
            (None, Some(_), true) => i += 1,
            _ => return Err(mismatch(format!("the delta's change of {} does not fit the previous snapshot", d.uri))),
        }
    }
    copy_run(i, old.len(), w, &mut entries)?;
    let end = w.position();
    w.write_all(b"</snapshot>\n")?;
    Ok(Index { entries, end })
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

/// Write the snapshot of `serial` from the previous serial's snapshot and the
/// delta of `serial` (sorted by URI). Any inconsistency between the two is an
/// error (the caller then writes a full snapshot).
pub fn incremental(prev: &mut dyn BufRead, delta: &[DeltaElement], session: &str, serial: u64, w: &mut dyn Position) -> io::Result<Index> {
    let mut entries = Vec::new();
    let mut line = Vec::new();
    prev.read_until(b'\n', &mut line)?;
    if !line.starts_with(b"<snapshot ") {
        return Err(mismatch("the previous snapshot has no <snapshot> header".into()));
    }
    xml::open(w, "snapshot", session, serial)?;
    let mut changes = delta.iter().peekable();
    loop {
        line.clear();
        if prev.read_until(b'\n', &mut line)? == 0 {
            return Err(mismatch("the previous snapshot ends without </snapshot>".into()));
        }
        if line == b"</snapshot>\n" {
            break;
        }
        let uri = line_uri(&line).ok_or_else(|| mismatch("unexpected line in the previous snapshot".into()))?;
        // New objects sorting before this one.
        while let Some(c) = changes.next_if(|c| c.uri < uri) {
            match (&c.der, c.replaces) {
                (Some(der), None) => publish(w, &mut entries, &c.uri, der)?,
                _ => return Err(mismatch(format!("the delta changes {} which the previous snapshot lacks", c.uri))),
            }
        }
        match changes.next_if(|c| c.uri == uri) {
            Some(c) => match (&c.der, c.replaces) {
                (Some(der), Some(_)) => publish(w, &mut entries, &c.uri, der)?,
                (None, Some(_)) => {}
                _ => return Err(mismatch(format!("the delta publishes {} as new but it exists", c.uri))),
            },
            None => {
                let off = w.position();
                w.write_all(&line)?;
                entries.push(Entry { uri: uri.into(), off, len: line.len() as u64 });
            }
        }
    }
    for c in changes {
        match (&c.der, c.replaces) {
            (Some(der), None) => publish(w, &mut entries, &c.uri, der)?,
            _ => return Err(mismatch(format!("the delta changes {} which the previous snapshot lacks", c.uri))),
        }
    }
    let end = w.position();
    w.write_all(b"</snapshot>\n")?;
    Ok(Index { entries, end })
}
