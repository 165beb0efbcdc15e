//! The three RRDP documents (RFC 8182 §3.5, RRDPS-6/7): US-ASCII XML in the
//! `http://www.ripe.net/rpki/rrdp` namespace, version 1, lowercase hex hashes.

use base64::Engine;
use std::io::{self, Write};

pub const NS: &str = "http://www.ripe.net/rpki/rrdp";

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

pub fn hex(h: &[u8; 32]) -> String {
    rpkit_objects::hex::lower(h)
}

pub fn open(w: &mut (impl Write + ?Sized), root: &str, session: &str, serial: u64) -> io::Result<()> {
    writeln!(w, "<{root} xmlns=\"{NS}\" version=\"1\" session_id=\"{session}\" serial=\"{serial}\">")
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

pub fn withdraw(w: &mut (impl Write + ?Sized), uri: &str, hash: &[u8; 32]) -> io::Result<()> {
    writeln!(w, "  <withdraw uri=\"{}\" hash=\"{}\"/>", attr(uri), hex(hash))
}
