//! The last validated copy (RFC 9286 §6.6): a point that fails on fetch falls
//! back to it (MFT-14, PIT-7, PIT-9, PIT-13), an older manifest never replaces
//! a newer one (MFT-16, PIT-8), stale cached data is not resurrected, and files
//! no manifest lists any more are swept.

mod common;

use common::{repo, uri_of, vrps};
use rpkit_ca::contract::RoaDelta;
use rpkit_objects::der::Time;
use rpkit_objects::tal::Tal;
use rpkit_validator::cache::ValidCache;
use rpkit_validator::error::FetchError;
use rpkit_validator::report::Report;
use rpkit_validator::store::Store;
use rpkit_validator::tree::{validate_tal, Fetcher, Options};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// A repository whose content the test swaps between runs; `None` fails every
/// publication point's fetch (the TA certificate stays reachable).
struct Swappable(Mutex<Option<BTreeMap<String, Vec<u8>>>>, BTreeMap<String, Vec<u8>>);

impl Fetcher for Swappable {
    fn ta_cert(&self, uris: &[String]) -> Option<(String, Vec<u8>)> {
        uris.iter().find_map(|u| self.1.get(u).map(|d| (u.clone(), d.clone())))
    }
    fn publication_point<'s>(&'s self, dir: &str, _: Option<&str>) -> Result<Box<dyn Store + 's>, FetchError> {
        match self.0.lock().unwrap().clone() {
            Some(m) => Ok(Box::new(m)),
            None => Err(FetchError::Transport { url: dir.to_string(), detail: "connection refused".into() }),
        }
    }
}

struct Bench {
    dir: PathBuf,
    tal: Tal,
    ta: BTreeMap<String, Vec<u8>>,
}

impl Bench {
    fn new(r: &common::Repo, name: &str) -> Bench {
        let dir = std::env::temp_dir().join(format!("rpkit-cache-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ta = r.objects.iter().filter(|(u, _)| u.ends_with("ta.cer")).map(|(u, d)| (u.clone(), d.clone())).collect();
        Bench { dir, tal: r.tal.clone(), ta }
    }
    /// One run over `objects` (or a failing fetch), the cache kept between runs.
    fn run(&self, objects: Option<&BTreeMap<String, Vec<u8>>>, now: Time) -> Report {
        let cache = ValidCache::new(&self.dir).unwrap();
        let fetch = Swappable(Mutex::new(objects.cloned()), self.ta.clone());
        let r = validate_tal(&self.tal, "ta", &fetch, Some(&cache), now, &Options::default());
        cache.sweep();
        r
    }
    fn cached(&self, uri: &str) -> bool {
        ValidCache::new(&self.dir).unwrap().store().get(uri).is_some()
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rules(r: &Report) -> Vec<&str> {
    r.warnings.iter().map(|w| w.rule).collect()
}

#[test]
fn mft_14_pit_7_a_withheld_or_altered_roa_leaves_the_cached_point_in_use() {
    let r = repo();
    let b = Bench::new(&r, "withheld");
    let now = Time::now();
    let first = b.run(Some(&r.objects), now);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    assert_eq!(vrps(&first), r.vrps);

    let roa = uri_of(&r.objects, "isp-b", ".roa");
    let mut withheld = r.objects.clone();
    withheld.remove(&roa);
    let out = b.run(Some(&withheld), now);
    assert_eq!(vrps(&out), r.vrps, "every VRP of the first run, from the cache");
    assert_eq!(rules(&out), ["MFT-13", "MFT-14"], "{:#?}", out.warnings);
    assert_eq!(out.warnings[0].uri, roa);
    assert!(out.warnings[1].detail.contains("last validated copy"));

    let mut altered = r.objects.clone();
    altered.get_mut(&roa).unwrap()[40] ^= 1;
    let out = b.run(Some(&altered), now);
    assert_eq!(vrps(&out), r.vrps);
    assert_eq!(rules(&out), ["MFT-13", "MFT-14"]);
    assert!(out.warnings[0].detail.contains("hash"), "{}", out.warnings[0].detail);
    // The altered file never reached the cache (PIT-9).
    let cache = ValidCache::new(&b.dir).unwrap();
    assert_eq!(cache.store().get(&roa).as_ref(), Some(&r.objects[&roa]));
}

#[test]
fn pit_13_each_fetch_state_has_its_outcome() {
    let r = repo();
    let now = Time::now();
    // No cache and a failing fetch: nothing, with the fetch error named.
    let b = Bench::new(&r, "states");
    let mut no_mft = r.objects.clone();
    let mft = uri_of(&r.objects, "isp-a", ".mft");
    no_mft.remove(&mft);
    let out = b.run(Some(&no_mft), now);
    let a_vrps = r.vrps.iter().filter(|v| v.starts_with("10.") || v.starts_with("2001:")).count();
    assert_eq!(out.vrps.len(), r.vrps.len() - a_vrps, "no manifest, no cache: isp-a yields nothing");
    assert_eq!(rules(&out), ["MFT-13", "MFT-14"]);
    assert!(out.warnings[1].detail.contains("no valid cached copy"));
    // Invalid manifest (bad bytes) with a cache: the cache.
    b.run(Some(&r.objects), now);
    let mut bad = r.objects.clone();
    bad.get_mut(&mft).unwrap().truncate(100);
    let out = b.run(Some(&bad), now);
    assert_eq!(vrps(&out), r.vrps);
    assert_eq!(out.warnings.len(), 2);
    assert_eq!(out.warnings[1].rule, "MFT-14");
    // Every fetch failing: everything from the cache.
    let out = b.run(None, now);
    assert_eq!(vrps(&out), r.vrps);
    assert!(out.warnings.iter().all(|w| w.rule == "MFT-14"), "{:#?}", out.warnings);
    assert!(out.warnings.iter().any(|w| w.detail.contains("connection refused")));
    // The cache does not outlive its manifests: two days on, nothing is current.
    let out = b.run(None, now.add_secs(2 * 86400));
    assert!(out.vrps.is_empty());
    assert!(out.warnings.iter().any(|w| w.detail.contains("no valid cached copy")), "{:#?}", out.warnings);
}

#[test]
fn mft_16_pit_8_an_older_manifest_does_not_replace_a_newer_one() {
    let r = repo();
    let old = r.objects.clone();
    r.ca.apply_roas("isp-a", &RoaDelta::parse_lines("10.1.2.0/24 AS64999").unwrap(), false).unwrap();
    let new = r.publisher.snapshot();
    let mut new_vrps = r.vrps.clone();
    new_vrps.insert("10.1.2.0/24-24 AS64999".into());
    let now = Time::now();

    // Old then new: the manifest number moves forward, no warning.
    let b = Bench::new(&r, "forward");
    assert!(b.run(Some(&old), now).warnings.is_empty());
    let out = b.run(Some(&new), now);
    assert!(out.warnings.is_empty(), "{:#?}", out.warnings);
    assert_eq!(vrps(&out), new_vrps);

    // New then old (a replay): the newer cached state stays in use.
    let out = b.run(Some(&old), now);
    assert_eq!(vrps(&out), new_vrps, "the replayed manifest must not win");
    assert_eq!(rules(&out), ["MFT-16", "MFT-14"], "{:#?}", out.warnings);
    assert!(out.warnings[0].detail.contains("below the last validated"), "{}", out.warnings[0].detail);
}

#[test]
fn files_no_manifest_lists_any_more_leave_the_cache() {
    let r = repo();
    let now = Time::now();
    let b = Bench::new(&r, "sweep");
    b.run(Some(&r.objects), now);
    let gone: Vec<String> = r.objects.keys().filter(|u| u.contains("/isp-b/") && u.ends_with(".roa")).cloned().collect();
    assert_eq!(gone.len(), 2);
    assert!(gone.iter().all(|u| b.cached(u)));
    r.ca.apply_roas("isp-b", &RoaDelta::parse_lines("-192.0.2.0/25 AS0").unwrap(), false).unwrap();
    let after = r.publisher.snapshot();
    let out = b.run(Some(&after), now);
    assert!(out.warnings.is_empty(), "{:#?}", out.warnings);
    let kept: Vec<&String> = gone.iter().filter(|u| b.cached(u)).collect();
    assert_eq!(kept.len(), 1, "exactly the withdrawn ROA left the cache: {kept:?}");
    assert!(after.contains_key(kept[0]));
    // Everything the run relies on is cached.
    assert!(after.keys().filter(|u| !u.ends_with("ta.cer")).all(|u| b.cached(u)));
}
