//! CMS-signed protocol messages (RFC 6492 §3.1, used by RFC 8181 §3.1): XML in an
//! id-ct-xml SignedData, signed by an EE certificate that the sender's BPKI
//! identity issued, with that identity's CRL beside it.

use crate::bpki::{self, BpkiCrl, IdCert};
use crate::crl::CrlBuilder;
use crate::crypto::{read_algorithm, sha256, KeyId, Signer};
use crate::der::{self, Reader, Tag, Time};
use crate::error::{reject, reject_as, BuildError, Error, Kind, Result};
use crate::name::Name;
use crate::oid;
use crate::serial::Serial;

const RULE: &str = "RFC 6492 §3.1 (CMS)";

/// Clock skew tolerated between parties.
pub const SKEW_SECS: i64 = 300;

/// A decoded protocol message; `verify` checks it against the sender's identity.
#[derive(Clone, Debug)]
pub struct SignedMessage {
    content: Vec<u8>,
    message_digest: Vec<u8>,
    signed_attrs: Vec<u8>,
    signature: Vec<u8>,
    sid: Vec<u8>,
    pub signing_time: Option<Time>,
    pub ee: IdCert,
    pub crl: Option<BpkiCrl>,
}

impl SignedMessage {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let ci = Reader::single(bytes).map_err(|e| e.with_rule(RULE))?;
        if ci.tag != Tag::SEQUENCE {
            return reject(RULE, "ContentInfo is not a SEQUENCE");
        }
        let mut r = Reader::new(ci.value);
        if r.oid("contentType")? != oid::SIGNED_DATA {
            return reject(RULE, "contentType is not id-signedData");
        }
        let mut explicit = r.nested(Tag::ctx_cons(0), "content")?;
        let mut sd = explicit.sequence("SignedData")?;
        if sd.integer("version")?.0 != [3] {
            return reject(RULE, "SignedData version must be 3");
        }
        let mut algs = sd.nested(Tag::SET, "digestAlgorithms")?;
        let (dalg, _) = read_algorithm(&mut algs, "digestAlgorithm")?;
        if dalg != oid::SHA256 || !algs.is_empty() {
            return reject(RULE, "digestAlgorithms must be exactly id-sha256");
        }
        let mut eci = sd.sequence("encapContentInfo")?;
        if eci.oid("eContentType")? != oid::CT_XML {
            return reject(RULE, "eContentType is not id-ct-xml");
        }
        let mut ec = eci.nested(Tag::ctx_cons(0), "eContent")?;
        let content = ec.octet_string("eContent")?.to_vec();
        ec.finish()?;
        eci.finish()?;
        let mut certs = sd.nested(Tag::ctx_cons(0), "certificates")?;
        let ee = IdCert::decode(certs.expect(Tag::SEQUENCE, "certificate")?.raw)?;
        if !certs.is_empty() {
            return reject(RULE, "more than one certificate");
        }
        let crl = match sd.optional(Tag::ctx_cons(1))? {
            Some(tlv) => {
                let mut c = sd.child(tlv.value)?;
                let crl = BpkiCrl::decode(c.expect(Tag::SEQUENCE, "crl")?.raw)?;
                if !c.is_empty() {
                    return reject(RULE, "more than one CRL");
                }
                Some(crl)
            }
            None => None,
        };
        let mut infos = sd.nested(Tag::SET, "signerInfos")?;
        sd.finish()?;
        let mut si = infos.sequence("SignerInfo")?;
        if !infos.is_empty() {
            return reject(RULE, "more than one SignerInfo");
        }
        if si.integer("version")?.0 != [3] {
            return reject(RULE, "SignerInfo version must be 3");
        }
        let sid = si.expect(Tag::ctx_prim(0), "subjectKeyIdentifier")?.value.to_vec();
        let (salg, _) = read_algorithm(&mut si, "digestAlgorithm")?;
        if salg != oid::SHA256 {
            return reject(RULE, "SignerInfo digest algorithm is not id-sha256");
        }
        let attrs_tlv = si.expect(Tag::ctx_cons(0), "signedAttrs")?;
        let (salg, _) = read_algorithm(&mut si, "signatureAlgorithm")?;
        if salg != oid::RSA_ENCRYPTION && salg != oid::SHA256_WITH_RSA {
            return reject(RULE, format!("signature algorithm {} is not RSA", oid::describe(&salg)));
        }
        let signature = si.octet_string("signature")?.to_vec();
        if !si.is_empty() {
            return reject(RULE, "unsignedAttrs are not allowed");
        }
        // Walk the attributes: content-type and message-digest required.
        let mut attrs = si.child(attrs_tlv.value)?;
        let (mut ct_ok, mut md, mut st) = (false, None, None);
        while !attrs.is_empty() {
            let mut a = attrs.sequence("Attribute")?;
            let ty = a.oid("attrType")?;
            let mut vals = a.nested(Tag::SET, "attrValues")?;
            if ty == oid::CONTENT_TYPE {
                ct_ok = vals.oid("content-type")? == oid::CT_XML;
            } else if ty == oid::MESSAGE_DIGEST {
                md = Some(vals.octet_string("message-digest")?.to_vec());
            } else if ty == oid::SIGNING_TIME {
                st = Some(Time::read_x509(&mut vals, "signing-time")?);
            }
        }
        if !ct_ok {
            return reject(RULE, "content-type attribute missing or not id-ct-xml");
        }
        let message_digest = md.ok_or_else(|| Error::new(RULE, "message-digest attribute missing"))?;
        // The signature covers the attributes re-tagged as SET OF (RFC 5652 §5.4).
        let signed_attrs = der::tlv(Tag::SET, attrs_tlv.value);
        Ok(SignedMessage { content, message_digest, signed_attrs, signature, sid, signing_time: st, ee, crl })
    }

    /// The XML carried.
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    /// Check the message against the sender's identity certificate: digest,
    /// signature, the EE certificate issued by `identity` and current, the CRL
    /// (when present) issued by `identity` and not revoking the EE certificate.
    pub fn verify(&self, identity: &IdCert, now: Time) -> Result<()> {
        if sha256(&self.content).as_slice() != self.message_digest.as_slice() {
            return reject_as(Kind::Signature, RULE, "message digest does not match the content");
        }
        if self.sid != self.ee.ski.0 {
            return reject(RULE, "signer identifier does not match the EE certificate");
        }
        self.ee
            .public_key
            .verify(&self.signed_attrs, &self.signature)
            .map_err(|_| Error::new(RULE, "signature does not verify").of_kind(Kind::Signature))?;
        self.ee
            .verify_issued_by(&identity.public_key)
            .map_err(|_| Error::new(RULE, "the EE certificate was not issued by the sender's identity").of_kind(Kind::Signature))?;
        if self.ee.ca {
            return reject(RULE, "the signing certificate is a CA certificate");
        }
        if now.0 + SKEW_SECS < self.ee.not_before.0 || now.0 - SKEW_SECS > self.ee.not_after.0 {
            return Err(Error::new(RULE, "the EE certificate is not valid now").of_kind(Kind::Time));
        }
        if let Some(crl) = &self.crl {
            crl.verify_signature(&identity.public_key)
                .map_err(|_| Error::new(RULE, "the CRL was not issued by the sender's identity").of_kind(Kind::Signature))?;
            if crl.is_revoked(&self.ee.serial) {
                return reject(RULE, "the EE certificate is revoked");
            }
        }
        Ok(())
    }

    /// Sign `xml` as `identity` (whose key is `identity_key`): `ee_key` signs the
    /// message and is certified for a short time; an empty CRL goes beside it.
    pub fn build(
        xml: &[u8],
        signer: &dyn Signer,
        identity_key: &KeyId,
        identity: &IdCert,
        ee_key: &KeyId,
        now: Time,
    ) -> std::result::Result<Vec<u8>, BuildError> {
        Self::build_until(xml, signer, identity_key, identity, ee_key, now, now.add_secs(3600))
    }

    /// `build`, the EE certificate and CRL valid until `until` (a file carried
    /// by hand to an offline party lives longer than an HTTP exchange).
    pub fn build_until(
        xml: &[u8],
        signer: &dyn Signer,
        identity_key: &KeyId,
        identity: &IdCert,
        ee_key: &KeyId,
        now: Time,
        until: Time,
    ) -> std::result::Result<Vec<u8>, BuildError> {
        let wrapper = Wrapper::new(signer, identity_key, identity, now, until)?;
        wrapper.sign(xml, signer, identity_key, identity, ee_key, now)
    }
}

/// The identity's CRL that goes beside each message, made once and used for
/// many messages while it is valid. Each message gets an EE certificate of
/// its own (a fresh serial keeps two messages of the same second apart, so
/// that a receiver can tell a replay), so it costs two signatures.
#[derive(Clone, Debug)]
pub struct Wrapper {
    crl: Vec<u8>,
    /// When it was made (a clock set back makes a new one) and when it ends.
    pub made: i64,
    pub not_after: Time,
}

impl Wrapper {
    pub fn new(
        signer: &dyn Signer,
        identity_key: &KeyId,
        identity: &IdCert,
        now: Time,
        until: Time,
    ) -> std::result::Result<Wrapper, BuildError> {
        let issuer = Name::decode(&identity.subject, &mut Vec::new())?;
        let crl = CrlBuilder {
            issuer,
            aki: identity.ski,
            this_update: now.add_secs(-SKEW_SECS),
            next_update: until,
            crl_number: Serial::from_u64(now.0.max(1) as u64),
            revoked: Vec::new(),
        }
        .sign(signer, identity_key)?;
        Ok(Wrapper { crl: crl.to_der().to_vec(), made: now.0, not_after: until })
    }

    /// `xml` in SignedData, signed by `ee_key` under a fresh EE certificate of
    /// `identity` valid until this wrapper's end.
    pub fn sign(
        &self,
        xml: &[u8],
        signer: &dyn Signer,
        identity_key: &KeyId,
        identity: &IdCert,
        ee_key: &KeyId,
        now: Time,
    ) -> std::result::Result<Vec<u8>, BuildError> {
        let attrs = crate::signed_object::signed_attrs(oid::CT_XML, xml, now);
        let signature = signer.sign(ee_key, &attrs)?;
        let ee_pub = signer.public_key(ee_key)?;
        let ee = bpki::issue(signer, identity_key, Some(identity), &ee_pub, random_serial(), now.add_secs(-SKEW_SECS), self.not_after)?;
        Ok(crate::signed_object::signed_data(oid::CT_XML, xml, ee.to_der(), Some(&self.crl), &ee.ski, &attrs, &signature))
    }
}

/// A positive 128-bit random serial.
fn random_serial() -> Serial {
    let mut b = [0u8; 16];
    let _ = openssl::rand::rand_bytes(&mut b);
    b[0] = (b[0] & 0x3f) | 0x40;
    Serial::from_be_bytes(&b)
}
