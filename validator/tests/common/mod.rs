//! Repositories built by the hosted CA for the validator's tests.
#![allow(dead_code)]

use rpkit_ca::contract::{AspaSpec, RoaDelta};
use rpkit_ca::publisher::MemoryPublisher;
use rpkit_ca::{Ca, CaConfig};
use rpkit_objects::tal::Tal;
use rpkit_validator::report::Report;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub struct Repo {
    pub ca: Ca,
    pub publisher: Arc<MemoryPublisher>,
    pub tal: Tal,
    pub objects: BTreeMap<String, Vec<u8>>,
    pub vrps: BTreeSet<String>,
}

/// The RIR, two members with ROAs, one with an ASPA.
pub fn repo() -> Repo {
    let publisher = Arc::new(MemoryPublisher::new());
    let ca = Ca::open(None, CaConfig::default(), publisher.clone()).unwrap();
    let tal = ca.init(&"AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap()).unwrap();
    ca.add_member("isp-a", &"AS64500, 10.1.0.0/16, 2001:db8:1::/48".parse().unwrap(), None).unwrap();
    ca.add_member("isp-b", &"AS64501, 192.0.2.0/24".parse().unwrap(), None).unwrap();
    ca.apply_roas("isp-a", &RoaDelta::parse_lines("10.1.0.0/16-24 AS64500\n10.1.1.0/24 AS64510\n2001:db8:1::/48 AS64500").unwrap(), false)
        .unwrap();
    ca.apply_roas("isp-b", &RoaDelta::parse_lines("192.0.2.0/24 AS64501\n192.0.2.0/25 AS0").unwrap(), false).unwrap();
    ca.put_aspa("isp-b", &AspaSpec { customer: 64501, providers: vec![65002, 65001] }).unwrap();
    let vrps = [
        "10.1.0.0/16-24 AS64500",
        "10.1.1.0/24-24 AS64510",
        "2001:db8:1::/48-48 AS64500",
        "192.0.2.0/24-24 AS64501",
        "192.0.2.0/25-25 AS0",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let objects = publisher.snapshot();
    Repo { ca, publisher, tal, objects, vrps }
}

pub fn vrps(r: &Report) -> BTreeSet<String> {
    r.vrps.iter().map(|v| format!("{}-{} AS{}", v.origin.prefix, v.origin.max_length, v.origin.asn.0)).collect()
}

pub fn uri_of(objects: &BTreeMap<String, Vec<u8>>, member: &str, ext: &str) -> String {
    objects.keys().find(|u| u.contains(&format!("/{member}/")) && u.ends_with(ext)).unwrap().clone()
}

/// A file of `../shared/corpus` (read in place; `RPKIT_CORPUS` points elsewhere).
pub fn corpus_path(rel: &str) -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    std::env::var_os("RPKIT_CORPUS").map(std::path::PathBuf::from).unwrap_or(root).join(rel)
}

pub fn corpus(rel: &str) -> Vec<u8> {
    let p = corpus_path(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
