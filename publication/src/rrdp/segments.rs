//! Snapshot files kept as segments. A snapshot (RFC 8182 §3.5.2) is stored
//! as a parts file beside its URI path (`snapshot.xml.parts`) naming, in
//! order, the segment files that hold its `<publish>` lines; its header line
//! is in the parts file and its closing tag is fixed. Segments are never
//! changed once written and are shared by consecutive snapshots, so a new
//! serial writes only the segments its delta touches (`snapshot::join`).
//! Clients see one file: the HTTP server streams the parts in order, and
//! [`read`] joins them for anyone else.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// What follows a snapshot's URI path to name its parts file.
pub const PARTS_SUFFIX: &str = ".parts";
/// The closing tag: the last bytes of every snapshot.
pub const FOOTER: &[u8] = b"</snapshot>\n";
const MAGIC: &str = "rpkit-snapshot-parts 1";
/// A parts file has a line per segment; anything larger is not one.
const MAX_PARTS_FILE: u64 = 16 << 20;

/// One stored snapshot: its hash and size as served, its header line and
/// its segments (path relative to the RRDP directory, size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parts {
    pub hash: [u8; 32],
    pub size: u64,
    pub head: String,
    pub segments: Vec<(String, u64)>,
}

/// Where the parts of the snapshot at `rel` are kept.
pub fn parts_path(dir: &Path, rel: &str) -> PathBuf {
    dir.join(format!("{rel}{PARTS_SUFFIX}"))
}

/// A segment's path: `<session>/segments/<hex>.seg`, nothing else.
pub fn valid_segment_name(name: &str) -> bool {
    let mut it = name.split('/');
    let (Some(session), Some("segments"), Some(file), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    let hex = file.strip_suffix(".seg").unwrap_or("");
    !session.is_empty()
        && session.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

impl Parts {
    pub fn encode(&self) -> String {
        let mut s = format!("{MAGIC}\nsha256 {} size {}\nhead {}", rpkit_objects::hex::lower(&self.hash), self.size, self.head);
        for (name, size) in &self.segments {
            s.push_str(&format!("seg {name} {size}\n"));
        }
        s
    }

    /// Parse a parts file; its sizes must add up to the snapshot's.
    pub fn decode(text: &str) -> io::Result<Parts> {
        let mut lines = text.split_inclusive('\n');
        if lines.next() != Some(&format!("{MAGIC}\n")) {
            return Err(bad("not a snapshot parts file"));
        }
        let sums = lines.next().unwrap_or("").trim_end();
        let (hash, size) = match sums.split(' ').collect::<Vec<_>>()[..] {
            ["sha256", h, "size", n] => (h, n),
            _ => return Err(bad("parts file without its hash and size")),
        };
        let hash: [u8; 32] =
            rpkit_objects::hex::decode(hash).and_then(|v| v.try_into().ok()).ok_or_else(|| bad("bad hash in parts file"))?;
        let size: u64 = size.parse().map_err(|_| bad("bad size in parts file"))?;
        let head = lines.next().and_then(|l| l.strip_prefix("head ")).ok_or_else(|| bad("parts file without a header line"))?;
        if !head.starts_with("<snapshot ") || !head.ends_with(">\n") {
            return Err(bad("parts file with a bad header line"));
        }
        let mut segments = Vec::new();
        let mut total = (head.len() + FOOTER.len()) as u64;
        for l in lines {
            let (name, n) = l.trim_end().strip_prefix("seg ").and_then(|r| r.split_once(' ')).ok_or_else(|| bad("bad segment line"))?;
            let n: u64 = n.parse().map_err(|_| bad("bad segment size"))?;
            if !valid_segment_name(name) {
                return Err(bad(format!("bad segment name {name:?}")));
            }
            total += n;
            segments.push((name.to_string(), n));
        }
        if total != size {
            return Err(bad("the segments do not add up to the snapshot's size"));
        }
        Ok(Parts { hash, size, head: head.to_string(), segments })
    }

    /// The parts of the snapshot at `rel`.
    pub fn load(dir: &Path, rel: &str) -> io::Result<Parts> {
        let f = std::fs::File::open(parts_path(dir, rel))?;
        let mut text = String::new();
        f.take(MAX_PARTS_FILE + 1).read_to_string(&mut text)?;
        if text.len() as u64 > MAX_PARTS_FILE {
            return Err(bad("parts file too large"));
        }
        Parts::decode(&text)
    }

    /// Every segment is present with its recorded size.
    pub fn complete(&self, dir: &Path) -> bool {
        self.segments.iter().all(|(name, n)| std::fs::metadata(dir.join(name)).is_ok_and(|m| m.len() == *n))
    }
}

/// The bytes of the snapshot at `rel`: a whole file there, or its parts joined.
pub fn read(dir: &Path, rel: &str) -> io::Result<Vec<u8>> {
    match std::fs::read(dir.join(rel)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let parts = Parts::load(dir, rel)?;
    let mut out = Vec::with_capacity(parts.size as usize);
    out.extend_from_slice(parts.head.as_bytes());
    for (name, n) in &parts.segments {
        let bytes = std::fs::read(dir.join(name))?;
        if bytes.len() as u64 != *n {
            return Err(bad(format!("segment {name} is not its recorded size")));
        }
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(FOOTER);
    Ok(out)
}

/// The size of the snapshot stored at `rel`, if all of it is there.
pub fn stored_size(dir: &Path, rel: &str) -> Option<u64> {
    let parts = Parts::load(dir, rel).ok()?;
    parts.complete(dir).then_some(parts.size)
}

/// Remove the file at `rel` and the directories it leaves empty.
pub(crate) fn remove_file_and_dirs(root: &Path, rel: &str) {
    let p = root.join(rel);
    let _ = std::fs::remove_file(&p);
    let mut dir = p.parent();
    while let Some(d) = dir {
        if d == root || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Remove the snapshot at `rel` (its parts file, or a whole file from
/// before segments); its segments go when no snapshot names them.
pub fn remove(dir: &Path, rel: &str) {
    let _ = std::fs::remove_file(dir.join(rel));
    remove_file_and_dirs(dir, &format!("{rel}{PARTS_SUFFIX}"));
}

/// Remove the segment files that none of the snapshots at `keep` names,
/// and the directories left empty. Nothing is removed when one of them
/// cannot be read (its segments cannot be told apart). Returns the count.
pub fn collect_garbage(dir: &Path, keep: &[String]) -> io::Result<usize> {
    let mut named = HashSet::new();
    for rel in keep {
        match Parts::load(dir, rel) {
            Ok(p) => named.extend(p.segments.into_iter().map(|(n, _)| n)),
            // A whole file from before segments names none.
            Err(e) if e.kind() == io::ErrorKind::NotFound && dir.join(rel).is_file() => {}
            Err(e) => return Err(e),
        }
    }
    let mut removed = 0;
    for session in std::fs::read_dir(dir)? {
        let session = session?;
        let Some(s) = session.file_name().to_str().map(str::to_string) else { continue };
        let segs = session.path().join("segments");
        let Ok(files) = std::fs::read_dir(&segs) else { continue };
        for f in files {
            let f = f?;
            let Some(name) = f.file_name().to_str().map(|n| format!("{s}/segments/{n}")) else { continue };
            if valid_segment_name(&name) && !named.contains(&name) {
                remove_file_and_dirs(dir, &name);
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// One piece of a snapshot as served: bytes at hand, or a segment file.
enum Piece {
    Bytes(bytes::Bytes),
    File(PathBuf, u64),
}

/// The snapshot `parts` as one stream of bytes, each segment opened in
/// turn. A segment that is gone or shorter than recorded ends the stream
/// with an error (the response is then cut short, never wrong).
pub fn stream(dir: &Path, parts: &Parts) -> impl futures_util::Stream<Item = io::Result<bytes::Bytes>> + Send + 'static {
    use futures_util::StreamExt;
    use tokio::io::AsyncReadExt;
    let mut pieces = std::collections::VecDeque::new();
    pieces.push_back(Piece::Bytes(bytes::Bytes::from(parts.head.clone().into_bytes())));
    pieces.extend(parts.segments.iter().map(|(name, n)| Piece::File(dir.join(name), *n)));
    pieces.push_back(Piece::Bytes(bytes::Bytes::from_static(FOOTER)));
    type Reading = tokio_util::io::ReaderStream<tokio::io::Take<tokio::fs::File>>;
    // Fused: a body may be polled again after its end.
    futures_util::stream::unfold((pieces, None::<(Reading, u64)>), |(mut pieces, mut current)| async move {
        loop {
            if let Some((reading, left)) = current.as_mut() {
                match reading.next().await {
                    Some(Ok(b)) => {
                        *left -= b.len() as u64;
                        return Some((Ok(b), (pieces, current)));
                    }
                    Some(Err(e)) => return Some((Err(e), (Default::default(), None))),
                    None if *left > 0 => {
                        return Some((Err(bad("a snapshot segment is shorter than recorded")), (Default::default(), None)))
                    }
                    // Done with this segment: the next piece replaces it.
                    None => {}
                }
            }
            match pieces.pop_front()? {
                Piece::Bytes(b) => return Some((Ok(b), (pieces, None))),
                Piece::File(path, n) => match tokio::fs::File::open(&path).await {
                    Ok(f) => current = Some((tokio_util::io::ReaderStream::with_capacity(f.take(n), 256 * 1024), n)),
                    Err(e) => return Some((Err(e), (Default::default(), None))),
                },
            }
        }
    })
    .fuse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_files_round_trip_and_must_add_up() {
        let head = "<snapshot xmlns=\"http://www.ripe.net/rpki/rrdp\" version=\"1\" session_id=\"a-1\" serial=\"7\">\n".to_string();
        let segments = vec![("a-1/segments/00ff.seg".to_string(), 100), ("a-1/segments/0a.seg".to_string(), 5)];
        let size = (head.len() + FOOTER.len()) as u64 + 105;
        let p = Parts { hash: [3; 32], size, head, segments };
        assert_eq!(Parts::decode(&p.encode()).unwrap(), p);
        let wrong = Parts { size: p.size + 1, ..p.clone() };
        assert!(Parts::decode(&wrong.encode()).unwrap_err().to_string().contains("add up"));
        for name in ["../x/segments/00.seg", "a-1/segments/../../etc.seg", "a-1/other/00.seg", "a-1/segments/zz.seg", "/a/segments/0.seg"] {
            assert!(!valid_segment_name(name), "{name}");
            let evil = Parts { segments: vec![(name.to_string(), 105)], ..p.clone() };
            assert!(Parts::decode(&evil.encode()).is_err(), "{name}");
        }
    }
}
