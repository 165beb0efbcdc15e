//! Certificate revocation lists as RFC 6487 §5 profiles them (CRL-1, CRL-2), with
//! the builder beside the decoder. Revocation lookups are hash-set based (CRL-8).

use crate::cert::Cert;
use crate::crypto::{sha256_with_rsa, KeyId, PublicKey, Signer};
use crate::der::{self, Reader, Tag, Time};
use crate::error::{reject, reject_as, BuildError, Error, Kind, Result};
use crate::name::Name;
use crate::oid;
use crate::serial::Serial;
use crate::valid_ca::ValidCa;
use crate::x509::Signed;
use std::collections::HashSet;

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revoked {
    pub serial: Serial,
    pub revocation_date: Time,
}

/// A decoded, profile-checked CRL.
#[derive(Clone, Debug)]
pub struct Crl {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
    pub issuer: Name,
    pub this_update: Time,
    pub next_update: Time,
    pub aki: KeyId,
    pub crl_number: Serial,
    pub revoked: Vec<Revoked>,
    revoked_set: HashSet<Serial>,
    pub warnings: Vec<Error>,
}

impl Crl {
    pub fn decode(der_bytes: &[u8]) -> Result<Self> {
        let mut signed = Signed::decode(der_bytes, "CRL")?;
        let t = &mut signed.tbs;
        if t.peek_tag() != Some(Tag::INTEGER) || t.integer("version")?.0 != [1] {
            return reject("CRL-1", "CRL version must be v2");
        }
        signed.inner_algorithm("CRL-1")?;
        let t = &mut signed.tbs;
        let mut warnings = Vec::new();
        let issuer = Name::decode(t.expect(Tag::SEQUENCE, "issuer")?.raw, &mut warnings)?;
        let this_update = Time::read_x509(t, "thisUpdate")?;
        if !matches!(t.peek_tag(), Some(Tag::UTC_TIME) | Some(Tag::GENERALIZED_TIME)) {
            return reject("CRL-1", "nextUpdate is missing");
        }
        let next_update = Time::read_x509(t, "nextUpdate")?;
        if next_update <= this_update {
            return reject("CRL-1", "nextUpdate is not after thisUpdate");
        }
        let mut revoked = Vec::new();
        let mut revoked_set = HashSet::new();
        if t.peek_tag() == Some(Tag::SEQUENCE) {
            let mut list = t.sequence("revokedCertificates")?;
            while !list.is_empty() {
                let mut entry = list.sequence("revoked certificate")?;
                let serial_int = entry.integer("userCertificate")?;
                if serial_int.is_zero() || serial_int.is_negative() {
                    return reject("CERT-2", "revoked serial number must be positive");
                }
                let serial = Serial::from_integer(&serial_int, "CRL-2")?;
                let revocation_date = Time::read_x509(&mut entry, "revocationDate")?;
                if !entry.is_empty() {
                    return reject("CRL-2", "CRL entry extensions are not allowed");
                }
                revoked_set.insert(serial.clone());
                revoked.push(Revoked { serial, revocation_date });
            }
        }
        let mut exts = t.nested(Tag::ctx_cons(0), "crlExtensions").map_err(|_| Error::new("CRL-2", "CRL extensions are missing"))?;
        t.finish()?;
        let mut list = exts.sequence("Extensions")?;
        exts.finish()?;
        let (mut aki, mut number) = (None, None);
        while !list.is_empty() {
            let mut e = list.sequence("Extension")?;
            let id = e.oid("extnID")?;
            let critical = if e.peek_tag() == Some(Tag::BOOLEAN) { e.boolean("critical")? } else { false };
            let value = e.octet_string("extnValue")?;
            e.finish()?;
            if critical {
                return reject("CRL-2", "CRL extensions must be non-critical");
            }
            if id == oid::CE_AUTHORITY_KEY_IDENTIFIER && aki.is_none() {
                let mut o = Reader::new(value);
                let mut s = o.sequence("AuthorityKeyIdentifier")?;
                o.finish()?;
                let ki = s.optional(Tag::ctx_prim(0))?.ok_or_else(|| Error::new("CERT-12", "AKI without keyIdentifier"))?;
                s.finish().map_err(|_| Error::new("CERT-12", "AKI may hold only keyIdentifier"))?;
                aki = Some(KeyId::from_slice(ki.value).ok_or_else(|| Error::new("CERT-12", "AKI is not 20 octets"))?);
            } else if id == oid::CE_CRL_NUMBER && number.is_none() {
                let mut o = Reader::new(value);
                let n = o.integer("cRLNumber")?;
                o.finish()?;
                number = Some(Serial::from_integer(&n, "CRL-2")?);
            } else {
                return reject("CRL-2", format!("CRL extension {} is not allowed or repeated", oid::describe(&id)));
            }
        }
        Ok(Crl {
            der: der_bytes.to_vec(),
            tbs: signed.tbs_range,
            signature: signed.signature,
            issuer,
            this_update,
            next_update,
            aki: aki.ok_or_else(|| Error::new("CRL-2", "authorityKeyIdentifier is missing"))?,
            crl_number: number.ok_or_else(|| Error::new("CRL-2", "CRL number is missing"))?,
            revoked,
            revoked_set,
            warnings,
        })
    }

    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// Verify the signature with the issuing CA's key (CRL-6).
    pub fn verify_signature(&self, key: &PublicKey) -> Result<()> {
        key.verify(&self.der[self.tbs.clone()], &self.signature)
            .map_err(|_| Error::new("CRL-6", "CRL signature does not verify with the CA's key").of_kind(Kind::Signature))
    }

    /// Is the certificate with `serial` revoked (PATH-5)? O(1).
    pub fn is_revoked(&self, serial: &Serial) -> bool {
        self.revoked_set.contains(serial)
    }

    /// The checks of the CRL on the point of `ca` at `now`, beyond decoding:
    /// the CA's signature (CRL-6), its name and key (CRL-2), current (MFT-13).
    pub fn check(&self, ca: &ValidCa, now: Time) -> Result<()> {
        self.verify_signature(&ca.public_key).map_err(|e| e.context("CRL signature"))?;
        if !ca.is_issuer_of(&self.issuer, Some(&self.aki)) {
            return reject("CRL-2", "the CRL is not issued by this CA");
        }
        if now < self.this_update || now > self.next_update {
            return reject_as(Kind::Time, "MFT-13", format!("the CRL is not current (nextUpdate {})", self.next_update.rfc3339()));
        }
        Ok(())
    }

    /// Was this CRL issued by `ca` (name and key identifier, CERT-5)?
    pub fn issued_by(&self, ca: &Cert) -> bool {
        self.issuer.der == ca.subject.der && self.aki == ca.ski
    }
}

/// Fields of a CRL to be issued.
#[derive(Clone, Debug)]
pub struct CrlBuilder {
    pub issuer: Name,
    pub aki: KeyId,
    pub this_update: Time,
    pub next_update: Time,
    pub crl_number: Serial,
    pub revoked: Vec<Revoked>,
}

impl CrlBuilder {
    pub fn tbs(&self) -> Vec<u8> {
        let entries: Vec<Vec<u8>> =
            self.revoked.iter().map(|r| der::sequence(&[&r.serial.encode(), &r.revocation_date.encode_x509()])).collect();
        let revoked = if entries.is_empty() { Vec::new() } else { der::tlv(Tag::SEQUENCE, &entries.concat()) };
        let aki = der::sequence(&[
            &der::oid(oid::CE_AUTHORITY_KEY_IDENTIFIER.0),
            &der::octet_string(&der::sequence(&[&der::tlv(Tag::ctx_prim(0), &self.aki.0)])),
        ]);
        let num = der::sequence(&[&der::oid(oid::CE_CRL_NUMBER.0), &der::octet_string(&self.crl_number.encode())]);
        der::sequence(&[
            &der::integer_u64(1),
            &sha256_with_rsa(),
            &self.issuer.der,
            &self.this_update.encode_x509(),
            &self.next_update.encode_x509(),
            &revoked,
            &der::tlv(Tag::ctx_cons(0), &der::sequence(&[&aki, &num])),
        ])
    }

    pub fn sign(&self, signer: &dyn Signer, key: &KeyId) -> Result<Crl, BuildError> {
        let tbs = self.tbs();
        let sig = signer.sign(key, &tbs)?;
        Ok(Crl::decode(&crate::x509::assemble(&tbs, &sig))?)
    }
}
