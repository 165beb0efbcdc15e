//! The trust anchor's key roll (RFC 9691, ROLL-3, OBJ-3): the successor is
//! announced in TAK objects under both keys, both trees validate with the same
//! VRPs from their TALs (the `rpki` crate as oracle), the successor takes over
//! after the staging time while the old TA still serves relying parties on the
//! old TAL, and retiring the old TA withdraws its tree and destroys its key.

mod repo_check;

use repo_check::{res, roas, walk, Env, RIR};
use rpkit_ca::{CaConfig, CaError};
use rpkit_objects::crypto::{KeyId, SignError, Signer};
use rpkit_objects::tal::Tal;

const STAGING: i64 = 30 * 86400;

fn key(hex: &str) -> KeyId {
    KeyId::from_hex(hex).unwrap()
}

#[test]
fn roll_3_the_ta_key_rolls_by_tak_with_the_same_vrps_from_either_tal() {
    let e = Env::with_config(None, CaConfig { keyroll_staging_seconds: 60, ..CaConfig::default() });
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    e.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500\n10.1.1.0/24 AS64500"), false).unwrap();
    let old_tal = e.ca.tal().unwrap();
    let before = e.walk();
    assert_eq!(before.vrps.len(), 2);
    let at = |tal: &Tal| walk(tal, &e.publisher.snapshot(), e.now());

    // Staging: the successor announced under both keys; its tree is complete.
    let s = e.ca.ta_keyroll_start().unwrap();
    assert_eq!(s.phase, "staging");
    let successor = Tal {
        comments: vec![],
        uris: s.successor_uris.clone(),
        key: e.ca.signer().public_key(&key(s.successor.as_ref().unwrap())).unwrap(),
    };
    assert!(successor.uris.iter().any(|u| u.starts_with("https://")) && successor.uris.iter().any(|u| u.starts_with("rsync://")));
    let old_view = at(&old_tal);
    assert_eq!((&old_view.vrps, &old_view.cas["isp"]), (&before.vrps, &before.cas["isp"]));
    let tak = &old_view.taks[0];
    assert_eq!(
        (tak.current.key.clone(), tak.successor.as_ref().map(|k| k.key.clone())),
        (old_tal.key.clone(), Some(successor.key.clone()))
    );
    assert_eq!(tak.successor.as_ref().unwrap().certificate_uris, successor.uris);
    let new_view = at(&successor);
    assert_eq!(new_view.vrps, before.vrps, "the successor's tree holds every VRP");
    assert_eq!(new_view.taks[0].predecessor.as_ref().map(|k| k.key.clone()), Some(old_tal.key.clone()));
    assert!(matches!(e.ca.ta_keyroll_start(), Err(CaError::Conflict(_))), "one TA roll at a time");
    assert!(matches!(e.ca.keyroll_start("rir"), Err(CaError::Conflict(_))), "no RIR roll during a TA roll");
    // A member's own key roll goes on meanwhile.
    e.ca.keyroll_start("isp").unwrap();
    e.ca.keyroll_activate("isp").unwrap();
    assert_eq!(at(&successor).vrps, before.vrps);

    // The staging time is over: the successor takes over.
    assert_eq!(e.ca.keyroll_due().unwrap(), 0);
    *e.clock.lock().unwrap() = e.now().add_secs(STAGING + 1);
    assert_eq!(e.ca.keyroll_due().unwrap(), 1);
    e.ca.reissue_due().unwrap(); // 30 days on, the schedule has re-issued manifests and CRLs too
    let s = e.ca.ta_keyroll_status().unwrap();
    assert_eq!((s.phase.as_str(), s.key.clone()), ("active", successor.key.key_id().hex()));
    assert_eq!(e.ca.tal().unwrap().key, successor.key, "the CA's TAL is the new one");
    assert_eq!(e.walk().vrps, before.vrps);
    assert_eq!(at(&old_tal).vrps, before.vrps, "relying parties on the old TAL keep working until it is retired");

    // Retired: the old tree goes, its key is destroyed.
    let s = e.ca.ta_keyroll_retire().unwrap();
    assert_eq!(s.phase, "none");
    let repo = e.publisher.snapshot();
    assert!(!repo.contains_key(&old_tal.uris[1]), "the old TA certificate is withdrawn");
    assert!(!repo.keys().any(|u| u.starts_with("rsync://rpki.test/repo/ta/")), "the old TA's publication point is empty");
    let w = e.walk();
    assert_eq!(w.vrps, before.vrps);
    assert!(w.taks[0].predecessor.is_none() && w.taks[0].successor.is_none());
    assert!(matches!(e.ca.signer().public_key(&old_tal.key.key_id()), Err(SignError::UnknownKey(_))));
    let actions: Vec<String> = e.ca.history(None, None).unwrap().into_iter().map(|h| h.action).collect();
    for a in ["ta.keyroll.start", "ta.keyroll.activate", "ta.keyroll.retire", "key.destroy"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}
