//! RFC 8183 out-of-band setup: between a child and its parent, the
//! `child_request` (§5.2.1) and `parent_response` (§5.2.2); between a
//! publisher and a repository, the `publisher_request` (§5.2.3) and
//! `repository_response` (§5.2.4).

use crate::bpki::IdCert;
use crate::error::{reject, Error, Result};
use base64::Engine;
use quick_xml::events::Event;
use std::collections::BTreeMap;

pub const NS: &str = "http://www.hactrn.net/uris/rpki/rpki-setup/";
const RULE: &str = "RFC 8183 §5";

/// A publisher asking to publish in a repository.
#[derive(Clone, Debug)]
pub struct PublisherRequest {
    pub tag: Option<String>,
    pub publisher_handle: String,
    pub id_cert: IdCert,
}

/// The repository's answer: where and how to publish.
#[derive(Clone, Debug)]
pub struct RepositoryResponse {
    pub tag: Option<String>,
    pub publisher_handle: String,
    pub service_uri: String,
    pub sia_base: String,
    pub rrdp_notification_uri: Option<String>,
    pub id_cert: IdCert,
}

/// A child CA asking a parent for resources: its handle and BPKI identity.
#[derive(Clone, Debug)]
pub struct ChildRequest {
    pub tag: Option<String>,
    pub child_handle: String,
    pub id_cert: IdCert,
}

/// The parent's answer: where to send up-down messages and its BPKI identity.
#[derive(Clone, Debug)]
pub struct ParentResponse {
    pub tag: Option<String>,
    pub service_uri: String,
    pub child_handle: String,
    pub parent_handle: String,
    pub id_cert: IdCert,
}

/// The root element's attributes and the text of its one child element.
fn parse(xml: &[u8], root: &str, child: &str) -> Result<(BTreeMap<String, String>, String)> {
    if xml.len() > crate::limits::MAX_RFC8183_DOCUMENT {
        return reject(RULE, "document too large");
    }
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let (mut attrs, mut text, mut path) = (None, None::<String>, Vec::<String>::new());
    loop {
        let ev = r.read_event_into(&mut buf).map_err(|e| Error::new(RULE, format!("XML: {e}")))?;
        match ev {
            Event::DocType(_) => return reject(RULE, "DOCTYPE is not allowed"),
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != root || attrs.is_some() {
                        return reject(RULE, format!("root element must be <{root}>, found <{name}>"));
                    }
                    let mut m = BTreeMap::new();
                    for a in e.attributes() {
                        let a = a.map_err(|e| Error::new(RULE, format!("XML: {e}")))?;
                        let v = a.unescape_value().map_err(|e| Error::new(RULE, format!("XML: {e}")))?;
                        m.insert(String::from_utf8_lossy(a.key.as_ref()).into_owned(), v.into_owned());
                    }
                    attrs = Some(m);
                } else if path.len() == 1 && name == child {
                    text = Some(String::new());
                }
                if matches!(ev, Event::Start(_)) {
                    path.push(name);
                }
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) if path.len() == 2 && path[1] == child => {
                let t = t.unescape().map_err(|e| Error::new(RULE, format!("XML: {e}")))?;
                text.get_or_insert_with(String::new).push_str(&t);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let attrs = attrs.ok_or_else(|| Error::new(RULE, format!("no <{root}> element")))?;
    // Without the trailing slash too, as older Krill wrote it (OOB-1).
    if attrs.get("xmlns").map(|n| n.trim_end_matches('/')) != Some(NS.trim_end_matches('/')) {
        return reject(RULE, format!("<{root}> has the wrong namespace"));
    }
    if attrs.get("version").map(String::as_str) != Some("1") {
        return reject(RULE, format!("<{root}> version must be 1"));
    }
    let text = text.ok_or_else(|| Error::new(RULE, format!("<{child}> is missing")))?;
    Ok((attrs, text))
}

fn id_cert(b64: &str) -> Result<IdCert> {
    let clean: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(clean).map_err(|e| Error::new(RULE, format!("BPKI TA: bad base64: {e}")))?;
    let cert = IdCert::decode(&der)?;
    cert.validate_ta()?;
    Ok(cert)
}

fn required(attrs: &BTreeMap<String, String>, name: &str) -> Result<String> {
    attrs.get(name).cloned().ok_or_else(|| Error::new(RULE, format!("attribute {name} is missing")))
}

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// A handle: 1 to 255 of `[-_A-Za-z0-9/]` (RFC 8183 §5.1, `handle` type).
pub fn valid_handle(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'/')
}

impl PublisherRequest {
    pub fn decode(xml: &[u8]) -> Result<Self> {
        let (a, text) = parse(xml, "publisher_request", "publisher_bpki_ta")?;
        let publisher_handle = required(&a, "publisher_handle")?;
        if !valid_handle(&publisher_handle) {
            return reject(RULE, format!("'{publisher_handle}' is not a valid handle"));
        }
        Ok(PublisherRequest { tag: a.get("tag").cloned(), publisher_handle, id_cert: id_cert(&text)? })
    }

    pub fn encode(&self) -> String {
        let tag = self.tag.as_ref().map(|t| format!(" tag=\"{}\"", esc(t))).unwrap_or_default();
        format!(
            "<publisher_request xmlns=\"{NS}\" version=\"1\" publisher_handle=\"{}\"{tag}>\n  <publisher_bpki_ta>{}</publisher_bpki_ta>\n</publisher_request>\n",
            esc(&self.publisher_handle),
            b64(self.id_cert.to_der())
        )
    }
}

impl RepositoryResponse {
    pub fn decode(xml: &[u8]) -> Result<Self> {
        let (a, text) = parse(xml, "repository_response", "repository_bpki_ta")?;
        Ok(RepositoryResponse {
            tag: a.get("tag").cloned(),
            publisher_handle: required(&a, "publisher_handle")?,
            service_uri: required(&a, "service_uri")?,
            sia_base: required(&a, "sia_base")?,
            rrdp_notification_uri: a.get("rrdp_notification_uri").cloned(),
            id_cert: id_cert(&text)?,
        })
    }

    pub fn encode(&self) -> String {
        let tag = self.tag.as_ref().map(|t| format!(" tag=\"{}\"", esc(t))).unwrap_or_default();
        let rrdp = self.rrdp_notification_uri.as_ref().map(|u| format!(" rrdp_notification_uri=\"{}\"", esc(u))).unwrap_or_default();
        format!(
            "<repository_response xmlns=\"{NS}\" version=\"1\" service_uri=\"{}\" publisher_handle=\"{}\" sia_base=\"{}\"{rrdp}{tag}>\n  <repository_bpki_ta>{}</repository_bpki_ta>\n</repository_response>\n",
            esc(&self.service_uri),
            esc(&self.publisher_handle),
            esc(&self.sia_base),
            b64(self.id_cert.to_der())
        )
    }
}

impl ChildRequest {
    pub fn decode(xml: &[u8]) -> Result<Self> {
        let (a, text) = parse(xml, "child_request", "child_bpki_ta")?;
        let child_handle = required(&a, "child_handle")?;
        if !valid_handle(&child_handle) {
            return reject(RULE, format!("'{child_handle}' is not a valid handle"));
        }
        Ok(ChildRequest { tag: a.get("tag").cloned(), child_handle, id_cert: id_cert(&text)? })
    }

    pub fn encode(&self) -> String {
        let tag = self.tag.as_ref().map(|t| format!(" tag=\"{}\"", esc(t))).unwrap_or_default();
        format!(
            "<child_request xmlns=\"{NS}\" version=\"1\" child_handle=\"{}\"{tag}>\n  <child_bpki_ta>{}</child_bpki_ta>\n</child_request>\n",
            esc(&self.child_handle),
            b64(self.id_cert.to_der())
        )
    }
}

impl ParentResponse {
    pub fn decode(xml: &[u8]) -> Result<Self> {
        let (a, text) = parse(xml, "parent_response", "parent_bpki_ta")?;
        let (child_handle, parent_handle) = (required(&a, "child_handle")?, required(&a, "parent_handle")?);
        for h in [&child_handle, &parent_handle] {
            if !valid_handle(h) {
                return reject(RULE, format!("'{h}' is not a valid handle"));
            }
        }
        Ok(ParentResponse {
            tag: a.get("tag").cloned(),
            service_uri: required(&a, "service_uri")?,
            child_handle,
            parent_handle,
            id_cert: id_cert(&text)?,
        })
    }

    pub fn encode(&self) -> String {
        let tag = self.tag.as_ref().map(|t| format!(" tag=\"{}\"", esc(t))).unwrap_or_default();
        format!(
            "<parent_response xmlns=\"{NS}\" version=\"1\" service_uri=\"{}\" child_handle=\"{}\" parent_handle=\"{}\"{tag}>\n  <parent_bpki_ta>{}</parent_bpki_ta>\n</parent_response>\n",
            esc(&self.service_uri),
            esc(&self.child_handle),
            esc(&self.parent_handle),
            b64(self.id_cert.to_der())
        )
    }
}
