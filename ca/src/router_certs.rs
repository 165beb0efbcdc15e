//! BGPsec router certificates (RFC 8209; CHECKLIST 2.9): a member asks with a
//! PKCS#10 request; its CA certifies the router's P-256 key for one of its AS
//! numbers and publishes the certificate in its publication point (BGPSEC-4).
//! Renewed before expiry, revoked on removal, re-issued when the CA's key rolls.

use crate::contract::RouterCertInfo;
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::service::{member_id, Ca};
use crate::store;
use crate::work::{CaRecord, Work};
use rpkit_objects::cert::{CertBuilder, SiaSpec};
use rpkit_objects::crypto::{sha256, KeyId, PublicKey};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::name::Name;
use rpkit_objects::pkcs10::CertRequest;
use rpkit_objects::resources::{Asn, CertResources, ResourceSet};
use rpkit_objects::serial::Serial;
use serde_json::json;

pub(crate) use crate::store::router_certs::RouterCert;

fn key_hex(k: &PublicKey) -> String {
    k.key_id().hex()
}

/// The file name: one certificate per (AS, router key), named from both (REPO-2).
fn file_name(asn: u32, key: &PublicKey) -> String {
    let d = sha256(format!("AS{asn} {}", key_hex(key)).as_bytes());
    let stem = KeyId::from_slice(&d[..20]).map(|k| k.file_stem()).unwrap_or_default();
    FileType::Certificate.file_name(&stem)
}

/// Certify `key` for `asn` under `ca` (BGPSEC-2, BGPSEC-3): an EE certificate
/// with the router EKU, the AS alone as its resources, no SIA.
pub(crate) fn issue(w: &mut Work<'_>, ca: &CaRecord, asn: u32, key: &PublicKey) -> Result<()> {
    let serial = w.next_serial(ca.id)?;
    // RFC 8209 section 3.1.1: "ROUTER-" and the AS number in hex; the key
    // identifier as serialNumber keeps each router key's name distinct.
    let subject = Name::new(&common_name(asn), Some(&key_hex(key))).map_err(|e| CaError::invalid("bad_name", e.to_string()))?;
    let not_after = w.now.add_secs(w.cfg.ee_validity_days * 86400).min(ca.cert.not_after);
    let resources: ResourceSet = format!("AS{asn}").parse().map_err(|e| CaError::invalid("bad_asn", format!("{e}")))?;
    let cert = CertBuilder {
        serial: serial.clone(),
        issuer: ca.cert.subject.clone(),
        subject,
        not_before: w.not_before(),
        not_after,
        public_key: key.clone(),
        ca: false,
        aki: Some(ca.cert.ski),
        crl_uri: Some(ca.crl_uri(w.cfg)),
        ca_issuer: Some(ca.cert_uri.clone()),
        sia: SiaSpec::None,
        resources: CertResources::explicit(&resources),
        bgpsec_router: true,
    }
    .sign(w.signer, &ca.key)?;
    let uri = format!("{}{}", ca.pp_uri(w.cfg), file_name(asn, key));
    store::router_certs::insert(&w.tx, ca.id, asn, key, &uri, crate::service::serial_i64(&serial), not_after.0)?;
    w.put_object(Some(ca.id), &uri, cert.to_der().to_vec())
}

/// Revoke and withdraw one router certificate.
pub(crate) fn withdraw(w: &mut Work<'_>, ca: &CaRecord, rc: &RouterCert) -> Result<()> {
    store::router_certs::delete(&w.tx, ca.id, rc.asn, &key_hex(&rc.key))?;
    w.revoke(ca.id, &Serial::from_u64(rc.serial as u64), Time(rc.not_after))?;
    w.remove_object(&rc.uri)
}

/// Re-issue every router certificate of `ca` (renewal, or a new CA key):
/// the old ones are withdrawn by the caller's key state.
pub(crate) fn reissue(w: &mut Work<'_>, old: &CaRecord, new: &CaRecord, certs: &[RouterCert]) -> Result<()> {
    for rc in certs {
        withdraw(w, old, rc)?;
    }
    for rc in certs {
        issue(w, new, rc.asn, &rc.key)?;
    }
    Ok(())
}

/// RFC 8209 section 3.1.1: "ROUTER-" and the AS number in hex.
fn common_name(asn: u32) -> String {
    format!("ROUTER-{asn:08X}")
}

fn info(rc: &RouterCert) -> RouterCertInfo {
    let (asn, key_id, uri) = (rc.asn, key_hex(&rc.key), rc.uri.clone());
    RouterCertInfo { asn, key_id, uri, not_after: Time(rc.not_after).rfc3339(), subject: common_name(rc.asn) }
}

impl Ca {
    /// A member's router certificates.
    pub fn router_certs(&self, handle: &str) -> Result<Vec<RouterCertInfo>> {
        self.read(|c| Ok(store::router_certs::of_ca(c, member_id(c, handle)?)?.iter().map(info).collect()))
    }

    /// Certify the router key of a PKCS#10 request for one of the member's AS
    /// numbers. The same key for the same AS again changes nothing.
    /// `csr` is PEM, or the DER in base64.
    pub fn add_router_cert(&self, handle: &str, asn: u32, csr: &str) -> Result<RouterCertInfo> {
        let req = CertRequest::decode_text(csr).map_err(|e| CaError::invalid("bad_csr", e.to_string()))?;
        let key = req.public_key;
        let event = Event::new("router_cert.add", Some(handle), json!({ "asn": asn, "key_id": key_hex(&key) }));
        self.change(event, |w| {
            let id = member_id(&w.tx, handle)?;
            let ca = w.ca_by_id(id)?;
            if !ca.resources.asn.contains_asn(Asn(asn)) {
                return Err(CaError::invalid("not_held", format!("AS{asn} is not among the AS numbers of member '{handle}'")));
            }
            if !store::router_certs::of_ca(&w.tx, id)?.iter().any(|rc| rc.asn == asn && rc.key == key) {
                issue(w, &ca, asn, &key)?;
            }
            Ok(())
        })?;
        self.router_certs(handle)?
            .into_iter()
            .find(|r| r.asn == asn && r.key_id == key_hex(&key))
            .ok_or_else(|| CaError::NotFound("the router certificate just issued".into()))
    }

    /// Revoke and withdraw the certificate of router key `key_id` (hex) for `asn`.
    pub fn remove_router_cert(&self, handle: &str, asn: u32, key_id: &str) -> Result<()> {
        let key_id = key_id.to_ascii_uppercase();
        self.change(Event::new("router_cert.remove", Some(handle), json!({ "asn": asn, "key_id": key_id })), |w| {
            let id = member_id(&w.tx, handle)?;
            let ca = w.ca_by_id(id)?;
            let rc = store::router_certs::of_ca(&w.tx, id)?
                .into_iter()
                .find(|rc| rc.asn == asn && key_hex(&rc.key) == key_id)
                .ok_or_else(|| CaError::NotFound(format!("router certificate for AS{asn} and key {key_id}")))?;
            withdraw(w, &ca, &rc)
        })
    }
}
