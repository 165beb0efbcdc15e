//! Deterministic repositories, good and broken, each with the payloads and
//! warnings a strict validator must produce. Every scenario starts from the same
//! base: a TA above CA `a` (two ROAs, one ASPA) and CA `b` (one ROA), and
//! changes one thing. Objects are keyed by rsync URI under
//! `rsync://rpki.test/scenarios/<name>/`.

use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::cert::{Cert, CertBuilder, SiaSpec};
use rpkit_objects::crl::{CrlBuilder, Revoked};
use rpkit_objects::crypto::{sha256, KeyId, KeyPair, OneTimeKey, PublicKey, SignError, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::manifest::{FileAndHash, Manifest, ManifestContent};
use rpkit_objects::name::Name;
use rpkit_objects::resources::{Asn, CertResources, ResourceSet};
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_object::{self, EeSpec, Issuer};
use rpkit_objects::tal::Tal;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub const HOST_MODULE: &str = "rsync://rpki.test/scenarios/";

/// A CA under construction: its certificate and what it will publish.
pub struct Ca {
    pub key: KeyId,
    pub cert: Cert,
    /// Where the certificate is published (AIA of what it issues).
    pub cert_uri: String,
    pub dir: String,
    pub files: BTreeMap<String, Vec<u8>>,
    pub revoked: Vec<Serial>,
    next_serial: u64,
}

impl Ca {
    pub fn mft_uri(&self) -> String {
        format!("{}{}.mft", self.dir, self.key.file_stem())
    }
    pub fn crl_uri(&self) -> String {
        format!("{}{}.crl", self.dir, self.key.file_stem())
    }
    pub(crate) fn serial(&mut self) -> Serial {
        self.next_serial += 1;
        Serial::from_u64(self.next_serial)
    }
}

/// How a manifest and CRL are made (the knobs scenarios turn).
#[derive(Clone, Debug)]
pub struct PublishSpec {
    pub this_update: i64,
    pub next_update: i64,
    pub crl_next_update: i64,
    pub number: u64,
    /// Files present but left off the manifest.
    pub unlisted: Vec<String>,
    /// A change to the manifest's content before signing, unchecked (hostile cases).
    pub edit: Option<crate::malformed::ManifestEdit>,
}

impl Default for PublishSpec {
    fn default() -> Self {
        PublishSpec { this_update: -600, next_update: 86_400, crl_next_update: 86_400, number: 1, unlisted: Vec::new(), edit: None }
    }
}

pub struct World {
    pub signer: SoftSigner,
    pub now: Time,
    pub base: String,
    /// RRDP notification URI put in CA certificates.
    pub notify: Option<String>,
    pub objects: BTreeMap<String, Vec<u8>>,
    pub tal: Tal,
    /// Benchmark mode only: EE keys reused across objects, in turn.
    reused_ee_keys: Vec<Arc<KeyPair>>,
    next_ee: AtomicUsize,
}

fn sia(dir: &str, key: &KeyId) -> SiaSpec {
    sia_with(dir, key, None)
}

fn sia_with(dir: &str, key: &KeyId, notify: Option<&str>) -> SiaSpec {
    SiaSpec::Ca { repository: dir.to_string(), manifest: format!("{dir}{}.mft", key.file_stem()), notify: notify.map(str::to_string) }
}

/// An EE key used for many objects: benchmark mode only, never in the product (CMS-14).
struct ReusedKey(Arc<KeyPair>);

impl OneTimeKey for ReusedKey {
    fn public_key(&self) -> &PublicKey {
        self.0.public_key()
    }
    fn sign_once(self: Box<Self>, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0.sign(data)
    }
}

/// The world's keys: its `SoftSigner`, except that in benchmark mode one-time
/// keys (EE certificates of ROAs, ASPAs and manifests) are reused in turn.
impl Signer for World {
    fn create_key(&self) -> Result<KeyId, SignError> {
        self.signer.create_key()
    }
    fn public_key(&self, key: &KeyId) -> Result<PublicKey, SignError> {
        self.signer.public_key(key)
    }
    fn sign(&self, key: &KeyId, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.signer.sign(key, data)
    }
    fn one_time_key(&self) -> Result<Box<dyn OneTimeKey>, SignError> {
        if self.reused_ee_keys.is_empty() {
            return self.signer.one_time_key();
        }
        let i = self.next_ee.fetch_add(1, Ordering::Relaxed) % self.reused_ee_keys.len();
        Ok(Box::new(ReusedKey(self.reused_ee_keys[i].clone())))
    }
    fn destroy_key(&self, key: &KeyId) -> Result<(), SignError> {
        self.signer.destroy_key(key)
    }
}

impl World {
    /// A world with its trust anchor (all resources).
    pub fn new(name: &str, now: Time) -> (World, Ca) {
        Self::build(SoftSigner::new(), format!("{HOST_MODULE}{name}/"), None, None, Vec::new(), now)
    }

    /// A world whose objects live under `base` (an rsync URI ending in `/`), its
    /// CA certificates naming `notify`, its TAL `https_ta` first when given.
    pub fn at(base: &str, notify: Option<&str>, https_ta: Option<&str>, now: Time) -> (World, Ca) {
        Self::build(SoftSigner::new(), base.to_string(), notify.map(str::to_string), https_ta.map(str::to_string), Vec::new(), now)
    }

    /// Benchmark mode: CA keys come from `ca_keys` (cached between runs by the
    /// caller), EE keys are `ee_keys` reused in turn and objects are named by
    /// serial. The TAL names `https_ta` first when given; CA certificates carry `notify`.
    pub fn benchmark(
        base: &str,
        notify: Option<&str>,
        https_ta: Option<&str>,
        ca_keys: Vec<KeyPair>,
        ee_keys: Vec<KeyPair>,
        now: Time,
    ) -> (World, Ca) {
        let signer = SoftSigner::new();
        signer.add_to_pool(ca_keys);
        let reused = ee_keys.into_iter().map(Arc::new).collect();
        Self::build(signer, base.to_string(), notify.map(str::to_string), https_ta.map(str::to_string), reused, now)
    }

    fn build(
        signer: SoftSigner,
        base: String,
        notify: Option<String>,
        https_ta: Option<String>,
        reused: Vec<Arc<KeyPair>>,
        now: Time,
    ) -> (World, Ca) {
        let key = signer.create_key().expect("key");
        let public_key = signer.public_key(&key).expect("public key");
        let subject = Name::new(&key.hex(), None).expect("name");
        let dir = format!("{base}ta/");
        let all: ResourceSet = "AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().expect("resources");
        let cert = CertBuilder {
            serial: Serial::from_u64(1),
            issuer: subject.clone(),
            subject,
            not_before: now.add_secs(-86_400),
            not_after: now.add_secs(365 * 86_400),
            public_key: public_key.clone(),
            ca: true,
            aki: None,
            crl_uri: None,
            ca_issuer: None,
            sia: sia_with(&dir, &key, notify.as_deref()),
            resources: CertResources::explicit(&all),
            bgpsec_router: false,
        }
        .sign(&signer, &key)
        .expect("TA certificate");
        let cert_uri = format!("{base}ta.cer");
        let mut objects = BTreeMap::new();
        objects.insert(cert_uri.clone(), cert.to_der().to_vec());
        let uris = https_ta.into_iter().chain([cert_uri.clone()]).collect();
        let tal = Tal { comments: Vec::new(), uris, key: public_key };
        let ta = Ca { key, cert, cert_uri, dir, files: BTreeMap::new(), revoked: Vec::new(), next_serial: 1 };
        let world = World { signer, now, base, notify, objects, tal, reused_ee_keys: reused, next_ee: AtomicUsize::new(0) };
        (world, ta)
    }

    /// A one-time EE key and the object's file name: named after the key,
    /// or in benchmark mode a reused key and a name from the CA's serial.
    fn ee_key(&self, ca: &Ca, serial: &Serial, ext: &str) -> (Box<dyn OneTimeKey>, String) {
        let key = self.one_time_key().expect("key");
        let name = if self.reused_ee_keys.is_empty() {
            format!("{}.{ext}", key.public_key().key_id().file_stem())
        } else {
            format!("{}-{}.{ext}", ca.key.file_stem(), serial.to_u128().unwrap_or(0))
        };
        (key, name)
    }

    fn issuer<'a>(&'a self, ca: &'a Ca) -> Issuer<'a> {
        Issuer { signer: self, key: ca.key, cert: &ca.cert, cert_uri: ca.cert_uri.clone(), crl_uri: ca.crl_uri() }
    }

    /// A child CA of `parent` holding `resources`, its certificate on the parent's
    /// point; `tweak` may change any field before signing.
    pub fn child(&self, parent: &mut Ca, handle: &str, resources: &str, tweak: impl FnOnce(&mut CertBuilder)) -> Ca {
        let dir = format!("{}{handle}/", self.base);
        self.child_in(parent, &dir, self.notify.as_deref(), resources, tweak)
    }

    /// A child CA publishing in `dir` (an rsync URI ending in `/`), its RRDP
    /// notification `notify`: a repository of its own.
    pub fn child_in(&self, parent: &mut Ca, dir: &str, notify: Option<&str>, resources: &str, tweak: impl FnOnce(&mut CertBuilder)) -> Ca {
        let key = self.signer.create_key().expect("key");
        let dir = dir.to_string();
        let held: ResourceSet = resources.parse().expect("resources");
        let mut b = CertBuilder {
            serial: parent.serial(),
            issuer: parent.cert.subject.clone(),
            subject: Name::new(&key.hex(), None).expect("name"),
            not_before: self.now.add_secs(-3600),
            not_after: self.now.add_secs(180 * 86_400),
            public_key: self.signer.public_key(&key).expect("public key"),
            ca: true,
            aki: Some(parent.cert.ski),
            crl_uri: Some(parent.crl_uri()),
            ca_issuer: Some(parent.cert_uri.clone()),
            sia: sia_with(&dir, &key, notify),
            resources: CertResources::explicit(&held),
            bgpsec_router: false,
        };
        tweak(&mut b);
        let cert = b.sign(&self.signer, &parent.key).expect("CA certificate");
        let name = format!("{}.cer", key.file_stem());
        let cert_uri = format!("{}{name}", parent.dir);
        parent.files.insert(name, cert.to_der().to_vec());
        Ca { key, cert, cert_uri, dir, files: BTreeMap::new(), revoked: Vec::new(), next_serial: 1 }
    }

    /// A ROA of `asn` for `prefixes` (`P` or `P-MAX`); `tweak` may change its EE
    /// fields. Returns its file name and EE serial.
    pub fn roa(&self, ca: &mut Ca, asn: u32, prefixes: &[&str], tweak: impl FnOnce(&mut EeSpec)) -> (String, Serial) {
        let serial = ca.serial();
        let (key, name) = self.ee_key(ca, &serial, "roa");
        let mut ee = EeSpec {
            serial: serial.clone(),
            not_before: self.now.add_secs(-3600),
            not_after: self.now.add_secs(30 * 86_400),
            object_uri: format!("{}{name}", ca.dir),
        };
        tweak(&mut ee);
        let prefixes = prefixes
            .iter()
            .map(|p| match p.split_once('-') {
                Some((p, m)) => RoaPrefix { prefix: p.parse().expect("prefix"), max_length: Some(m.parse().expect("max")) },
                None => RoaPrefix { prefix: p.parse().expect("prefix"), max_length: None },
            })
            .collect();
        let content = RoaContent { asn: Asn(asn), prefixes };
        let roa = Roa::build(&content, &self.issuer(ca), &ee, key, self.now.add_secs(-3600)).expect("ROA");
        ca.files.insert(name.clone(), roa.signed.to_der().to_vec());
        (name, serial)
    }

    pub fn aspa(&self, ca: &mut Ca, customer: u32, providers: &[u32]) -> String {
        let serial = ca.serial();
        let (key, name) = self.ee_key(ca, &serial, "asa");
        let ee = EeSpec {
            serial,
            not_before: self.now.add_secs(-3600),
            not_after: self.now.add_secs(30 * 86_400),
            object_uri: format!("{}{name}", ca.dir),
        };
        let content = AspaContent::new(Asn(customer), providers.iter().map(|p| Asn(*p))).expect("ASPA content");
        let aspa = Aspa::build(&content, &self.issuer(ca), &ee, key, self.now.add_secs(-3600)).expect("ASPA");
        ca.files.insert(name.clone(), aspa.signed.to_der().to_vec());
        name
    }

    /// Write `ca`'s point: its files, a CRL and a manifest listing all but `unlisted`.
    pub fn publish(&mut self, ca: &mut Ca, spec: &PublishSpec) {
        let point = self.point(ca, spec);
        self.objects.extend(point);
    }

    /// `ca`'s point as (URI, DER), leaving the world as it is (for building points in parallel).
    pub fn point(&self, ca: &mut Ca, spec: &PublishSpec) -> Vec<(String, Vec<u8>)> {
        let revoked = ca.revoked.iter().map(|s| Revoked { serial: s.clone(), revocation_date: self.now.add_secs(-60) }).collect();
        let crl = CrlBuilder {
            issuer: ca.cert.subject.clone(),
            aki: ca.cert.ski,
            this_update: self.now.add_secs(spec.this_update),
            next_update: self.now.add_secs(spec.crl_next_update),
            crl_number: Serial::from_u64(spec.number),
            revoked,
        }
        .sign(&self.signer, &ca.key)
        .expect("CRL");
        let crl_name = format!("{}.crl", ca.key.file_stem());
        ca.files.insert(crl_name, crl.to_der().to_vec());
        let files = ca
            .files
            .iter()
            .filter(|(n, _)| !spec.unlisted.contains(n))
            .map(|(n, d)| FileAndHash { file: n.clone(), hash: sha256(d) })
            .collect();
        let mut content = ManifestContent {
            manifest_number: Serial::from_u64(spec.number),
            this_update: self.now.add_secs(spec.this_update),
            next_update: self.now.add_secs(spec.next_update),
            files,
        };
        let ee_serial = ca.serial();
        let mft = match spec.edit {
            None => Manifest::build(&content, &self.issuer(ca), ee_serial, &ca.mft_uri()).expect("manifest").signed.to_der().to_vec(),
            Some(edit) => {
                edit(&mut content);
                let ee =
                    EeSpec { serial: ee_serial, not_before: content.this_update, not_after: content.next_update, object_uri: ca.mft_uri() };
                let key = self.one_time_key().expect("key");
                let (oid, inherit) = (rpkit_objects::oid::CT_MANIFEST, CertResources::inherit_all());
                let so = signed_object::build(oid, &content.encode(), content.this_update, &ee, key, inherit, &self.issuer(ca));
                so.expect("manifest").to_der().to_vec()
            }
        };
        let mut out: Vec<(String, Vec<u8>)> = ca.files.iter().map(|(n, d)| (format!("{}{n}", ca.dir), d.clone())).collect();
        out.push((ca.mft_uri(), mft));
        out
    }
}

/// What a scenario must yield.
pub struct Scenario {
    pub name: &'static str,
    pub what: &'static str,
    pub now: Time,
    pub tal: Tal,
    pub objects: BTreeMap<String, Vec<u8>>,
    /// `PREFIX-MAX ASN` strings.
    pub vrps: BTreeSet<String>,
    /// customer → providers.
    pub aspas: BTreeMap<u32, Vec<u32>>,
    /// (rule, the end of the URI it names), in any order.
    pub warnings: Vec<(&'static str, String)>,
    /// What a validator must have validated first, its cache kept, for
    /// scenarios about what the cache remembers (`objects` come second).
    pub earlier: Option<BTreeMap<String, Vec<u8>>>,
}

const A_RES: &str = "AS64496-AS64511, 192.0.2.0/24, 2001:db8::/32";
const B_RES: &str = "AS64512, 198.51.100.0/24";

/// Each scenario: its name and what it checks.
pub const ALL: &[(&str, &str)] = &[
    ("good", "the base repository validates completely"),
    ("expired-roa", "a ROA whose EE certificate has expired (CERT-6)"),
    ("not-yet-valid-roa", "a ROA whose EE certificate is not yet valid (CERT-6)"),
    ("overclaiming-roa", "a ROA for a prefix its CA does not hold (RES-8)"),
    ("overclaiming-ca", "a CA certificate claiming more than its issuer holds (RES-8)"),
    ("bad-roa-signature", "a ROA whose CMS signature does not verify"),
    ("wrong-aki", "a CA certificate whose AKI is not its issuer's SKI (CERT-5)"),
    ("unlisted-roa", "a ROA present but not on the manifest is not used (MFT-15)"),
    ("hash-mismatch", "a listed file whose hash differs fails the whole point (MFT-13)"),
    ("extra-file", "a file not on the manifest is ignored (MFT-15)"),
    ("stale-manifest", "a manifest past its nextUpdate fails the point (MFT-13)"),
    ("stale-crl", "a CRL past its nextUpdate fails the point (MFT-13)"),
    ("revoked-ee", "a ROA whose EE certificate is on the CRL (PATH-5)"),
    ("revoked-ca", "a CA certificate on its issuer's CRL (PATH-5)"),
    ("wrong-sia", "a ROA whose signedObject URI is not where it is published (CERT-18)"),
    ("foreign-object", "a ROA of CA b listed on CA a's manifest does not verify under a (PATH-1, PIT-12)"),
    ("missing-manifest", "a CA whose manifest is missing (MFT-13)"),
    ("deep-chain", "a chain of 40 CAs: the ROA at its end is beyond every validator's depth limit (PATH-2)"),
    ("loop", "a CA certifying its own ancestor's key (PATH-2)"),
    ("ber-signed-attrs", "signedAttrs in BER (a long-form length), not DER (PIT-1, FORT CVE-2024-45234)"),
    ("empty-signed-attrs", "an empty signedAttrs (PIT-1, FORT CVE-2024-45236)"),
    ("no-econtent", "an encapContentInfo without eContent (PIT-1, FORT CVE-2024-45239)"),
    ("trailing-garbage", "bytes after a ROA's ContentInfo (PIT-2)"),
    ("aki-without-keyid", "a CA certificate whose AKI lacks keyIdentifier (PIT-1, FORT CVE-2024-45235)"),
    ("long-key-usage", "a CA certificate whose KeyUsage is longer than two octets (PIT-1, FORT CVE-2024-45237)"),
    ("bad-spki", "a CA certificate whose subjectPublicKey does not decode (PIT-1, FORT CVE-2024-45238)"),
    ("empty-manifest", "a manifest listing no file (PIT-3, FORT CVE-2024-56375)"),
    ("huge-manifest", "a 5 MB manifest, over the object size limit (PIT-23, PIT-3)"),
    ("non-ascii-name", "a manifest naming a file with non-ASCII characters (PIT-5, Routinator CVE-2025-0638)"),
    ("dotdot-name", "a manifest naming `../../x.roa` (PIT-14)"),
    ("max-length-over", "a ROA with maxLength 33 for an IPv4 prefix (PIT-28, OctoRPKI CVE-2021-3761)"),
    ("max-length-under", "a ROA with maxLength below its prefix length (PIT-28)"),
    ("prefix-too-long", "a ROA with a 33-bit IPv4 prefix"),
    ("asn-2-32", "a ROA for AS 2^32, one past the largest ASN"),
    ("as0-and-max-asn", "ROAs for AS0 and AS 4294967295 are valid (RFC 6483 §4)"),
    ("shared-key", "two CAs under different parents with the same key validate independently (PIT-26)"),
    ("withheld-crl", "a CA's CRL is withheld (PIT-7, MFT-13)"),
    ("manifest-rollback", "after manifest 2 with a third ROA, manifest 1 comes back: the newer cached point stays in use (MFT-16, MFT-14)"),
];

/// Scenarios where rpki-client 8.2 (the Debian 12 version the differential runs)
/// gives another verdict, and why the expected one is right.
pub const RPKI_CLIENT_8_2_DIFFERS: &[(&str, &str)] = &[
    (
        "wrong-sia",
        "rpki-client 8.2 does not compare the signedObject URI with where the object was found; it does since 9.1 (CERT-18, PIT-11, RFC 6487 §4.8.8.2)",
    ),
    (
        "foreign-object",
        "rpki-client 8.2 validates a manifest entry under whatever CA its AKI names; since 8.4 entries must be issued by the manifest's CA (PIT-12, RFC 9286 §6.4)",
    ),
    (
        "ber-signed-attrs",
        "rpki-client 8.2 takes signedAttrs with a long-form length; signed objects are DER (RFC 6488 §2, CMS-1), and FORT crashed on such input (CVE-2024-45234)",
    ),
    ("trailing-garbage", "rpki-client 8.2 ignores bytes after the ContentInfo; it rejects them since 8.3 (PIT-2, CMS-1)"),
    (
        "long-key-usage",
        "rpki-client 8.2 takes a KeyUsage BIT STRING with trailing zero octets; DER forbids them (X.690 §11.2.2) and the profile fixes the bits (CERT-13, FORT CVE-2024-45237)",
    ),
    (
        "shared-key",
        "rpki-client 8.2 identifies CAs by SKI, so of two CAs sharing a key one is lost; since 9.1 they are told apart by certificate (PIT-26)",
    ),
];

/// Build scenario `name` at time `now`.
pub fn build(name: &'static str, now: Time) -> Scenario {
    let what = ALL.iter().find(|(n, _)| *n == name).map(|(_, w)| *w).unwrap_or("unknown");
    let (mut w, mut ta) = World::new(name, now);
    let mut vrps: BTreeSet<String> =
        ["192.0.2.0/24-24 AS64496", "2001:db8::/32-48 AS64497", "198.51.100.0/24-24 AS64512"].into_iter().map(String::from).collect();
    let mut aspas = BTreeMap::from([(64496u32, vec![64500u32, 64501])]);
    let mut warnings: Vec<(&'static str, String)> = Vec::new();
    let point_a = ["192.0.2.0/24-24 AS64496", "2001:db8::/32-48 AS64497"];

    let mut a = w.child(&mut ta, "a", A_RES, |_| {});
    let mut b = w.child(&mut ta, "b", B_RES, |c| {
        if name == "wrong-aki" {
            c.aki = Some(KeyId([7; 20]));
        }
    });
    let (a1, a1_serial) = w.roa(&mut a, 64496, &["192.0.2.0/24"], |ee| match name {
        "expired-roa" => {
            ee.not_before = now.add_secs(-10 * 86_400);
            ee.not_after = now.add_secs(-86_400);
        }
        "not-yet-valid-roa" => ee.not_before = now.add_secs(86_400),
        "wrong-sia" => ee.object_uri = ee.object_uri.replace("/a/", "/elsewhere/"),
        _ => {}
    });
    w.roa(&mut a, 64497, &["2001:db8::/32-48"], |_| {});
    w.aspa(&mut a, 64496, &[64500, 64501]);
    w.roa(&mut b, 64512, &["198.51.100.0/24"], |_| {});
    let a1_uri = format!("{}{a1}", a.dir);
    let mut spec_a = PublishSpec::default();
    let drop_a = |vrps: &mut BTreeSet<String>, aspas: &mut BTreeMap<u32, Vec<u32>>| {
        for v in point_a {
            vrps.remove(v);
        }
        aspas.clear();
    };
    match name {
        "expired-roa" | "not-yet-valid-roa" => {
            vrps.remove("192.0.2.0/24-24 AS64496");
            warnings.push(("CERT-6", a1_uri.clone()));
        }
        "wrong-sia" => {
            vrps.remove("192.0.2.0/24-24 AS64496");
            warnings.push(("CERT-18", a1_uri.clone()));
        }
        "overclaiming-roa" => {
            let (n, _) = w.roa(&mut a, 64496, &["203.0.113.0/24"], |_| {});
            warnings.push(("RES-8", format!("{}{n}", a.dir)));
        }
        "overclaiming-ca" => {
            // Under a, which does not hold 10.0.0.0/8 (rejected whole, RFC 6487; not RFC 8360).
            let mut sub = w.child(&mut a, "sub", "AS64496, 192.0.2.0/25, 10.0.0.0/8", |_| {});
            w.roa(&mut sub, 64496, &["192.0.2.0/25"], |_| {});
            w.publish(&mut sub, &PublishSpec::default());
            warnings.push(("RES-8", sub.cert_uri.clone()));
        }
        "wrong-aki" => {
            vrps.remove("198.51.100.0/24-24 AS64512");
            warnings.push(("CERT-5", b.cert_uri.clone()));
        }
        "bad-roa-signature" => {
            if let Some(d) = a.files.get_mut(&a1) {
                let last = d.len() - 1;
                d[last] ^= 0x01;
            }
            vrps.remove("192.0.2.0/24-24 AS64496");
            warnings.push(("CMS-11", a1_uri.clone()));
        }
        "unlisted-roa" => {
            spec_a.unlisted.push(a1.clone());
            vrps.remove("192.0.2.0/24-24 AS64496");
        }
        "stale-manifest" => {
            spec_a.this_update = -3 * 86_400;
            spec_a.next_update = -86_400;
            drop_a(&mut vrps, &mut aspas);
            warnings.push(("MFT-13", a.mft_uri()));
        }
        "stale-crl" => {
            spec_a.this_update = -3 * 86_400;
            spec_a.crl_next_update = -86_400;
            drop_a(&mut vrps, &mut aspas);
            warnings.push(("MFT-13", a.crl_uri()));
        }
        "revoked-ee" => {
            a.revoked.push(a1_serial);
            vrps.remove("192.0.2.0/24-24 AS64496");
            warnings.push(("PATH-5", a1_uri.clone()));
        }
        "revoked-ca" => {
            ta.revoked.push(b.cert.serial.clone());
            vrps.remove("198.51.100.0/24-24 AS64512");
            warnings.push(("PATH-5", b.cert_uri.clone()));
        }
        "foreign-object" => {
            // b signs a ROA for its own prefix; it is listed on a's manifest.
            let (n, _) = w.roa(&mut b, 64512, &["198.51.100.0/25"], |ee| ee.object_uri = ee.object_uri.replace("/b/", "/a/"));
            let d = b.files.remove(&n).unwrap_or_default();
            a.files.insert(n.clone(), d);
            warnings.push(("PATH-1", format!("{}{n}", a.dir)));
        }
        "deep-chain" => {
            let mut parent = w.child(&mut a, "chain-0", "AS64510, 192.0.2.0/25", |_| {});
            let mut chain = Vec::new();
            for i in 1..40 {
                let next = w.child(&mut parent, &format!("chain-{i}"), "AS64510, 192.0.2.0/25", |_| {});
                chain.push(std::mem::replace(&mut parent, next));
            }
            w.roa(&mut parent, 64510, &["192.0.2.0/25"], |_| {});
            let spec = PublishSpec::default();
            w.publish(&mut parent, &spec);
            for c in chain.iter_mut().rev() {
                w.publish(c, &spec);
            }
            // The limits differ (rpki-client 12, Routinator and rpkit 32), the verdict
            // not; rpkit names the first CA beyond its limit, chain-31 at depth 33.
            warnings.push(("PATH-2", chain[31].cert_uri.clone()));
        }
        "loop" => {
            // a certifies the TA's key again, with a's resources.
            let ta_key = ta.key;
            let ta_pub: PublicKey = ta.cert.public_key.clone();
            let dir = ta.dir.clone();
            let c = w.child(&mut a, "loop", A_RES, |c| {
                c.public_key = ta_pub;
                c.sia = sia(&dir, &ta_key);
            });
            warnings.push(("PATH-2", c.cert_uri.clone()));
        }
        _ => {
            crate::malformed::before_publish(name, &mut w, &mut ta, &mut a, &mut b, &a1, &mut spec_a, &mut vrps, &mut aspas, &mut warnings);
        }
    }
    // The newer point of a, seen first: one ROA more under manifest number 2.
    let mut newer_a = None;
    if name == "manifest-rollback" {
        let (n, _) = w.roa(&mut a, 64498, &["192.0.2.0/24"], |_| {});
        newer_a = Some(w.point(&mut a, &PublishSpec { number: 2, this_update: -300, ..PublishSpec::default() }));
        a.files.remove(&n);
        vrps.insert("192.0.2.0/24-24 AS64498".into());
        warnings.push(("MFT-16", a.mft_uri()));
        warnings.push(("MFT-14", a.mft_uri()));
    }
    w.publish(&mut a, &spec_a);
    w.publish(&mut b, &PublishSpec::default());
    match name {
        "hash-mismatch" => {
            if let Some(d) = w.objects.get_mut(&a1_uri) {
                d.push(0);
            }
            drop_a(&mut vrps, &mut aspas);
            warnings.push(("MFT-13", a1_uri.clone()));
        }
        "extra-file" => {
            w.objects.insert(format!("{}extra.roa", a.dir), b"not even DER".to_vec());
        }
        "missing-manifest" => {
            w.objects.remove(&a.mft_uri());
            drop_a(&mut vrps, &mut aspas);
            warnings.push(("MFT-13", a.mft_uri()));
        }
        _ => {
            crate::malformed::after_publish(name, &mut w.objects, &a, &mut vrps, &mut aspas, &mut warnings);
        }
    }
    w.publish(&mut ta, &PublishSpec::default());
    let earlier = newer_a.map(|point| {
        let mut objects = w.objects.clone();
        objects.extend(point);
        objects
    });
    Scenario { name, what, now, tal: w.tal, objects: w.objects, vrps, aspas, warnings, earlier }
}
