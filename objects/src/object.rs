//! Any RPKI object, recognised by its content rather than its file name.

use crate::aspa::Aspa;
use crate::cert::Cert;
use crate::crl::Crl;
use crate::der::{Reader, Tag, Time};
use crate::error::{reject, Result};
use crate::manifest::Manifest;
use crate::oid;
use crate::roa::Roa;
use crate::signed_object::SignedObject;
use crate::tal::Tal;

/// A decoded object of any supported type.
#[derive(Clone, Debug)]
pub enum Object {
    Cert(Box<Cert>),
    Crl(Box<Crl>),
    Manifest(Box<Manifest>),
    Roa(Box<Roa>),
    Aspa(Box<Aspa>),
    /// Another signed object type (GBR, RSC, TAK ...): the CMS layer only.
    Signed(Box<SignedObject>),
    Tal(Box<Tal>),
}

/// What the bytes look like, before full decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cert,
    Crl,
    SignedObject,
    Tal,
}

/// Recognise the object type from the first few elements.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    let first = *bytes.first()?;
    // Text (no control characters but line breaks and tabs): a TAL candidate.
    let text = std::str::from_utf8(bytes).is_ok_and(|s| s.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t')));
    if text {
        return Some(Kind::Tal);
    }
    if first != Tag::SEQUENCE.0 {
        return None;
    }
    // A BER (indefinite-length) ContentInfo: recognised so that decoding can
    // reject it with the rule it breaks (CMS-1).
    if bytes.get(1) == Some(&0x80) && bytes.get(2..4) == Some(&[0x06, 0x09]) && bytes.get(4..13) == Some(oid::SIGNED_DATA.0) {
        return Some(Kind::SignedObject);
    }
    // Truncated input is still recognised, so that decoding can say what is wrong.
    let outer = Reader::new(lenient_content(bytes)?);
    match outer.peek_tag()? {
        Tag::OID => Some(Kind::SignedObject),
        Tag::SEQUENCE => {
            let mut tbs = Reader::new(lenient_content(outer.rest())?);
            match tbs.peek_tag()? {
                t if t == Tag::ctx_cons(0) => Some(Kind::Cert),
                Tag::INTEGER => {
                    tbs.any().ok()?;
                    // CRL v2: version, then the signature AlgorithmIdentifier.
                    // Certificate v1: serial number, then the AlgorithmIdentifier.
                    tbs.sequence("algorithm").ok()?;
                    tbs.sequence("issuer").ok()?;
                    match tbs.peek_tag()? {
                        Tag::UTC_TIME | Tag::GENERALIZED_TIME => Some(Kind::Crl),
                        _ => Some(Kind::Cert),
                    }
                }
                Tag::SEQUENCE => Some(Kind::Crl),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The time an object's file carries (CMS-13, RFC 9589 §2): a signed object's
/// signing-time, a CRL's thisUpdate, a certificate's notBefore. A light walk,
/// not a validation; `None` for anything else.
pub fn file_time(bytes: &[u8]) -> Option<Time> {
    let tbs = |bytes| -> Option<Reader<'_>> { Reader::new(Reader::single(bytes).ok()?.value).sequence("tbs").ok() };
    match sniff(bytes)? {
        Kind::SignedObject => crate::signed_object::signing_time(bytes),
        Kind::Cert => {
            let mut t = tbs(bytes)?;
            t.optional(Tag::ctx_cons(0)).ok()?;
            t.integer("serialNumber").ok()?;
            t.sequence("signature").ok()?;
            t.sequence("issuer").ok()?;
            Time::read_x509(&mut t.sequence("validity").ok()?, "notBefore").ok()
        }
        Kind::Crl => {
            let mut t = tbs(bytes)?;
            t.optional(Tag::INTEGER).ok()?;
            t.sequence("signature").ok()?;
            t.sequence("issuer").ok()?;
            Time::read_x509(&mut t, "thisUpdate").ok()
        }
        Kind::Tal => None,
    }
}

/// The content octets of the first TLV, cut short where the input ends.
fn lenient_content(b: &[u8]) -> Option<&[u8]> {
    let l = *b.get(1)? as usize;
    let (hdr, len) = if l < 0x80 {
        (2, l)
    } else {
        let n = l & 0x7f;
        let len = b.get(2..2 + n)?.iter().fold(0usize, |a, x| a.saturating_mul(256).saturating_add(*x as usize));
        (2 + n, len)
    };
    b.get(hdr..).map(|c| &c[..len.min(c.len())])
}

impl Object {
    /// Decode any object; the type comes from the content.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        match sniff(bytes) {
            Some(Kind::Tal) => Ok(Object::Tal(Box::new(Tal::parse(bytes)?))),
            Some(Kind::Cert) => Ok(Object::Cert(Box::new(Cert::decode(bytes)?))),
            Some(Kind::Crl) => Ok(Object::Crl(Box::new(Crl::decode(bytes)?))),
            Some(Kind::SignedObject) => {
                let so = SignedObject::decode(bytes)?;
                let ct = so.content_type.clone();
                if ct == oid::CT_ROA.to_string() {
                    Ok(Object::Roa(Box::new(Roa::from_signed(so)?)))
                } else if ct == oid::CT_MANIFEST.to_string() {
                    Ok(Object::Manifest(Box::new(Manifest::from_signed(so)?)))
                } else if ct == oid::CT_ASPA.to_string() {
                    Ok(Object::Aspa(Box::new(Aspa::from_signed(so)?)))
                } else {
                    Ok(Object::Signed(Box::new(so)))
                }
            }
            None => reject("RFC 6481 §2", "not a recognised RPKI object (certificate, CRL, signed object or TAL)"),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Object::Cert(_) => "certificate",
            Object::Crl(_) => "crl",
            Object::Manifest(_) => "manifest",
            Object::Roa(_) => "roa",
            Object::Aspa(_) => "aspa",
            Object::Signed(_) => "signed_object",
            Object::Tal(_) => "tal",
        }
    }

    /// The CMS layer of a signed object.
    pub fn signed(&self) -> Option<&SignedObject> {
        match self {
            Object::Manifest(m) => Some(&m.signed),
            Object::Roa(r) => Some(&r.signed),
            Object::Aspa(a) => Some(&a.signed),
            Object::Signed(s) => Some(s),
            _ => None,
        }
    }
}
