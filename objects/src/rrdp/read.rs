//! A streaming reader of the three RRDP documents (RFC 8182 §3.5) that trusts
//! nothing it reads (RRDPC-14): no DOCTYPE, entity or processing instruction;
//! bounded element size and count; strict base64; each `publish` decoded and
//! handed on one at a time, so memory stays bounded whatever the file's size.

use super::{bad, Item, Kind, XmlError, NS};
use crate::error::chain;
use crate::limits::{MAX_XML_ELEMENT as MAX_ELEMENT, MAX_XML_ELEMENTS as MAX_ELEMENTS};
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use std::io::{self, BufRead, Read};

/// A reader that fails once more than `total` bytes arrive, and once one XML
/// event spans more than `MAX_ELEMENT` bytes (RRDPC-14, RRDPC-15: applied to
/// the inflated stream, so a compressed bomb stops at the cap).
pub struct Bounded<R> {
    inner: io::BufReader<R>,
    total: u64,
    read: u64,
    since_mark: u64,
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, total: u64) -> Self {
        Bounded { inner: io::BufReader::with_capacity(64 * 1024, inner), total, read: 0, since_mark: 0 }
    }
    fn mark(&mut self) {
        self.since_mark = 0;
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.read > self.total {
            return Err(io::Error::other(format!("larger than the limit of {} bytes", self.total)));
        }
        if self.since_mark > MAX_ELEMENT {
            return Err(io::Error::other(format!("an element larger than {MAX_ELEMENT} bytes")));
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.read += n as u64;
        self.since_mark += n as u64;
        self.inner.consume(n);
    }
}

fn attrs(e: &BytesStart<'_>) -> Result<Vec<(String, String)>, XmlError> {
    let mut out = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| XmlError(format!("bad attribute: {e}")))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a.unescape_value().map_err(|e| XmlError(format!("bad attribute {key}: {e}")))?.into_owned();
        if out.iter().any(|(k, _)| *k == key) {
            return bad(format!("attribute {key} appears twice"));
        }
        out.push((key, value));
    }
    Ok(out)
}

fn get<'a>(a: &'a [(String, String)], key: &str) -> Option<&'a str> {
    a.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn need<'a>(a: &'a [(String, String)], key: &str, el: &str) -> Result<&'a str, XmlError> {
    get(a, key).ok_or_else(|| XmlError(format!("<{el}> without {key}")))
}

/// A SHA-256 in hex (either case, RFC 8182 §3.5.2.3).
pub fn parse_hash(s: &str) -> Result<[u8; 32], XmlError> {
    let v = crate::hex::decode(s).filter(|v| v.len() == 32).ok_or_else(|| XmlError(format!("bad hash {s:?}")))?;
    let mut h = [0u8; 32];
    h.copy_from_slice(&v);
    Ok(h)
}

fn parse_serial(s: &str) -> Result<u64, XmlError> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 && !s.starts_with('+') => Ok(n),
        _ => bad(format!("bad serial {s:?}")),
    }
}

/// RFC 8182 §3.5.1.3: a version 4 UUID in its usual text form.
fn check_session(s: &str) -> Result<(), XmlError> {
    let ok = s.len() == 36 && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
    if ok {
        Ok(())
    } else {
        bad(format!("bad session_id {s:?}"))
    }
}

/// Strict base64 allowing whitespace between characters (RRDPC-14).
fn base64_strict(text: &[u8]) -> Result<Vec<u8>, XmlError> {
    let clean: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| XmlError(format!("bad base64: {e}")))
}

/// Read one document of `kind`, handing each element to `f` in order; `f` may
/// stop the read by returning an error.
pub fn read(source: impl Read, total: u64, kind: Kind, mut f: impl FnMut(Item) -> Result<(), XmlError>) -> Result<(), XmlError> {
    let mut r = quick_xml::Reader::from_reader(Bounded::new(source, total));
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut elements = 0usize;
    let mut seen_root = false;
    let mut closed_root = false;
    let mut snapshots = 0usize;
    let mut changes = 0usize;
    // The open publish element: its attributes and text so far.
    let mut open: Option<(String, Option<[u8; 32]>, Vec<u8>)> = None;
    loop {
        r.get_mut().mark();
        let ev = r.read_event_into(&mut buf).map_err(|e| XmlError(format!("at byte {}: {}", r.buffer_position(), chain(&e))))?;
        match ev {
            Event::Decl(_) if !seen_root => {}
            Event::Comment(_) => {}
            Event::DocType(_) => return bad("DOCTYPE is not allowed"),
            Event::PI(_) | Event::Decl(_) => return bad("processing instructions are not allowed"),
            Event::CData(_) => return bad("CDATA is not allowed"),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return bad(format!("more than {MAX_ELEMENTS} elements"));
                }
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let a = attrs(e)?;
                match depth {
                    0 => {
                        if seen_root || name != kind.root() {
                            return bad(format!("expected <{}>, found <{name}>", kind.root()));
                        }
                        seen_root = true;
                        if get(&a, "xmlns") != Some(NS) {
                            return bad("wrong or missing namespace");
                        }
                        if get(&a, "version") != Some("1") {
                            return bad("version must be 1");
                        }
                        let session = need(&a, "session_id", &name)?;
                        check_session(session)?;
                        let serial = parse_serial(need(&a, "serial", &name)?)?;
                        f(Item::Root { session: session.to_ascii_lowercase(), serial })?;
                        if empty {
                            closed_root = true;
                        }
                    }
                    1 => {
                        let uri = need(&a, "uri", &name)?.to_string();
                        match (kind, name.as_str()) {
                            (Kind::Notification, "snapshot") if empty => {
                                snapshots += 1;
                                f(Item::SnapshotRef { uri, hash: parse_hash(need(&a, "hash", &name)?)? })?
                            }
                            (Kind::Notification, "delta") if empty => f(Item::DeltaRef {
                                serial: parse_serial(need(&a, "serial", &name)?)?,
                                uri,
                                hash: parse_hash(need(&a, "hash", &name)?)?,
                            })?,
                            (Kind::Delta, "withdraw") if empty => {
                                changes += 1;
                                f(Item::Withdraw { uri, hash: parse_hash(need(&a, "hash", &name)?)? })?
                            }
                            (Kind::Snapshot | Kind::Delta, "publish") => {
                                let hash = match get(&a, "hash") {
                                    Some(_) if kind == Kind::Snapshot => return bad("a snapshot's publish has no hash"),
                                    Some(h) => Some(parse_hash(h)?),
                                    None => None,
                                };
                                changes += 1;
                                if empty {
                                    f(Item::Publish { uri, hash, data: Vec::new() })?;
                                } else {
                                    open = Some((uri, hash, Vec::new()));
                                }
                            }
                            _ => return bad(format!("unexpected <{name}> in <{}>", kind.root())),
                        }
                    }
                    _ => return bad(format!("unexpected nested <{name}>")),
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::Text(t) => {
                let raw: &[u8] = t.as_ref();
                match open.as_mut() {
                    Some((_, _, text)) if depth == 2 => text.extend_from_slice(raw),
                    _ if raw.iter().all(|b| b.is_ascii_whitespace()) => {}
                    _ => return bad("text outside a publish element"),
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    if let Some((uri, hash, text)) = open.take() {
                        let data = base64_strict(&text).map_err(|e| XmlError(format!("{uri}: {}", e.0)))?;
                        f(Item::Publish { uri, hash, data })?;
                    }
                } else if depth == 0 {
                    closed_root = true;
                }
            }
            Event::Eof => break,
        }
        buf.clear();
    }
    if !seen_root || !closed_root {
        return bad(format!("incomplete <{}> document", kind.root()));
    }
    match kind {
        Kind::Notification if snapshots != 1 => bad(format!("{snapshots} snapshot elements, not one")),
        Kind::Delta if changes == 0 => bad("a delta with no publish or withdraw (RRDPC-12)"),
        _ => Ok(()),
    }
}
