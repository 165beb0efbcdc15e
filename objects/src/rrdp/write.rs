//! Writing the three RRDP documents (RFC 8182 §3.5, RRDPS-6/7): US-ASCII XML
//! in the RRDP namespace, version 1, hashes in lowercase hex, one element a line
//! (the snapshot writer copies unchanged lines from the previous snapshot).

use super::NS;
use base64::Engine;
use std::io::{self, Write};

/// Escape an attribute value.
pub fn attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// A SHA-256 as RRDP writes it: lowercase hex.
pub fn hex(h: &[u8; 32]) -> String {
    crate::hex::lower(h)
}

/// The root element's start: `<notification|snapshot|delta xmlns=... version="1" session_id=... serial=...>`.
pub fn open(w: &mut (impl Write + ?Sized), root: &str, session: &str, serial: u64) -> io::Result<()> {
    writeln!(w, "<{root} xmlns=\"{NS}\" version=\"1\" session_id=\"{session}\" serial=\"{serial}\">")
}

/// The root element's end.
pub fn close(w: &mut (impl Write + ?Sized), root: &str) -> io::Result<()> {
    writeln!(w, "</{root}>")
}

/// `<publish uri="..." [hash="..."]>base64</publish>`
pub fn publish(w: &mut (impl Write + ?Sized), uri: &str, replaces: Option<&[u8; 32]>, der: &[u8]) -> io::Result<()> {
    match replaces {
        Some(h) => write!(w, "  <publish uri=\"{}\" hash=\"{}\">", attr(uri), hex(h))?,
        None => write!(w, "  <publish uri=\"{}\">", attr(uri))?,
    }
    w.write_all(base64::engine::general_purpose::STANDARD.encode(der).as_bytes())?;
    w.write_all(b"</publish>\n")
}

/// `<withdraw uri="..." hash="..."/>`
pub fn withdraw(w: &mut (impl Write + ?Sized), uri: &str, hash: &[u8; 32]) -> io::Result<()> {
    writeln!(w, "  <withdraw uri=\"{}\" hash=\"{}\"/>", attr(uri), hex(hash))
}

/// A notification's `<snapshot uri="..." hash="..."/>`.
pub fn snapshot_ref(w: &mut (impl Write + ?Sized), uri: &str, hash: &[u8; 32]) -> io::Result<()> {
    writeln!(w, "  <snapshot uri=\"{}\" hash=\"{}\"/>", attr(uri), hex(hash))
}

/// A notification's `<delta serial="..." uri="..." hash="..."/>`.
pub fn delta_ref(w: &mut (impl Write + ?Sized), serial: u64, uri: &str, hash: &[u8; 32]) -> io::Result<()> {
    writeln!(w, "  <delta serial=\"{serial}\" uri=\"{}\" hash=\"{}\"/>", attr(uri), hex(hash))
}

#[cfg(test)]
mod tests {
    use super::super::{read, Item, Kind};
    use super::*;

    /// What is written reads back, element by element (RRDPS-6, RRDPC-14).
    #[test]
    fn written_documents_read_back() {
        let session = "9df4b597-af9e-4dca-bdda-719cce2c4e28";
        let (h1, h2) = ([1u8; 32], [2u8; 32]);
        let mut n = Vec::new();
        open(&mut n, "notification", session, 3).unwrap();
        snapshot_ref(&mut n, "https://h/s&1.xml", &h1).unwrap();
        delta_ref(&mut n, 3, "https://h/d3.xml", &h2).unwrap();
        close(&mut n, "notification").unwrap();
        let mut d = Vec::new();
        open(&mut d, "delta", session, 3).unwrap();
        publish(&mut d, "rsync://h/m/a.roa", Some(&h1), b"\x30\x03\x02\x01\x05").unwrap();
        withdraw(&mut d, "rsync://h/m/\"b\".roa", &h2).unwrap();
        close(&mut d, "delta").unwrap();
        let items = |doc: &[u8], kind| {
            let mut v = Vec::new();
            read::read(doc, 1 << 20, kind, |i| {
                v.push(i);
                Ok(())
            })
            .unwrap();
            v
        };
        let root = Item::Root { session: session.into(), serial: 3 };
        assert_eq!(
            items(&n, Kind::Notification),
            vec![
                root.clone(),
                Item::SnapshotRef { uri: "https://h/s&1.xml".into(), hash: h1 },
                Item::DeltaRef { serial: 3, uri: "https://h/d3.xml".into(), hash: h2 }
            ]
        );
        assert_eq!(
            items(&d, Kind::Delta),
            vec![
                root,
                Item::Publish { uri: "rsync://h/m/a.roa".into(), hash: Some(h1), data: b"\x30\x03\x02\x01\x05".to_vec() },
                Item::Withdraw { uri: "rsync://h/m/\"b\".roa".into(), hash: h2 }
            ]
        );
    }
}
