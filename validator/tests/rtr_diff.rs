//! The RTR diff engine and serial history: PIT-29 property tests (applying
//! diff(S1, S2) to S1 gives S2, minimal, composed histories equal direct
//! diffs), the RTR-20 order of a mixed answer, the serial wrap (RTR-4),
//! cancelling changes (RTR-5), ASPA replacement (RTR-10) and per-version
//! visibility (RTR-15).

use proptest::prelude::*;
use rpkit_validator::rtr::payload::{diff_items, full_items, Diff, Key, Snapshot, V4, V6};
use rpkit_validator::rtr::pdu::{Pdu, Timers};
use rpkit_validator::rtr::state::{serial_lt, Cache};
use std::collections::BTreeMap;
use std::sync::Arc;

fn v4(addr: u32, len: u8, max_len: u8, asn: u32) -> V4 {
    V4 { addr, len, max_len, asn }
}

fn snapshot(v4s: &[V4], v6s: &[V6], keys: &[Key], aspas: &[(u32, &[u32])]) -> Snapshot {
    let mut s = Snapshot {
        v4: v4s.to_vec(),
        v6: v6s.to_vec(),
        keys: keys.to_vec(),
        aspas: aspas.iter().map(|(c, p)| (*c, Arc::from(*p))).collect(),
    };
    s.normalise();
    s
}

fn decode_all(bytes: &[u8]) -> Vec<Pdu> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        out.push(Pdu::decode(&rest[..len]).expect("our own PDUs decode (PIT-28)"));
        rest = &rest[len..];
    }
    out
}

fn encode(items: impl Iterator<Item = rpkit_validator::rtr::payload::Item<'static>>, version: u8) -> Vec<Pdu> {
    let mut b = Vec::new();
    for i in items {
        i.encode(version, &mut b);
    }
    decode_all(&b)
}

fn leak<T>(t: T) -> &'static T {
    Box::leak(Box::new(t))
}

fn arb_snapshot() -> impl Strategy<Value = Snapshot> {
    let v4s = prop::collection::vec((0u32..8, 8u8..12, 0u8..3, 0u32..4), 0..24).prop_map(|v| {
        v.into_iter().map(|(a, len, extra, asn)| v4((a << 24) & (u32::MAX << (32 - len)), len, len + extra, asn)).collect::<Vec<_>>()
    });
    let v6s = prop::collection::vec((0u128..4, 0u32..3), 0..8)
        .prop_map(|v| v.into_iter().map(|(a, asn)| V6 { addr: a << 96, len: 32, max_len: 48, asn }).collect::<Vec<_>>());
    let keys = prop::collection::vec((0u8..3, 0u8..2, 0u32..3), 0..5)
        .prop_map(|v| v.into_iter().map(|(s, k, asn)| Key { ski: [s; 20], spki: Arc::from(vec![0x30, k]), asn }).collect::<Vec<_>>());
    let aspas = prop::collection::btree_map(0u32..6, prop::collection::btree_set(1u32..6, 1..4), 0..5);
    (v4s, v6s, keys, aspas).prop_map(|(a, b, k, asp)| {
        let mut s = Snapshot {
            v4: a,
            v6: b,
            keys: k,
            aspas: asp.into_iter().map(|(c, p)| (c, Arc::from(p.into_iter().collect::<Vec<_>>()))).collect(),
        };
        s.normalise();
        s
    })
}

/// RTR-20 on a decoded answer: per type in 4, 6, 9, 11 order; prefixes
/// announced descending, then withdrawn ascending; ASPA announcements first.
fn check_order(pdus: &[Pdu]) -> Result<(), String> {
    let rank = |p: &Pdu| match p {
        Pdu::Ipv4Prefix { .. } => 0,
        Pdu::Ipv6Prefix { .. } => 1,
        Pdu::RouterKey { .. } => 2,
        Pdu::Aspa { .. } => 3,
        _ => 9,
    };
    for w in pdus.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if rank(a) > rank(b) {
            return Err(format!("type order: {a:?} before {b:?}"));
        }
        let ok = match (a, b) {
            (
                Pdu::Ipv4Prefix { announce: x, prefix_len: l1, max_len: m1, addr: a1, asn: s1, .. },
                Pdu::Ipv4Prefix { announce: y, prefix_len: l2, max_len: m2, addr: a2, asn: s2, .. },
            ) => match (x, y) {
                (true, true) => (a1, m1, l1, s1) > (a2, m2, l2, s2),
                (false, false) => (a1, m1, l1, s1) < (a2, m2, l2, s2),
                (true, false) => true,
                (false, true) => false,
            },
            (Pdu::Aspa { announce: false, .. }, Pdu::Aspa { announce: true, .. }) => false,
            _ => true,
        };
        if !ok {
            return Err(format!("order: {a:?} before {b:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// PIT-29: diff(S1, S2) applied to S1 is S2; no item twice; RTR-20 order;
    /// nothing announced that S1 had or withdrawn that it lacked.
    #[test]
    fn pit_29_diff_applied_gives_the_new_set(s1 in arb_snapshot(), s2 in arb_snapshot()) {
        let d = Diff::between(&s1, &s2);
        prop_assert_eq!(s1.apply(&d), s2.clone());
        prop_assert_eq!(d.is_empty(), s1 == s2);
        for a in &d.v4_add { prop_assert!(s1.v4.binary_search(a).is_err()); }
        for w in &d.v4_del { prop_assert!(s2.v4.binary_search(w).is_err()); }
        let pdus = encode(diff_items(leak(d.clone()), 2), 2);
        prop_assert_eq!(pdus.len(), d.len_for(2));
        check_order(&pdus).map_err(TestCaseError::fail)?;
        let full = encode(full_items(leak(s2.clone()), 2), 2);
        prop_assert_eq!(full.len(), s2.vrp_count() + s2.keys.len() + s2.aspas.len());
        check_order(&full).map_err(TestCaseError::fail)?;
    }

    /// RTR-5: a change composed along the history equals the direct one (minimal:
    /// whatever was added and removed again is absent).
    #[test]
    fn rtr_5_composed_history_equals_the_direct_diff(s1 in arb_snapshot(), s2 in arb_snapshot(), s3 in arb_snapshot()) {
        let composed = Diff::between(&s1, &s2).then(&Diff::between(&s2, &s3));
        prop_assert_eq!(composed, Diff::between(&s1, &s3));
    }
}

#[test]
fn rtr_20_golden_order_of_a_mixed_answer() {
    let keep = v4(0x0a000000, 8, 8, 1);
    let s1 = snapshot(&[keep, v4(0xc0000200, 24, 24, 64496), v4(0x0a000000, 8, 8, 0)], &[], &[], &[(64496, &[64500]), (64497, &[64500])]);
    let s2 = snapshot(
        &[keep, v4(0xc0000200, 24, 24, 0), v4(0xc0000200, 24, 24, 64497), v4(0xc6336400, 24, 24, 64512), v4(0x01000000, 8, 8, 64496)],
        &[V6 { addr: 0x20010db8 << 96, len: 32, max_len: 48, asn: 64497 }],
        &[],
        &[(64496, &[64500, 64501]), (64498, &[64502])],
    );
    let d = Diff::between(&s1, &s2);
    let got: Vec<String> = encode(diff_items(leak(d), 2), 2)
        .iter()
        .map(|p| match p {
            Pdu::Ipv4Prefix { announce, addr, prefix_len, max_len, asn, .. } => {
                format!("{} {}/{prefix_len}-{max_len} AS{asn}", if *announce { "+" } else { "-" }, std::net::Ipv4Addr::from(*addr))
            }
            Pdu::Ipv6Prefix { announce, addr, prefix_len, max_len, asn, .. } => {
                format!("{} {}/{prefix_len}-{max_len} AS{asn}", if *announce { "+" } else { "-" }, std::net::Ipv6Addr::from(*addr))
            }
            Pdu::Aspa { announce, customer, providers, .. } => {
                format!("{} ASPA AS{customer} {providers:?}", if *announce { "+" } else { "-" })
            }
            p => format!("{p:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            // Announcements by descending address, maxLength, length, ASN (AS0 last) ...
            "+ 198.51.100.0/24-24 AS64512",
            "+ 192.0.2.0/24-24 AS64497",
            "+ 192.0.2.0/24-24 AS0",
            "+ 1.0.0.0/8-8 AS64496",
            // ... then withdrawals ascending (AS0 first).
            "- 10.0.0.0/8-8 AS0",
            "- 192.0.2.0/24-24 AS64496",
            "+ 2001:db8::/32-48 AS64497",
            // RTR-10: a changed provider list is one announcement; a gone customer one withdrawal.
            "+ ASPA AS64496 [64500, 64501]",
            "+ ASPA AS64498 [64502]",
            "- ASPA AS64497 []",
        ]
    );
}

#[test]
fn rtr_15_a_v0_answer_carries_prefixes_only() {
    let key = Key { ski: [1; 20], spki: Arc::from(vec![0x30, 0]), asn: 65000 };
    let s1 = snapshot(&[v4(0x0a000000, 8, 8, 1)], &[], &[], &[]);
    let s2 = snapshot(&[v4(0x0a000000, 8, 8, 1)], &[], &[key], &[(1, &[2])]);
    let d = leak(Diff::between(&s1, &s2));
    assert!(encode(diff_items(d, 0), 0).is_empty(), "v0 sees no change");
    assert_eq!(encode(diff_items(d, 1), 1).len(), 1, "v1 sees the router key");
    assert_eq!(encode(diff_items(d, 2), 2).len(), 2, "v2 sees the key and the ASPA");
    let s2 = leak(s2);
    assert_eq!(encode(full_items(s2, 0), 0).len(), 1);
    assert!(matches!(encode(full_items(s2, 1), 1)[1], Pdu::RouterKey { version: 1, .. }));
}

#[test]
fn rtr_4_rtr_5_history_across_the_serial_wrap() {
    let mut cache = Cache::new(3, Timers::default()).starting_at(u32::MAX - 1);
    let a = v4(0x0a000000, 8, 8, 1);
    let b = v4(0x0b000000, 8, 8, 2);
    let c = v4(0x0c000000, 8, 8, 3);
    let s0 = cache.update(snapshot(&[a], &[], &[], &[])).unwrap();
    assert_eq!(s0.serial, u32::MAX - 1);
    assert!(cache.update(snapshot(&[a], &[], &[], &[])).is_none(), "no change, no new serial");
    let s1 = cache.update(snapshot(&[a, b], &[], &[], &[])).unwrap();
    let s2 = cache.update(snapshot(&[a, c], &[], &[], &[])).unwrap();
    assert_eq!((s1.serial, s2.serial), (u32::MAX, 0), "the serial wraps");
    assert!(serial_lt(s1.serial, s2.serial) && serial_lt(u32::MAX - 1, 0) && !serial_lt(0, u32::MAX));
    assert_eq!(s2.session(1), s0.session(1), "one session per start");
    assert_ne!(s2.session(0), s2.session(1), "not shared across versions");
    // From the first serial: b came and went, so only c is new (minimal).
    let d = s2.diff_from(u32::MAX - 1).unwrap();
    assert_eq!((d.v4_add.as_slice(), d.v4_del.as_slice()), (&[c][..], &[][..]));
    let d = s2.diff_from(u32::MAX).unwrap();
    assert_eq!((d.v4_add.as_slice(), d.v4_del.as_slice()), (&[c][..], &[b][..]));
    // Only `keep` serials are kept.
    let s3 = cache.update(snapshot(&[a], &[], &[], &[])).unwrap();
    let s4 = cache.update(snapshot(&[b], &[], &[], &[])).unwrap();
    assert_eq!(s3.history.len(), 3);
    assert!(s4.diff_from(u32::MAX - 1).is_none(), "too old: Cache Reset");
    assert!(s4.diff_from(s1.serial).is_some());
}

#[test]
fn rtr_7_rtr_24_the_same_vrp_from_two_tas_is_one_payload() {
    use rpkit_objects::der::Time;
    use rpkit_objects::resources::{Afi, Asn, Prefix};
    use rpkit_objects::route_origin::RouteOrigin;
    use rpkit_validator::report::{AspaPayload, Report, Vrp};
    let vrp = |ta: &str| Vrp {
        origin: RouteOrigin { prefix: Prefix::new(Afi::Ipv4, 0x0a000000, 8).unwrap(), max_length: 16, asn: Asn(64496) },
        ta: ta.into(),
        expires: Time(0),
    };
    let aspa = |ta: &str, p: Vec<u32>| AspaPayload { customer: 64496, providers: p, ta: ta.into(), expires: Time(0) };
    let r = Report { vrps: vec![vrp("a"), vrp("b")], aspas: vec![aspa("a", vec![1, 3]), aspa("b", vec![2, 3])], ..Report::default() };
    let s = Snapshot::from_report(&r);
    assert_eq!(s.v4, [v4(0x0a000000, 8, 16, 64496)]);
    let want: BTreeMap<u32, Arc<[u32]>> = BTreeMap::from([(64496, Arc::from(vec![1, 2, 3]))]);
    assert_eq!(s.aspas, want, "one ASPA per customer, the union of providers (ASPA-6)");
}
