//! Certificate extensions as RFC 6487 §4.8 profiles them (CHECKLIST 2.1, 2.3).
//! Each extension is decoded on its own; which ones a kind of certificate must
//! or must not carry is checked in `profile.rs`.

use super::Sia;
use crate::crypto::KeyId;
use crate::der::{self, Reader, Tag, DER};
use crate::error::{reject, Error, Result};
use crate::oid;
use crate::resources::CertResources;

/// URIs longer than this are refused (rpki-client's limit, Appendix C).
use crate::limits::MAX_URI_LEN;

/// Decoded extensions of one certificate.
#[derive(Default, Debug)]
pub struct Extensions {
    /// basicConstraints present (always cA = TRUE, CERT-10).
    pub basic_ca: bool,
    pub ski: Option<KeyId>,
    pub aki: Option<KeyId>,
    /// keyUsage: `Some(true)` = keyCertSign|cRLSign, `Some(false)` = digitalSignature.
    pub key_usage_ca: Option<bool>,
    /// extKeyUsage purposes (dotted OIDs), if present.
    pub eku: Option<Vec<String>>,
    pub crldp: Option<Vec<String>>,
    pub aia: Option<Vec<String>>,
    pub sia: Option<Sia>,
    /// certificatePolicies present; the CPS URI if a qualifier gives one.
    pub policy: Option<Option<String>>,
    pub resources: CertResources,
    pub has_ip_ext: bool,
    pub has_as_ext: bool,
}

impl Extensions {
    pub fn decode(content: &[u8], warnings: &mut Vec<Error>) -> Result<Self> {
        let mut list = Reader::new(content);
        let mut seq = list.sequence("extensions")?;
        list.finish()?;
        let mut ext = Extensions::default();
        let mut seen: Vec<&[u8]> = Vec::new();
        while !seq.is_empty() {
            let mut e = seq.sequence("Extension")?;
            let id = e.oid("extnID")?;
            let critical = match e.peek_tag() {
                Some(Tag::BOOLEAN) => {
                    if !e.boolean("critical")? {
                        return reject(DER, "critical = FALSE must be omitted (DEFAULT)");
                    }
                    true
                }
                _ => false,
            };
            let value = e.octet_string("extnValue")?;
            e.finish()?;
            if seen.contains(&id.0) {
                return reject("CERT-9", format!("extension {} appears twice", oid::describe(&id)));
            }
            seen.push(id.0);
            ext.one(id, critical, value, warnings).map_err(|e| e.context(&oid::describe(&id)))?;
        }
        Ok(ext)
    }

    fn one(&mut self, id: der::Oid<'_>, critical: bool, v: &[u8], warnings: &mut Vec<Error>) -> Result<()> {
        let need_crit = |rule: &'static str, want: bool| -> Result<()> {
            if critical != want {
                let s = if want { "critical" } else { "non-critical" };
                return reject(rule, format!("extension must be {s}"));
            }
            Ok(())
        };
        match id {
            oid::CE_BASIC_CONSTRAINTS => {
                need_crit("CERT-10", true)?;
                let mut outer = Reader::new(v);
                let mut r = outer.sequence("BasicConstraints")?;
                outer.finish()?;
                let ca = match r.peek_tag() {
                    Some(Tag::BOOLEAN) => r.boolean("cA")?,
                    _ => false,
                };
                if !ca {
                    return reject("CERT-10", "basicConstraints without cA = TRUE");
                }
                if !r.is_empty() {
                    return reject("CERT-10", "pathLenConstraint is not allowed");
                }
                self.basic_ca = true;
            }
            oid::CE_SUBJECT_KEY_IDENTIFIER => {
                need_crit("CERT-11", false)?;
                let mut r = Reader::new(v);
                let ki = r.octet_string("keyIdentifier")?;
                r.finish()?;
                self.ski = Some(KeyId::from_slice(ki).ok_or_else(|| Error::new("CERT-11", "SKI is not 20 octets"))?);
            }
            oid::CE_AUTHORITY_KEY_IDENTIFIER => {
                need_crit("CERT-12", false)?;
                let mut outer = Reader::new(v);
                let mut r = outer.sequence("AuthorityKeyIdentifier")?;
                outer.finish()?;
                let ki = r.optional(Tag::ctx_prim(0))?.ok_or_else(|| Error::new("CERT-12", "AKI without keyIdentifier"))?;
                if !r.is_empty() {
                    return reject("CERT-12", "AKI may hold only keyIdentifier");
                }
                self.aki = Some(KeyId::from_slice(ki.value).ok_or_else(|| Error::new("CERT-12", "AKI is not 20 octets"))?);
            }
            oid::CE_KEY_USAGE => {
                need_crit("CERT-13", true)?;
                // Exact encodings (CERT-13): CA 03 02 01 06, EE 03 02 07 80.
                self.key_usage_ca = Some(match v {
                    [0x03, 0x02, 0x01, 0x06] => true,
                    [0x03, 0x02, 0x07, 0x80] => false,
                    _ => return reject("CERT-13", "keyUsage must be exactly keyCertSign+cRLSign (CA) or digitalSignature (EE)"),
                });
            }
            oid::CE_EXT_KEY_USAGE => {
                need_crit("CERT-14", false)?;
                let mut outer = Reader::new(v);
                let mut r = outer.sequence("ExtKeyUsage")?;
                outer.finish()?;
                let mut purposes = Vec::new();
                while !r.is_empty() {
                    purposes.push(r.oid("KeyPurposeId")?.to_string());
                }
                if purposes.is_empty() {
                    return reject("CERT-14", "empty extKeyUsage");
                }
                self.eku = Some(purposes);
            }
            oid::CE_CRL_DISTRIBUTION_POINTS => {
                need_crit("CERT-15", false)?;
                self.crldp = Some(decode_crldp(v)?);
            }
            oid::PE_AIA => {
                need_crit("CERT-16", false)?;
                let mut uris = Vec::new();
                for (method, uri) in access_descriptions(v, "CERT-16")? {
                    if method != oid::AD_CA_ISSUERS.0 {
                        return reject("CERT-16", "AIA may hold only id-ad-caIssuers");
                    }
                    uris.push(uri);
                }
                if !uris.iter().any(|u| u.starts_with("rsync://")) {
                    return reject("CERT-16", "AIA has no rsync URI");
                }
                self.aia = Some(uris);
            }
            oid::PE_SIA => {
                need_crit("CERT-17", false)?;
                let mut sia = Sia::default();
                for (method, uri) in access_descriptions(v, "CERT-17")? {
                    match der::Oid(method) {
                        oid::AD_CA_REPOSITORY => sia.ca_repository.push(uri),
                        oid::AD_RPKI_MANIFEST => sia.rpki_manifest.push(uri),
                        oid::AD_RPKI_NOTIFY => sia.rpki_notify.push(uri),
                        oid::AD_SIGNED_OBJECT => sia.signed_object.push(uri),
                        other => warnings.push(Error::new("CERT-17", format!("ignoring SIA access method {}", other))),
                    }
                }
                self.sia = Some(sia);
            }
            oid::CE_CERTIFICATE_POLICIES => {
                need_crit("CERT-19", true)?;
                self.policy = Some(decode_policies(v)?);
            }
            oid::PE_IP_ADDR_BLOCKS => {
                need_crit("CERT-20", true)?;
                self.resources.decode_ip_extension(v)?;
                self.has_ip_ext = true;
            }
            oid::PE_AS_IDENTIFIERS => {
                need_crit("CERT-20", true)?;
                self.resources.decode_as_extension(v)?;
                self.has_as_ext = true;
            }
            oid::PE_IP_ADDR_BLOCKS_V2 | oid::PE_AS_IDENTIFIERS_V2 => {
                return reject("RES-12", "RFC 8360 (-v2) resource extensions are not supported");
            }
            other => {
                // RFC 6487 §4.8: extensions not in the profile MUST be absent.
                let c = if critical { "critical " } else { "" };
                return reject("CERT-21", format!("{c}extension {other} is not allowed by the profile"));
            }
        }
        Ok(())
    }
}

/// Check a URI from a certificate: ASCII, no controls or spaces, bounded length.
pub fn check_uri(s: &[u8], rule: &'static str) -> Result<String> {
    if s.len() > MAX_URI_LEN {
        return reject(rule, format!("URI longer than {MAX_URI_LEN} octets"));
    }
    if !s.iter().all(|b| b.is_ascii_graphic()) {
        return reject(rule, "URI with non-ASCII, control or space characters");
    }
    let s = String::from_utf8(s.to_vec()).map_err(|_| Error::new(rule, "URI is not ASCII"))?;
    let lower = s.to_ascii_lowercase();
    if !(lower.starts_with("rsync://") || lower.starts_with("https://") || lower.starts_with("http://")) {
        return reject(rule, format!("URI '{s}' has an unsupported scheme"));
    }
    Ok(s)
}

/// A GeneralName that must be a uniformResourceIdentifier ([6] IA5String).
fn uri_name(r: &mut Reader<'_>, rule: &'static str) -> Result<String> {
    let tlv = r.any()?;
    if tlv.tag != Tag::ctx_prim(6) {
        return reject(rule, "general name is not a URI");
    }
    check_uri(tlv.value, rule)
}

/// SEQUENCE OF AccessDescription as (method OID octets, URI).
pub(crate) fn access_descriptions<'a>(v: &'a [u8], rule: &'static str) -> Result<Vec<(&'a [u8], String)>> {
    let mut outer = Reader::new(v);
    let mut r = outer.sequence("AccessDescriptions")?;
    outer.finish()?;
    let mut out = Vec::new();
    while !r.is_empty() {
        let mut ad = r.sequence("AccessDescription")?;
        let method = ad.oid("accessMethod")?;
        let uri = uri_name(&mut ad, rule)?;
        ad.finish()?;
        out.push((method.0, uri));
    }
    if out.is_empty() {
        return reject(rule, "empty access description list");
    }
    Ok(out)
}

/// CRLDP: exactly one DistributionPoint with fullName URIs only (CERT-15).
fn decode_crldp(v: &[u8]) -> Result<Vec<String>> {
    let mut outer = Reader::new(v);
    let mut dps = outer.sequence("CRLDistributionPoints")?;
    outer.finish()?;
    let mut dp = dps.sequence("DistributionPoint")?;
    if !dps.is_empty() {
        return reject("CERT-15", "more than one distribution point");
    }
    let mut name = dp
        .optional(Tag::ctx_cons(0))?
        .map(|t| dp.child(t.value))
        .transpose()?
        .ok_or_else(|| Error::new("CERT-15", "distribution point without distributionPoint name"))?;
    if !dp.is_empty() {
        return reject("CERT-15", "reasons and cRLIssuer are not allowed");
    }
    let mut full = name
        .optional(Tag::ctx_cons(0))?
        .map(|t| name.child(t.value))
        .transpose()?
        .ok_or_else(|| Error::new("CERT-15", "nameRelativeToCRLIssuer is not allowed"))?;
    name.finish()?;
    let mut uris = Vec::new();
    while !full.is_empty() {
        uris.push(uri_name(&mut full, "CERT-15")?);
    }
    if !uris.iter().any(|u| u.starts_with("rsync://")) {
        return reject("CERT-15", "CRL distribution point has no rsync URI");
    }
    Ok(uris)
}

/// certificatePolicies: exactly id-cp-ipAddr-asNumber, at most one CPS qualifier (CERT-19).
fn decode_policies(v: &[u8]) -> Result<Option<String>> {
    let mut outer = Reader::new(v);
    let mut pols = outer.sequence("CertificatePolicies")?;
    outer.finish()?;
    let mut pi = pols.sequence("PolicyInformation")?;
    if !pols.is_empty() {
        return reject("CERT-19", "more than one policy");
    }
    let id = pi.oid("policyIdentifier")?;
    if id == oid::CP_IPADDR_ASNUMBER_V2 {
        return reject("RES-12", "RFC 8360 (-v2) policy is not supported");
    }
    if id != oid::CP_IPADDR_ASNUMBER {
        return reject("CERT-19", format!("policy {} is not id-cp-ipAddr-asNumber", id));
    }
    let mut cps = None;
    if !pi.is_empty() {
        let mut quals = pi.sequence("policyQualifiers")?;
        let mut q = quals.sequence("PolicyQualifierInfo")?;
        if !quals.is_empty() {
            return reject("CERT-19", "more than one policy qualifier");
        }
        if q.oid("policyQualifierId")? != oid::QT_CPS {
            return reject("CERT-19", "policy qualifier is not a CPS pointer");
        }
        let uri = q.expect(Tag::IA5_STRING, "cPSuri")?;
        q.finish()?;
        cps = Some(String::from_utf8_lossy(uri.value).into_owned());
    }
    pi.finish()?;
    Ok(cps)
}
