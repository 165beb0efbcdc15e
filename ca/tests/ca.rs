//! The hosted CA end to end in process: trust anchor, members, ROAs, ASPAs, the
//! published repository checked top-down by our code and by the `rpki` crate.

mod repo_check;

use rpkit_ca::contract::{AspaSpec, RoaDelta};
use rpkit_ca::{CaConfig, CaError};
use rpkit_objects::der::Time;
use std::collections::{BTreeMap, BTreeSet};

use repo_check::{res, roas, Env, RIR};

#[test]
fn ta_rir_and_members_chain_and_hold_their_allocations() {
    ta_rir_and_members_chain_and_hold_their_allocations_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn ta_rir_and_members_chain_and_hold_their_allocations_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_ta_rir_and_members_chain_and_hold_their_", CaConfig::default()) {
        ta_rir_and_members_chain_and_hold_their_allocations_on(e);
    }
}

fn ta_rir_and_members_chain_and_hold_their_allocations_on(e: Env) {
    let tal = e.ca.init(&res(RIR)).unwrap();
    assert_eq!(tal.uris, ["https://rpki.test/repo/ta.cer", "rsync://rpki.test/repo/ta.cer"]);
    assert!(matches!(e.ca.init(&res(RIR)), Err(CaError::Conflict(_))));
    e.ca.add_member("isp-a", &res("AS64500, 10.1.0.0/16, 2001:db8:1::/48"), None).unwrap();
    e.ca.add_member("isp-b", &res("AS64501, 192.0.2.0/25"), Some("4711")).unwrap();
    let w = e.walk();
    assert_eq!(w.cas["ta"], res(RIR));
    assert_eq!(w.cas["rir"], res(RIR));
    assert_eq!(w.cas["isp-a"], res("AS64500, 10.1.0.0/16, 2001:db8:1::/48"));
    assert_eq!(w.cas["isp-b"], res("AS64501, 192.0.2.0/25"));
    let m = e.ca.member("isp-b").unwrap();
    assert_eq!(m.opaque_id.as_deref(), Some("4711"));
    assert_eq!(m.resources.ipv4, ["192.0.2.0/25"]);
    assert_eq!(m.publication_point, "rsync://rpki.test/repo/isp-b/");
}

#[test]
fn roas_and_aspas_are_issued_checked_and_withdrawn() {
    roas_and_aspas_are_issued_checked_and_withdrawn_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn roas_and_aspas_are_issued_checked_and_withdrawn_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_roas_and_aspas_are_issued_checked_and_wi", CaConfig::default()) {
        roas_and_aspas_are_issued_checked_and_withdrawn_on(e);
    }
}

fn roas_and_aspas_are_issued_checked_and_withdrawn_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500-AS64510, 10.1.0.0/16, 2001:db8:1::/48"), None).unwrap();
    let r = e.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500\n10.1.2.0/24 AS0\n2001:db8:1::/48 AS64501"), false).unwrap();
    assert_eq!(r.added.len(), 3);
    // Idempotent: the same authorization again changes nothing.
    let again = e.ca.apply_roas("isp", &roas("10.1.2.0/24 AS0"), false).unwrap();
    assert_eq!((again.added.len(), again.unchanged.len()), (0, 1));
    e.ca.put_aspa("isp", &AspaSpec { customer: 64500, providers: vec![65001, 64999] }).unwrap();
    let w = e.walk();
    assert!(w.roa_prefixes.values().all(|n| *n == 1), "one prefix per ROA (RFC 9455)");
    let want: Vec<&str> = vec!["10.1.0.0/16-24 AS64500", "10.1.2.0/24-24 AS0", "2001:db8:1::/48-48 AS64501"];
    assert_eq!(w.vrps.iter().map(String::as_str).collect::<Vec<_>>(), want);
    assert_eq!(w.aspas[&64500], [64999, 65001]);
    let listed: Vec<String> = e.ca.roas("isp").unwrap().iter().map(|r| format!("{}-{} AS{}", r.prefix, r.max_length, r.asn)).collect();
    assert_eq!(listed, want);

    // Remove one ROA: it is withdrawn and its EE serial is on the CRL (ROA-5 of the issue).
    let before = e.publisher.snapshot();
    e.ca.apply_roas("isp", &roas("-10.1.2.0/24 AS0"), false).unwrap();
    let w = e.walk();
    assert_eq!(w.vrps.len(), 2);
    let after = e.publisher.snapshot();
    let gone: Vec<&String> = before.keys().filter(|u| !after.contains_key(*u)).collect();
    assert_eq!(gone.len(), 1);
    let old = rpkit_objects::roa::Roa::decode(&before[gone[0]]).unwrap();
    let crl_uri = after.keys().find(|u| u.starts_with("rsync://rpki.test/repo/isp/") && u.ends_with(".crl")).unwrap();
    let crl = rpkit_objects::crl::Crl::decode(&after[crl_uri]).unwrap();
    assert!(crl.is_revoked(&old.signed.ee.serial), "removed ROA's EE is revoked");

    // Replace the ASPA: new object, old one revoked (ASPA-8); then remove it.
    e.ca.put_aspa("isp", &AspaSpec { customer: 64500, providers: vec![65002] }).unwrap();
    assert_eq!(e.walk().aspas[&64500], [65002]);
    e.ca.remove_aspa("isp", 64500).unwrap();
    assert!(e.walk().aspas.is_empty());
    assert!(matches!(e.ca.remove_aspa("isp", 64500), Err(CaError::NotFound(_))));
}

/// ROA-10: above the threshold a member's ROAs hold the prefixes of one ASN,
/// a change re-issues only the objects it touches, and below the lower
/// threshold it goes back to one prefix per ROA. Every state validates.
#[test]
fn roa_10_many_roas_are_packed_per_asn_and_every_change_validates() {
    let cfg = CaConfig { roa_aggregate_threshold: 10, roa_deaggregate_threshold: 8, roa_max_prefixes: 4, ..CaConfig::default() };
    roa_10_many_roas_are_packed_per_asn_and_every_change_validates_on(Env::with_config(None, cfg));
}

#[test]
fn roa_10_many_roas_are_packed_per_asn_and_every_change_validates_on_postgresql() {
    let cfg = CaConfig { roa_aggregate_threshold: 10, roa_deaggregate_threshold: 8, roa_max_prefixes: 4, ..CaConfig::default() };
    if let Some(e) = Env::on_postgres("ca_roa_10_many_roas_are_packed_per_asn_and_", cfg) {
        roa_10_many_roas_are_packed_per_asn_and_every_change_validates_on(e);
    }
}

fn roa_10_many_roas_are_packed_per_asn_and_every_change_validates_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500, 10.1.0.0/16, 2001:db8:1::/48"), None).unwrap();
    let line = |i: u32, asn: u32| format!("10.1.{i}.0/24 AS{asn}\n");
    let vrp = |i: u32, asn: u32| format!("10.1.{i}.0/24-24 AS{asn}");
    let mut want: BTreeSet<String> = BTreeSet::new();
    let check = |want: &BTreeSet<String>| {
        let w = e.walk();
        assert_eq!(&w.vrps, want);
        let listed: BTreeSet<String> =
            e.ca.roas("isp").unwrap().iter().map(|r| format!("{}-{} AS{}", r.prefix, r.max_length, r.asn)).collect();
        assert_eq!(&listed, want);
        w.roa_prefixes
    };
    // Nine: one prefix each.
    let nine: String = (0..6).map(|i| line(i, 64500)).chain((6..9).map(|i| line(i, 64501))).collect();
    e.ca.apply_roas("isp", &roas(&nine), false).unwrap();
    want.extend((0..6).map(|i| vrp(i, 64500)).chain((6..9).map(|i| vrp(i, 64501))));
    assert_eq!(check(&want).values().copied().collect::<Vec<_>>(), [1; 9]);
    // Twelve (one of them IPv6): packed, AS64500's 7 in 4 + 3, AS64501's 5 in 4 + 1.
    let more = format!("{}{}2001:db8:1::/48 AS64500\n", line(9, 64501), line(10, 64501));
    e.ca.apply_roas("isp", &roas(&more), false).unwrap();
    want.extend([vrp(9, 64501), vrp(10, 64501), "2001:db8:1::/48-48 AS64500".to_string()]);
    let mut sizes: Vec<usize> = check(&want).into_values().collect();
    sizes.sort();
    assert_eq!(sizes, [1, 3, 4, 4]);
    // One listed ROA names the object that holds it, shared with others.
    let listed = e.ca.roas("isp").unwrap();
    let uri = &listed.iter().find(|r| r.prefix == "10.1.0.0/24").unwrap().uri;
    assert_eq!(listed.iter().filter(|r| &r.uri == uri).count(), 4);
    // Removing one re-issues its object only; the CRL lists the old one.
    let before = e.publisher.snapshot();
    e.ca.apply_roas("isp", &roas("-10.1.0.0/24 AS64500"), false).unwrap();
    want.remove(&vrp(0, 64500));
    check(&want);
    let after = e.publisher.snapshot();
    let roa_uris = |m: &BTreeMap<String, Vec<u8>>| m.keys().filter(|u| u.ends_with(".roa")).cloned().collect::<BTreeSet<_>>();
    let (old, new) = (roa_uris(&before), roa_uris(&after));
    assert_eq!(old.difference(&new).collect::<Vec<_>>(), [uri]);
    assert_eq!(new.difference(&old).count(), 1);
    for u in old.intersection(&new) {
        assert_eq!(before[u], after[u], "{u} untouched");
    }
    let crl_uri = after.keys().find(|u| u.starts_with("rsync://rpki.test/repo/isp/") && u.ends_with(".crl")).unwrap();
    let old_roa = rpkit_objects::roa::Roa::decode(&before[uri]).unwrap();
    assert!(rpkit_objects::crl::Crl::decode(&after[crl_uri]).unwrap().is_revoked(&old_roa.signed.ee.serial));
    // A shrunk allocation withdraws what lies outside it, reported one by one.
    let changed = e.ca.set_member_resources("isp", &res("AS64500, 10.1.0.0/21, 2001:db8:1::/48")).unwrap().unwrap();
    assert_eq!(changed.withdrawn, ["ROA 10.1.8.0/24-24 AS64501", "ROA 10.1.9.0/24-24 AS64501", "ROA 10.1.10.0/24-24 AS64501"]);
    for i in 8..11 {
        want.remove(&vrp(i, 64501));
    }
    // 8 left: still packed (hysteresis) ...
    assert_eq!(want.len(), 8);
    assert!(check(&want).len() < 8);
    // ... renewed as they are, object for object ...
    let (objects, before) = (check(&want), e.publisher.snapshot());
    *e.clock.lock().unwrap() = e.now().add_secs(340 * 86400);
    e.ca.reissue_due().unwrap();
    let renewed = check(&want);
    assert_eq!(renewed.len(), objects.len());
    assert!(renewed.keys().all(|u| !before.contains_key(u)), "every ROA object is a new one");
    // ... and at 7, one prefix per ROA again.
    e.ca.apply_roas("isp", &roas(&format!("-{}", line(1, 64500))), false).unwrap();
    want.remove(&vrp(1, 64500));
    assert_eq!(check(&want).values().copied().collect::<Vec<_>>(), [1; 7]);
}

/// MFT-20: a member at the ROA object limit, with 2,000 more entries (ASPAs, the CRL),
/// has a manifest that rpki-client still accepts. Names are as the CA makes them:
/// the 40 hex digits of a key identifier and a 3-letter extension.
#[test]
fn mft_20_a_full_member_manifest_stays_under_what_validators_accept() {
    use rpkit_ca::roas::MAX_ROA_OBJECTS_PER_CA;
    use rpkit_objects::limits::MAX_OBJECT_SIZE as MAX_PUBLISHED_OBJECT;
    use rpkit_objects::manifest::{FileAndHash, ManifestContent};
    let files = (0..MAX_ROA_OBJECTS_PER_CA + 2_000).map(|i| FileAndHash { file: format!("{i:040x}.roa"), hash: [0xa5; 32] }).collect();
    let now = Time::now();
    let content =
        ManifestContent { manifest_number: rpkit_objects::serial::Serial::from_u64(u64::MAX), this_update: now, next_update: now, files };
    // The signed object adds the EE certificate and the CMS structure: a few
    // kilobytes, bounded generously here.
    let size = content.encode().len() + 16 * 1024;
    assert!(size < MAX_PUBLISHED_OBJECT, "{size} octets");
    // And the limit is not far below what fits: another 10% would not.
    assert!(size * 11 / 10 > MAX_PUBLISHED_OBJECT, "{size} octets: the limit could be higher");
}

#[test]
fn bad_requests_change_nothing() {
    bad_requests_change_nothing_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn bad_requests_change_nothing_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_bad_requests_change_nothing", CaConfig::default()) {
        bad_requests_change_nothing_on(e);
    }
}

fn bad_requests_change_nothing_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500, 10.1.0.0/16, 2001:db8:1::/48"), None).unwrap();
    e.ca.apply_roas("isp", &roas("10.1.0.0/16 AS64500"), false).unwrap();
    let before = e.publisher.snapshot();
    let numbers = e.ca.numbers("isp").unwrap();
    let rejected = |lines: &str| match e.ca.apply_roas("isp", &roas(lines), false) {
        Err(CaError::Rejected(v)) => v.iter().map(|r| r.code.to_string()).collect::<Vec<_>>(),
        other => panic!("{lines}: {other:?}"),
    };
    assert_eq!(rejected("10.2.0.0/16 AS64500"), ["not_held"]);
    assert_eq!(rejected("10.1.0.0/16-15 AS64500"), ["bad_max_length"]);
    assert_eq!(rejected("10.1.0.0/16-33 AS64500"), ["bad_max_length"]);
    assert_eq!(rejected("2001:db8:1::/48-129 AS64500"), ["bad_max_length"]);
    assert_eq!(rejected("-10.1.0.0/16 AS64501"), ["not_found"]);
    // One bad entry in a delta: nothing applied.
    assert_eq!(rejected("10.1.1.0/24 AS64500\n10.9.0.0/16 AS64500\n-10.1.0.0/16 AS64500"), ["not_held"]);
    assert!(matches!(e.ca.apply_roas("nobody", &roas("10.1.0.0/16 AS1"), false), Err(CaError::NotFound(_))));
    // More ROA objects than a manifest may list (MFT-20) are refused before any
    // signing: one prefix each for as many ASNs cannot be packed.
    let lines = |n: usize, asns: usize| -> RoaDelta {
        let v: String = (0..n).map(|i| format!("10.1.{}.{}/32 AS{}\n", i / 256 % 256, i % 256, 64500 + i % asns)).collect();
        RoaDelta::parse_lines(&v).unwrap()
    };
    let objects = rpkit_ca::roas::MAX_ROA_OBJECTS_PER_CA;
    let too_many = |d: &RoaDelta| matches!(e.ca.apply_roas("isp", d, true), Err(CaError::Invalid { code: "too_many_roas", .. }));
    assert!(too_many(&lines(objects + 1, objects + 1)));
    assert!(!too_many(&lines(objects, objects)));
    // Packed by ASN, 65,536 fit: 132 objects.
    assert!(!too_many(&lines(65_536, 1)));
    // More authorizations than a member may hold.
    let v: String =
        (0..=rpkit_ca::roas::MAX_ROAS_PER_CA).map(|i| format!("10.1.{}.{}/32 AS{}\n", i / 256 % 256, i % 256, 64500 + i / 65536)).collect();
    assert!(too_many(&RoaDelta::parse_lines(&v).unwrap()));
    assert!(matches!(
        e.ca.put_aspa("isp", &AspaSpec { customer: 64999, providers: vec![1] }),
        Err(CaError::Invalid { code: "not_held", .. })
    ));
    assert!(matches!(
        e.ca.put_aspa("isp", &AspaSpec { customer: 64500, providers: vec![64500] }),
        Err(CaError::Invalid { code: "bad_aspa", .. })
    ));
    assert!(matches!(e.ca.add_member("x/y", &res("AS64502"), None), Err(CaError::Invalid { code: "bad_handle", .. })));
    assert!(matches!(e.ca.add_member("out", &res("11.0.0.0/8"), None), Err(CaError::Invalid { code: "not_held", .. })));
    assert!(matches!(e.ca.add_member("isp", &res("AS64503"), None), Err(CaError::Conflict(_))));
    // Dry run reports and changes nothing.
    let dry = e.ca.apply_roas("isp", &roas("10.1.1.0/24 AS64500\n-10.1.0.0/16 AS64500"), true).unwrap();
    assert_eq!((dry.added.len(), dry.removed.len(), dry.dry_run), (1, 1, true));
    assert_eq!(e.publisher.snapshot(), before);
    assert_eq!(e.ca.numbers("isp").unwrap(), numbers);
    assert_eq!(e.ca.roas("isp").unwrap().len(), 1);
}

#[test]
fn publisher_failure_mid_change_leaves_everything_as_before() {
    publisher_failure_mid_change_leaves_everything_as_before_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn publisher_failure_mid_change_leaves_everything_as_before_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_publisher_failure_mid_change_leaves_ever", CaConfig::default()) {
        publisher_failure_mid_change_leaves_everything_as_before_on(e);
    }
}

fn publisher_failure_mid_change_leaves_everything_as_before_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    let before = e.publisher.snapshot();
    let numbers = e.ca.numbers("isp").unwrap();
    e.publisher.fail_next();
    assert!(matches!(e.ca.apply_roas("isp", &roas("10.1.0.0/16 AS64500"), false), Err(CaError::Publish(_))));
    assert_eq!(e.publisher.snapshot(), before);
    assert_eq!(e.ca.published().unwrap(), before);
    assert_eq!(e.ca.numbers("isp").unwrap(), numbers);
    assert!(e.ca.roas("isp").unwrap().is_empty());
    e.publisher.fail_next();
    assert!(e.ca.add_member("isp2", &res("AS64501"), None).is_err());
    assert!(matches!(e.ca.member("isp2"), Err(CaError::NotFound(_))));
    // The next change goes through and the repository is whole.
    e.ca.apply_roas("isp", &roas("10.1.0.0/16 AS64500"), false).unwrap();
    assert_eq!(e.walk().vrps.len(), 1);
}

#[test]
fn numbers_increase_across_restarts_and_the_schedule_reissues() {
    let dir = std::env::temp_dir().join(format!("rpkit-ca-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (n1, published) = {
        let e = Env::new(Some(&dir));
        e.ca.init(&res(RIR)).unwrap();
        e.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
        e.ca.apply_roas("isp", &roas("10.1.0.0/16 AS64500"), false).unwrap();
        (e.ca.numbers("isp").unwrap(), e.publisher.snapshot())
    };
    // A new process: keys and state come back from the database; a fresh
    // (empty) publisher is brought up to date from it.
    let e = Env::new(Some(&dir));
    assert_eq!(e.publisher.snapshot(), published);
    e.ca.apply_roas("isp", &roas("10.1.1.0/24 AS64500"), false).unwrap();
    let n2 = e.ca.numbers("isp").unwrap();
    assert!(n2.0 > n1.0 && n2.1 > n1.1, "{n1:?} -> {n2:?}");
    assert_eq!(e.ca.reissue_due().unwrap(), 0, "nothing is due yet");
    // 17 hours later every manifest is within 8 hours of its nextUpdate.
    *e.clock.lock().unwrap() = e.now().add_secs(17 * 3600);
    assert_eq!(e.ca.reissue_due().unwrap(), 3);
    let n3 = e.ca.numbers("isp").unwrap();
    assert_eq!((n3.0, n3.1), (n2.0 + 1, n2.1 + 1));
    assert_eq!(e.walk().vrps.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn certificates_roas_and_aspas_are_renewed_before_they_expire() {
    certificates_roas_and_aspas_are_renewed_before_they_expire_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn certificates_roas_and_aspas_are_renewed_before_they_expire_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_certificates_roas_and_aspas_are_renewed_", CaConfig::default()) {
        certificates_roas_and_aspas_are_renewed_before_they_expire_on(e);
    }
}

fn certificates_roas_and_aspas_are_renewed_before_they_expire_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    e.ca.apply_roas("isp", &roas("10.1.0.0/16 AS64500"), false).unwrap();
    e.ca.put_aspa("isp", &AspaSpec { customer: 64500, providers: vec![65001] }).unwrap();
    let before = e.publisher.snapshot();
    // 340 days on, every certificate (valid for 365 days) is within 30 days of expiry.
    *e.clock.lock().unwrap() = e.now().add_secs(340 * 86400);
    assert_eq!(e.ca.reissue_due().unwrap(), 3);
    let after = e.publisher.snapshot();
    let w = e.walk();
    assert_eq!(w.vrps.iter().collect::<Vec<_>>(), ["10.1.0.0/16-16 AS64500"]);
    assert_eq!(w.aspas[&64500], [65001]);
    // Certificates keep their names (REPO-3); ROA and ASPA objects are new ones.
    let certs = |m: &BTreeMap<String, Vec<u8>>| m.keys().filter(|u| u.ends_with(".cer")).cloned().collect::<Vec<_>>();
    assert_eq!(certs(&before), certs(&after));
    for ext in [".roa", ".asa"] {
        let old: Vec<_> = before.keys().filter(|u| u.ends_with(ext)).collect();
        let new: Vec<_> = after.keys().filter(|u| u.ends_with(ext)).collect();
        assert_eq!((old.len(), new.len()), (1, 1));
        assert_ne!(old, new, "{ext} renewed as a new object");
    }
    let ta = rpkit_objects::cert::Cert::decode(&after["rsync://rpki.test/repo/ta.cer"]).unwrap();
    assert!(ta.not_after > e.now().add_secs(300 * 86400), "TA re-signed with the same key");
    assert_eq!(e.ca.reissue_due().unwrap(), 0, "nothing left to do");
}

#[test]
fn reimport_with_shrunk_allocation_reissues_and_withdraws() {
    reimport_with_shrunk_allocation_reissues_and_withdraws_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn reimport_with_shrunk_allocation_reissues_and_withdraws_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_reimport_with_shrunk_allocation_reissues", CaConfig::default()) {
        reimport_with_shrunk_allocation_reissues_and_withdraws_on(e);
    }
}

fn reimport_with_shrunk_allocation_reissues_and_withdraws_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    let v1 = "2.3|test|1|3|19870101|20260101|+0000
test|BR|ipv4|10.1.0.0|65536|20200101|allocated|100
test|BR|asn|64500|2|20200101|allocated|100
test|AR|ipv4|10.2.0.0|256|20200101|assigned|200
test|AR|ipv6|2001:db8:2::|48|20200101|allocated|300
";
    let r = e.ca.import_delegated(v1).unwrap();
    assert_eq!(r.added, ["100", "200", "300"]);
    e.ca.apply_roas("100", &roas("10.1.0.0/24 AS64500\n10.1.200.0/24 AS64501"), false).unwrap();
    let cert_uri = e.ca.member("100").unwrap().ca_certificate;
    let old_cert = e.publisher.get(&cert_uri).unwrap();
    // Member 100 shrinks to 10.1.0.0/17, member 300 is gone.
    let v2 = v1.replace("10.1.0.0|65536", "10.1.0.0|32768").replace("test|AR|ipv6|2001:db8:2::|48|20200101|allocated|300\n", "");
    let r = e.ca.import_delegated(&v2).unwrap();
    assert_eq!(r.removed, ["300"]);
    assert_eq!(r.unchanged, 1);
    assert_eq!(r.changed.len(), 1);
    assert_eq!(r.changed[0].removed, "10.1.128.0/17");
    assert_eq!(r.changed[0].withdrawn, ["ROA 10.1.200.0/24-24 AS64501"]);
    let w = e.walk();
    assert_eq!(w.vrps.iter().collect::<Vec<_>>(), ["10.1.0.0/24-24 AS64500"]);
    assert_eq!(w.cas["100"], res("AS64500-AS64501, 10.1.0.0/17"));
    assert!(!w.cas.contains_key("300"));
    // Same file name, new certificate; the old one is revoked on the RIR's CRL.
    let new_cert = e.publisher.get(&cert_uri).unwrap();
    assert_ne!(new_cert, old_cert);
    let old = rpkit_objects::cert::Cert::decode(&old_cert).unwrap();
    let repo = e.publisher.snapshot();
    let rir_crl = repo.iter().find(|(u, _)| u.starts_with("rsync://rpki.test/repo/rir/") && u.ends_with(".crl")).unwrap().1;
    assert!(rpkit_objects::crl::Crl::decode(rir_crl).unwrap().is_revoked(&old.serial));
    // A bad file changes nothing.
    let before = e.publisher.snapshot();
    assert!(matches!(e.ca.import_delegated("2|x|1|1|1|1|+0000\nx|BR|ipv4|10.1.0.x|256|1|allocated|100\n"), Err(CaError::Invalid { .. })));
    assert!(matches!(
        e.ca.import_delegated("2|x|1|1|1|1|+0000\nx|BR|ipv4|11.0.0.0|256|1|allocated|100\n"),
        Err(CaError::Invalid { code: "not_held", .. })
    ));
    assert_eq!(e.publisher.snapshot(), before);
}

#[test]
fn member_tokens_are_stored_hashed() {
    member_tokens_are_stored_hashed_on(Env::with_config(None, CaConfig::default()));
}

#[test]
fn member_tokens_are_stored_hashed_on_postgresql() {
    if let Some(e) = Env::on_postgres("ca_member_tokens_are_stored_hashed", CaConfig::default()) {
        member_tokens_are_stored_hashed_on(e);
    }
}

fn member_tokens_are_stored_hashed_on(e: Env) {
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500"), None).unwrap();
    let t = e.ca.create_token("isp").unwrap();
    assert_eq!(e.ca.member_for_token(&t).unwrap().as_deref(), Some("isp"));
    assert_eq!(e.ca.member_for_token("rpkit_wrong").unwrap(), None);
    assert!(e.ca.create_token("nobody").is_err());
}

/// Key pool across a clean restart: kept keys are claimed once, and a crash
/// (no save) can lose them but never hand one out twice (CMS-14).
#[test]
fn pooled_keys_survive_a_clean_restart_and_are_never_handed_out_twice() {
    let dir = std::env::temp_dir().join(format!("rpkit-ca-pool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let e = Env::new(Some(&dir));
    e.ca.init(&res(RIR)).unwrap();
    e.ca.fill_key_pool(e.ca.signer().pool_size() + 3).unwrap();
    let kept = e.ca.signer().pool_size();
    let keys: BTreeMap<Vec<u8>, ()> = {
        let taken = e.ca.signer().take_pool();
        let ids = taken.iter().map(|k| k.to_pkcs1().to_vec()).map(|k| (k, ())).collect();
        e.ca.signer().add_to_pool(taken);
        ids
    };
    assert_eq!(e.ca.save_key_pool().unwrap(), kept);
    assert_eq!(e.ca.signer().pool_size(), 0);
    drop(e);

    let e = Env::new(Some(&dir));
    assert_eq!(e.ca.signer().pool_size(), 0, "opening alone claims nothing (offline commands keep the pool)");
    assert_eq!(e.ca.claim_key_pool().unwrap(), kept);
    let claimed: Vec<Vec<u8>> = e.ca.signer().take_pool().iter().map(|k| k.to_pkcs1().to_vec()).collect();
    assert!(claimed.iter().all(|k| keys.contains_key(k)) && claimed.len() == kept);
    drop(e);
    // Claimed, not saved again (a crash): gone from the database.
    let e = Env::new(Some(&dir));
    assert_eq!(e.ca.claim_key_pool().unwrap(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// MFT-16 under load: more changes to one CA within one second than its
/// seconds of backdating give manifests with ever higher numbers whose
/// thisUpdate never passes now (a CRL dated in the future is "not yet valid"
/// to rpki-client).
#[test]
fn mft_16_many_changes_in_one_second_never_date_a_manifest_in_the_future() {
    let e = Env::with_config(None, CaConfig { backdate_secs: 5, ..CaConfig::default() });
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("busy", &res("AS64500, 10.0.0.0/8"), None).unwrap();
    let mft = |e: &Env| {
        let snap = e.publisher.snapshot();
        let der = snap.iter().find(|(u, _)| u.starts_with("rsync://rpki.test/repo/busy/") && u.ends_with(".mft")).unwrap().1.clone();
        let crl = snap.iter().find(|(u, _)| u.starts_with("rsync://rpki.test/repo/busy/") && u.ends_with(".crl")).unwrap().1.clone();
        (rpkit_objects::manifest::Manifest::decode(&der).unwrap().content, rpkit_objects::crl::Crl::decode(&crl).unwrap())
    };
    let (first, _) = mft(&e);
    for i in 0..20u32 {
        e.ca.apply_roas("busy", &roas(&format!("10.{}.{}.0/24 AS64500", i / 256, i % 256)), false).unwrap();
    }
    let (last, crl) = mft(&e);
    assert_eq!(last.manifest_number.to_u128(), first.manifest_number.to_u128().map(|n| n + 20));
    assert!(last.this_update.0 <= e.now().0, "thisUpdate {} is after now {}", last.this_update.0, e.now().0);
    assert!(last.this_update.0 >= first.this_update.0);
    assert!(crl.this_update.0 <= e.now().0, "the CRL is valid now");
    assert_eq!(e.walk().vrps.len(), 20);
}
