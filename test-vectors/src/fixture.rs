//! A trust anchor and one member CA, ready to issue objects in tests.

use rpkit_objects::cert::{Cert, CertBuilder, SiaSpec};
use rpkit_objects::crypto::{KeyId, OneTimeKey, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::name::Name;
use rpkit_objects::resources::{CertResources, ResourceSet};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_object::{EeSpec, Issuer};

pub const BASE: &str = "rsync://rpki.test/repo/";

/// A TA and one CA below it, with keys in a software signer: the smallest
/// repository every object test builds on.
pub struct Fixture {
    pub signer: SoftSigner,
    pub ta_key: KeyId,
    pub ta: Cert,
    pub ca_key: KeyId,
    pub ca: Cert,
    pub now: Time,
}

pub fn ca_sia(handle: &str, key: &KeyId) -> SiaSpec {
    SiaSpec::Ca {
        repository: format!("{BASE}{handle}/"),
        manifest: format!("{BASE}{handle}/{}.mft", key.file_stem()),
        notify: Some("https://rpki.test/rrdp/notification.xml".into()),
    }
}

impl Fixture {
    pub fn new() -> Self {
        let signer = SoftSigner::new();
        let now = Time::now();
        let ta_key = signer.create_key().unwrap();
        let ta_pub = signer.public_key(&ta_key).unwrap();
        let ta_name = Name::new(&ta_key.hex(), None).unwrap();
        let all: ResourceSet = "AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap();
        let ta = CertBuilder {
            serial: Serial::from_u64(1),
            issuer: ta_name.clone(),
            subject: ta_name,
            not_before: now.add_secs(-3600),
            not_after: now.add_secs(365 * 86400),
            public_key: ta_pub,
            ca: true,
            aki: None,
            crl_uri: None,
            ca_issuer: None,
            sia: ca_sia("ta", &ta_key),
            resources: CertResources::explicit(&all),
            bgpsec_router: false,
        }
        .sign(&signer, &ta_key)
        .unwrap();
        let ca_key = signer.create_key().unwrap();
        let held: ResourceSet = "AS64496-AS64511, 192.0.2.0/24, 198.51.100.0/24, 10.0.0.0/8, 2001:db8::/32".parse().unwrap();
        let ca = CertBuilder {
            serial: Serial::from_u64(2),
            issuer: ta.subject.clone(),
            subject: Name::new(&ca_key.hex(), None).unwrap(),
            not_before: now.add_secs(-3600),
            not_after: now.add_secs(180 * 86400),
            public_key: signer.public_key(&ca_key).unwrap(),
            ca: true,
            aki: Some(ta.ski),
            crl_uri: Some(format!("{BASE}ta/{}.crl", ta_key.file_stem())),
            ca_issuer: Some(format!("{BASE}ta.cer")),
            sia: ca_sia("member", &ca_key),
            resources: CertResources::explicit(&held),
            bgpsec_router: false,
        }
        .sign(&signer, &ta_key)
        .unwrap();
        Fixture { signer, ta_key, ta, ca_key, ca, now }
    }

    pub fn issuer(&self) -> Issuer<'_> {
        Issuer {
            signer: &self.signer,
            key: self.ca_key,
            cert: &self.ca,
            cert_uri: format!("{BASE}ta/{}.cer", self.ca_key.file_stem()),
            crl_uri: format!("{BASE}member/{}.crl", self.ca_key.file_stem()),
        }
    }

    /// A one-time key for a signed object.
    pub fn key(&self) -> Box<dyn OneTimeKey> {
        self.signer.one_time_key().unwrap()
    }

    pub fn ee(&self, serial: u64, name: &str) -> EeSpec {
        EeSpec {
            serial: Serial::from_u64(serial),
            not_before: self.now.add_secs(-60),
            not_after: self.now.add_secs(7 * 86400),
            object_uri: format!("{BASE}member/{name}"),
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
