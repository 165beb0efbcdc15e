//! RFC 6492 up-down messages (UPDOWN-1, UPDOWN-3..6): the XML a child CA and
//! its parent exchange, inside the CMS wrapper of `signed_message.rs`
//! (UPDOWN-2). Decoder and encoder side by side.

use crate::crypto::KeyId;
use crate::der::Time;
use crate::error::{reject, Error, Result};
use crate::limits::{MAX_UPDOWN_ELEMENTS, MAX_UPDOWN_MESSAGE};
use crate::resources::{parse_as_block, parse_block, Afi, AsBlocks, IpBlocks, RangeSet, ResourceSet};
use base64::Engine;
use quick_xml::events::Event;
use std::collections::BTreeMap;

pub const NS: &str = "http://www.apnic.net/specs/rescerts/up-down/";
/// The HTTP Content-Type of both directions (UPDOWN-1).
pub const CONTENT_TYPE: &str = "application/rpki-updown";
const RULE: &str = "RFC 6492 §3";

/// One message: who sends it to whom, and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub sender: String,
    pub recipient: String,
    pub payload: Payload,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    List,
    ListResponse(Vec<Class>),
    Issue(IssueRequest),
    IssueResponse(Class),
    Revoke(KeyRef),
    RevokeResponse(KeyRef),
    Error(ErrorResponse),
}

impl Payload {
    /// The `type` attribute.
    pub fn type_name(&self) -> &'static str {
        match self {
            Payload::List => "list",
            Payload::ListResponse(_) => "list_response",
            Payload::Issue(_) => "issue",
            Payload::IssueResponse(_) => "issue_response",
            Payload::Revoke(_) => "revoke",
            Payload::RevokeResponse(_) => "revoke_response",
            Payload::Error(_) => "error_response",
        }
    }
}

/// A resource class as the parent describes it (UPDOWN-3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub class_name: String,
    /// Where the issuer's (the parent CA's) certificate is published.
    pub cert_url: String,
    /// What the child is entitled to in this class.
    pub resources: ResourceSet,
    /// No certificate in this class lasts past this.
    pub not_after: Time,
    pub suggested_sia_head: Option<String>,
    /// The child's current certificates in this class.
    pub certificates: Vec<IssuedCert>,
    /// The issuer's certificate (DER).
    pub issuer: Vec<u8>,
}

/// A certificate the parent issued to the child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCert {
    pub cert_url: String,
    /// The subset the child asked for, when it asked for one.
    pub limit: Limit,
    pub der: Vec<u8>,
}

/// A subset of the entitlement asked for (`req_resource_set_*`): a family
/// left out is not limited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limit {
    pub asn: Option<AsBlocks>,
    pub ipv4: Option<IpBlocks>,
    pub ipv6: Option<IpBlocks>,
}

impl Limit {
    pub fn is_empty(&self) -> bool {
        self.asn.is_none() && self.ipv4.is_none() && self.ipv6.is_none()
    }

    /// The resources of `entitled` within this limit.
    pub fn apply(&self, entitled: &ResourceSet) -> ResourceSet {
        let ip = |l: &Option<IpBlocks>, e: &IpBlocks| match l {
            Some(l) => IpBlocks { afi: e.afi, set: e.set.intersection(&l.set) },
            None => e.clone(),
        };
        ResourceSet {
            asn: match &self.asn {
                Some(l) => AsBlocks { set: entitled.asn.set.intersection(&l.set) },
                None => entitled.asn.clone(),
            },
            ipv4: ip(&self.ipv4, &entitled.ipv4),
            ipv6: ip(&self.ipv6, &entitled.ipv6),
        }
    }

    /// What the limit asks for beyond `entitled`.
    pub fn beyond(&self, entitled: &ResourceSet) -> ResourceSet {
        let asked = ResourceSet {
            asn: self.asn.clone().unwrap_or_else(AsBlocks::empty),
            ipv4: self.ipv4.clone().unwrap_or_else(|| IpBlocks::empty(Afi::Ipv4)),
            ipv6: self.ipv6.clone().unwrap_or_else(|| IpBlocks::empty(Afi::Ipv6)),
        };
        asked.difference(entitled)
    }
}

/// A certificate request (UPDOWN-4): a PKCS#10 request in one class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRequest {
    pub class_name: String,
    pub limit: Limit,
    pub csr: Vec<u8>,
}

/// A key in a class (`revoke`, `revoke_response`; UPDOWN-5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRef {
    pub class_name: String,
    pub ski: KeyId,
}

/// The status codes of an error response (UPDOWN-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    AlreadyProcessing,
    VersionError,
    UnknownRequestType,
    Scheduled,
    NoSuchClass,
    NoResources,
    BadRequest,
    KeyInUse,
    RevokeNoSuchClass,
    RevokeNoSuchKey,
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::AlreadyProcessing,
        ErrorCode::VersionError,
        ErrorCode::UnknownRequestType,
        ErrorCode::Scheduled,
        ErrorCode::NoSuchClass,
        ErrorCode::NoResources,
        ErrorCode::BadRequest,
        ErrorCode::KeyInUse,
        ErrorCode::RevokeNoSuchClass,
        ErrorCode::RevokeNoSuchKey,
        ErrorCode::Internal,
    ];

    pub fn code(self) -> u16 {
        match self {
            ErrorCode::AlreadyProcessing => 1101,
            ErrorCode::VersionError => 1102,
            ErrorCode::UnknownRequestType => 1103,
            ErrorCode::Scheduled => 1104,
            ErrorCode::NoSuchClass => 1201,
            ErrorCode::NoResources => 1202,
            ErrorCode::BadRequest => 1203,
            ErrorCode::KeyInUse => 1204,
            ErrorCode::RevokeNoSuchClass => 1301,
            ErrorCode::RevokeNoSuchKey => 1302,
            ErrorCode::Internal => 2001,
        }
    }

    pub fn from_code(n: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == n)
    }

    /// The RFC's wording.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::AlreadyProcessing => "already processing request",
            ErrorCode::VersionError => "version number error",
            ErrorCode::UnknownRequestType => "unrecognised request type",
            ErrorCode::Scheduled => "request scheduled for processing",
            ErrorCode::NoSuchClass => "request - no such resource class",
            ErrorCode::NoResources => "request - no resources allocated in resource class",
            ErrorCode::BadRequest => "request - badly formed certificate request",
            ErrorCode::KeyInUse => "request - already used key in request",
            ErrorCode::RevokeNoSuchClass => "revoke - no such resource class",
            ErrorCode::RevokeNoSuchKey => "revoke - no such key",
            ErrorCode::Internal => "Internal Server Error - Request not performed",
        }
    }
}

/// An `error_response`; `status` is kept as sent (an unknown code is not lost).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub description: Option<String>,
}

impl ErrorResponse {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        ErrorResponse { status: code.code(), description: Some(description.into()) }
    }

    pub fn code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.status)
    }
}

impl std::fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let meaning = self.code().map(ErrorCode::meaning).unwrap_or("unknown status");
        write!(f, "{} ({meaning})", self.status)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

// --- Resource sets as text (UPDOWN-3) ---------------------------------------------

/// `64496-64511,65000`
pub fn encode_asns(a: &AsBlocks) -> String {
    a.set.ranges().iter().map(|&(lo, hi)| if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") }).collect::<Vec<_>>().join(",")
}

/// Prefixes, or `a-b` ranges where no prefix fits.
pub fn encode_ips(b: &IpBlocks) -> String {
    b.to_strings().join(",")
}

pub fn decode_asns(s: &str) -> Result<AsBlocks> {
    let mut ranges = Vec::new();
    for item in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if ranges.len() >= crate::limits::MAX_RESOURCE_ENTRIES {
            return reject(RULE, "too many AS resources");
        }
        ranges.push(parse_as_block(item).map_err(|e| Error::new(RULE, format!("AS resource {item:?}: {e}")))?);
    }
    Ok(AsBlocks::from_ranges(ranges))
}

pub fn decode_ips(s: &str, afi: Afi) -> Result<IpBlocks> {
    let mut ranges = Vec::new();
    for item in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if ranges.len() >= crate::limits::MAX_RESOURCE_ENTRIES {
            return reject(RULE, "too many IP resources");
        }
        let (a, lo, hi) = parse_block(item).map_err(|e| Error::new(RULE, format!("IP resource {item:?}: {e}")))?;
        if a != afi {
            return reject(RULE, format!("{item:?} is not of the family of its attribute"));
        }
        ranges.push((lo, hi));
    }
    Ok(IpBlocks { afi, set: RangeSet::from_ranges(ranges) })
}

// --- XML ---------------------------------------------------------------------------

type Attrs = BTreeMap<String, String>;

/// An element below the root: its attributes, text and child elements.
#[derive(Default)]
struct Element {
    name: String,
    attrs: Attrs,
    text: String,
    children: Vec<Element>,
}

fn xml_err(e: impl std::fmt::Display) -> Error {
    Error::new(RULE, format!("XML: {e}"))
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn unb64(s: &str, what: &str) -> Result<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| Error::new(RULE, format!("{what}: bad base64: {e}")))
}

/// The root's attributes and the elements below it (two levels at most).
fn parse(xml: &[u8]) -> Result<(Attrs, Vec<Element>)> {
    if xml.len() > MAX_UPDOWN_MESSAGE {
        return reject(RULE, format!("message of {} octets (at most {MAX_UPDOWN_MESSAGE})", xml.len()));
    }
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let (mut root, mut top, mut depth, mut count) = (None::<Attrs>, Vec::<Element>::new(), 0usize, 0usize);
    loop {
        let ev = r.read_event_into(&mut buf).map_err(xml_err)?;
        match ev {
            Event::DocType(_) => return reject(RULE, "DOCTYPE is not allowed"),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let mut attrs = Attrs::new();
                for a in e.attributes() {
                    let a = a.map_err(xml_err)?;
                    let v = a.unescape_value().map_err(xml_err)?;
                    attrs.insert(String::from_utf8_lossy(a.key.as_ref()).into_owned(), v.into_owned());
                }
                count += 1;
                if count > MAX_UPDOWN_ELEMENTS * 4 {
                    return reject(RULE, "too many elements");
                }
                let el = Element { name: name.clone(), attrs, ..Element::default() };
                match depth {
                    0 if root.is_none() && name == "message" => root = Some(el.attrs),
                    0 => return reject(RULE, format!("root element must be <message>, found <{name}>")),
                    1 => top.push(el),
                    2 => top.last_mut().map(|t| t.children.push(el)).unwrap_or_default(),
                    _ => return reject(RULE, "elements nest too deep"),
                }
                if matches!(ev, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                let t = t.unescape().map_err(xml_err)?;
                match depth {
                    2 => top.last_mut().map(|e| e.text.push_str(&t)).unwrap_or_default(),
                    3 => top.last_mut().and_then(|e| e.children.last_mut()).map(|c| c.text.push_str(&t)).unwrap_or_default(),
                    _ if t.trim().is_empty() => {}
                    _ => return reject(RULE, "text outside the elements"),
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let root = root.ok_or_else(|| Error::new(RULE, "no <message> element"))?;
    Ok((root, top))
}

fn attr<'a>(m: &'a Attrs, name: &str, what: &str) -> Result<&'a str> {
    m.get(name).map(String::as_str).ok_or_else(|| Error::new(RULE, format!("<{what}> without {name}")))
}

fn class_name(m: &Attrs, what: &str) -> Result<String> {
    let c = attr(m, "class_name", what)?;
    if c.is_empty() || c.len() > 255 || c.chars().any(char::is_control) {
        return reject(RULE, format!("<{what}>: class_name {c:?}"));
    }
    Ok(c.to_string())
}

fn limit(m: &Attrs) -> Result<Limit> {
    Ok(Limit {
        asn: m.get("req_resource_set_as").map(|s| decode_asns(s)).transpose()?,
        ipv4: m.get("req_resource_set_ipv4").map(|s| decode_ips(s, Afi::Ipv4)).transpose()?,
        ipv6: m.get("req_resource_set_ipv6").map(|s| decode_ips(s, Afi::Ipv6)).transpose()?,
    })
}

fn limit_attrs(l: &Limit) -> String {
    let mut s = String::new();
    if let Some(a) = &l.asn {
        s.push_str(&format!(" req_resource_set_as=\"{}\"", encode_asns(a)));
    }
    if let Some(a) = &l.ipv4 {
        s.push_str(&format!(" req_resource_set_ipv4=\"{}\"", encode_ips(a)));
    }
    if let Some(a) = &l.ipv6 {
        s.push_str(&format!(" req_resource_set_ipv6=\"{}\"", encode_ips(a)));
    }
    s
}

/// The SKI of a revoke: base64url without padding of the 20-octet key identifier.
fn ski(m: &Attrs, what: &str) -> Result<KeyId> {
    let s = attr(m, "ski", what)?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| Error::new(RULE, format!("<{what}> ski {s:?}: {e}")))?;
    KeyId::from_slice(&raw).ok_or_else(|| Error::new(RULE, format!("<{what}> ski is not 20 octets")))
}

pub fn encode_ski(k: &KeyId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k.0)
}

fn decode_class(e: &Element) -> Result<Class> {
    let a = &e.attrs;
    let not_after = attr(a, "resource_set_notafter", "class")?;
    let resources = ResourceSet {
        asn: decode_asns(attr(a, "resource_set_as", "class")?)?,
        ipv4: decode_ips(attr(a, "resource_set_ipv4", "class")?, Afi::Ipv4)?,
        ipv6: decode_ips(attr(a, "resource_set_ipv6", "class")?, Afi::Ipv6)?,
    };
    let mut class = Class {
        class_name: class_name(a, "class")?,
        cert_url: attr(a, "cert_url", "class")?.to_string(),
        resources,
        not_after: Time::parse_rfc3339(not_after)
            .ok_or_else(|| Error::new(RULE, format!("resource_set_notafter {not_after:?} is not an RFC 3339 time")))?,
        suggested_sia_head: a.get("suggested_sia_head").cloned(),
        certificates: Vec::new(),
        issuer: Vec::new(),
    };
    for c in &e.children {
        match c.name.as_str() {
            "certificate" => class.certificates.push(IssuedCert {
                cert_url: attr(&c.attrs, "cert_url", "certificate")?.to_string(),
                limit: limit(&c.attrs)?,
                der: unb64(&c.text, "certificate")?,
            }),
            "issuer" => class.issuer = unb64(&c.text, "issuer")?,
            other => return reject(RULE, format!("unexpected <{other}> in <class>")),
        }
    }
    if class.issuer.is_empty() {
        return reject(RULE, "<class> without <issuer>");
    }
    Ok(class)
}

fn encode_class(c: &Class, s: &mut String) {
    let head = c.suggested_sia_head.as_ref().map(|h| format!(" suggested_sia_head=\"{}\"", esc(h))).unwrap_or_default();
    s.push_str(&format!(
        "  <class class_name=\"{}\" cert_url=\"{}\" resource_set_as=\"{}\" resource_set_ipv4=\"{}\" resource_set_ipv6=\"{}\" resource_set_notafter=\"{}\"{head}>\n",
        esc(&c.class_name),
        esc(&c.cert_url),
        encode_asns(&c.resources.asn),
        encode_ips(&c.resources.ipv4),
        encode_ips(&c.resources.ipv6),
        c.not_after.rfc3339()
    ));
    for cert in &c.certificates {
        s.push_str(&format!(
            "    <certificate cert_url=\"{}\"{}>{}</certificate>\n",
            esc(&cert.cert_url),
            limit_attrs(&cert.limit),
            b64(&cert.der)
        ));
    }
    s.push_str(&format!("    <issuer>{}</issuer>\n  </class>\n", b64(&c.issuer)));
}

fn only<'a>(els: &'a [Element], name: &str, ty: &str) -> Result<&'a Element> {
    match els {
        [e] if e.name == name => Ok(e),
        _ => reject(RULE, format!("a {ty} message holds exactly one <{name}>")),
    }
}

/// Why a message could not be read, with the status an answer should carry.
#[derive(Debug)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub error: Error,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for DecodeError {}

impl Message {
    /// Decode a message (`decode_coded` tells which status to answer with).
    pub fn decode(xml: &[u8]) -> Result<Message> {
        Self::decode_coded(xml).map_err(|e| e.error)
    }

    /// `decode`, the error carrying the status to answer with (UPDOWN-6):
    /// 1102 for a version other than 1, 1103 for an unknown type, 1203 for
    /// anything else malformed.
    pub fn decode_coded(xml: &[u8]) -> std::result::Result<Message, DecodeError> {
        let bad = |error: Error| DecodeError { code: ErrorCode::BadRequest, error };
        let (root, els) = parse(xml).map_err(bad)?;
        let ns = root.get("xmlns").map(String::as_str).unwrap_or_default();
        if ns.trim_end_matches('/') != NS.trim_end_matches('/') {
            return Err(bad(Error::new(RULE, format!("namespace {ns:?} is not {NS}"))));
        }
        if root.get("version").map(String::as_str) != Some("1") {
            let error = Error::new(RULE, format!("version {:?} is not 1", root.get("version")));
            return Err(DecodeError { code: ErrorCode::VersionError, error });
        }
        let sender = attr(&root, "sender", "message").map_err(bad)?.to_string();
        let recipient = attr(&root, "recipient", "message").map_err(bad)?.to_string();
        let ty = attr(&root, "type", "message").map_err(bad)?.to_string();
        if els.len() > MAX_UPDOWN_ELEMENTS {
            return Err(bad(Error::new(RULE, "too many elements")));
        }
        let payload = (|| -> std::result::Result<Payload, DecodeError> {
            Ok(match ty.as_str() {
                "list" => Payload::List,
                "list_response" => Payload::ListResponse(
                    els.iter()
                        .map(|e| if e.name == "class" { decode_class(e) } else { reject(RULE, format!("unexpected <{}>", e.name)) })
                        .collect::<Result<_>>()
                        .map_err(bad)?,
                ),
                "issue" => {
                    let e = only(&els, "request", "issue").map_err(bad)?;
                    Payload::Issue(IssueRequest {
                        class_name: class_name(&e.attrs, "request").map_err(bad)?,
                        limit: limit(&e.attrs).map_err(bad)?,
                        csr: unb64(&e.text, "request").map_err(bad)?,
                    })
                }
                "issue_response" => Payload::IssueResponse(decode_class(only(&els, "class", "issue_response").map_err(bad)?).map_err(bad)?),
                "revoke" | "revoke_response" => {
                    let e = only(&els, "key", &ty).map_err(bad)?;
                    let k = KeyRef { class_name: class_name(&e.attrs, "key").map_err(bad)?, ski: ski(&e.attrs, "key").map_err(bad)? };
                    if ty == "revoke" {
                        Payload::Revoke(k)
                    } else {
                        Payload::RevokeResponse(k)
                    }
                }
                "error_response" => {
                    let status =
                        els.iter().find(|e| e.name == "status").ok_or_else(|| bad(Error::new(RULE, "error_response without <status>")))?;
                    let status =
                        status.text.trim().parse::<u16>().map_err(|_| bad(Error::new(RULE, format!("status {:?}", status.text))))?;
                    let description = els.iter().find(|e| e.name == "description").map(|e| e.text.trim().to_string());
                    Payload::Error(ErrorResponse { status, description })
                }
                other => {
                    let error = Error::new(RULE, format!("unknown message type {other:?}"));
                    return Err(DecodeError { code: ErrorCode::UnknownRequestType, error });
                }
            })
        })()?;
        Ok(Message { sender, recipient, payload })
    }

    pub fn encode(&self) -> String {
        let mut s = format!(
            "<message xmlns=\"{NS}\" version=\"1\" sender=\"{}\" recipient=\"{}\" type=\"{}\">\n",
            esc(&self.sender),
            esc(&self.recipient),
            self.payload.type_name()
        );
        match &self.payload {
            Payload::List => {}
            Payload::ListResponse(classes) => classes.iter().for_each(|c| encode_class(c, &mut s)),
            Payload::IssueResponse(c) => encode_class(c, &mut s),
            Payload::Issue(r) => s.push_str(&format!(
                "  <request class_name=\"{}\"{}>{}</request>\n",
                esc(&r.class_name),
                limit_attrs(&r.limit),
                b64(&r.csr)
            )),
            Payload::Revoke(k) | Payload::RevokeResponse(k) => {
                s.push_str(&format!("  <key class_name=\"{}\" ski=\"{}\"/>\n", esc(&k.class_name), encode_ski(&k.ski)))
            }
            Payload::Error(e) => {
                s.push_str(&format!("  <status>{}</status>\n", e.status));
                if let Some(d) = &e.description {
                    s.push_str(&format!("  <description xml:lang=\"en-US\">{}</description>\n", esc(d)));
                }
            }
        }
        s.push_str("</message>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> ResourceSet {
        s.parse().unwrap()
    }

    #[test]
    fn updown_3_a_class_with_every_family_round_trips() {
        let class = Class {
            class_name: "default".into(),
            cert_url: "rsync://rpki.test/repo/ta/rir.cer".into(),
            resources: set("AS64496-AS64511, AS65000, 192.0.2.0/24, 198.51.100.0-198.51.100.10, 2001:db8::/32"),
            not_after: Time(1_900_000_000),
            suggested_sia_head: Some("rsync://rpki.test/repo/child/".into()),
            certificates: vec![IssuedCert {
                cert_url: "rsync://rpki.test/repo/rir/k.cer".into(),
                limit: Limit::default(),
                der: vec![1, 2, 3],
            }],
            issuer: vec![4, 5, 6],
        };
        let m = Message { sender: "rir".into(), recipient: "child".into(), payload: Payload::ListResponse(vec![class.clone()]) };
        let xml = m.encode();
        assert!(xml.contains("resource_set_as=\"64496-64511,65000\""), "{xml}");
        assert!(xml.contains("resource_set_ipv4=\"192.0.2.0/24,198.51.100.0-198.51.100.10\""), "{xml}");
        assert!(xml.contains("resource_set_ipv6=\"2001:db8::/32\""), "{xml}");
        assert!(xml.contains("resource_set_notafter=\"2030-03-17T17:46:40Z\""), "{xml}");
        assert_eq!(Message::decode(xml.as_bytes()).unwrap(), m);
    }

    #[test]
    fn updown_4_5_requests_round_trip() {
        let limit = Limit { ipv4: Some(decode_ips("192.0.2.0/25", Afi::Ipv4).unwrap()), ..Limit::default() };
        for payload in [
            Payload::List,
            Payload::Issue(IssueRequest { class_name: "c1".into(), limit: limit.clone(), csr: vec![9; 40] }),
            Payload::Revoke(KeyRef { class_name: "c1".into(), ski: KeyId([7; 20]) }),
            Payload::RevokeResponse(KeyRef { class_name: "c1".into(), ski: KeyId([0xfb; 20]) }),
            Payload::Error(ErrorResponse::new(ErrorCode::NoSuchClass, "no class \"x\" <here>")),
        ] {
            let m = Message { sender: "child".into(), recipient: "rir".into(), payload };
            assert_eq!(Message::decode(m.encode().as_bytes()).unwrap(), m);
        }
        // The subset asked for: within the entitlement, and what lies beyond it.
        let entitled = set("AS1, 192.0.2.0/24, 2001:db8::/32");
        assert_eq!(limit.apply(&entitled), set("AS1, 192.0.2.0/25, 2001:db8::/32"));
        assert!(limit.beyond(&entitled).is_empty());
        let wide = Limit { ipv4: Some(decode_ips("10.0.0.0/8", Afi::Ipv4).unwrap()), ..Limit::default() };
        assert_eq!(wide.beyond(&entitled), set("10.0.0.0/8"));
        // The SKI is base64url without padding (UPDOWN-5).
        assert_eq!(encode_ski(&KeyId([0xfb; 20])), "-_v7-_v7-_v7-_v7-_v7-_v7-_s");
    }

    #[test]
    fn updown_6_wrong_messages_carry_their_status() {
        let msg = |attrs: &str, body: &str| format!("<message xmlns=\"{NS}\" {attrs}>{body}</message>");
        let cases = [
            (msg("version=\"2\" sender=\"a\" recipient=\"b\" type=\"list\"", ""), ErrorCode::VersionError),
            (msg("version=\"1\" sender=\"a\" recipient=\"b\" type=\"frobnicate\"", ""), ErrorCode::UnknownRequestType),
            (msg("version=\"1\" recipient=\"b\" type=\"list\"", ""), ErrorCode::BadRequest),
            (msg("version=\"1\" sender=\"a\" recipient=\"b\" type=\"issue\"", ""), ErrorCode::BadRequest),
            (
                msg("version=\"1\" sender=\"a\" recipient=\"b\" type=\"issue\"", "<request class_name=\"x\">!!</request>"),
                ErrorCode::BadRequest,
            ),
            (
                msg("version=\"1\" sender=\"a\" recipient=\"b\" type=\"revoke\"", "<key class_name=\"x\" ski=\"AAAA\"/>"),
                ErrorCode::BadRequest,
            ),
            ("<!DOCTYPE x><message/>".to_string(), ErrorCode::BadRequest),
            ("<msg/>".to_string(), ErrorCode::BadRequest),
        ];
        for (xml, code) in cases {
            let e = Message::decode_coded(xml.as_bytes()).unwrap_err();
            assert_eq!(e.code, code, "{xml}: {e}");
        }
        let big = vec![b' '; MAX_UPDOWN_MESSAGE + 1];
        assert!(Message::decode(&big).unwrap_err().to_string().contains("at most"));
        // The namespace without its trailing slash is taken (OOB-1's leniency).
        let xml = msg("version=\"1\" sender=\"a\" recipient=\"b\" type=\"list\"", "").replace("up-down/\"", "up-down\"");
        assert_eq!(Message::decode(xml.as_bytes()).unwrap().payload, Payload::List);
    }
}
