//! Identity certificates of the business PKI (BPKI) that RFC 8183 exchanges and
//! RFC 6492 §3.1 / RFC 8181 §3.1 messages are signed under. The profile is loose
//! (RFC 8183 §1): a self-signed CA certificate carrying the party's key, and EE
//! certificates it issues for signing messages. Only the fields used are read.

use crate::crypto::{sha256_with_rsa, KeyId, PublicKey, Signer};
use crate::der::{self, Reader, Tag, Time};
use crate::error::{reject, BuildError, Error, Kind, Result};
use crate::name::Name;
use crate::oid;
use crate::serial::Serial;
use crate::x509::Signed;

const RULE: &str = "RFC 8183 §1 (BPKI)";

/// A decoded BPKI certificate.
#[derive(Clone, Debug)]
pub struct IdCert {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
    pub serial: Serial,
    /// Issuer and subject Names, as encoded.
    pub issuer: Vec<u8>,
    pub subject: Vec<u8>,
    pub not_before: Time,
    pub not_after: Time,
    pub public_key: PublicKey,
    pub ski: KeyId,
    pub aki: Option<KeyId>,
    /// basicConstraints cA.
    pub ca: bool,
}

impl IdCert {
    pub fn decode(der_bytes: &[u8]) -> Result<Self> {
        let mut signed = Signed::decode(der_bytes, "BPKI certificate")?;
        let t = &mut signed.tbs;
        // version [0] v3 (v1 certificates have no key identifiers and are refused).
        let mut version = t.nested(Tag::ctx_cons(0), "version").map_err(|_| Error::new(RULE, "version must be v3"))?;
        if version.integer("version")?.0 != [2] {
            return reject(RULE, "version must be v3");
        }
        let serial = Serial::from_integer(&t.integer("serialNumber")?, RULE)?;
        signed.inner_algorithm(RULE)?;
        let t = &mut signed.tbs;
        let issuer = t.expect(Tag::SEQUENCE, "issuer")?.raw.to_vec();
        let mut validity = t.sequence("validity")?;
        let not_before = Time::read_x509(&mut validity, "notBefore")?;
        let not_after = Time::read_x509(&mut validity, "notAfter")?;
        validity.finish()?;
        let subject = t.expect(Tag::SEQUENCE, "subject")?.raw.to_vec();
        let public_key = PublicKey::decode(t.expect(Tag::SEQUENCE, "subjectPublicKeyInfo")?.raw)?;
        let (mut ski, mut aki, mut ca) = (None, None, false);
        while !t.is_empty() {
            let tlv = t.any()?;
            if tlv.tag != Tag::ctx_cons(3) {
                continue; // unique identifiers: ignored
            }
            let mut outer = t.child(tlv.value)?;
            let mut exts = outer.sequence("extensions")?;
            while !exts.is_empty() {
                let mut e = exts.sequence("Extension")?;
                let id = e.oid("extnID")?;
                let critical = if e.peek_tag() == Some(Tag::BOOLEAN) { e.boolean("critical")? } else { false };
                let value = e.octet_string("extnValue")?;
                let mut v = Reader::new(value);
                if id == oid::CE_SUBJECT_KEY_IDENTIFIER {
                    ski = KeyId::from_slice(v.octet_string("subjectKeyIdentifier")?);
                } else if id == oid::CE_AUTHORITY_KEY_IDENTIFIER {
                    let mut s = v.sequence("authorityKeyIdentifier")?;
                    if let Some(k) = s.optional(Tag::ctx_prim(0))? {
                        aki = KeyId::from_slice(k.value);
                    }
                } else if id == oid::CE_BASIC_CONSTRAINTS {
                    let mut s = v.sequence("basicConstraints")?;
                    ca = s.peek_tag() == Some(Tag::BOOLEAN) && s.boolean("cA")?;
                } else if critical && id != oid::CE_KEY_USAGE {
                    return reject(RULE, format!("unsupported critical extension {}", oid::describe(&id)));
                }
            }
        }
        // Without an SKI the key identifier is computed (RFC 5280 §4.2.1.2 method 1).
        let ski = ski.unwrap_or_else(|| public_key.key_id());
        Ok(IdCert {
            der: der_bytes.to_vec(),
            tbs: signed.tbs_range,
            signature: signed.signature,
            serial,
            issuer,
            subject,
            not_before,
            not_after,
            public_key,
            ski,
            aki,
            ca,
        })
    }

    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// Check the certificate as the self-signed identity of a party (RFC 8183 §5.2.3).
    pub fn validate_ta(&self) -> Result<()> {
        if !self.ca {
            return reject(RULE, "the identity certificate is not a CA certificate");
        }
        if self.ski != self.public_key.key_id() {
            return reject(RULE, "subjectKeyIdentifier does not match the key");
        }
        self.verify_issued_by(&self.public_key)
            .map_err(|_| Error::new(RULE, "the identity certificate's self-signature does not verify").of_kind(Kind::Signature))
    }

    /// Check the signature under `issuer`'s key.
    pub fn verify_issued_by(&self, issuer: &PublicKey) -> Result<()> {
        issuer
            .verify(&self.der[self.tbs.clone()], &self.signature)
            .map_err(|_| Error::new(RULE, "certificate signature does not verify").of_kind(Kind::Signature))
    }

    pub fn is_current(&self, now: Time) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// A CRL of a BPKI identity, beside a protocol message's EE certificate
/// (RFC 6492 §3.1). Not an RPKI object: its profile is loose (rpki-rs wrote
/// some without an authorityKeyIdentifier), so only the revoked serials and
/// the signature are read.
#[derive(Clone, Debug)]
pub struct BpkiCrl {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
    pub this_update: Time,
    pub next_update: Option<Time>,
    revoked: Vec<Serial>,
}

impl BpkiCrl {
    pub fn decode(der_bytes: &[u8]) -> Result<Self> {
        let mut signed = Signed::decode(der_bytes, "BPKI CRL")?;
        if signed.tbs.peek_tag() == Some(Tag::INTEGER) {
            signed.tbs.integer("version")?;
        }
        signed.inner_algorithm(RULE)?;
        let t = &mut signed.tbs;
        t.expect(Tag::SEQUENCE, "issuer")?;
        let this_update = Time::read_x509(t, "thisUpdate")?;
        let next_update = match t.peek_tag() {
            Some(Tag::UTC_TIME) | Some(Tag::GENERALIZED_TIME) => Some(Time::read_x509(t, "nextUpdate")?),
            _ => None,
        };
        let mut revoked = Vec::new();
        if t.peek_tag() == Some(Tag::SEQUENCE) {
            let mut list = t.sequence("revokedCertificates")?;
            while !list.is_empty() {
                let mut entry = list.sequence("revoked certificate")?;
                revoked.push(Serial::from_integer(&entry.integer("userCertificate")?, RULE)?);
            }
        }
        Ok(BpkiCrl { der: der_bytes.to_vec(), tbs: signed.tbs_range, signature: signed.signature, this_update, next_update, revoked })
    }

    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    pub fn verify_signature(&self, key: &PublicKey) -> Result<()> {
        key.verify(&self.der[self.tbs.clone()], &self.signature)
            .map_err(|_| Error::new(RULE, "CRL signature does not verify").of_kind(Kind::Signature))
    }

    pub fn is_revoked(&self, serial: &Serial) -> bool {
        self.revoked.contains(serial)
    }
}

/// Issue a BPKI certificate for `subject_key`: self-signed identity (`ca`) when
/// `issuer` is `None`, else an EE certificate under the identity `issuer`.
pub fn issue(
    signer: &dyn Signer,
    issuer_key: &KeyId,
    issuer: Option<&IdCert>,
    subject_key: &PublicKey,
    serial: Serial,
    not_before: Time,
    not_after: Time,
) -> std::result::Result<IdCert, BuildError> {
    let issuer_pub = signer.public_key(issuer_key)?;
    let ca = issuer.is_none();
    let subject = Name::new(&subject_key.key_id().hex(), None)?.der;
    let issuer_name = match issuer {
        Some(i) => i.subject.clone(),
        None => subject.clone(),
    };
    use crate::cert::ext;
    let mut exts = Vec::new();
    if ca {
        exts.push(ext(oid::CE_BASIC_CONSTRAINTS, true, &der::sequence(&[&der::boolean(true)])));
    }
    exts.push(ext(oid::CE_SUBJECT_KEY_IDENTIFIER, false, &der::octet_string(&subject_key.key_id().0)));
    let aki = issuer_pub.key_id();
    exts.push(ext(oid::CE_AUTHORITY_KEY_IDENTIFIER, false, &der::sequence(&[&der::tlv(Tag::ctx_prim(0), &aki.0)])));
    let ku: &[u8] = if ca { &[0x03, 0x02, 0x01, 0x06] } else { &[0x03, 0x02, 0x07, 0x80] };
    exts.push(ext(oid::CE_KEY_USAGE, true, ku));
    let tbs = der::sequence(&[
        &der::tlv(Tag::ctx_cons(0), &der::integer_u64(2)),
        &serial.encode(),
        &sha256_with_rsa(),
        &issuer_name,
        &der::sequence(&[&not_before.encode_x509(), &not_after.encode_x509()]),
        &subject,
        subject_key.spki(),
        &der::tlv(Tag::ctx_cons(3), &der::tlv(Tag::SEQUENCE, &exts.concat())),
    ]);
    let sig = signer.sign(issuer_key, &tbs)?;
    Ok(IdCert::decode(&crate::x509::assemble(&tbs, &sig))?)
}

/// Stored form of an identity: identity key and message key (PKCS#1), certificate.
pub type IdentityParts = (Vec<u8>, Vec<u8>, Vec<u8>);

/// A party's BPKI identity: the identity key and certificate, and the key that
/// signs its protocol messages (certified afresh for each message). The keys
/// live in software or in any other `Signer` (an HSM).
pub struct Identity {
    pub signer: std::sync::Arc<dyn Signer>,
    pub key: KeyId,
    pub ee_key: KeyId,
    pub cert: IdCert,
    /// Both private keys (PKCS#1) when they are in software, for storage.
    software: Option<(Vec<u8>, Vec<u8>)>,
    /// The CRL that goes beside protocol messages, reused while it has more
    /// than `WRAPPER_MARGIN_SECS` to run.
    wrapper: std::sync::Mutex<Option<crate::signed_message::Wrapper>>,
}

/// How long a protocol message's EE certificate and the CRL beside it are valid.
const WRAPPER_SECS: i64 = 3600;
/// A wrapper is renewed when less than this is left of it.
const WRAPPER_MARGIN_SECS: i64 = 600;

impl Identity {
    /// A new identity in software whose certificate is valid for ten years.
    pub fn create() -> std::result::Result<Self, BuildError> {
        let soft = crate::crypto::SoftSigner::new();
        let key = soft.create_key()?;
        let ee_key = soft.create_key()?;
        let software = Some((soft.export(&key)?, soft.export(&ee_key)?));
        Self::certify(std::sync::Arc::new(soft), key, ee_key, software)
    }

    /// A new identity whose keys `signer` makes and keeps (an HSM).
    pub fn create_in(signer: std::sync::Arc<dyn Signer>) -> std::result::Result<Self, BuildError> {
        let key = signer.create_key()?;
        let ee_key = signer.create_key()?;
        Self::certify(signer, key, ee_key, None)
    }

    fn certify(
        signer: std::sync::Arc<dyn Signer>,
        key: KeyId,
        ee_key: KeyId,
        software: Option<(Vec<u8>, Vec<u8>)>,
    ) -> std::result::Result<Self, BuildError> {
        let public = signer.public_key(&key)?;
        let now = Time::now();
        let cert = issue(&*signer, &key, None, &public, Serial::from_u64(1), now.add_secs(-300), now.add_secs(10 * 365 * 86400))?;
        Ok(Identity { signer, key, ee_key, cert, software, wrapper: Default::default() })
    }

    /// From stored parts: both PKCS#1 private keys and the certificate.
    pub fn from_parts(key: &[u8], ee_key: &[u8], cert: &[u8]) -> std::result::Result<Self, BuildError> {
        let soft = crate::crypto::SoftSigner::new();
        let id = soft.insert(crate::crypto::KeyPair::from_pkcs1(key)?);
        let ee = soft.insert(crate::crypto::KeyPair::from_pkcs1(ee_key)?);
        Self::found(std::sync::Arc::new(soft), id, ee, cert, Some((key.to_vec(), ee_key.to_vec())))
    }

    /// An identity whose keys `signer` holds (an HSM), found by their identifiers.
    pub fn in_signer(signer: std::sync::Arc<dyn Signer>, key: KeyId, ee_key: KeyId, cert: &[u8]) -> std::result::Result<Self, BuildError> {
        Self::found(signer, key, ee_key, cert, None)
    }

    fn found(
        signer: std::sync::Arc<dyn Signer>,
        key: KeyId,
        ee_key: KeyId,
        cert: &[u8],
        software: Option<(Vec<u8>, Vec<u8>)>,
    ) -> std::result::Result<Self, BuildError> {
        let cert = IdCert::decode(cert)?;
        if cert.public_key != signer.public_key(&key)? {
            return Err(Error::new(RULE, "the identity certificate is not for the stored key").into());
        }
        signer.public_key(&ee_key)?;
        Ok(Identity { signer, key, ee_key, cert, software, wrapper: Default::default() })
    }

    /// The parts to store: identity key, message key (PKCS#1) and certificate;
    /// `None` when the keys are in an HSM (then only their identifiers are kept).
    pub fn to_parts(&self) -> Option<IdentityParts> {
        self.software.as_ref().map(|(k, e)| (k.clone(), e.clone(), self.cert.to_der().to_vec()))
    }

    /// Sign a document carried by hand, valid until `until`.
    pub fn sign_until(&self, xml: &[u8], now: Time, until: Time) -> std::result::Result<Vec<u8>, BuildError> {
        crate::signed_message::SignedMessage::build_until(xml, &*self.signer, &self.key, &self.cert, &self.ee_key, now, until)
    }

    /// Sign a protocol message (RFC 6492 §3.1 / RFC 8181 §3.1): two
    /// signatures (the message, its EE certificate), the CRL beside it made
    /// once an hour or so.
    pub fn sign(&self, xml: &[u8], now: Time) -> std::result::Result<Vec<u8>, BuildError> {
        let mut cached = self.wrapper.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fresh = cached.as_ref().filter(|w| w.not_after.0 - WRAPPER_MARGIN_SECS > now.0 && w.made <= now.0);
        let w = match fresh {
            Some(w) => w.clone(),
            None => {
                let w = crate::signed_message::Wrapper::new(&*self.signer, &self.key, &self.cert, now, now.add_secs(WRAPPER_SECS))?;
                *cached = Some(w.clone());
                w
            }
        };
        drop(cached);
        w.sign(xml, &*self.signer, &self.key, &self.cert, &self.ee_key, now)
    }
}
