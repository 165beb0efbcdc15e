//! Hostile bytes never panic (PIT-1, CHECKLIST 7.1): truncations, over-long
//! lengths, BER, wrong tags, huge integers, empty bit strings, and mutations of
//! real objects fed to every decoder.

mod common;

use proptest::prelude::*;
use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::cert::Cert;
use rpkit_objects::crl::Crl;
use rpkit_objects::manifest::{Manifest, ManifestContent};
use rpkit_objects::object::Object;
use rpkit_objects::roa::{Roa, RoaContent};
use rpkit_objects::signed_object::SignedObject;
use rpkit_objects::tal::Tal;

/// Every decoder on the same bytes; each must return, Ok or Err.
fn all_decoders(b: &[u8]) -> usize {
    let mut ok = 0;
    ok += Cert::decode(b).is_ok() as usize;
    ok += Crl::decode(b).is_ok() as usize;
    ok += SignedObject::decode(b).map(|s| s.verify_signature().is_ok()).is_ok() as usize;
    ok += Roa::decode(b).is_ok() as usize;
    ok += Manifest::decode(b).is_ok() as usize;
    ok += Aspa::decode(b).is_ok() as usize;
    ok += Tal::parse(b).is_ok() as usize;
    ok += Object::decode(b).map(|o| rpkit_objects::json::object(&o)).is_ok() as usize;
    ok += RoaContent::decode(b, &mut Vec::new()).is_ok() as usize;
    ok += ManifestContent::decode(b).is_ok() as usize;
    ok += AspaContent::decode(b).is_ok() as usize;
    ok += rpkit_objects::rfc8181::Query::decode(b).is_ok() as usize;
    ok += rpkit_objects::rfc8181::Reply::decode(b).is_ok() as usize;
    ok
}

/// Seeds: real objects of every type from the corpus.
fn seeds() -> Vec<Vec<u8>> {
    [
        "rpki-rs/repository/ta.cer",
        "rpki-rs/repository/ca1.cer",
        "rpki-rs/repository/router.cer",
        "rpki-rs/repository/ta.crl",
        "rpki-rs/repository/ripe.tal",
        "rpki-commons/conformance/root.cer",
        "rpki-commons/conformance/root/root.crl",
        "rpki-commons/conformance/root/root.mft",
        "rpki-commons/conformance/root/goodROANothingWrong.roa",
        "rpki-commons/interop/aspa/GOOD-profile-15-draft-ietf-sidrops-profile-15-sample.asa",
    ]
    .iter()
    .map(|p| common::corpus_file(p))
    .collect()
}

#[test]
fn pit_1_specific_hostile_encodings() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x30],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        vec![0x30, 0x80, 0x00, 0x00],
        vec![0x30, 0x81, 0x05, 0, 0, 0, 0, 0],
        vec![0x1f, 0x81, 0x01, 0x00],
        vec![0x30, 0x03, 0x03, 0x00, 0x00],
        vec![0x30, 0x02, 0x03, 0x00],
        [vec![0x30, 0x82, 0x01, 0x04, 0x02, 0x82, 0x01, 0x00], vec![0xff; 256]].concat(),
        vec![0x30, 0x04, 0x06, 0x02, 0x80, 0x80],
        vec![0x30, 0x05, 0x06, 0x03, 0x2a, 0xff, 0xff],
        b"#\n\n".to_vec(),
        b"rsync://x/ta.cer\n\n!!!!\n".to_vec(),
        b"rsync://x/ta.cer\n\nMIIB\n".to_vec(),
        vec![0x30; 100_000],
    ];
    for c in &cases {
        assert_eq!(all_decoders(c), 0, "{c:02x?}");
    }
    // Deep nesting is bounded, not recursive without end.
    let mut deep = vec![0x05, 0x00];
    for _ in 0..200 {
        deep = rpkit_objects::der::sequence(&[&deep]);
    }
    assert_eq!(all_decoders(&deep), 0);
}

#[test]
fn pit_1_every_truncation_of_real_objects() {
    for s in seeds() {
        for cut in (0..s.len()).step_by(7) {
            all_decoders(&s[..cut]);
        }
        let mut trailing = s.clone();
        trailing.push(0);
        if !s.starts_with(b"rsync") && !s.starts_with(b"https") && !s.starts_with(b"#") {
            assert!(Object::decode(&trailing).is_err(), "trailing byte accepted (PIT-2)");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Random byte edits of real objects: flips, overwrites, insertions, deletions.
    #[test]
    fn pit_1_mutated_corpus_objects(which in 0usize..10, edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..6)) {
        let seeds = seeds();
        let mut b = seeds[which % seeds.len()].clone();
        for (pos, byte, op) in edits {
            if b.is_empty() { break; }
            let i = pos % b.len();
            match op {
                0 => b[i] ^= 1 << (byte % 8),
                1 => b[i] = byte,
                2 => b.insert(i, byte),
                _ => { b.remove(i); }
            }
        }
        all_decoders(&b);
    }

    #[test]
    fn pit_1_random_bytes(b in prop::collection::vec(any::<u8>(), 0..512)) {
        all_decoders(&b);
    }
}
