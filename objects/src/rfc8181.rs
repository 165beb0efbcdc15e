//! RFC 8181 publication semantics shared by publishers (the CA) and the
//! publication server: `publish` (new, or replacing the object with a given
//! SHA-256) and `withdraw` (of the object with a given SHA-256).

/// One element of a change set (RFC 8181 §2.2, §2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Publish { uri: String, der: Vec<u8>, replaces: Option<[u8; 32]> },
    Withdraw { uri: String, hash: [u8; 32] },
}

impl Change {
    pub fn uri(&self) -> &str {
        match self {
            Change::Publish { uri, .. } | Change::Withdraw { uri, .. } => uri,
        }
    }
}

/// Everything one change publishes: one RFC 8181 message, one RRDP delta.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// RFC 8181 §2.5 error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    XmlError,
    PermissionFailure,
    BadCmsSignature,
    ObjectAlreadyPresent,
    NoObjectPresent,
    NoObjectMatchingHash,
    ConsistencyProblem,
    OtherError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 8] = [
        ErrorCode::XmlError,
        ErrorCode::PermissionFailure,
        ErrorCode::BadCmsSignature,
        ErrorCode::ObjectAlreadyPresent,
        ErrorCode::NoObjectPresent,
        ErrorCode::NoObjectMatchingHash,
        ErrorCode::ConsistencyProblem,
        ErrorCode::OtherError,
    ];

    /// The code of its RFC 8181 name.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::XmlError => "xml_error",
            ErrorCode::PermissionFailure => "permission_failure",
            ErrorCode::BadCmsSignature => "bad_cms_signature",
            ErrorCode::ObjectAlreadyPresent => "object_already_present",
            ErrorCode::NoObjectPresent => "no_object_present",
            ErrorCode::NoObjectMatchingHash => "no_object_matching_hash",
            ErrorCode::ConsistencyProblem => "consistency_problem",
            ErrorCode::OtherError => "other_error",
        }
    }
}

/// The publication protocol's XML namespace (RFC 8181 §2.1, version 4).
pub const NS: &str = "http://www.hactrn.net/uris/rpki/publication-spec/";

/// A query PDU (RFC 8181 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryPdu {
    Publish { tag: Option<String>, uri: String, der: Vec<u8>, hash: Option<[u8; 32]> },
    Withdraw { tag: Option<String>, uri: String, hash: [u8; 32] },
}

/// A query message: `list`, or publish/withdraw PDUs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    List,
    Pdus(Vec<QueryPdu>),
}

/// One `report_error` (RFC 8181 §2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportError {
    pub code: String,
    pub tag: Option<String>,
    pub text: Option<String>,
}

/// A reply message (RFC 8181 §2.3, §2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Success,
    List(Vec<(String, [u8; 32])>),
    Errors(Vec<ReportError>),
}

use crate::error::{reject, Error, Result};
use base64::Engine;
use quick_xml::events::{BytesStart, Event};

const RULE: &str = "RFC 8181 §2";

fn xml_err(e: impl std::fmt::Display) -> Error {
    Error::new(RULE, format!("XML: {e}"))
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn attrs(e: &BytesStart<'_>) -> Result<std::collections::BTreeMap<String, String>> {
    let mut m = std::collections::BTreeMap::new();
    for a in e.attributes() {
        let a = a.map_err(xml_err)?;
        let k = std::str::from_utf8(a.key.as_ref()).map_err(xml_err)?.to_string();
        let v = a.unescape_value().map_err(xml_err)?.into_owned();
        m.insert(k, v);
    }
    Ok(m)
}

fn hash_attr(v: &str) -> Result<[u8; 32]> {
    crate::hex::decode(v).and_then(|h| h.try_into().ok()).ok_or_else(|| Error::new(RULE, format!("'{v}' is not a SHA-256 hash")))
}

/// A PDU element: name, attributes (plus `#error_text`), text.
type Element = (String, std::collections::BTreeMap<String, String>, String);

/// The elements directly inside `<msg>`; the root is checked.
fn elements(xml: &[u8], want_type: &str) -> Result<Vec<Element>> {
    if xml.len() > crate::limits::MAX_RFC8181_MESSAGE {
        return reject(RULE, "message too large");
    }
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut out: Vec<Element> = Vec::new();
    let mut seen_root = false;
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::DocType(_) => return reject(RULE, "DOCTYPE is not allowed"),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = std::str::from_utf8(e.name().as_ref()).map_err(xml_err)?.to_string();
                let a = attrs(e)?;
                if depth == 0 {
                    if seen_root || name != "msg" {
                        return reject(RULE, format!("root element must be <msg>, found <{name}>"));
                    }
                    seen_root = true;
                    if a.get("xmlns").map(String::as_str) != Some(NS) {
                        return reject(RULE, "wrong or missing namespace");
                    }
                    if a.get("version").map(String::as_str) != Some("4") {
                        return reject(RULE, "version must be 4");
                    }
                    if a.get("type").map(String::as_str) != Some(want_type) {
                        return reject(RULE, format!("message type must be {want_type}"));
                    }
                } else if depth == 1 {
                    out.push((name, a, String::new()));
                } else if depth == 2 && name == "error_text" {
                    if let Some(last) = out.last_mut() {
                        last.1.insert("#error_text".into(), String::new());
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                let t = t.unescape().map_err(xml_err)?;
                if let Some(last) = out.last_mut() {
                    if depth == 2 {
                        last.2.push_str(&t);
                    } else if depth == 3 && last.1.contains_key("#error_text") {
                        last.1.entry("#error_text".into()).or_default().push_str(&t);
                    }
                } else if !t.trim().is_empty() {
                    return reject(RULE, "text outside the PDUs");
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return reject(RULE, "no <msg> element");
    }
    Ok(out)
}

impl Query {
    pub fn decode(xml: &[u8]) -> Result<Self> {
        let els = elements(xml, "query")?;
        if els.len() == 1 && els[0].0 == "list" {
            return Ok(Query::List);
        }
        let mut pdus = Vec::new();
        for (name, a, text) in els {
            let uri = a.get("uri").cloned().ok_or_else(|| Error::new(RULE, format!("<{name}> without uri")))?;
            let tag = a.get("tag").cloned();
            match name.as_str() {
                "publish" => {
                    let b64: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|e| Error::new(RULE, format!("publish {uri}: bad base64: {e}")))?;
                    let hash = a.get("hash").map(|h| hash_attr(h)).transpose()?;
                    pdus.push(QueryPdu::Publish { tag, uri, der, hash });
                }
                "withdraw" => {
                    let hash = hash_attr(a.get("hash").ok_or_else(|| Error::new(RULE, "withdraw without hash"))?)?;
                    pdus.push(QueryPdu::Withdraw { tag, uri, hash });
                }
                other => return reject(RULE, format!("unknown query element <{other}>")),
            }
        }
        Ok(Query::Pdus(pdus))
    }

    pub fn encode(&self) -> String {
        let mut s = format!("<msg xmlns=\"{NS}\" version=\"4\" type=\"query\">\n");
        match self {
            Query::List => s.push_str("  <list/>\n"),
            Query::Pdus(pdus) => {
                for p in pdus {
                    let tag = |t: &Option<String>| t.as_ref().map(|t| format!(" tag=\"{}\"", esc(t))).unwrap_or_default();
                    match p {
                        QueryPdu::Publish { tag: t, uri, der, hash } => {
                            let h = hash.map(|h| format!(" hash=\"{}\"", crate::hex::lower(&h))).unwrap_or_default();
                            let b = base64::engine::general_purpose::STANDARD.encode(der);
                            s.push_str(&format!("  <publish{}{h} uri=\"{}\">{b}</publish>\n", tag(t), esc(uri)));
                        }
                        QueryPdu::Withdraw { tag: t, uri, hash } => {
                            s.push_str(&format!("  <withdraw{} hash=\"{}\" uri=\"{}\"/>\n", tag(t), crate::hex::lower(hash), esc(uri)));
                        }
                    }
                }
            }
        }
        s.push_str("</msg>\n");
        s
    }

    /// The change set of a publish/withdraw query.
    pub fn changes(&self) -> ChangeSet {
        let changes = match self {
            Query::List => Vec::new(),
            Query::Pdus(p) => p
                .iter()
                .map(|p| match p {
                    QueryPdu::Publish { uri, der, hash, .. } => Change::Publish { uri: uri.clone(), der: der.clone(), replaces: *hash },
                    QueryPdu::Withdraw { uri, hash, .. } => Change::Withdraw { uri: uri.clone(), hash: *hash },
                })
                .collect(),
        };
        ChangeSet { changes }
    }
}

impl Reply {
    pub fn decode(xml: &[u8]) -> Result<Self> {
        let els = elements(xml, "reply")?;
        match els.first().map(|e| e.0.as_str()) {
            Some("success") if els.len() == 1 => Ok(Reply::Success),
            None => Ok(Reply::List(Vec::new())),
            Some("list") => els
                .iter()
                .map(|(n, a, _)| {
                    if n != "list" {
                        return reject(RULE, format!("unexpected <{n}> in a list reply"));
                    }
                    let uri = a.get("uri").cloned().ok_or_else(|| Error::new(RULE, "list element without uri"))?;
                    Ok((uri, hash_attr(a.get("hash").map(String::as_str).unwrap_or(""))?))
                })
                .collect::<Result<_>>()
                .map(Reply::List),
            Some("report_error") => els
                .iter()
                .map(|(n, a, _)| {
                    if n != "report_error" {
                        return reject(RULE, format!("unexpected <{n}> in an error reply"));
                    }
                    let code = a.get("error_code").cloned().ok_or_else(|| Error::new(RULE, "report_error without error_code"))?;
                    Ok(ReportError { code, tag: a.get("tag").cloned(), text: a.get("#error_text").cloned() })
                })
                .collect::<Result<_>>()
                .map(Reply::Errors),
            Some(other) => reject(RULE, format!("unexpected reply element <{other}>")),
        }
    }

    pub fn encode(&self) -> String {
        let mut s = format!("<msg xmlns=\"{NS}\" version=\"4\" type=\"reply\">\n");
        match self {
            Reply::Success => s.push_str("  <success/>\n"),
            Reply::List(items) => {
                for (uri, h) in items {
                    s.push_str(&format!("  <list uri=\"{}\" hash=\"{}\"/>\n", esc(uri), crate::hex::lower(h)));
                }
            }
            Reply::Errors(errs) => {
                for e in errs {
                    let tag = e.tag.as_ref().map(|t| format!(" tag=\"{}\"", esc(t))).unwrap_or_default();
                    s.push_str(&format!("  <report_error error_code=\"{}\"{tag}>", esc(&e.code)));
                    if let Some(t) = &e.text {
                        s.push_str(&format!("<error_text>{}</error_text>", esc(t)));
                    }
                    s.push_str("</report_error>\n");
                }
            }
        }
        s.push_str("</msg>\n");
        s
    }
}
