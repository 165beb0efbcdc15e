//! The files exchanged with an offline trust anchor. The online CA's request
//! lists the keys its RIR CA wants certified now (every other certificate the
//! TA issued to it is to be revoked); the TA's response carries the TA's whole
//! publication set (TA certificate, RIR certificates, CRL, manifest). Each is
//! XML in a CMS SignedData (as RFC 6492 section 3.1 wraps up-down messages),
//! signed by the sender's BPKI identity from the RFC 8183 exchange at set-up,
//! and carries a nonce and a validity period.

use base64::Engine;
use quick_xml::events::Event;
use rpkit_objects::bpki::{IdCert, Identity};
use rpkit_objects::crypto::PublicKey;
use rpkit_objects::der::Time;
use rpkit_objects::error::BuildError;
use rpkit_objects::signed_message::SignedMessage;
use std::collections::BTreeMap;

pub const NS: &str = "urn:rpkit:offline-ta:1";

/// Largest file taken (a TA's whole publication set is a few kilobytes).
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Why a file is refused. Nothing is changed by a refused file.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("not a signed TA exchange file: {0}")]
    Malformed(String),
    #[error("signed by another party than the one set up ({0})")]
    Foreign(String),
    #[error("altered: {0}")]
    Altered(String),
    #[error("expired at {0}")]
    Expired(String),
    #[error("replayed: nonce {0} was answered before")]
    Replayed(String),
    #[error("answers request {got}, not the pending request {want}")]
    NotPending { got: String, want: String },
    #[error("no request is pending (make one with `rpkit ca ta-request`)")]
    NothingPending,
}

impl ExchangeError {
    /// The API error code.
    pub fn code(&self) -> &'static str {
        match self {
            ExchangeError::Malformed(_) => "ta_malformed",
            ExchangeError::Foreign(_) => "ta_foreign",
            ExchangeError::Altered(_) => "ta_altered",
            ExchangeError::Expired(_) => "ta_expired",
            ExchangeError::Replayed(_) | ExchangeError::NotPending { .. } | ExchangeError::NothingPending => "ta_replayed",
        }
    }
}

/// What the online CA asks of the TA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaRequest {
    pub nonce: String,
    pub created: Time,
    pub valid_until: Time,
    /// The RIR CA's handle (its publication point below the base).
    pub child: String,
    /// The keys to be certified now, current and next.
    pub keys: Vec<PublicKey>,
}

/// The TA's answer: its whole publication set, URI -> DER; during its key
/// roll (RFC 9691) both TA instances', `current` naming the one in charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaResponse {
    pub nonce: String,
    pub created: Time,
    pub valid_until: Time,
    /// The key identifier (hex) of the TA key in charge.
    pub current: String,
    pub objects: BTreeMap<String, Vec<u8>>,
}

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn unb64(s: &str) -> Result<Vec<u8>, ExchangeError> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| ExchangeError::Malformed(format!("base64: {e}")))
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// The root's attributes, then each child element's attributes and text.
type Parsed = (BTreeMap<String, String>, Vec<(String, BTreeMap<String, String>, String)>);

fn parse(xml: &[u8], root: &str) -> Result<Parsed, ExchangeError> {
    let bad = |e: String| ExchangeError::Malformed(e);
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let (mut top, mut children, mut depth) = (None, Vec::new(), 0usize);
    loop {
        let ev = r.read_event_into(&mut buf).map_err(|e| bad(format!("XML: {e}")))?;
        match ev {
            Event::DocType(_) => return Err(bad("DOCTYPE is not allowed".into())),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let mut attrs = BTreeMap::new();
                for a in e.attributes() {
                    let a = a.map_err(|e| bad(format!("XML: {e}")))?;
                    let v = a.unescape_value().map_err(|e| bad(format!("XML: {e}")))?;
                    attrs.insert(String::from_utf8_lossy(a.key.as_ref()).into_owned(), v.into_owned());
                }
                match depth {
                    0 if name == root && top.is_none() => top = Some(attrs),
                    0 => return Err(bad(format!("root element must be <{root}>, found <{name}>"))),
                    1 => children.push((name, attrs, String::new())),
                    _ => return Err(bad("elements nest too deep".into())),
                }
                if matches!(ev, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) if depth == 2 => {
                let t = t.unescape().map_err(|e| bad(format!("XML: {e}")))?;
                if let Some(c) = children.last_mut() {
                    c.2.push_str(&t);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let top = top.ok_or_else(|| bad(format!("no <{root}> element")))?;
    if top.get("xmlns").map(String::as_str) != Some(NS) || top.get("version").map(String::as_str) != Some("1") {
        return Err(bad(format!("<{root}> is not of namespace {NS}, version 1")));
    }
    Ok((top, children))
}

fn attr<'a>(m: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, ExchangeError> {
    m.get(name).map(String::as_str).ok_or_else(|| ExchangeError::Malformed(format!("attribute {name} is missing")))
}

fn time(m: &BTreeMap<String, String>, name: &str) -> Result<Time, ExchangeError> {
    let v = attr(m, name)?;
    Time::parse_rfc3339(v).ok_or_else(|| ExchangeError::Malformed(format!("{name}: {v:?} is not an RFC 3339 time")))
}

fn header(m: &BTreeMap<String, String>) -> Result<(String, Time, Time), ExchangeError> {
    let nonce = attr(m, "nonce")?;
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ExchangeError::Malformed("nonce: want 32 hex digits".into()));
    }
    Ok((nonce.to_string(), time(m, "created")?, time(m, "valid_until")?))
}

impl TaRequest {
    pub fn to_xml(&self) -> String {
        let mut s = format!(
            "<ta_request xmlns=\"{NS}\" version=\"1\" nonce=\"{}\" created=\"{}\" valid_until=\"{}\" child=\"{}\">\n",
            self.nonce,
            self.created.rfc3339(),
            self.valid_until.rfc3339(),
            esc(&self.child)
        );
        for k in &self.keys {
            s.push_str(&format!("  <key>{}</key>\n", b64(k.spki())));
        }
        s + "</ta_request>\n"
    }

    pub fn from_xml(xml: &[u8]) -> Result<Self, ExchangeError> {
        let (top, children) = parse(xml, "ta_request")?;
        let (nonce, created, valid_until) = header(&top)?;
        let child = attr(&top, "child")?.to_string();
        if !rpkit_objects::rfc8183::valid_handle(&child) {
            return Err(ExchangeError::Malformed(format!("child: {child:?} is not a handle")));
        }
        let mut keys = Vec::new();
        for (name, _, text) in children {
            if name != "key" {
                return Err(ExchangeError::Malformed(format!("unexpected <{name}>")));
            }
            keys.push(PublicKey::decode(&unb64(&text)?).map_err(|e| ExchangeError::Malformed(format!("key: {e}")))?);
        }
        Ok(TaRequest { nonce, created, valid_until, child, keys })
    }
}

impl TaResponse {
    pub fn to_xml(&self) -> String {
        let mut s = format!(
            "<ta_response xmlns=\"{NS}\" version=\"1\" nonce=\"{}\" created=\"{}\" valid_until=\"{}\" current=\"{}\">\n",
            self.nonce,
            self.created.rfc3339(),
            self.valid_until.rfc3339(),
            esc(&self.current)
        );
        for (uri, der) in &self.objects {
            s.push_str(&format!("  <object uri=\"{}\">{}</object>\n", esc(uri), b64(der)));
        }
        s + "</ta_response>\n"
    }

    pub fn from_xml(xml: &[u8]) -> Result<Self, ExchangeError> {
        let (top, children) = parse(xml, "ta_response")?;
        let (nonce, created, valid_until) = header(&top)?;
        let current = attr(&top, "current")?.to_string();
        let mut objects = BTreeMap::new();
        for (name, attrs, text) in children {
            if name != "object" {
                return Err(ExchangeError::Malformed(format!("unexpected <{name}>")));
            }
            let uri = attr(&attrs, "uri")?.to_string();
            if !uri.starts_with("rsync://") || uri.contains("/../") {
                return Err(ExchangeError::Malformed(format!("object URI {uri:?}")));
            }
            objects.insert(uri, unb64(&text)?);
        }
        Ok(TaResponse { nonce, created, valid_until, current, objects })
    }
}

/// A fresh nonce: 16 random octets in hex.
pub fn nonce() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    rpkit_objects::hex::lower(&b)
}

/// Sign `xml` as `identity`, valid until `until`.
pub fn seal(identity: &Identity, xml: &str, now: Time, until: Time) -> Result<Vec<u8>, BuildError> {
    identity.sign_until(xml.as_bytes(), now, until)
}

/// Check a file against the party set up as its sender and return its XML.
pub fn open(bytes: &[u8], sender: &IdCert, now: Time) -> Result<Vec<u8>, ExchangeError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ExchangeError::Malformed(format!("{} octets (at most {MAX_FILE_BYTES})", bytes.len())));
    }
    let msg = SignedMessage::decode(bytes).map_err(|e| ExchangeError::Malformed(e.to_string()))?;
    if msg.ee.verify_issued_by(&sender.public_key).is_err() {
        return Err(ExchangeError::Foreign(format!("its signer's certificate was not issued by identity {}", sender.ski.hex())));
    }
    msg.verify(sender, now).map_err(|e| match e.kind {
        rpkit_objects::error::Kind::Time => ExchangeError::Expired(msg.ee.not_after.rfc3339()),
        _ => ExchangeError::Altered(e.to_string()),
    })?;
    Ok(msg.content().to_vec())
}

/// The validity window of a decoded file.
pub fn check_window(created: Time, valid_until: Time, now: Time) -> Result<(), ExchangeError> {
    let skew = rpkit_objects::signed_message::SKEW_SECS;
    if now.0 > valid_until.0 + skew {
        return Err(ExchangeError::Expired(valid_until.rfc3339()));
    }
    if created.0 > now.0 + skew {
        return Err(ExchangeError::Malformed(format!("created in the future ({})", created.rfc3339())));
    }
    Ok(())
}
