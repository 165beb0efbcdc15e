//! Snapshot files (RFC 8182 §3.5.2). A full snapshot is streamed from the
//! database; the next one is made incrementally from the previous file and the
//! delta between them: both are sorted by URI, so unchanged `<publish>` lines
//! are copied as they are (no database read, no base64) and only the delta's
//! objects are encoded. The result is byte-identical to a full write.

use crate::repository::{DeltaElement, RepoError, Repository};
use rpkit_objects::rrdp::write as xml;
use std::io::{self, BufRead, Write};

/// Write the snapshot of the repository's current objects.
pub fn full(repo: &Repository, session: &str, serial: u64, w: &mut dyn Write) -> Result<(), RepoError> {
    xml::open(w, "snapshot", session, serial).map_err(io)?;
    repo.for_each_object(|uri, der| xml::publish(w, uri, None, der))?;
    w.write_all(b"</snapshot>\n").map_err(io)
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
pub fn incremental(prev: &mut dyn BufRead, delta: &[DeltaElement], session: &str, serial: u64, w: &mut dyn Write) -> io::Result<()> {
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
                (Some(der), None) => xml::publish(w, &c.uri, None, der)?,
                _ => return Err(mismatch(format!("the delta changes {} which the previous snapshot lacks", c.uri))),
            }
        }
        match changes.next_if(|c| c.uri == uri) {
            Some(c) => match (&c.der, c.replaces) {
                (Some(der), Some(_)) => xml::publish(w, &c.uri, None, der)?,
                (None, Some(_)) => {}
                _ => return Err(mismatch(format!("the delta publishes {} as new but it exists", c.uri))),
            },
            None => w.write_all(&line)?,
        }
    }
    for c in changes {
        match (&c.der, c.replaces) {
            (Some(der), None) => xml::publish(w, &c.uri, None, der)?,
            _ => return Err(mismatch(format!("the delta changes {} which the previous snapshot lacks", c.uri))),
        }
    }
    w.write_all(b"</snapshot>\n")
}
