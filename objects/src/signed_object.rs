//! The CMS signed-object template of RFC 6488 as updated by RFC 9589 (CHECKLIST
//! 3.2): strict decoder and builder. The payload (ROA, manifest, ASPA ...) is
//! decoded by its own module.

use crate::cert::{Cert, CertBuilder, CertKind, SiaSpec};
use crate::crypto::{read_algorithm, sha256, KeyId, OneTimeKey, Signer};
use crate::der::{self, Reader, Tag, Time};
use crate::error::{reject, reject_as, BuildError, Error, Kind, Result};
use crate::limits::MAX_OBJECT_SIZE;
use crate::name::Name;
use crate::oid;
use crate::resources::CertResources;
use crate::serial::Serial;
use crate::valid_ca::Context;

/// A decoded, profile-checked CMS signed object.
#[derive(Clone, Debug)]
pub struct SignedObject {
    der: Vec<u8>,
    /// eContentType, dotted.
    pub content_type: String,
    content: std::ops::Range<usize>,
    /// The signedAttrs as signed (re-tagged SET OF, CMS-9).
    signed_attrs: Vec<u8>,
    signature: Vec<u8>,
    pub signing_time: Time,
    pub ee: Cert,
    pub warnings: Vec<Error>,
}

impl SignedObject {
    /// Decode a ContentInfo wrapping SignedData (CMS-1 .. CMS-10) and check the
    /// message digest. The signature is checked by `verify_signature`.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_OBJECT_SIZE {
            return reject("MFT-20", format!("object of {} octets exceeds {MAX_OBJECT_SIZE}", bytes.len()));
        }
        let ci = Reader::single(bytes).map_err(|e| e.with_rule("CMS-1"))?;
        if ci.tag != Tag::SEQUENCE {
            return reject("CMS-1", "ContentInfo is not a SEQUENCE");
        }
        let mut r = Reader::new(ci.value);
        if r.oid("contentType")? != oid::SIGNED_DATA {
            return reject("CMS-1", "contentType is not id-signedData");
        }
        let mut explicit = r.nested(Tag::ctx_cons(0), "content")?;
        r.finish()?;
        let mut sd = explicit.sequence("SignedData")?;
        explicit.finish()?;
        if sd.integer("version")?.0 != [3] {
            return reject("CMS-2", "SignedData version must be 3");
        }
        let mut algs = sd.nested(Tag::SET, "digestAlgorithms")?;
        let (dalg, _) = read_algorithm(&mut algs, "digestAlgorithm")?;
        if dalg != oid::SHA256 || !algs.is_empty() {
            return reject("CMS-2", "digestAlgorithms must be exactly id-sha256");
        }
        // encapContentInfo (CMS-3)
        let mut eci = sd.sequence("encapContentInfo")?;
        let ctype = eci.oid("eContentType")?;
        let mut ec = eci
            .optional(Tag::ctx_cons(0))?
            .map(|t| eci.child(t.value))
            .transpose()?
            .ok_or_else(|| Error::new("CMS-3", "eContent is missing"))?;
        eci.finish()?;
        let econtent = ec.expect(Tag::OCTET_STRING, "eContent").map_err(|e| e.with_rule("CMS-3"))?;
        ec.finish()?;
        // certificates [0] IMPLICIT: exactly one (CMS-4)
        let mut certs = sd.nested(Tag::ctx_cons(0), "certificates").map_err(|_| Error::new("CMS-4", "certificates are missing"))?;
        let ee_tlv = certs.expect(Tag::SEQUENCE, "certificate").map_err(|_| Error::new("CMS-4", "no EE certificate"))?;
        if !certs.is_empty() {
            return reject("CMS-4", "more than one certificate");
        }
        if sd.peek_tag() == Some(Tag::ctx_cons(1)) {
            return reject("CMS-4", "crls must be absent");
        }
        let mut sis = sd.nested(Tag::SET, "signerInfos")?;
        sd.finish()?;
        let mut si = sis.sequence("SignerInfo").map_err(|_| Error::new("CMS-5", "no SignerInfo"))?;
        if !sis.is_empty() {
            return reject("CMS-5", "more than one SignerInfo");
        }
        if si.integer("version")?.0 != [3] {
            return reject("CMS-5", "SignerInfo version must be 3");
        }
        let sid = si.any()?;
        if sid.tag != Tag::ctx_prim(0) {
            return reject("CMS-5", "sid must be subjectKeyIdentifier");
        }
        let (sdalg, _) = read_algorithm(&mut si, "digestAlgorithm")?;
        if sdalg != oid::SHA256 {
            return reject("ALG-3", "SignerInfo digestAlgorithm must be id-sha256");
        }
        if si.peek_tag() != Some(Tag::ctx_cons(0)) {
            return reject("CMS-6", "signedAttrs are missing");
        }
        // Present but not DER (a long-form or indefinite length, FORT CVE-2024-45234).
        let attrs_tlv = si.expect(Tag::ctx_cons(0), "signedAttrs").map_err(|e| e.with_rule("CMS-1"))?;
        let (salg, _) = read_algorithm(&mut si, "signatureAlgorithm")?;
        if salg != oid::RSA_ENCRYPTION && salg != oid::SHA256_WITH_RSA {
            return reject("ALG-4", format!("signature algorithm {} is not RSA", oid::describe(&salg)));
        }
        let signature = si.octet_string("signature")?.to_vec();
        if !si.is_empty() {
            return reject("CMS-10", "unsignedAttrs must be absent");
        }
        let mut warnings = Vec::new();
        let attrs = SignedAttrs::decode(&r.child(attrs_tlv.value)?)?;
        if attrs.content_type != ctype.0 {
            return reject("CMS-7", "content-type attribute differs from eContentType");
        }
        if attrs.message_digest != sha256(econtent.value) {
            return reject_as(Kind::Signature, "CMS-8", "message digest does not match the content");
        }
        let ee = Cert::decode(ee_tlv.raw).map_err(|e| e.context("EE certificate"))?;
        if ee.kind != CertKind::Ee {
            return reject("CMS-11", "the signing certificate is not an EE certificate");
        }
        if ctype != oid::CT_SIGNED_CHECKLIST && ee.sia.rsync_signed_object().is_none() {
            return reject("CERT-18", "the EE certificate has no rsync signedObject URI");
        }
        if sid.value != ee.ski.0 {
            return reject("CMS-5", "sid does not match the EE certificate's SKI");
        }
        if !ee.is_current(attrs.signing_time) {
            warnings.push(Error::new("CMS-12", "signing-time lies outside the EE certificate's validity"));
        }
        warnings.extend(ee.warnings.iter().cloned());
        let mut signed_attrs = attrs_tlv.raw.to_vec();
        signed_attrs[0] = Tag::SET.0;
        let off = econtent.value.as_ptr() as usize - bytes.as_ptr() as usize;
        Ok(SignedObject {
            der: bytes.to_vec(),
            content_type: ctype.to_string(),
            content: off..off + econtent.value.len(),
            signed_attrs,
            signature,
            signing_time: attrs.signing_time,
            ee,
            warnings,
        })
    }

    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The eContent octets (the DER payload).
    pub fn content(&self) -> &[u8] {
        &self.der[self.content.clone()]
    }

    /// Verify the signer's signature over the signed attributes (CMS-9, CMS-11).
    pub fn verify_signature(&self) -> Result<()> {
        self.ee
            .public_key
            .verify(&self.signed_attrs, &self.signature)
            .map_err(|_| Error::new("CMS-11", "CMS signature does not verify with the EE key").of_kind(Kind::Signature))
    }

    /// The checks of a signed object published at `uri` by the CA of `cx`
    /// (RFC 6488 §3, RFC 6487 §7.2), beyond what decoding checked: the CMS and
    /// EE signatures, the EE's issuer (CERT-5), revocation (PATH-5), validity
    /// now (CERT-6), its location (CERT-18) and resources within the CA's (RES-8).
    pub fn check(&self, uri: &str, cx: &Context<'_>) -> Result<()> {
        self.verify_signature()?;
        self.ee.verify_signature(&cx.ca.public_key)?;
        if !cx.ca.is_issuer_of(&self.ee.issuer, self.ee.aki.as_ref()) {
            return reject("CERT-5", "the EE certificate's issuer is not this CA");
        }
        if cx.crl.is_revoked(&self.ee.serial) {
            return reject("PATH-5", "the EE certificate is revoked");
        }
        if !self.ee.is_current(cx.now) {
            return Err(Error::new("CERT-6", format!("the EE certificate is not valid now (until {})", self.ee.not_after.rfc3339()))
                .of_kind(Kind::Time));
        }
        if self.ee.sia.rsync_signed_object() != Some(uri) {
            return reject("CERT-18", "the EE certificate's signedObject URI is not where the object is published");
        }
        if !cx.held.contains(&self.ee.resources.explicit_set()) {
            return reject("RES-8", "the EE certificate's resources exceed the CA's");
        }
        Ok(())
    }

    /// Require `content_type` (CMS-3, per object type).
    pub fn expect_type(&self, ct: der::Oid<'_>, rule: &'static str) -> Result<()> {
        if self.content_type != ct.to_string() {
            return reject(rule, format!("eContentType {} is not {}", self.content_type, oid::describe(&ct)));
        }
        Ok(())
    }
}

/// The signing-time of a signed object without decoding the rest (for file
/// mtimes, CMS-13); `None` when the walk to it fails.
pub fn signing_time(bytes: &[u8]) -> Option<Time> {
    let mut r = Reader::new(Reader::single(bytes).ok()?.value);
    r.oid("contentType").ok()?;
    let mut sd = r.nested(Tag::ctx_cons(0), "content").ok()?.sequence("SignedData").ok()?;
    let mut signer_infos = None;
    while !sd.is_empty() {
        signer_infos = Some(sd.any().ok()?);
    }
    let mut si = Reader::new(signer_infos?.value).sequence("SignerInfo").ok()?;
    si.integer("version").ok()?;
    si.any().ok()?;
    si.sequence("digestAlgorithm").ok()?;
    let attrs = si.nested(Tag::ctx_cons(0), "signedAttrs").ok()?;
    SignedAttrs::decode(&attrs).ok().map(|a| a.signing_time)
}

struct SignedAttrs {
    content_type: Vec<u8>,
    message_digest: Vec<u8>,
    signing_time: Time,
}

impl SignedAttrs {
    /// Exactly content-type, message-digest and signing-time, once each with one
    /// value, in DER SET OF order (CMS-6, CMS-9).
    fn decode(r: &Reader<'_>) -> Result<Self> {
        let mut r = r.clone();
        let (mut ct, mut md, mut st) = (None, None, None);
        let mut raws: Vec<&[u8]> = Vec::new();
        while !r.is_empty() {
            let tlv = r.expect(Tag::SEQUENCE, "Attribute")?;
            raws.push(tlv.raw);
            let mut a = r.child(tlv.value)?;
            let ty = a.oid("attrType")?;
            let mut vals = a.nested(Tag::SET, "attrValues")?;
            a.finish()?;
            let v = vals.any().map_err(|_| Error::new("CMS-6", "attribute without a value"))?;
            if !vals.is_empty() {
                return reject("CMS-6", format!("attribute {} has more than one value", oid::describe(&ty)));
            }
            let slot_dup =
                |present: bool| if present { reject("CMS-6", format!("attribute {} repeated", oid::describe(&ty))) } else { Ok(()) };
            if ty == oid::CONTENT_TYPE {
                slot_dup(ct.is_some())?;
                if v.tag != Tag::OID {
                    return reject("CMS-6", "content-type value is not an OID");
                }
                ct = Some(der::Oid::from_content(v.value)?.0.to_vec());
            } else if ty == oid::MESSAGE_DIGEST {
                slot_dup(md.is_some())?;
                if v.tag != Tag::OCTET_STRING {
                    return reject("CMS-6", "message-digest value is not an OCTET STRING");
                }
                md = Some(v.value.to_vec());
            } else if ty == oid::SIGNING_TIME {
                slot_dup(st.is_some())?;
                let mut tr = Reader::new(v.raw);
                st = Some(Time::read_x509(&mut tr, "signing-time")?);
            } else {
                return reject("CMS-6", format!("signed attribute {} is not allowed", oid::describe(&ty)));
            }
        }
        if !der::set_of_sorted(&raws) {
            return reject("CMS-9", "signedAttrs are not in DER SET OF order");
        }
        Ok(SignedAttrs {
            content_type: ct.ok_or_else(|| Error::new("CMS-6", "content-type attribute is missing"))?,
            message_digest: md.ok_or_else(|| Error::new("CMS-6", "message-digest attribute is missing"))?,
            signing_time: st.ok_or_else(|| Error::new("CMS-6", "signing-time attribute is missing"))?,
        })
    }
}

/// What an issuing CA supplies to sign an object: its name, key and URIs.
pub struct Issuer<'a> {
    pub signer: &'a dyn Signer,
    pub key: KeyId,
    pub cert: &'a Cert,
    /// rsync URI of the issuer's certificate (AIA).
    pub cert_uri: String,
    /// rsync URI of the issuer's CRL (CRLDP).
    pub crl_uri: String,
}

/// The EE certificate fields a caller chooses for a signed object.
#[derive(Clone, Debug)]
pub struct EeSpec {
    pub serial: Serial,
    pub not_before: Time,
    pub not_after: Time,
    /// rsync URI where the object will be published (SIA signedObject).
    pub object_uri: String,
}

/// Build a signed object: the one-time EE key signs the attributes and is
/// destroyed (CMS-14, ALG-10), then the issuer certifies that key with `resources`.
pub fn build(
    content_type: der::Oid<'_>,
    content: &[u8],
    signing_time: Time,
    ee: &EeSpec,
    ee_key: Box<dyn OneTimeKey>,
    resources: CertResources,
    issuer: &Issuer<'_>,
) -> Result<SignedObject, BuildError> {
    let attrs = signed_attrs(content_type, content, signing_time);
    let ee_key_pub = ee_key.public_key().clone();
    let signature = ee_key.sign_once(&attrs)?;
    let ee_key = ee_key_pub;
    let ee_cert = CertBuilder {
        serial: ee.serial.clone(),
        issuer: issuer.cert.subject.clone(),
        // CERT-4: the subject is the hex SHA-1 of the subject key.
        subject: Name::new(&ee_key.key_id().hex(), None)?,
        not_before: ee.not_before,
        not_after: ee.not_after,
        public_key: ee_key,
        ca: false,
        aki: Some(issuer.cert.ski),
        crl_uri: Some(issuer.crl_uri.clone()),
        ca_issuer: Some(issuer.cert_uri.clone()),
        sia: SiaSpec::SignedObject(ee.object_uri.clone()),
        resources,
        bgpsec_router: false,
    }
    .sign(issuer.signer, &issuer.key)?;
    let ci = signed_data(content_type, content, ee_cert.to_der(), None, &ee_cert.ski, &attrs, &signature);
    Ok(SignedObject::decode(&ci)?)
}

/// The signed attributes: content-type, signing-time, message-digest (CMS-6), as a DER SET.
pub(crate) fn signed_attrs(content_type: der::Oid<'_>, content: &[u8], signing_time: Time) -> Vec<u8> {
    der::set_of(vec![
        der::sequence(&[&der::oid(oid::CONTENT_TYPE.0), &der::set_of(vec![der::oid(content_type.0)])]),
        der::sequence(&[&der::oid(oid::SIGNING_TIME.0), &der::set_of(vec![signing_time.encode_x509()])]),
        der::sequence(&[&der::oid(oid::MESSAGE_DIGEST.0), &der::set_of(vec![der::octet_string(&sha256(content))])]),
    ])
}

/// ContentInfo wrapping a SignedData version 3 with one SignerInfo identified
/// by `ski`, the signer's certificate and, optionally, one CRL.
pub(crate) fn signed_data(
    content_type: der::Oid<'_>,
    content: &[u8],
    cert: &[u8],
    crl: Option<&[u8]>,
    ski: &KeyId,
    attrs: &[u8],
    signature: &[u8],
) -> Vec<u8> {
    let sha256_alg = der::sequence(&[&der::oid(oid::SHA256.0)]);
    let signer_info = der::sequence(&[
        &der::integer_u64(3),
        &der::tlv(Tag::ctx_prim(0), &ski.0),
        &sha256_alg,
        &der::tlv(Tag::ctx_cons(0), &attrs[hdr_len(attrs)..]),
        &der::sequence(&[&der::oid(oid::RSA_ENCRYPTION.0), &der::null()]),
        &der::octet_string(signature),
    ]);
    let eci = der::sequence(&[&der::oid(content_type.0), &der::tlv(Tag::ctx_cons(0), &der::octet_string(content))]);
    let crls = crl.map(|c| der::tlv(Tag::ctx_cons(1), c)).unwrap_or_default();
    let sd = der::sequence(&[
        &der::integer_u64(3),
        &der::set_of(vec![sha256_alg.clone()]),
        &eci,
        &der::tlv(Tag::ctx_cons(0), cert),
        &crls,
        &der::set_of(vec![signer_info]),
    ]);
    der::sequence(&[&der::oid(oid::SIGNED_DATA.0), &der::tlv(Tag::ctx_cons(0), &sd)])
}

/// Length of a TLV's header (tag and length octets).
fn hdr_len(tlv: &[u8]) -> usize {
    match tlv.get(1) {
        Some(l) if *l & 0x80 != 0 => 2 + (*l & 0x7f) as usize,
        _ => 2,
    }
}
