//! How a member's route origin authorizations become ROA objects (ROA-10).
//!
//! One prefix per ROA (RFC 9455) while a member has fewer than
//! `aggregate_at` authorizations. From there, ROAs hold the prefixes of one ASN,
//! up to `max_prefixes` each: a member with 100,000 authorizations then has
//! hundreds of objects instead of 100,000, and its manifest stays far below
//! what validators accept (MFT-20). It goes back to one prefix per ROA below
//! `deaggregate_below`, so that a member near the threshold does not flip.
//!
//! A change re-issues only the objects whose content changes: an object that
//! lost an authorization, or one that takes an addition because it has room.

use crate::config::CaConfig;
use crate::contract::RoaSpec;
use rpkit_objects::resources::Asn;
use std::collections::{BTreeMap, BTreeSet};

/// The packing rule, from the CA's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packing {
    pub aggregate_at: usize,
    pub deaggregate_below: usize,
    pub max_prefixes: usize,
}

impl Packing {
    pub fn from_config(cfg: &CaConfig) -> Self {
        let aggregate_at = cfg.roa_aggregate_threshold.max(1);
        Packing {
            aggregate_at,
            deaggregate_below: cfg.roa_deaggregate_threshold.min(aggregate_at),
            max_prefixes: cfg.roa_max_prefixes.max(1),
        }
    }
}

/// What a change does to a member's ROA objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Repack {
    /// Objects (by URI) that stay as they are.
    pub keep: Vec<String>,
    /// Objects to revoke and withdraw.
    pub withdraw: Vec<String>,
    /// Objects to issue: the authorizations of each, all of one ASN.
    pub issue: Vec<Vec<RoaSpec>>,
}

impl Repack {
    /// ROA objects the member holds afterwards.
    pub fn objects_after(&self) -> usize {
        self.keep.len() + self.issue.len()
    }
}

/// Plan the objects for the authorizations `desired`, given the objects in
/// place (`current`: URI → the authorizations it holds).
pub fn repack(current: &BTreeMap<String, Vec<RoaSpec>>, desired: &BTreeSet<RoaSpec>, p: Packing) -> Repack {
    let aggregated = current.values().any(|g| g.len() > 1);
    let aggregate = p.max_prefixes > 1 && (desired.len() >= p.aggregate_at || (aggregated && desired.len() >= p.deaggregate_below));
    if aggregate {
        // On the switch from one prefix per ROA, each ASN is packed as tightly
        // as it can be; from then on, removals may leave up to twice that.
        by_asn(current, desired, p.max_prefixes, if aggregated { 2 } else { 1 })
    } else {
        one_per_object(current, desired)
    }
}

/// One prefix per object: keep those still wanted, withdraw every other.
fn one_per_object(current: &BTreeMap<String, Vec<RoaSpec>>, desired: &BTreeSet<RoaSpec>) -> Repack {
    let mut out = Repack::default();
    let mut placed = BTreeSet::new();
    for (uri, g) in current {
        match g.as_slice() {
            [s] if desired.contains(s) && placed.insert(*s) => out.keep.push(uri.clone()),
            _ => out.withdraw.push(uri.clone()),
        }
    }
    out.issue = desired.difference(&placed).map(|s| vec![*s]).collect();
    out
}

/// Objects of one ASN each, up to `max` prefixes; an ASN is packed afresh when
/// it would have more than `slack` times the objects it needs.
fn by_asn(current: &BTreeMap<String, Vec<RoaSpec>>, desired: &BTreeSet<RoaSpec>, max: usize, slack: usize) -> Repack {
    let mut out = Repack::default();
    let mut want: BTreeMap<Asn, BTreeSet<RoaSpec>> = BTreeMap::new();
    for s in desired {
        want.entry(s.asn).or_default().insert(*s);
    }
    let mut held: BTreeMap<Asn, Vec<(&String, &Vec<RoaSpec>)>> = BTreeMap::new();
    for (uri, g) in current {
        match g.first() {
            Some(first) if g.iter().all(|s| s.asn == first.asn) => held.entry(first.asn).or_default().push((uri, g)),
            // Never made so; re-made from what is wanted.
            _ => out.withdraw.push(uri.clone()),
        }
    }
    let asns: BTreeSet<Asn> = want.keys().chain(held.keys()).copied().collect();
    for asn in asns {
        let want = want.remove(&asn).unwrap_or_default();
        let groups = held.remove(&asn).unwrap_or_default();
        // What stays of each object: unchanged, or shrunk (and so re-issued).
        let mut placed = BTreeSet::new();
        let mut kept: Vec<(&String, Vec<RoaSpec>)> = Vec::new();
        let mut shrunk: Vec<Vec<RoaSpec>> = Vec::new();
        for (uri, g) in &groups {
            let left: Vec<RoaSpec> = g.iter().filter(|s| want.contains(s) && placed.insert(**s)).copied().collect();
            if left.len() == g.len() && g.len() <= max {
                kept.push((uri, left));
                continue;
            }
            out.withdraw.push((*uri).clone());
            if left.len() <= max {
                shrunk.push(left);
            } else {
                // Made under a larger `max_prefixes`: its authorizations are placed anew.
                for s in &left {
                    placed.remove(s);
                }
            }
        }
        shrunk.retain(|g| !g.is_empty());
        // Too many part-filled objects: pack this ASN afresh.
        if kept.len() + shrunk.len() > slack * want.len().div_ceil(max) {
            out.withdraw.extend(kept.iter().map(|(uri, _)| (*uri).clone()));
            out.issue.extend(chunks(want.into_iter().collect(), max));
            continue;
        }
        let mut new: Vec<RoaSpec> = want.difference(&placed).copied().collect();
        // Additions go first where the object is re-issued anyway, then into
        // objects with room, then into new ones.
        for g in &mut shrunk {
            take_into(g, &mut new, max);
        }
        out.issue.extend(shrunk);
        for (uri, mut g) in kept {
            if !new.is_empty() && g.len() < max {
                take_into(&mut g, &mut new, max);
                out.withdraw.push(uri.clone());
                out.issue.push(g);
            } else {
                out.keep.push(uri.clone());
            }
        }
        out.issue.extend(chunks(new, max));
    }
    out
}

/// Move authorizations from the front of `from` into `g` until it holds `max`.
fn take_into(g: &mut Vec<RoaSpec>, from: &mut Vec<RoaSpec>, max: usize) {
    let n = max.saturating_sub(g.len()).min(from.len());
    g.extend(from.drain(..n));
}

fn chunks(v: Vec<RoaSpec>, max: usize) -> Vec<Vec<RoaSpec>> {
    v.chunks(max).map(<[RoaSpec]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Packing = Packing { aggregate_at: 10, deaggregate_below: 8, max_prefixes: 4 };

    fn spec(i: u32, asn: u32) -> RoaSpec {
        RoaSpec { prefix: format!("10.{}.{}.0/24", i / 256, i % 256).parse().unwrap(), max_length: 24, asn: Asn(asn) }
    }

    fn set(v: impl IntoIterator<Item = RoaSpec>) -> BTreeSet<RoaSpec> {
        v.into_iter().collect()
    }

    /// `i` of `spec(i, _)`.
    fn index(s: &RoaSpec) -> u32 {
        let t = s.prefix.to_string();
        let parts: Vec<u32> = t.split(['.', '/']).map(|x| x.parse().unwrap()).collect();
        parts[1] * 256 + parts[2]
    }

    /// A member's ROA objects (URI → authorizations), changed as the CA would.
    #[derive(Default)]
    struct Member {
        objects: BTreeMap<String, Vec<RoaSpec>>,
        round: usize,
    }

    impl Member {
        /// Plan for `desired` and apply the plan. Afterwards the objects hold
        /// exactly `desired`, none twice, one ASN and at most `max_prefixes`
        /// each. Returns (kept, withdrawn, issued).
        fn change(&mut self, desired: &BTreeSet<RoaSpec>, p: Packing) -> (usize, usize, usize) {
            let plan = repack(&self.objects, desired, p);
            for uri in &plan.withdraw {
                assert!(self.objects.remove(uri).is_some(), "{uri} withdrawn twice");
            }
            for (i, g) in plan.issue.iter().enumerate() {
                self.objects.insert(format!("r{}-n{i}", self.round), g.clone());
            }
            self.round += 1;
            let all: Vec<RoaSpec> = self.objects.values().flatten().copied().collect();
            assert_eq!(all.len(), desired.len(), "an authorization held twice");
            assert_eq!(&set(all), desired);
            for g in self.objects.values() {
                assert!(!g.is_empty() && g.len() <= p.max_prefixes && g.iter().all(|s| s.asn == g[0].asn), "{g:?}");
            }
            (plan.keep.len(), plan.withdraw.len(), plan.issue.len())
        }

        /// How many prefixes each object holds, in order.
        fn sizes(&self) -> Vec<usize> {
            let mut v: Vec<usize> = self.objects.values().map(Vec::len).collect();
            v.sort();
            v
        }
    }

    #[test]
    fn roa_10_one_prefix_per_roa_below_the_threshold() {
        let mut m = Member::default();
        assert_eq!(m.change(&set((0..9).map(|i| spec(i, 64500))), P), (0, 0, 9));
        assert_eq!(m.sizes(), [1; 9]);
        // Removing one withdraws its object only.
        assert_eq!(m.change(&set((1..9).map(|i| spec(i, 64500))), P), (8, 1, 0));
    }

    #[test]
    fn roa_10_above_the_threshold_one_roa_per_asn_in_chunks() {
        // 9 singletons in place; a tenth crosses the threshold: packed afresh,
        // AS64500's 7 prefixes in chunks of 4, AS64501's 3 in one.
        let mut m = Member::default();
        m.change(&set((0..9).map(|i| spec(i, 64500))), P);
        let desired = set((0..7).map(|i| spec(i, 64500)).chain((7..10).map(|i| spec(i, 64501))));
        assert_eq!(m.change(&desired, P), (0, 9, 3));
        assert_eq!(m.sizes(), [3, 3, 4]);
    }

    #[test]
    fn roa_10_a_change_reissues_only_the_objects_it_touches() {
        let mut m = Member::default();
        let mut desired = set((0..40).map(|i| spec(i, 64500)));
        m.change(&desired, P);
        assert_eq!(m.sizes(), [4; 10]);
        // Remove one: its object is re-issued without it; nine stay.
        desired.remove(&spec(5, 64500));
        assert_eq!(m.change(&desired, P), (9, 1, 1));
        assert_eq!(m.sizes()[0], 3);
        // Add one: it fills that object's room; nine stay.
        desired.insert(spec(100, 64500));
        assert_eq!(m.change(&desired, P), (9, 1, 1));
        assert_eq!(m.sizes(), [4; 10]);
        // Add one when all are full: one new object.
        desired.insert(spec(101, 64500));
        assert_eq!(m.change(&desired, P), (10, 0, 1));
        // Nothing changes: nothing re-issued.
        assert_eq!(m.change(&desired, P), (11, 0, 0));
    }

    #[test]
    fn roa_10_scattered_removals_are_packed_afresh() {
        let mut m = Member::default();
        let mut desired = set((0..40).map(|i| spec(i, 64500)));
        m.change(&desired, P);
        // Keep one of every four: 10 objects of one prefix, where 3 would do.
        desired.retain(|s| index(s).is_multiple_of(4));
        assert_eq!(desired.len(), 10);
        m.change(&desired, P);
        assert_eq!(m.sizes(), [2, 4, 4]);
    }

    #[test]
    fn roa_10_threshold_with_hysteresis() {
        let mut m = Member::default();
        let mut desired = set((0..10).map(|i| spec(i, 64500)));
        m.change(&desired, P);
        assert_eq!(m.sizes(), [2, 4, 4]);
        // 9 and 8 stay aggregated (at or above 8) ...
        for i in [9, 8] {
            desired.remove(&spec(i, 64500));
            m.change(&desired, P);
            assert!(m.objects.len() < desired.len());
        }
        // ... 7 goes back to one prefix per ROA.
        desired.remove(&spec(7, 64500));
        m.change(&desired, P);
        assert_eq!(m.sizes(), [1; 7]);
    }

    #[test]
    fn singletons_of_distinct_asns_above_the_threshold_stay_in_place() {
        // Each ASN with one prefix is already as packed as it can be.
        let mut m = Member::default();
        let desired = set((0..12).map(|i| spec(i, 64500 + i)));
        assert_eq!(m.change(&desired, P), (0, 0, 12));
        assert_eq!(m.change(&desired, P), (12, 0, 0));
    }

    #[test]
    fn a_lowered_max_prefixes_splits_the_objects_it_no_longer_allows() {
        let mut m = Member::default();
        let desired = set((0..12).map(|i| spec(i, 64500)));
        m.change(&desired, P);
        assert_eq!(m.sizes(), [4; 3]);
        // The same authorizations, at most 3 a ROA (checked by `change`).
        assert_eq!(m.change(&desired, Packing { max_prefixes: 3, ..P }), (0, 3, 4));
        assert_eq!(m.sizes(), [3; 4]);
    }

    #[test]
    fn max_prefixes_of_one_never_aggregates() {
        let mut m = Member::default();
        m.change(&set((0..20).map(|i| spec(i, 64500))), Packing { max_prefixes: 1, ..P });
        assert_eq!(m.sizes(), [1; 20]);
    }
}
