//! A top-down walk of a published repository for tests: from the TA certificate,
//! through every manifest, checking every signature, hash, CRL and resource
//! containment with our own code and with the `rpki` crate as an oracle.
#![allow(dead_code)]

use bytes::Bytes;
use rpki::repository::cert::ResourceCert;
use rpki::repository::tal::TalInfo;
use rpkit_ca::contract::RoaDelta;
use rpkit_ca::publisher::MemoryPublisher;
use rpkit_ca::{Ca, CaConfig};
use rpkit_objects::aspa::Aspa;
use rpkit_objects::cert::{Cert, CertKind};
use rpkit_objects::crl::Crl;
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::manifest::Manifest;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::roa::Roa;
use rpkit_objects::tal::Tal;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

pub const RIR: &str = "AS64496-AS65535, 10.0.0.0/8, 192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32";

pub fn res(s: &str) -> ResourceSet {
    s.parse().unwrap()
}

pub struct Env {
    pub ca: Arc<Ca>,
    pub publisher: Arc<MemoryPublisher>,
    pub clock: Arc<Mutex<Time>>,
}

impl Env {
    pub fn new(dir: Option<&std::path::Path>) -> Env {
        Env::with_config(dir, CaConfig::default())
    }

    pub fn with_config(dir: Option<&std::path::Path>, cfg: CaConfig) -> Env {
        Env::at(dir, None, cfg)
    }

    /// The CA with its state in a fresh PostgreSQL database `name`; `None`
    /// when there is no server (a skip CI does not allow).
    #[allow(dead_code)]
    pub fn on_postgres(name: &str, cfg: CaConfig) -> Option<Env> {
        let url = rpkit_test_vectors::postgres::database(name)?;
        Some(Env::at(None, Some(&url), cfg))
    }

    fn at(dir: Option<&std::path::Path>, database_url: Option<&str>, cfg: CaConfig) -> Env {
        let publisher = Arc::new(MemoryPublisher::new());
        let mut ca = Ca::open_with(dir, database_url, cfg, publisher.clone()).unwrap();
        let clock = Arc::new(Mutex::new(Time::now()));
        let c = clock.clone();
        ca.set_clock(Arc::new(move || *c.lock().unwrap()));
        Env { ca: Arc::new(ca), publisher, clock }
    }

    pub fn now(&self) -> Time {
        *self.clock.lock().unwrap()
    }

    pub fn walk(&self) -> Walk {
        let repo = self.publisher.snapshot();
        assert_eq!(repo, self.ca.published().unwrap(), "published state equals the database's");
        walk(&self.ca.tal().unwrap(), &repo, self.now())
    }
}

pub fn roas(lines: &str) -> RoaDelta {
    RoaDelta::parse_lines(lines).unwrap()
}

/// What a walk found.
#[derive(Default, Debug)]
pub struct Walk {
    /// `prefix-maxlen ASn` for every ROA.
    pub vrps: BTreeSet<String>,
    /// customer -> providers
    pub aspas: BTreeMap<u32, Vec<u32>>,
    /// handle (last path component of the publication point) -> resources
    pub cas: BTreeMap<String, ResourceSet>,
    pub objects: usize,
    /// ROA object URI -> how many prefixes it holds.
    pub roa_prefixes: BTreeMap<String, usize>,
    /// Publication point -> files its CA instances' manifests list, with the
    /// manifests themselves (several during a key roll: REPO-4, MFT-18).
    pub listed: BTreeMap<String, BTreeSet<String>>,
    /// Handle -> the CA instances (certificates) found for it.
    pub instances: BTreeMap<String, usize>,
    /// (AS, router key identifier hex) of every BGPsec router certificate (BGPSEC-4).
    pub router_keys: BTreeSet<(u32, String)>,
    /// The TAK objects met (RFC 9691), with the key of the TA that signed each.
    pub taks: Vec<rpkit_objects::tak::TakContent>,
    /// CAs that publish in a repository of their own (delegated children):
    /// their certificate validated here, publication point (caRepository) -> resources.
    pub external: BTreeMap<String, ResourceSet>,
}

/// A PKCS#10 request for a fresh P-256 key, made by openssl as an operator would.
pub fn router_csr(dir: &std::path::Path, name: &str) -> String {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let ok = |c: &mut std::process::Command| {
        let o = c.output().expect("openssl (scripts/test.sh installs it)");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ok(std::process::Command::new("openssl").args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"]).arg(&key));
    ok(std::process::Command::new("openssl")
        .args(["req", "-new", "-subj", &format!("/CN={name}"), "-key"])
        .arg(&key)
        .arg("-out")
        .arg(&csr));
    std::fs::read_to_string(csr).unwrap()
}

fn at(t: Time) -> rpki::repository::x509::Time {
    rpki::repository::x509::Time::new(t.to_chrono())
}

/// Walk the repository `repo` (URI -> DER) from `tal` at time `now`; panics on any fault.
pub fn walk(tal: &Tal, repo: &BTreeMap<String, Vec<u8>>, now: Time) -> Walk {
    let ta_uri = tal.uris.iter().find(|u| u.starts_with("rsync://")).expect("rsync TA URI");
    let ta_der = repo.get(ta_uri).unwrap_or_else(|| panic!("TA certificate {ta_uri} is not published"));
    let ta = Cert::decode(ta_der).unwrap();
    assert_eq!(ta.kind, CertKind::Ta);
    assert_eq!(ta.public_key, tal.key, "TA key matches the TAL (TA-3)");
    ta.verify_self_signed().unwrap();
    let oracle = rpki::repository::Cert::decode(Bytes::copy_from_slice(ta_der)).unwrap();
    let oracle = oracle.validate_ta_at(TalInfo::from_name("t".into()).into_arc(), true, at(now)).unwrap();
    let mut out = Walk::default();
    let all = ta.resources.explicit_set();
    walk_ca(&ta, &all, &oracle, repo, now, &mut out, 0);
    // Every file in a publication point is on the manifest of a CA instance
    // there (REPO-1; two instances during a key roll, REPO-4).
    for (dir, listed) in &out.listed {
        let in_dir: BTreeSet<String> = repo
            .keys()
            .filter(|u| u.starts_with(dir.as_str()) && !u[dir.len()..].contains('/'))
            .map(|u| u[dir.len()..].to_string())
            .collect();
        assert_eq!(&in_dir, listed, "publication point {dir} holds exactly its manifests' files");
    }
    out
}

fn walk_ca(
    ca: &Cert,
    held: &ResourceSet,
    oracle: &ResourceCert,
    repo: &BTreeMap<String, Vec<u8>>,
    now: Time,
    out: &mut Walk,
    depth: usize,
) {
    assert!(depth < 8, "too deep");
    let dir = ca.sia.rsync_repository().unwrap().to_string();
    let handle = dir.trim_end_matches('/').rsplit('/').next().unwrap().to_string();
    *out.instances.entry(handle.clone()).or_default() += 1;
    out.cas.insert(handle, held.clone());
    let mft_uri = ca.sia.rsync_manifest().unwrap();
    let mft_der = repo.get(mft_uri).unwrap_or_else(|| panic!("manifest {mft_uri} missing"));
    let mft = Manifest::decode(mft_der).unwrap();
    mft.signed.verify_signature().unwrap();
    mft.signed.ee.verify_signature(&ca.public_key).unwrap();
    assert!(mft.content.this_update <= now && now < mft.content.next_update, "manifest current");
    assert_eq!(mft.signed.ee.sia.rsync_signed_object(), Some(mft_uri));
    let omft = rpki::repository::Manifest::decode(Bytes::copy_from_slice(mft_der), true).unwrap();
    omft.validate_at(oracle, true, at(now)).unwrap();
    let listed = out.listed.entry(dir.clone()).or_default();
    listed.insert(mft_uri[dir.len()..].to_string());
    listed.extend(mft.content.files.iter().map(|f| f.file.clone()));
    let crls: Vec<_> = mft.content.files.iter().filter(|f| f.file.ends_with(".crl")).collect();
    assert_eq!(crls.len(), 1, "one CRL (CRL-4)");
    let crl = Crl::decode(&repo[&format!("{dir}{}", crls[0].file)]).unwrap();
    crl.verify_signature(&ca.public_key).unwrap();
    assert!(crl.issued_by(ca));
    assert!(!crl.is_revoked(&mft.signed.ee.serial));
    assert!(crl.this_update <= now && now < crl.next_update);
    for f in &mft.content.files {
        let uri = format!("{dir}{}", f.file);
        let der = &repo[&uri];
        assert_eq!(sha256(der), f.hash, "hash of {uri}");
        out.objects += 1;
        match &f.file[f.file.len() - 3..] {
            "cer" if Cert::decode(der).unwrap().kind == CertKind::Router => {
                // BGPSEC-2, BGPSEC-4: an EE certificate of the CA with AS resources only.
                let c = Cert::decode(der).unwrap();
                c.verify_signature(&ca.public_key).unwrap();
                assert!(!crl.is_revoked(&c.serial), "{uri} revoked");
                assert_eq!(c.issuer, ca.subject);
                assert!(c.is_current(now));
                let res = c.resources.explicit_set();
                assert!(res.ipv4.is_empty() && res.ipv6.is_empty() && held.contains(&res), "{uri}: {res}");
                rpki::repository::Cert::decode(Bytes::copy_from_slice(der)).unwrap().validate_router_at(oracle, true, at(now)).unwrap();
                for (lo, hi) in res.asn.set.ranges() {
                    for a in *lo..=*hi {
                        out.router_keys.insert((a, c.ski.hex()));
                    }
                }
            }
            "cer" => {
                let c = Cert::decode(der).unwrap();
                c.verify_signature(&ca.public_key).unwrap();
                assert!(!crl.is_revoked(&c.serial), "{uri} revoked");
                assert_eq!(c.issuer, ca.subject);
                assert!(c.is_current(now));
                let res = c.resources.resolve(held);
                assert!(held.contains(&res), "{uri} overclaims (RES-8)");
                let oc =
                    rpki::repository::Cert::decode(Bytes::copy_from_slice(der)).unwrap().validate_ca_at(oracle, true, at(now)).unwrap();
                let pp = c.sia.rsync_repository().unwrap().to_string();
                let host = |u: &str| u.trim_start_matches("rsync://").split('/').next().unwrap_or_default().to_string();
                if host(&pp) != host(&dir) && !repo.keys().any(|u| u.starts_with(&pp)) {
                    // A child CA that publishes elsewhere (RFC 6492): its certificate is all there is here.
                    out.external.insert(pp, res);
                    continue;
                }
                walk_ca(&c, &res, &oc, repo, now, out, depth + 1);
            }
            "roa" => {
                let r = Roa::decode(der).unwrap();
                r.signed.verify_signature().unwrap();
                r.signed.ee.verify_signature(&ca.public_key).unwrap();
                assert!(!crl.is_revoked(&r.signed.ee.serial), "{uri} revoked");
                assert!(held.contains(&r.signed.ee.resources.explicit_set()), "{uri} overclaims");
                assert_eq!(r.signed.ee.sia.rsync_signed_object(), Some(uri.as_str()));
                rpki::repository::Roa::decode(Bytes::copy_from_slice(der), true).unwrap();
                oracle_signed(der, oracle, now);
                // ROA-11: the EE holds exactly the ROA's prefixes.
                assert_eq!(r.signed.ee.resources.explicit_set(), r.content.resources().explicit_set(), "{uri}: ROA-11");
                out.roa_prefixes.insert(uri.clone(), r.content.prefixes.len());
                for p in &r.content.prefixes {
                    out.vrps.insert(format!("{}-{} AS{}", p.prefix, p.max_len(), r.content.asn.0));
                }
            }
            "asa" => {
                let a = Aspa::decode(der).unwrap();
                a.signed.verify_signature().unwrap();
                a.signed.ee.verify_signature(&ca.public_key).unwrap();
                assert!(!crl.is_revoked(&a.signed.ee.serial));
                assert!(held.asn.contains_asn(a.content.customer));
                rpki::repository::aspa::Aspa::decode(Bytes::copy_from_slice(der), true).unwrap();
                oracle_signed(der, oracle, now);
                out.aspas.insert(a.content.customer.0, a.content.providers.iter().map(|p| p.0).collect());
            }
            "tak" => {
                let t = rpkit_objects::tak::Tak::decode(der).unwrap();
                t.signed.verify_signature().unwrap();
                t.signed.ee.verify_signature(&ca.public_key).unwrap();
                assert!(!crl.is_revoked(&t.signed.ee.serial), "{uri} revoked");
                assert_eq!(depth, 0, "a TAK lives in a TA's publication point");
                assert_eq!(t.content.current.key, ca.public_key, "{uri}: the TAK's current key is its TA's (OBJ-3)");
                oracle_signed(der, oracle, now);
                out.taks.push(t.content);
            }
            "crl" => {}
            other => panic!("unexpected object type {other}"),
        }
    }
}

/// The oracle's validation of a signed object's CMS and EE certificate at `now`.
fn oracle_signed(der: &[u8], issuer: &ResourceCert, now: Time) {
    let so = rpki::repository::sigobj::SignedObject::decode(Bytes::copy_from_slice(der), true).unwrap();
    so.validate_at(issuer, true, at(now)).unwrap();
}
