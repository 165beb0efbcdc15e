//! Building resource certificates: TA, CA, EE and router (CHECKLIST 2.1). Every
//! certificate built is run through the strict decoder before it is returned.

use super::Cert;
use crate::crypto::{sha256_with_rsa, KeyId, PublicKey, Signer};
use crate::der::{self, Tag, Time};
use crate::error::BuildError;
use crate::name::Name;
use crate::oid;
use crate::resources::CertResources;
use crate::serial::Serial;

/// What the Subject Information Access carries.
#[derive(Clone, Debug)]
pub enum SiaSpec {
    /// A CA: its repository directory, manifest URI and RRDP notification URI.
    Ca { repository: String, manifest: String, notify: Option<String> },
    /// An EE certificate: the URI of its signed object.
    SignedObject(String),
    /// No SIA (router certificates).
    None,
}

/// Fields of a certificate to be issued.
#[derive(Clone, Debug)]
pub struct CertBuilder {
    pub serial: Serial,
    pub issuer: Name,
    pub subject: Name,
    pub not_before: Time,
    pub not_after: Time,
    pub public_key: PublicKey,
    pub ca: bool,
    /// Issuer's key identifier; `None` for a self-signed TA.
    pub aki: Option<KeyId>,
    /// Issuer's CRL; `None` for a TA.
    pub crl_uri: Option<String>,
    /// Issuer's certificate; `None` for a TA.
    pub ca_issuer: Option<String>,
    pub sia: SiaSpec,
    pub resources: CertResources,
    /// Add id-kp-bgpsec-router (router certificates).
    pub bgpsec_router: bool,
}

/// One Extension: extnID, critical (only when true), extnValue.
pub(crate) fn ext(id: der::Oid<'_>, critical: bool, value: &[u8]) -> Vec<u8> {
    let crit = if critical { der::boolean(true) } else { Vec::new() };
    der::sequence(&[&der::oid(id.0), &crit, &der::octet_string(value)])
}

fn uri(u: &str) -> Vec<u8> {
    der::tlv(Tag::ctx_prim(6), u.as_bytes())
}

pub(crate) fn access(method: der::Oid<'_>, u: &str) -> Vec<u8> {
    der::sequence(&[&der::oid(method.0), &uri(u)])
}

impl CertBuilder {
    /// The DER tbsCertificate.
    pub fn tbs(&self) -> Vec<u8> {
        let mut exts = Vec::new();
        if self.ca {
            exts.push(ext(oid::CE_BASIC_CONSTRAINTS, true, &der::sequence(&[&der::boolean(true)])));
        }
        let ski = self.public_key.key_id();
        exts.push(ext(oid::CE_SUBJECT_KEY_IDENTIFIER, false, &der::octet_string(&ski.0)));
        if let Some(aki) = &self.aki {
            exts.push(ext(oid::CE_AUTHORITY_KEY_IDENTIFIER, false, &der::sequence(&[&der::tlv(Tag::ctx_prim(0), &aki.0)])));
        }
        let ku: &[u8] = if self.ca { &[0x03, 0x02, 0x01, 0x06] } else { &[0x03, 0x02, 0x07, 0x80] };
        exts.push(ext(oid::CE_KEY_USAGE, true, ku));
        if self.bgpsec_router {
            exts.push(ext(oid::CE_EXT_KEY_USAGE, false, &der::sequence(&[&der::oid(oid::KP_BGPSEC_ROUTER.0)])));
        }
        if let Some(crl) = &self.crl_uri {
            let full = der::tlv(Tag::ctx_cons(0), &uri(crl));
            let dp = der::sequence(&[&der::tlv(Tag::ctx_cons(0), &full)]);
            exts.push(ext(oid::CE_CRL_DISTRIBUTION_POINTS, false, &der::sequence(&[&dp])));
        }
        if let Some(ca) = &self.ca_issuer {
            exts.push(ext(oid::PE_AIA, false, &der::sequence(&[&access(oid::AD_CA_ISSUERS, ca)])));
        }
        match &self.sia {
            SiaSpec::Ca { repository, manifest, notify } => {
                let mut ads = vec![access(oid::AD_CA_REPOSITORY, repository), access(oid::AD_RPKI_MANIFEST, manifest)];
                if let Some(n) = notify {
                    ads.push(access(oid::AD_RPKI_NOTIFY, n));
                }
                exts.push(ext(oid::PE_SIA, false, &der::tlv(Tag::SEQUENCE, &ads.concat())));
            }
            SiaSpec::SignedObject(o) => exts.push(ext(oid::PE_SIA, false, &der::sequence(&[&access(oid::AD_SIGNED_OBJECT, o)]))),
            SiaSpec::None => {}
        }
        let policy = der::sequence(&[&der::sequence(&[&der::oid(oid::CP_IPADDR_ASNUMBER.0)])]);
        exts.push(ext(oid::CE_CERTIFICATE_POLICIES, true, &policy));
        if let Some(v) = self.resources.encode_ip_extension() {
            exts.push(ext(oid::PE_IP_ADDR_BLOCKS, true, &v));
        }
        if let Some(v) = self.resources.encode_as_extension() {
            exts.push(ext(oid::PE_AS_IDENTIFIERS, true, &v));
        }
        let validity = der::sequence(&[&self.not_before.encode_x509(), &self.not_after.encode_x509()]);
        der::sequence(&[
            &der::tlv(Tag::ctx_cons(0), &der::integer_u64(2)),
            &self.serial.encode(),
            &sha256_with_rsa(),
            &self.issuer.der,
            &validity,
            &self.subject.der,
            self.public_key.spki(),
            &der::tlv(Tag::ctx_cons(3), &der::tlv(Tag::SEQUENCE, &exts.concat())),
        ])
    }

    /// Sign with the issuer's key and return the decoded certificate.
    pub fn sign(&self, signer: &dyn Signer, issuer_key: &KeyId) -> Result<Cert, BuildError> {
        let tbs = self.tbs();
        let sig = signer.sign(issuer_key, &tbs)?;
        Ok(Cert::decode(&crate::x509::assemble(&tbs, &sig))?)
    }
}
