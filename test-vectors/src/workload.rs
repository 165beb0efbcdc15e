//! Benchmark workloads. W1: an RIR-shaped repository, a TA above one RIR CA
//! above 10,000 member CAs, with 60,000 ROAs and 1,000 ASPAs, each member
//! holding an IPv4 /24, an IPv6 /32 and an AS number (a tenth of the members
//! hold four times as many ROAs as the others). W2, the size of the whole
//! RPKI today: the same shape with 50,000 CAs, 350,000 ROAs and 5,000 ASPAs,
//! about 505,000 objects.
//!
//! Built in benchmark mode only (`World::benchmark`): CA keys come from the
//! caller, who caches them between runs, and EE keys are reused across objects.
//! The product never reuses a key (CMS-14).

use crate::scenario::{Ca, PublishSpec, World};
use rayon::prelude::*;
use rpkit_objects::crypto::KeyPair;
use rpkit_objects::der::Time;
use rpkit_objects::tal::Tal;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub cas: usize,
    pub roas: usize,
    pub aspas: usize,
}

/// The W1.
pub const W1: Sizes = Sizes { cas: 10_000, roas: 60_000, aspas: 1_000 };
/// A tenth of W1, for a run in minutes.
pub const W1_QUICK: Sizes = Sizes { cas: 1_000, roas: 6_000, aspas: 100 };
/// The W2: as many objects as the whole RPKI (about 505,000).
pub const W2: Sizes = Sizes { cas: 50_000, roas: 350_000, aspas: 5_000 };

impl Sizes {
    /// Objects the workload publishes: per member a certificate, a manifest
    /// and a CRL, its ROAs and ASPA; the TA and the RIR CA three each.
    pub fn objects(&self) -> usize {
        3 * self.cas + self.roas + self.aspas + 6
    }
}

pub const BASE: &str = "rsync://rpki.test/repo/";
pub const NOTIFY: &str = "https://rpki.test/rrdp/notification.xml";
pub const HTTPS_TA: &str = "https://rpki.test/repo/ta.cer";

pub struct Workload {
    pub tal: Tal,
    /// Every object by rsync URI.
    pub objects: BTreeMap<String, Vec<u8>>,
    /// The VRPs a validator must output: (prefix, maxLength, AS).
    pub vrps: BTreeSet<(String, u8, u32)>,
    /// The ASPAs: customer AS and providers.
    pub aspas: BTreeMap<u32, Vec<u32>>,
}

/// CA keys W1 of `sizes` takes: one per member, the TA's and the RIR CA's.
pub fn ca_keys_needed(sizes: Sizes) -> usize {
    sizes.cas + 2
}

fn member_asn(i: usize) -> u32 {
    100_000 + i as u32
}

/// ROAs of member `i`: weight 4 for every tenth member, 1 for the others,
/// the remainder spread over the first members.
fn roa_counts(sizes: Sizes) -> Vec<usize> {
    let weight = |i: usize| if i.is_multiple_of(10) { 4 } else { 1 };
    let total: usize = (0..sizes.cas).map(weight).sum();
    let mut counts: Vec<usize> = (0..sizes.cas).map(|i| sizes.roas * weight(i) / total).collect();
    let short = sizes.roas - counts.iter().sum::<usize>();
    for c in counts.iter_mut().take(short) {
        *c += 1;
    }
    counts
}

/// ROA `k` of member `i`: its /24 first, then /48s of its /32.
fn roa_prefix(i: usize, k: usize) -> String {
    if k == 0 {
        format!("10.{}.{}.0/24", i / 256 % 256, i % 256)
    } else {
        format!("2a00:{:x}:{:x}::/48", i, k)
    }
}

/// The VRPs of the workload of `sizes` (as `w1` would output them), without
/// building it: the RTR benchmark's W2 set.
pub fn vrps(sizes: Sizes) -> BTreeSet<(String, u8, u32)> {
    let mut vrps = BTreeSet::new();
    for (i, n) in roa_counts(sizes).iter().enumerate() {
        for k in 0..*n {
            let p = roa_prefix(i, k);
            let len = p.rsplit_once('/').and_then(|(_, l)| l.parse().ok()).unwrap_or(0);
            let canonical = p.parse::<rpkit_objects::resources::Prefix>().map(|x| x.to_string()).unwrap_or(p);
            vrps.insert((canonical, len, member_asn(i)));
        }
    }
    vrps
}

/// Build W1 of `sizes` at `now` from `ca_keys` (at least `ca_keys_needed`) and a pool of reused EE keys.
pub fn w1(sizes: Sizes, ca_keys: Vec<KeyPair>, ee_keys: Vec<KeyPair>, now: Time) -> Workload {
    assert!(sizes.cas <= 65_536 && sizes.aspas <= sizes.cas && sizes.cas > 1, "W1 sizes out of range: {sizes:?}");
    assert!(ca_keys.len() >= ca_keys_needed(sizes), "W1 needs {} CA keys", ca_keys_needed(sizes));
    let (mut w, mut ta) = World::benchmark(BASE, Some(NOTIFY), Some(HTTPS_TA), ca_keys, ee_keys, now);
    let last = member_asn(sizes.cas - 1);
    let mut rir = w.child(&mut ta, "rir", &format!("AS100000-AS{last}, 10.0.0.0/8, 2a00::/16"), |_| {});
    let mut members: Vec<Ca> = (0..sizes.cas)
        .map(|i| {
            let res = format!("AS{}, 10.{}.{}.0/24, 2a00:{:x}::/32", member_asn(i), i / 256 % 256, i % 256, i);
            w.child(&mut rir, &format!("m{i}"), &res, |_| {})
        })
        .collect();
    let counts = roa_counts(sizes);
    let vrps = vrps(sizes);
    let mut aspas = BTreeMap::new();
    for i in 0..sizes.cas {
        if i < sizes.aspas {
            let mut providers = vec![174, 3356, member_asn((i + 1) % sizes.cas)];
            providers.sort();
            aspas.insert(member_asn(i), providers);
        }
    }
    let world = &w;
    let points: Vec<Vec<(String, Vec<u8>)>> = members
        .par_iter_mut()
        .enumerate()
        .map(|(i, m)| {
            for k in 0..counts[i] {
                world.roa(m, member_asn(i), &[roa_prefix(i, k).as_str()], |_| {});
            }
            if let Some(p) = aspas.get(&member_asn(i)) {
                world.aspa(m, member_asn(i), p);
            }
            world.point(m, &PublishSpec::default())
        })
        .collect();
    for p in points {
        w.objects.extend(p);
    }
    w.publish(&mut rir, &PublishSpec::default());
    w.publish(&mut ta, &PublishSpec::default());
    Workload { tal: w.tal, objects: w.objects, vrps, aspas }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roa_counts_add_up_and_favour_every_tenth_member() {
        let c = roa_counts(W1);
        assert_eq!(c.iter().sum::<usize>(), 60_000);
        assert_eq!((c[10], c[11], c[9_999]), (19, 5, 4));
    }

    #[test]
    fn w2_is_the_size_of_the_whole_rpki() {
        assert_eq!(roa_counts(W2).iter().sum::<usize>(), 350_000);
        assert_eq!(W2.objects(), 505_006);
        assert_eq!(W1.objects(), 91_006);
        // Every member's prefixes are its own: as many VRPs as ROAs.
        assert_eq!(vrps(W2).len(), 350_000);
    }
}
