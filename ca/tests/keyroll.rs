//! Staged key rollover (ROLL-1, REPO-4, MFT-18): the repository validates and
//! yields the same VRPs and ASPAs at every phase, the old key's products go
//! and the old key is destroyed, for a member CA and for the RIR CA.

mod repo_check;

use repo_check::{res, roas, Env, Walk, RIR};
use rpkit_ca::contract::AspaSpec;
use rpkit_ca::{CaConfig, CaError};
use rpkit_objects::cert::Cert;
use rpkit_objects::crl::Crl;
use rpkit_objects::crypto::{KeyId, SignError, Signer};
use std::collections::BTreeMap;

const STAGING: i64 = 3600;

fn env(dir: Option<&std::path::Path>) -> Env {
    let e = Env::with_config(dir, CaConfig { keyroll_staging_seconds: STAGING, ..CaConfig::default() });
    if e.ca.tal().is_err() {
        e.ca.init(&res(RIR)).unwrap();
        e.ca.add_member("isp", &res("AS64500-AS64501, 10.1.0.0/16, 2001:db8:1::/48"), None).unwrap();
        e.ca.add_member("other", &res("AS64510, 192.0.2.0/24"), None).unwrap();
        e.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500\n2001:db8:1::/48 AS64501\n10.1.2.0/24 AS0"), false).unwrap();
        e.ca.apply_roas("other", &roas("192.0.2.0/24 AS64510"), false).unwrap();
        e.ca.put_aspa("isp", &AspaSpec { customer: 64500, providers: vec![65001, 65002] }).unwrap();
    }
    e
}

fn key(hex: &str) -> KeyId {
    KeyId::from_hex(hex).unwrap()
}

fn files_in(repo: &BTreeMap<String, Vec<u8>>, dir: &str, ext: &str) -> Vec<String> {
    repo.keys().filter(|u| u.starts_with(dir) && u.ends_with(ext) && !u[dir.len()..].contains('/')).cloned().collect()
}

fn same_content(a: &Walk, b: &Walk) {
    assert_eq!(a.vrps, b.vrps, "VRPs");
    assert_eq!(a.aspas, b.aspas, "ASPAs");
    assert_eq!(a.cas, b.cas, "CAs and their resources");
}

#[test]
fn roll_1_a_member_key_rolls_in_stages_and_validators_see_the_same_vrps_throughout() {
    let e = env(None);
    let before = e.walk();
    assert_eq!(before.vrps.len(), 4);
    let status = e.ca.keyroll_status("isp").unwrap();
    assert_eq!((status.phase.as_str(), status.key_store.as_str()), ("active", "software"));
    let old_key = status.key.clone();

    // Phase 1: pending. The next key is certified with the same resources and
    // publishes its own CRL and a manifest listing only that CRL (REPO-4).
    let s = e.ca.keyroll_start("isp").unwrap();
    assert_eq!(s.phase, "pending");
    assert_eq!(s.key, old_key);
    let next_key = s.next_key.clone().unwrap();
    assert_ne!(next_key, old_key);
    assert_eq!(s.reason.as_deref(), Some("operator"));
    let w = e.walk();
    same_content(&before, &w);
    assert_eq!(w.instances["isp"], 2, "both instances of the CA validate (MFT-18)");
    let repo = e.publisher.snapshot();
    assert_eq!(files_in(&repo, "rsync://rpki.test/repo/isp/", ".mft").len(), 2);
    assert_eq!(files_in(&repo, "rsync://rpki.test/repo/isp/", ".crl").len(), 2);
    assert!(matches!(e.ca.keyroll_start("isp"), Err(CaError::Conflict(_))), "one roll at a time");
    let old_cert = Cert::decode(&repo[&format!("rsync://rpki.test/repo/rir/{}.cer", key(&old_key).file_stem())]).unwrap();

    // Staging is not over: the schedule leaves it.
    assert_eq!(e.ca.keyroll_due().unwrap(), 0);
    assert_eq!(e.ca.keyroll_status("isp").unwrap().phase, "pending");

    // Phase 2: after the staging time the next key takes over.
    *e.clock.lock().unwrap() = e.now().add_secs(STAGING + 1);
    assert_eq!(e.ca.keyroll_due().unwrap(), 1);
    let s = e.ca.keyroll_status("isp").unwrap();
    assert_eq!((s.phase.as_str(), s.key.as_str()), ("active", next_key.as_str()));
    let w = e.walk();
    same_content(&before, &w);
    assert_eq!(w.instances["isp"], 1, "the old instance is gone");
    let repo = e.publisher.snapshot();
    assert_eq!(files_in(&repo, "rsync://rpki.test/repo/isp/", ".mft").len(), 1);
    assert!(!repo.keys().any(|u| u.contains(&key(&old_key).file_stem())), "nothing of the old key stays published");
    // The old certificate is on the RIR's CRL; every ROA and ASPA is signed under the new key.
    let rir_crl = files_in(&repo, "rsync://rpki.test/repo/rir/", ".crl");
    assert!(Crl::decode(&repo[&rir_crl[0]]).unwrap().is_revoked(&old_cert.serial), "old certificate revoked");
    for (uri, der) in
        repo.iter().filter(|(u, _)| u.starts_with("rsync://rpki.test/repo/isp/") && (u.ends_with(".roa") || u.ends_with(".asa")))
    {
        let so = rpkit_objects::signed_object::SignedObject::decode(der).unwrap();
        assert_eq!(so.ee.aki, Some(key(&next_key)), "{uri} is signed under the new key");
    }
    // Phase 3: the old key is destroyed, its private part gone from the database.
    assert!(matches!(e.ca.signer().public_key(&key(&old_key)), Err(SignError::UnknownKey(_))));
    let actions: Vec<String> = e.ca.history(Some("isp"), None).unwrap().into_iter().map(|h| h.action).collect();
    assert!(actions.ends_with(&["keyroll.start".into(), "keyroll.activate".into(), "key.destroy".into()]), "{actions:?}");
    // The other member's CA never moved.
    assert_eq!(e.ca.keyroll_status("other").unwrap().phase, "active");
}

/// The RIR CA's roll re-certifies every member CA under the new key; a member
/// rolling at the same time keeps its next key certified too.
#[test]
fn roll_1_the_rir_key_rolls_and_member_certificates_move_under_the_new_key() {
    let e = env(None);
    let before = e.walk();
    let member_next = e.ca.keyroll_start("other").unwrap().next_key.unwrap();
    let s = e.ca.keyroll_start("rir").unwrap();
    let (old, next) = (s.key.clone(), s.next_key.clone().unwrap());
    let w = e.walk();
    same_content(&before, &w);
    assert_eq!((w.instances["rir"], w.instances["other"]), (2, 2));
    // The operator ends the RIR's staging at once.
    let s = e.ca.keyroll_activate("rir").unwrap();
    assert_eq!((s.phase.as_str(), s.key.as_str()), ("active", next.as_str()));
    let w = e.walk();
    same_content(&before, &w);
    assert_eq!((w.instances["rir"], w.instances["other"]), (1, 2), "the member's pending instance is certified by the new RIR key");
    let repo = e.publisher.snapshot();
    for u in files_in(&repo, "rsync://rpki.test/repo/rir/", ".cer") {
        let c = Cert::decode(&repo[&u]).unwrap();
        assert_eq!(c.aki, Some(key(&next)), "{u} is issued by the new RIR key");
    }
    assert!(matches!(e.ca.signer().public_key(&key(&old)), Err(SignError::UnknownKey(_))));
    assert!(matches!(e.ca.keyroll_activate("rir"), Err(CaError::NotFound(_))), "nothing pending");
    e.ca.keyroll_activate("other").unwrap();
    let w = e.walk();
    same_content(&before, &w);
    assert_eq!(e.ca.keyroll_status("other").unwrap().key, member_next);
    assert!(matches!(e.ca.keyroll_start("ta"), Err(CaError::Invalid { .. })), "the TA rolls by RFC 9691");
}

/// A pending next key follows its CA: new resources are certified for both
/// instances; a member removed mid-roll takes its next key with it.
#[test]
fn a_pending_roll_follows_resource_changes_and_removal() {
    let e = env(None);
    let next = e.ca.keyroll_start("isp").unwrap().next_key.unwrap();
    e.ca.set_member_resources("isp", &res("AS64500, 10.1.0.0/16")).unwrap();
    let repo = e.publisher.snapshot();
    let next_cert = Cert::decode(&repo[&format!("rsync://rpki.test/repo/rir/{}.cer", key(&next).file_stem())]).unwrap();
    assert_eq!(next_cert.resources.explicit_set(), res("AS64500, 10.1.0.0/16"));
    let w = e.walk();
    assert_eq!(w.instances["isp"], 2);
    assert_eq!(w.vrps.len(), 3, "the ROA outside the new resources is gone");
    e.ca.remove_member("isp").unwrap();
    let repo = e.publisher.snapshot();
    assert!(!repo.keys().any(|u| u.contains("/isp/") || u.contains(&key(&next).file_stem())), "nothing of either instance remains");
    let crl = Crl::decode(&repo[&files_in(&repo, "rsync://rpki.test/repo/rir/", ".crl")[0]]).unwrap();
    assert!(crl.is_revoked(&next_cert.serial));
    assert!(matches!(e.ca.signer().public_key(&key(&next)), Err(SignError::UnknownKey(_))), "the next key is destroyed");
    e.walk();
}

/// A roll survives a restart in any phase: the pending state is in the
/// database, and the schedule activates it after the restart.
#[test]
fn a_pending_roll_resumes_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("rpkit-keyroll-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (before, next, later) = {
        let e = env(Some(&dir));
        let before = e.walk();
        let next = e.ca.keyroll_start("isp").unwrap().next_key.unwrap();
        (before, next, e.now().add_secs(STAGING + 1))
    };
    let e = env(Some(&dir));
    *e.clock.lock().unwrap() = later;
    assert_eq!(e.ca.keyroll_status("isp").unwrap().phase, "pending");
    assert_eq!(e.ca.keyroll_due().unwrap(), 1);
    assert_eq!(e.ca.keyroll_status("isp").unwrap().key, next);
    same_content(&before, &e.walk());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `keyroll_interval_days` rolls every CA key in turn, `keyroll_batch` CAs per change.
#[test]
fn scheduled_rolls_are_spread_in_batches() {
    let e = Env::with_config(
        None,
        CaConfig { keyroll_staging_seconds: STAGING, keyroll_interval_days: 30, keyroll_batch: 2, ..CaConfig::default() },
    );
    e.ca.init(&res(RIR)).unwrap();
    for i in 0..4 {
        e.ca.add_member(&format!("m{i}"), &res(&format!("AS{}", 64500 + i)), None).unwrap();
    }
    let before = e.walk();
    assert_eq!(e.ca.keyroll_due().unwrap(), 0, "no key is 30 days old");
    *e.clock.lock().unwrap() = e.now().add_secs(31 * 86400);
    // Five CAs (RIR and four members): started two at a time.
    assert_eq!([e.ca.keyroll_due().unwrap(), e.ca.keyroll_due().unwrap(), e.ca.keyroll_due().unwrap()], [2, 2, 1]);
    assert_eq!(e.ca.keyroll_status("m0").unwrap().reason.as_deref(), Some("schedule"));
    assert_eq!(e.ca.keyroll_due().unwrap(), 0, "all pending, staging not over");
    *e.clock.lock().unwrap() = e.now().add_secs(STAGING + 1);
    let mut activated = 0;
    while activated < 5 {
        let n = e.ca.keyroll_due().unwrap();
        assert!(n > 0 && n <= 2, "{n}");
        activated += n;
    }
    same_content(&before, &e.walk());
    assert_eq!(e.ca.keyroll_due().unwrap(), 0, "every key is new");
}
