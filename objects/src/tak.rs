//! Trust Anchor Keys (RFC 9691; CHECKLIST OBJ-3): a signed object in a trust
//! anchor's publication point naming the TA's current key with its TAL (the
//! certificate URIs and comments), and during a TA key roll its successor (or,
//! under the new key, its predecessor). Content codec, EE checks, building.

use crate::crypto::{OneTimeKey, PublicKey};
use crate::der::{self, Reader, Tag, Time};
use crate::error::{reject, BuildError, Error, Result};
use crate::oid;
use crate::resources::CertResources;
use crate::signed_object::{self, EeSpec, Issuer, SignedObject};

const RULE: &str = "OBJ-3";

/// One key of a TA: what a TAL for it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaKey {
    pub comments: Vec<String>,
    /// Where the TA certificate of this key is (at least one, rsync or https).
    pub certificate_uris: Vec<String>,
    pub key: PublicKey,
}

/// The TAK eContent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakContent {
    pub current: TaKey,
    pub predecessor: Option<TaKey>,
    pub successor: Option<TaKey>,
}

impl TaKey {
    fn encode(&self) -> Vec<u8> {
        let comments: Vec<u8> = self.comments.iter().flat_map(|c| der::tlv(Tag::UTF8_STRING, c.as_bytes())).collect();
        let uris: Vec<u8> = self.certificate_uris.iter().flat_map(|u| der::ia5_string(u)).collect();
        der::sequence(&[&der::tlv(Tag::SEQUENCE, &comments), &der::tlv(Tag::SEQUENCE, &uris), self.key.spki()])
    }

    fn decode(r: &mut Reader<'_>, what: &str) -> Result<Self> {
        let mut k = r.sequence(what)?;
        let mut comments = Vec::new();
        let mut list = k.sequence("comments")?;
        while !list.is_empty() {
            let t = list.expect(Tag::UTF8_STRING, "comment")?;
            let c = std::str::from_utf8(t.value).map_err(|_| Error::new(RULE, "a comment is not UTF-8"))?;
            comments.push(c.to_string());
        }
        let mut certificate_uris = Vec::new();
        let mut list = k.sequence("certificateURIs")?;
        while !list.is_empty() {
            let t = list.expect(Tag::IA5_STRING, "certificateURI")?;
            let u = std::str::from_utf8(t.value).ok().filter(|u| u.is_ascii()).ok_or_else(|| Error::new(RULE, "a URI is not IA5"))?;
            if !(u.starts_with("rsync://") || u.starts_with("https://")) {
                return reject(RULE, format!("certificate URI {u:?} is neither rsync nor https"));
            }
            certificate_uris.push(u.to_string());
        }
        if certificate_uris.is_empty() {
            return reject(RULE, format!("{what}: no certificate URI"));
        }
        let spki = k.expect(Tag::SEQUENCE, "subjectPublicKeyInfo")?;
        k.finish()?;
        Ok(TaKey { comments, certificate_uris, key: PublicKey::decode(spki.raw)? })
    }

    /// The TAL this key's entry amounts to (RFC 8630 with comments).
    pub fn tal(&self) -> crate::tal::Tal {
        crate::tal::Tal { comments: self.comments.clone(), uris: self.certificate_uris.clone(), key: self.key.clone() }
    }
}

impl TakContent {
    pub fn encode(&self) -> Vec<u8> {
        let pred = self.predecessor.as_ref().map(|k| der::tlv(Tag::ctx_cons(0), &k.encode())).unwrap_or_default();
        let succ = self.successor.as_ref().map(|k| der::tlv(Tag::ctx_cons(1), &k.encode())).unwrap_or_default();
        // version 0 is the DEFAULT: not encoded (DER).
        der::sequence(&[&self.current.encode(), &pred, &succ])
    }

    pub fn decode(content: &[u8]) -> Result<Self> {
        let mut outer = Reader::new(content);
        let mut r = outer.sequence("TAK")?;
        outer.finish().map_err(|e| e.with_rule("CMS-3"))?;
        if r.peek_tag() == Some(Tag::INTEGER) {
            return reject(RULE, "version 0 is the default and must not be encoded (DER)");
        }
        let current = TaKey::decode(&mut r, "current")?;
        let predecessor = match r.optional(Tag::ctx_cons(0))? {
            Some(t) => Some(TaKey::decode(&mut r.child(t.value)?, "predecessor")?),
            None => None,
        };
        let successor = match r.optional(Tag::ctx_cons(1))? {
            Some(t) => Some(TaKey::decode(&mut r.child(t.value)?, "successor")?),
            None => None,
        };
        r.finish()?;
        for other in predecessor.iter().chain(&successor) {
            if other.key == current.key {
                return reject(RULE, "the predecessor or successor key is the current key");
            }
        }
        Ok(TakContent { current, predecessor, successor })
    }
}

/// A decoded TAK: its EE inherits every resource, like a manifest's.
#[derive(Clone, Debug)]
pub struct Tak {
    pub signed: SignedObject,
    pub content: TakContent,
}

impl Tak {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_signed(SignedObject::decode(bytes)?)
    }

    pub fn from_signed(signed: SignedObject) -> Result<Self> {
        signed.expect_type(oid::CT_TAK, RULE)?;
        let content = TakContent::decode(signed.content())?;
        let res = &signed.ee.resources;
        let explicit = [
            res.ipv4.as_ref().map(|c| c.blocks().is_some()),
            res.ipv6.as_ref().map(|c| c.blocks().is_some()),
            res.asn.as_ref().map(|c| c.blocks().is_some()),
        ];
        let explicit = explicit.contains(&Some(true));
        if explicit {
            return reject(RULE, "the TAK's EE certificate must use inherit for its resources");
        }
        Ok(Tak { signed, content })
    }

    /// Sign a TAK under the TA key `issuer` (whose key must be `content.current`).
    pub fn build(
        content: &TakContent,
        issuer: &Issuer<'_>,
        ee: &EeSpec,
        key: Box<dyn OneTimeKey>,
        signing_time: Time,
    ) -> Result<Self, BuildError> {
        let so = signed_object::build(oid::CT_TAK, &content.encode(), signing_time, ee, key, CertResources::inherit_all(), issuer)?;
        Ok(Tak::from_signed(so)?)
    }
}
