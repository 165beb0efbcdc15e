//! What the cache serves (RTR-7, RTR-15, RTR-20): a snapshot of unique
//! payloads, the minimal difference between two snapshots, and their encoding
//! in the order 8210bis §11.2 mandates.

use super::pdu;
use crate::report::Report;
use rpkit_objects::resources::Afi;
use std::collections::BTreeMap;
use std::sync::Arc;

/// An IPv4 VRP, ordered as RTR-20 sorts: address, maxLength, length, ASN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V4 {
    pub addr: u32,
    pub max_len: u8,
    pub len: u8,
    pub asn: u32,
}

/// An IPv6 VRP, ordered as `V4`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct V6 {
    pub addr: u128,
    pub max_len: u8,
    pub len: u8,
    pub asn: u32,
}

/// A router key, ordered as RTR-20: SKI, SPKI length, SPKI, ASN. Identity is
/// all three (RTR-7: the SPKI counts, not just the SKI).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub ski: [u8; 20],
    pub spki: Arc<[u8]>,
    pub asn: u32,
}

impl Ord for Key {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (&self.ski, self.spki.len(), &self.spki[..], self.asn).cmp(&(&o.ski, o.spki.len(), &o.spki[..], o.asn))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// Every payload the cache serves, each once, sorted ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub v4: Vec<V4>,
    pub v6: Vec<V6>,
    pub keys: Vec<Key>,
    /// Customer → providers (ascending, unique; RTR-10).
    pub aspas: BTreeMap<u32, Arc<[u32]>>,
}

impl Snapshot {
    /// The payloads of a finished report (after SLURM): VRPs from several TAs
    /// or ROAs once (RTR-7, RTR-24), ASPAs merged per customer.
    pub fn from_report(r: &Report) -> Snapshot {
        let mut s = Snapshot::default();
        for v in &r.vrps {
            let (len, max_len, asn) = (v.origin.prefix.len, v.origin.max_length, v.origin.asn.0);
            match v.origin.prefix.afi {
                Afi::Ipv4 => s.v4.push(V4 { addr: v.origin.prefix.addr as u32, max_len, len, asn }),
                Afi::Ipv6 => s.v6.push(V6 { addr: v.origin.prefix.addr, max_len, len, asn }),
            }
        }
        for k in &r.router_keys {
            s.keys.push(Key { ski: k.ski.0, spki: k.spki.clone(), asn: k.asn });
        }
        for a in &r.aspas {
            let mut p: Vec<u32> = s.aspas.get(&a.customer).map(|x| x.to_vec()).unwrap_or_default();
            p.extend(&a.providers);
            p.sort_unstable();
            p.dedup();
            s.aspas.insert(a.customer, p.into());
        }
        s.normalise();
        s
    }

    pub fn normalise(&mut self) {
        self.v4.sort_unstable();
        self.v4.dedup();
        self.v6.sort_unstable();
        self.v6.dedup();
        self.keys.sort_unstable();
        self.keys.dedup();
    }

    pub fn vrp_count(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Apply a difference (as a router does); used to check the diff engine.
    pub fn apply(&self, d: &Diff) -> Snapshot {
        let mut s = Snapshot {
            v4: merge(&self.v4, &d.v4_add, &d.v4_del),
            v6: merge(&self.v6, &d.v6_add, &d.v6_del),
            keys: merge(&self.keys, &d.keys_add, &d.keys_del),
            aspas: self.aspas.clone(),
        };
        for (c, (_, new)) in &d.aspas {
            match new {
                Some(p) => s.aspas.insert(*c, p.clone()),
                None => s.aspas.remove(c),
            };
        }
        s
    }
}

fn merge<T: Ord + Clone>(base: &[T], add: &[T], del: &[T]) -> Vec<T> {
    let mut v: Vec<T> = base.iter().filter(|x| del.binary_search(x).is_err()).cloned().chain(add.iter().cloned()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// A customer's provider list before and after (`None`: no record).
pub type AspaChange = (Option<Arc<[u32]>>, Option<Arc<[u32]>>);

/// The minimal change from one snapshot to another (RTR-5): sorted
/// announcements and withdrawals, and per ASPA customer the old and new lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diff {
    pub v4_add: Vec<V4>,
    pub v4_del: Vec<V4>,
    pub v6_add: Vec<V6>,
    pub v6_del: Vec<V6>,
    pub keys_add: Vec<Key>,
    pub keys_del: Vec<Key>,
    /// Customer → (before, after); never equal.
    pub aspas: BTreeMap<u32, AspaChange>,
}

/// (in `a` only, in `b` only) of two sorted, unique slices.
fn sorted_difference<T: Ord + Clone>(a: &[T], b: &[T]) -> (Vec<T>, Vec<T>) {
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                only_a.push(a[i].clone());
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_b.push(b[j].clone());
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    only_a.extend_from_slice(&a[i..]);
    only_b.extend_from_slice(&b[j..]);
    (only_a, only_b)
}

/// Compose two sorted change lists (first then second) into their net effect.
fn compose_sets<T: Ord + Clone>(add1: &[T], del1: &[T], add2: &[T], del2: &[T]) -> (Vec<T>, Vec<T>) {
    // An item added then withdrawn, or withdrawn then added again, cancels out.
    let keep = |x: &T, other: &[T]| other.binary_search(x).is_err();
    let mut add: Vec<T> = add1.iter().filter(|x| keep(x, del2)).chain(add2.iter().filter(|x| keep(x, del1))).cloned().collect();
    let mut del: Vec<T> = del1.iter().filter(|x| keep(x, add2)).chain(del2.iter().filter(|x| keep(x, add1))).cloned().collect();
    add.sort_unstable();
    add.dedup();
    del.sort_unstable();
    del.dedup();
    (add, del)
}

impl Diff {
    pub fn between(old: &Snapshot, new: &Snapshot) -> Diff {
        let (v4_del, v4_add) = sorted_difference(&old.v4, &new.v4);
        let (v6_del, v6_add) = sorted_difference(&old.v6, &new.v6);
        let (keys_del, keys_add) = sorted_difference(&old.keys, &new.keys);
        let mut aspas = BTreeMap::new();
        for (c, p) in &old.aspas {
            match new.aspas.get(c) {
                Some(q) if q == p => {}
                q => {
                    aspas.insert(*c, (Some(p.clone()), q.cloned()));
                }
            }
        }
        for (c, q) in &new.aspas {
            if !old.aspas.contains_key(c) {
                aspas.insert(*c, (None, Some(q.clone())));
            }
        }
        Diff { v4_add, v4_del, v6_add, v6_del, keys_add, keys_del, aspas }
    }

    /// This change followed by `next`, as one minimal change.
    pub fn then(&self, next: &Diff) -> Diff {
        let (v4_add, v4_del) = compose_sets(&self.v4_add, &self.v4_del, &next.v4_add, &next.v4_del);
        let (v6_add, v6_del) = compose_sets(&self.v6_add, &self.v6_del, &next.v6_add, &next.v6_del);
        let (keys_add, keys_del) = compose_sets(&self.keys_add, &self.keys_del, &next.keys_add, &next.keys_del);
        let mut aspas = self.aspas.clone();
        for (c, (before, after)) in &next.aspas {
            let first = match aspas.get(c) {
                Some((b, _)) => b.clone(),
                None => before.clone(),
            };
            if first == *after {
                aspas.remove(c);
            } else {
                aspas.insert(*c, (first, after.clone()));
            }
        }
        Diff { v4_add, v4_del, v6_add, v6_del, keys_add, keys_del, aspas }
    }

    pub fn is_empty(&self) -> bool {
        self.v4_add.is_empty()
            && self.v4_del.is_empty()
            && self.v6_add.is_empty()
            && self.v6_del.is_empty()
            && self.keys_add.is_empty()
            && self.keys_del.is_empty()
            && self.aspas.is_empty()
    }

    /// Number of payload PDUs in a version-`v` answer.
    pub fn len_for(&self, version: u8) -> usize {
        let mut n = self.v4_add.len() + self.v4_del.len() + self.v6_add.len() + self.v6_del.len();
        if version >= 1 {
            n += self.keys_add.len() + self.keys_del.len();
        }
        if version >= 2 {
            n += self.aspas.len();
        }
        n
    }
}

/// One payload PDU, in the order of RTR-20, to be encoded for a version.
#[derive(Clone, Copy, Debug)]
pub enum Item<'a> {
    V4(&'a V4, bool),
    V6(&'a V6, bool),
    Key(&'a Key, bool),
    Aspa(u32, Option<&'a [u32]>),
}

impl Item<'_> {
    pub fn encode(&self, version: u8, out: &mut Vec<u8>) {
        match *self {
            Item::V4(v, a) => pdu::ipv4(out, version, a, v.len, v.max_len, v.addr, v.asn),
            Item::V6(v, a) => pdu::ipv6(out, version, a, v.len, v.max_len, v.addr, v.asn),
            Item::Key(k, a) => pdu::router_key(out, version, a, &k.ski, k.asn, &k.spki),
            Item::Aspa(c, Some(p)) => pdu::aspa(out, version, true, c, p),
            Item::Aspa(c, None) => pdu::aspa(out, version, false, c, &[]),
        }
    }
}

/// The payload PDUs of a full answer (Reset Query, RTR-6) visible in
/// `version` (RTR-15), in RTR-20 order: per type, announcements by
/// descending address, maxLength, length and ASN; keys and ASPAs ascending.
pub fn full_items(s: &Snapshot, version: u8) -> impl Iterator<Item = Item<'_>> {
    let keys = if version >= 1 { &s.keys[..] } else { &[] };
    let aspas = s.aspas.iter().filter(move |_| version >= 2);
    s.v4.iter()
        .rev()
        .map(|v| Item::V4(v, true))
        .chain(s.v6.iter().rev().map(|v| Item::V6(v, true)))
        .chain(keys.iter().map(|k| Item::Key(k, true)))
        .chain(aspas.map(|(c, p)| Item::Aspa(*c, Some(&p[..]))))
}

/// The payload PDUs of an incremental answer (RTR-5) in RTR-20 order:
/// per type, announcements (descending) before withdrawals (ascending); ASPA
/// announcements (each replacing the customer's record, RTR-10) before withdrawals.
pub fn diff_items(d: &Diff, version: u8) -> impl Iterator<Item = Item<'_>> {
    let (keys_add, keys_del) = if version >= 1 { (&d.keys_add[..], &d.keys_del[..]) } else { (&[][..], &[][..]) };
    let aspas = move |announce: bool| {
        d.aspas
            .iter()
            .filter(move |(_, (_, after))| version >= 2 && after.is_some() == announce)
            .map(|(c, (_, after))| Item::Aspa(*c, after.as_deref()))
    };
    d.v4_add
        .iter()
        .rev()
        .map(|v| Item::V4(v, true))
        .chain(d.v4_del.iter().map(|v| Item::V4(v, false)))
        .chain(d.v6_add.iter().rev().map(|v| Item::V6(v, true)))
        .chain(d.v6_del.iter().map(|v| Item::V6(v, false)))
        .chain(keys_add.iter().map(|k| Item::Key(k, true)))
        .chain(keys_del.iter().map(|k| Item::Key(k, false)))
        .chain(aspas(true))
        .chain(aspas(false))
}
