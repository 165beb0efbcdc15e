//! Which extensions each kind of certificate must and must not carry: the matrix
//! of CHECKLIST 2.1 (RFC 6487 §4.8, RFC 8209 §3.1).

use super::extensions::Extensions;
use super::{Cert, CertKind};
use crate::crypto::KeyAlgorithm;
use crate::error::{reject, Error, Result};
use crate::oid;

pub(super) fn apply(mut cert: Cert, ext: Extensions) -> Result<Cert> {
    let ski = ext.ski.ok_or_else(|| Error::new("CERT-11", "subjectKeyIdentifier is missing"))?;
    if ski != cert.public_key.key_id() {
        return reject("CERT-11", "subjectKeyIdentifier is not the SHA-1 of the public key");
    }
    cert.ski = ski;
    let ku_ca = ext.key_usage_ca.ok_or_else(|| Error::new("CERT-13", "keyUsage is missing"))?;
    cert.cps_uri = ext.policy.clone().ok_or_else(|| Error::new("CERT-19", "certificatePolicies is missing"))?;
    if !ext.has_ip_ext && !ext.has_as_ext {
        return reject("CERT-20", "neither IP nor AS resources");
    }
    let bgpsec = ext.eku.as_ref().is_some_and(|e| e.iter().any(|p| p == &oid::KP_BGPSEC_ROUTER.to_string()));
    cert.kind = if ext.basic_ca {
        let self_signed = cert.issuer.der == cert.subject.der && cert.aki.is_none_or(|a| a == ski);
        if self_signed {
            CertKind::Ta
        } else {
            CertKind::Ca
        }
    } else if bgpsec {
        CertKind::Router
    } else {
        CertKind::Ee
    };
    if cert.kind == CertKind::Router {
        if cert.public_key.algorithm() != KeyAlgorithm::EcP256 {
            return reject("BGPSEC-1", "router certificate key is not ECDSA P-256");
        }
    } else if cert.public_key.algorithm() != KeyAlgorithm::Rsa {
        return reject("ALG-1", "only router certificates may carry an ECDSA key");
    }
    if cert.is_ca() != ku_ca {
        return reject("CERT-13", if ku_ca { "EE certificate with CA key usage" } else { "CA certificate without keyCertSign+cRLSign" });
    }
    if ext.eku.is_some() && cert.kind != CertKind::Router {
        return reject("CERT-14", "extKeyUsage is only allowed in router certificates");
    }
    match cert.kind {
        CertKind::Ta => {
            if ext.crldp.is_some() {
                return reject("TA-4", "a trust anchor has no CRL distribution point");
            }
            if ext.aia.is_some() {
                return reject("TA-4", "a trust anchor has no authority information access");
            }
            if ext.resources.has_inherit() {
                return reject("TA-3", "a trust anchor's resources cannot be inherit");
            }
        }
        CertKind::Ca | CertKind::Ee | CertKind::Router => {
            if cert.aki.is_none() {
                return reject("CERT-12", "authorityKeyIdentifier is missing");
            }
            cert.crl_uris = ext.crldp.clone().ok_or_else(|| Error::new("CERT-15", "CRL distribution point is missing"))?;
            cert.ca_issuers = ext.aia.clone().ok_or_else(|| Error::new("CERT-16", "authority information access is missing"))?;
        }
    }
    let sia = ext.sia.clone();
    match cert.kind {
        CertKind::Ta | CertKind::Ca => {
            let sia = sia.ok_or_else(|| Error::new("CERT-17", "subject information access is missing"))?;
            let repo = sia.rsync_repository().ok_or_else(|| Error::new("CERT-17", "no rsync caRepository"))?;
            let mft = sia.rsync_manifest().ok_or_else(|| Error::new("CERT-17", "no rsync rpkiManifest"))?;
            // The manifest is a file directly in the repository directory. Real
            // CAs omit the directory's trailing '/' (RIPE NCC's hosted CAs do).
            let dir = repo.strip_suffix('/').unwrap_or(repo);
            let in_dir = mft.strip_prefix(dir).and_then(|r| r.strip_prefix('/')).is_some_and(|f| !f.is_empty() && !f.contains('/'));
            if !in_dir {
                return reject("CERT-17", "rpkiManifest is not a file in the caRepository directory");
            }
            if !sia.signed_object.is_empty() {
                return reject("CERT-17", "signedObject is not allowed in a CA certificate");
            }
            if sia.rpki_notify.iter().any(|u| !u.starts_with("https://")) {
                return reject("CERT-17", "rpkiNotify must be an https URI");
            }
            cert.sia = sia;
        }
        CertKind::Ee => {
            // An RSC's EE has no SIA (RFC 9323); signed objects published in a
            // repository need signedObject, which `SignedObject::decode` checks.
            let sia = sia.unwrap_or_default();
            if !sia.ca_repository.is_empty() || !sia.rpki_manifest.is_empty() {
                return reject("CERT-18", "an EE certificate's SIA may hold only signedObject");
            }
            if !sia.rpki_notify.is_empty() {
                cert.warnings.push(Error::new("CERT-18", "rpkiNotify in an EE certificate's SIA (RFC 8182 errata 7239)"));
            }
            if !sia.signed_object.is_empty() && sia.rsync_signed_object().is_none() {
                return reject("CERT-18", "no rsync signedObject URI");
            }
            cert.sia = sia;
        }
        CertKind::Router => {
            if sia.is_some() {
                return reject("BGPSEC-2", "a router certificate has no SIA");
            }
            if ext.has_ip_ext {
                return reject("BGPSEC-2", "a router certificate has no IP resources");
            }
            if ext.resources.asn.as_ref().and_then(|c| c.blocks()).is_none() {
                return reject("BGPSEC-2", "a router certificate needs explicit AS resources");
            }
            cert.eku = ext.eku.clone().unwrap_or_default();
        }
    }
    cert.resources = ext.resources;
    Ok(cert)
}
