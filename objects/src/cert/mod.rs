//! Resource certificates (RFC 6487) and BGPsec router certificates (RFC 8209):
//! the strict decoder here, the profile per kind in `profile.rs`, the builder in
//! `builder.rs`.

mod builder;
mod extensions;
mod profile;

pub(crate) use builder::{access, ext};
pub use builder::{CertBuilder, SiaSpec};
pub(crate) use extensions::access_descriptions;
pub use extensions::check_uri;

use crate::crypto::{KeyId, PublicKey};
use crate::der::{Tag, Time};
use crate::error::{reject, Error, Kind, Result};
use crate::name::Name;
use crate::resources::{CertResources, ResourceSet};
use crate::serial::Serial;
use crate::valid_ca::Context;
use crate::x509::Signed;
use extensions::Extensions;

/// What a certificate is, from its extensions (CHECKLIST 2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// Self-signed CA certificate: a trust anchor.
    Ta,
    /// CA certificate issued by another CA.
    Ca,
    /// End-entity certificate of a signed object.
    Ee,
    /// BGPsec router certificate (RFC 8209).
    Router,
}

/// Subject Information Access entries (CERT-17, CERT-18).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sia {
    pub ca_repository: Vec<String>,
    pub rpki_manifest: Vec<String>,
    pub rpki_notify: Vec<String>,
    pub signed_object: Vec<String>,
}

impl Sia {
    pub fn rsync_repository(&self) -> Option<&str> {
        first_rsync(&self.ca_repository)
    }
    pub fn rsync_manifest(&self) -> Option<&str> {
        first_rsync(&self.rpki_manifest)
    }
    pub fn rsync_signed_object(&self) -> Option<&str> {
        first_rsync(&self.signed_object)
    }
    pub fn notify(&self) -> Option<&str> {
        self.rpki_notify.first().map(String::as_str)
    }
}

fn first_rsync(v: &[String]) -> Option<&str> {
    v.iter().map(String::as_str).find(|u| u.starts_with("rsync://"))
}

/// A decoded, profile-checked resource certificate.
#[derive(Clone, Debug)]
pub struct Cert {
    der: Vec<u8>,
    tbs: std::ops::Range<usize>,
    signature: Vec<u8>,
    pub kind: CertKind,
    pub serial: Serial,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: Time,
    pub not_after: Time,
    pub public_key: PublicKey,
    pub ski: KeyId,
    pub aki: Option<KeyId>,
    /// CRL distribution point URIs (absent in a TA).
    pub crl_uris: Vec<String>,
    /// AIA caIssuers URIs (absent in a TA).
    pub ca_issuers: Vec<String>,
    pub sia: Sia,
    pub resources: CertResources,
    /// Extended key usages (router certificates only).
    pub eku: Vec<String>,
    pub cps_uri: Option<String>,
    /// Deviations accepted with a warning (rpki-client warns on these too).
    pub warnings: Vec<Error>,
}

impl Cert {
    /// Decode a DER certificate and check the RFC 6487 profile for its kind.
    pub fn decode(der: &[u8]) -> Result<Self> {
        let mut signed = Signed::decode(der, "certificate")?;
        let mut warnings = Vec::new();
        let t = &mut signed.tbs;
        let mut version = t.nested(Tag::ctx_cons(0), "version").map_err(|_| Error::new("CERT-1", "version must be v3"))?;
        if version.integer("version")?.0 != [2] {
            return reject("CERT-1", "version must be v3");
        }
        version.finish()?;
        let serial_int = t.integer("serialNumber")?;
        if serial_int.is_zero() || serial_int.is_negative() {
            return reject("CERT-2", "serial number must be positive");
        }
        let serial = Serial::from_integer(&serial_int, "CERT-2")?;
        signed.inner_algorithm("ALG-2")?;
        let t = &mut signed.tbs;
        let issuer = Name::decode(t.expect(Tag::SEQUENCE, "issuer")?.raw, &mut warnings).map_err(|e| e.context("issuer"))?;
        let mut validity = t.sequence("validity")?;
        let not_before = Time::read_x509(&mut validity, "notBefore")?;
        let not_after = Time::read_x509(&mut validity, "notAfter")?;
        validity.finish()?;
        if not_after < not_before {
            return reject("CERT-6", "notAfter is before notBefore");
        }
        let subject = Name::decode(t.expect(Tag::SEQUENCE, "subject")?.raw, &mut warnings).map_err(|e| e.context("subject"))?;
        let public_key = PublicKey::decode(t.expect(Tag::SEQUENCE, "subjectPublicKeyInfo")?.raw)?;
        for n in [1u8, 2] {
            if t.peek_tag().is_some_and(|tag| tag == Tag::ctx_prim(n) || tag == Tag::ctx_cons(n)) {
                return reject("CERT-8", "issuerUniqueID / subjectUniqueID must be absent");
            }
        }
        let ext_tlv = t.expect(Tag::ctx_cons(3), "extensions")?;
        t.finish()?;
        let ext = Extensions::decode(ext_tlv.value, &mut warnings)?;
        let cert = Cert {
            der: der.to_vec(),
            tbs: signed.tbs_range,
            signature: signed.signature,
            kind: CertKind::Ee,
            serial,
            issuer,
            subject,
            not_before,
            not_after,
            public_key,
            ski: KeyId([0; 20]),
            aki: ext.aki,
            crl_uris: Vec::new(),
            ca_issuers: Vec::new(),
            sia: Sia::default(),
            resources: CertResources::default(),
            eku: Vec::new(),
            cps_uri: None,
            warnings,
        };
        profile::apply(cert, ext)
    }

    /// The certificate's DER encoding.
    pub fn to_der(&self) -> &[u8] {
        &self.der
    }

    /// The signed part (tbsCertificate).
    pub fn tbs(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    pub fn is_ca(&self) -> bool {
        matches!(self.kind, CertKind::Ta | CertKind::Ca)
    }

    /// Verify this certificate's signature with the issuer's key (PATH-1, TA-4).
    pub fn verify_signature(&self, issuer_key: &PublicKey) -> Result<()> {
        issuer_key
            .verify(self.tbs(), &self.signature)
            .map_err(|_| Error::new("PATH-1", "certificate signature does not verify with the issuer's key").of_kind(Kind::Signature))
    }

    /// Verify a TA's self-signature (TA-4).
    pub fn verify_self_signed(&self) -> Result<()> {
        self.verify_signature(&self.public_key).map_err(|_| Error::new("TA-4", "self-signature does not verify").of_kind(Kind::Signature))
    }

    /// Is `time` within the validity period (CERT-6)?
    pub fn is_current(&self, time: Time) -> bool {
        self.not_before <= time && time <= self.not_after
    }

    /// The checks of a certificate published by the CA of `cx`, beyond
    /// decoding (RFC 6487 §7.2): the CA's signature (PATH-1), its name and key
    /// (CERT-5), revocation (PATH-5), validity now (CERT-6) and resources within
    /// the CA's (RES-8). Returns the resources it holds, `inherit` resolved.
    pub fn check_issued(&self, cx: &Context<'_>) -> Result<ResourceSet> {
        self.verify_signature(&cx.ca.public_key)?;
        if !cx.ca.is_issuer_of(&self.issuer, self.aki.as_ref()) {
            return reject("CERT-5", "the issuer name or AKI does not match this CA");
        }
        if cx.crl.is_revoked(&self.serial) {
            return reject("PATH-5", "the certificate is revoked");
        }
        if !self.is_current(cx.now) {
            return Err(Error::new("CERT-6", format!("not valid now ({} .. {})", self.not_before.rfc3339(), self.not_after.rfc3339()))
                .of_kind(Kind::Time));
        }
        let held = self.resources.resolve(cx.held);
        if !cx.held.contains(&held) {
            return reject("RES-8", "the certificate claims resources its issuer does not hold");
        }
        Ok(held)
    }

    /// Does `other` chain to this certificate by name and key identifier (CERT-5, CERT-12)?
    pub fn is_issuer_of(&self, other_issuer: &Name, other_aki: Option<&KeyId>) -> bool {
        self.subject.der == other_issuer.der && other_aki == Some(&self.ski)
    }
}
