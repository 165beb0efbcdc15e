//! RFC 3779 resources: the encoding vectors of CHECKLIST 2.4 and property tests of
//! the canonical form and set algebra (RES-1 .. RES-11).

use proptest::prelude::*;
use rpkit_objects::der::{self, Reader, Tag};
use rpkit_objects::resources::{Afi, AsBlocks, Asn, CertResources, IpBlocks, Prefix, RangeSet, ResourceSet};
use std::str::FromStr;

fn hex(s: &str) -> Vec<u8> {
    rpkit_objects::hex::decode(&s.replace(' ', "")).unwrap()
}

fn decode_v4(elements: &[u8]) -> rpkit_objects::Result<IpBlocks> {
    IpBlocks::decode_elements(Afi::Ipv4, &mut Reader::new(elements), 1000)
}

#[test]
fn res_4_prefix_bit_string_vectors() {
    for (p, enc) in [
        ("0.0.0.0/0", "03 01 00"),
        ("10.0.0.0/8", "03 02 00 0a"),
        ("10.64.0.0/12", "03 03 04 0a 40"),
        ("10.5.0.0/23", "03 04 01 0a 05 00"),
        ("2001:db8::/32", "03 05 00 20 01 0d b8"),
    ] {
        let prefix = Prefix::from_str(p).unwrap();
        assert_eq!(prefix.to_bit_string(), hex(enc), "{p}");
        let b = IpBlocks::decode_elements(prefix.afi, &mut Reader::new(&hex(enc)), 10).unwrap();
        assert_eq!(b.to_strings(), [p]);
    }
}

#[test]
fn res_4_nonzero_padding_or_long_prefix_rejected() {
    // 10.64.0.0/12 with a bit set beyond /12.
    assert!(decode_v4(&hex("03 03 04 0a 48")).is_err());
    // 33 bits for IPv4.
    assert!(decode_v4(&hex("03 06 07 0a 00 00 00 80")).is_err());
}

#[test]
fn res_5_range_vector() {
    let set: ResourceSet = "10.5.0.0-10.5.2.255".parse().unwrap();
    let enc = set.ipv4.encode_elements();
    assert_eq!(enc, hex("30 0b 03 03 00 0a 05 03 04 00 0a 05 02"));
    assert_eq!(decode_v4(&enc).unwrap(), set.ipv4);
    // min above max
    assert!(decode_v4(&hex("30 0b 03 03 00 0a 06 03 04 00 0a 05 02")).is_err());
}

#[test]
fn res_3_range_that_is_a_prefix_rejected() {
    // 10.0.0.0 - 10.0.0.255 must be the prefix 10.0.0.0/24.
    let e = decode_v4(&hex("30 0a 03 02 00 0a 03 04 00 0a 00 00")).unwrap_err();
    assert_eq!(e.rule, "RES-3");
}

#[test]
fn res_2_adjacent_blocks_rejected_and_merged_by_encoder() {
    let two = [Prefix::from_str("10.0.0.0/24").unwrap().to_bit_string(), Prefix::from_str("10.0.1.0/24").unwrap().to_bit_string()].concat();
    assert_eq!(decode_v4(&two).unwrap_err().rule, "RES-2");
    let set: ResourceSet = "10.0.0.0/24, 10.0.1.0/24".parse().unwrap();
    assert_eq!(set.ipv4.to_strings(), ["10.0.0.0/23"]);
    let rev = [Prefix::from_str("10.0.2.0/24").unwrap().to_bit_string(), Prefix::from_str("10.0.0.0/24").unwrap().to_bit_string()].concat();
    assert_eq!(decode_v4(&rev).unwrap_err().rule, "RES-2");
}

#[test]
fn res_1_family_order_and_safi() {
    let v6 = der::sequence(&[&der::octet_string(&[0, 2]), &der::null()]);
    let v4 = der::sequence(&[&der::octet_string(&[0, 1]), &der::null()]);
    let mut r = CertResources::default();
    assert_eq!(r.decode_ip_extension(&der::sequence(&[&v6, &v4])).unwrap_err().rule, "RES-1");
    let mut r = CertResources::default();
    assert_eq!(r.decode_ip_extension(&der::sequence(&[&v4, &v4])).unwrap_err().rule, "RES-1");
    let safi = der::sequence(&[&der::octet_string(&[0, 1, 1]), &der::null()]);
    let mut r = CertResources::default();
    assert_eq!(r.decode_ip_extension(&der::sequence(&[&safi])).unwrap_err().rule, "CERT-20");
    let empty = der::sequence(&[&der::octet_string(&[0, 1]), &der::tlv(Tag::SEQUENCE, &[])]);
    let mut r = CertResources::default();
    assert_eq!(r.decode_ip_extension(&der::sequence(&[&empty])).unwrap_err().rule, "CERT-20");
}

#[test]
fn res_7_as_identifiers() {
    let set: ResourceSet = "AS64496, AS64497, AS65000-AS65010".parse().unwrap();
    let cr = CertResources { asn: Some(rpkit_objects::resources::Choice::Blocks(set.asn.clone())), ..Default::default() };
    let enc = cr.encode_as_extension().unwrap();
    let mut back = CertResources::default();
    back.decode_as_extension(&enc).unwrap();
    assert_eq!(back, cr);
    assert_eq!(set.asn.to_strings(), ["AS64496-AS64497", "AS65000-AS65010"]);
    // A range with min = max must be an id.
    let bad =
        der::sequence(&[&der::tlv(Tag::ctx_cons(0), &der::sequence(&[&der::sequence(&[&der::integer_u64(5), &der::integer_u64(5)])]))]);
    assert_eq!(CertResources::default().decode_as_extension(&bad).unwrap_err().rule, "RES-7");
    // rdi is forbidden.
    let rdi = der::sequence(&[&der::tlv(Tag::ctx_cons(0), &der::null()), &der::tlv(Tag::ctx_cons(1), &der::null())]);
    assert_eq!(CertResources::default().decode_as_extension(&rdi).unwrap_err().rule, "CERT-20");
    // 2^32 is not an AS number.
    let big = der::sequence(&[&der::tlv(Tag::ctx_cons(0), &der::sequence(&[&der::integer_u64(1 << 32)]))]);
    assert!(CertResources::default().decode_as_extension(&big).is_err());
}

#[test]
fn text_forms() {
    assert_eq!(Asn::from_str("AS64496").unwrap(), Asn(64496));
    assert_eq!(Asn::from_str("4294967295").unwrap(), Asn(u32::MAX));
    assert!(Asn::from_str("AS4294967296").is_err());
    assert!(Asn::from_str("AS-1").is_err());
    assert!(Asn::from_str("AS").is_err());
    assert!(Prefix::from_str("192.0.2.1/24").is_err(), "host bits set");
    assert!(Prefix::from_str("192.0.2.0/33").is_err());
    let s: ResourceSet = "AS64496-AS64511, 192.0.2.0/24, 2001:db8::/32, 10.0.0.0-10.0.2.255".parse().unwrap();
    assert_eq!(s.to_string(), "AS64496-AS64511, 10.0.0.0-10.0.2.255, 192.0.2.0/24, 2001:db8::/32");
    assert_eq!(s.to_string().parse::<ResourceSet>().unwrap(), s);
    assert_eq!(s.ipv4.to_prefixes().iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.0.0.0/23", "10.0.2.0/24", "192.0.2.0/24"]);
}

#[test]
fn res_11_whole_space_containment_works_on_ranges() {
    // Containment runs on ranges, never on expanded addresses or ASNs.
    let all = ResourceSet::all();
    assert!(all.contains(&all));
    assert!(all.contains(&"AS0-AS4294967295, 0.0.0.0/0".parse().unwrap()));
    assert!(!ResourceSet::empty().contains(&all));
    assert_eq!(all.ipv6.set.ranges(), [(0, u128::MAX)]);
}

fn v4_ranges() -> impl Strategy<Value = Vec<(u32, u32)>> {
    prop::collection::vec((any::<u32>(), 0u32..5000).prop_map(|(a, len)| (a, a.saturating_add(len))), 0..12)
}

fn set_of(r: &[(u32, u32)]) -> RangeSet<u128> {
    RangeSet::from_ranges(r.iter().map(|(a, b)| (*a as u128, *b as u128)))
}

proptest! {
    /// RES-9: normalize, encode, decode gives the same set; the encoding does not
    /// depend on the input order.
    #[test]
    fn res_9_canonical_encode_decode(ranges in v4_ranges(), seed in any::<u64>()) {
        let b = IpBlocks { afi: Afi::Ipv4, set: set_of(&ranges) };
        let enc = b.encode_elements();
        let back = decode_v4(&enc).unwrap();
        prop_assert_eq!(&back, &b);
        let mut shuffled = ranges.clone();
        let n = shuffled.len().max(1);
        shuffled.rotate_left((seed as usize) % n);
        shuffled.reverse();
        prop_assert_eq!(IpBlocks { afi: Afi::Ipv4, set: set_of(&shuffled) }.encode_elements(), enc);
        // The minimal prefix list covers exactly the same set.
        let ps = b.to_prefixes();
        prop_assert_eq!(IpBlocks::from_prefixes(Afi::Ipv4, ps.iter()), b);
    }

    #[test]
    fn set_algebra_laws(a in v4_ranges(), b in v4_ranges(), probe in any::<u32>()) {
        let (a, b) = (set_of(&a), set_of(&b));
        let p = probe as u128;
        let u = a.union(&b);
        let i = a.intersection(&b);
        let d = a.difference(&b);
        prop_assert_eq!(&u, &b.union(&a));
        prop_assert_eq!(&i, &b.intersection(&a));
        prop_assert!(u.contains(&a) && u.contains(&b));
        prop_assert!(a.contains(&i) && b.contains(&i));
        prop_assert!(a.contains(&d));
        prop_assert!(!d.intersects(&b));
        prop_assert_eq!(&d.union(&i), &a);
        prop_assert_eq!(u.contains_value(p), a.contains_value(p) || b.contains_value(p));
        prop_assert_eq!(i.contains_value(p), a.contains_value(p) && b.contains_value(p));
        prop_assert_eq!(d.contains_value(p), a.contains_value(p) && !b.contains_value(p));
        // Canonical: sorted, disjoint, non-adjacent.
        for s in [&u, &i, &d] {
            prop_assert!(RangeSet::from_canonical(s.ranges().to_vec()).is_some());
        }
    }

    #[test]
    fn as_blocks_encode_decode(ranges in prop::collection::vec((any::<u32>(), 0u32..100), 0..10)) {
        let b = AsBlocks::from_ranges(ranges.iter().map(|(a, l)| (*a, a.saturating_add(*l))));
        let enc = b.encode_elements();
        let back = AsBlocks::decode_elements(&mut Reader::new(&enc), 1000).unwrap();
        prop_assert_eq!(back, b);
    }

    #[test]
    fn ipv6_prefix_text_round_trip(addr in any::<u128>(), len in 0u8..=128) {
        let mask = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
        let p = Prefix::new(Afi::Ipv6, addr & mask, len).unwrap();
        prop_assert_eq!(Prefix::from_str(&p.to_string()).unwrap(), p);
        let b = IpBlocks::from_prefixes(Afi::Ipv6, [&p]);
        let back = IpBlocks::decode_elements(Afi::Ipv6, &mut Reader::new(&b.encode_elements()), 10).unwrap();
        prop_assert_eq!(back, b);
    }
}
