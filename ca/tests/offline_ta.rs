//! The offline trust anchor: set-up by RFC 8183 documents, the RIR CA
//! certified through signed request and response files, a repository that
//! validates top-down (the `rpki` crate as oracle); replayed, expired,
//! altered and foreign files refused naming why, changing nothing; the RIR
//! CA's key rolled through two exchanges with no VRP lost; the warning before
//! the TA's manifest runs out.

mod repo_check;

use repo_check::{res, roas, Env, RIR};
use rpkit_ca::ta_exchange::{self, TaRequest};
use rpkit_ca::{CaConfig, CaError};
use rpkit_objects::bpki::Identity;
use rpkit_objects::crypto::{KeyId, SignError, Signer};
use rpkit_objects::rfc8183::ChildRequest;

const WEEKS_4: i64 = 28 * 86400;

struct Pair {
    ta: Env,
    ta_id: Identity,
    online: Env,
    child: ChildRequest,
}

fn set_up() -> Pair {
    let ta = Env::with_config(None, CaConfig { next_update_secs: WEEKS_4, ..CaConfig::default() });
    let online = Env::with_config(None, CaConfig { ta_offline: true, keyroll_staging_seconds: 3600, ..CaConfig::default() });
    let (ta_id, ca_id) = (Identity::create().unwrap(), Identity::create().unwrap());
    let child = ChildRequest { tag: None, child_handle: "rir".into(), id_cert: ca_id.cert.clone() };
    let (_tal, parent) = ta.ca.init_offline_ta(&res(RIR), &child, &ta_id).unwrap();
    online.ca.set_offline_parent(&parent).unwrap();
    online.ca.set_identity(ca_id);
    Pair { ta, ta_id, online, child }
}

impl Pair {
    /// One signing session: request, answer, import.
    fn exchange(&self) -> rpkit_ca::contract::TaImport {
        let req = self.online.ca.ta_request().unwrap();
        let resp = self.ta.ca.ta_sign(&req, &self.ta_id).unwrap();
        self.online.ca.ta_import(&resp).unwrap()
    }
}

fn refused(r: Result<impl std::fmt::Debug, CaError>) -> String {
    match r {
        Err(CaError::Invalid { code, message }) => format!("{code}: {message}"),
        other => panic!("not refused: {other:?}"),
    }
}

fn key(hex: &str) -> KeyId {
    KeyId::from_hex(hex).unwrap()
}

#[test]
fn the_rir_ca_is_certified_by_an_offline_ta_through_signed_files() {
    let p = set_up();
    assert!(p.online.ca.add_member("isp", &res("AS64500"), None).is_err(), "no RIR CA before the TA's first answer");
    let report = p.exchange();
    assert!(report.rir_certified, "{report:?}");
    p.online.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    p.online.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500"), false).unwrap();
    let w = p.online.walk();
    assert_eq!(w.vrps.iter().collect::<Vec<_>>(), ["10.1.0.0/16-24 AS64500"]);
    assert_eq!((w.cas["ta"].clone(), w.cas["rir"].clone()), (res(RIR), res(RIR)));
    // The TA's manifest and CRL are valid for weeks; the CA knows when to sign next.
    let s = p.online.ca.ta_status().unwrap();
    let next = rpkit_objects::der::Time::parse_rfc3339(s.next_update.as_deref().unwrap()).unwrap();
    assert!(next.0 - p.online.now().0 > WEEKS_4 - 3600, "{s:?}");
    assert!(!s.overdue && !s.expired && s.pending_request.is_none());
    // The online CA holds no TA key; the TA's history records what it signed.
    assert!(p.online.ca.tal().unwrap().key == p.ta.ca.tal().unwrap().key);
    let ta_actions: Vec<String> = p.ta.ca.history(None, None).unwrap().into_iter().map(|h| h.action).collect();
    assert_eq!(ta_actions, ["ta.init", "ta.sign"]);
    let online_actions: Vec<String> = p.online.ca.history(None, None).unwrap().into_iter().map(|h| h.action).collect();
    assert!(online_actions.starts_with(&["ta.parent".into(), "ta.request".into(), "ta.import".into()]), "{online_actions:?}");
}

#[test]
fn replayed_expired_altered_and_foreign_files_are_refused_and_change_nothing() {
    let p = set_up();
    let req = p.online.ca.ta_request().unwrap();
    let resp = p.ta.ca.ta_sign(&req, &p.ta_id).unwrap();
    p.online.ca.ta_import(&resp).unwrap();
    let (ta_before, online_before) = (p.ta.ca.published().unwrap(), p.online.publisher.snapshot());
    let unchanged = |what: &str, ta_too: bool| {
        assert!(!ta_too || p.ta.ca.published().unwrap() == ta_before, "{what}: the TA changed");
        assert!(p.online.publisher.snapshot() == online_before, "{what}: the online CA changed");
    };

    // Replayed: the same request to the TA, the same answer to the CA.
    let m = refused(p.ta.ca.ta_sign(&req, &p.ta_id));
    assert!(m.starts_with("ta_replayed") && m.contains("nonce"), "{m}");
    let m = refused(p.online.ca.ta_import(&resp));
    assert!(m.starts_with("ta_replayed"), "{m}");
    unchanged("replayed", true);

    // Altered: one character of the signed XML.
    let mut bad = p.online.ca.ta_request().unwrap();
    let at = bad.windows(6).position(|w| w == b"nonce=").unwrap() + 8;
    bad[at] = if bad[at] == b'a' { b'b' } else { b'a' };
    let m = refused(p.ta.ca.ta_sign(&bad, &p.ta_id));
    assert!(m.starts_with("ta_altered") && m.contains("digest"), "{m}");
    unchanged("altered", true);

    // Foreign: a request signed by a stranger, and an answer from another TA.
    let stranger = Identity::create().unwrap();
    let now = p.online.now();
    let fake = TaRequest { nonce: ta_exchange::nonce(), created: now, valid_until: now.add_secs(3600), child: "rir".into(), keys: vec![] };
    let fake = ta_exchange::seal(&stranger, &fake.to_xml(), now, now.add_secs(3600)).unwrap();
    let m = refused(p.ta.ca.ta_sign(&fake, &p.ta_id));
    assert!(m.starts_with("ta_foreign"), "{m}");
    let req2 = p.online.ca.ta_request().unwrap();
    let other_ta = Env::with_config(None, CaConfig::default());
    other_ta.ca.init_offline_ta(&res(RIR), &p.child, &stranger).unwrap();
    let from_other = other_ta.ca.ta_sign(&req2, &stranger).unwrap();
    let m = refused(p.online.ca.ta_import(&from_other));
    assert!(m.starts_with("ta_foreign"), "{m}");
    unchanged("foreign", true);
    // The TA's real answer to the pending request still works, once.
    let resp2 = p.ta.ca.ta_sign(&req2, &p.ta_id).unwrap();

    // Expired: the answer arrives after its validity (14 days by default).
    let later = p.online.now().add_secs(20 * 86400);
    let was = p.online.now();
    *p.online.clock.lock().unwrap() = later;
    let m = refused(p.online.ca.ta_import(&resp2));
    assert!(m.starts_with("ta_expired"), "{m}");
    *p.online.clock.lock().unwrap() = was;
    // A request that reaches the TA after its validity.
    let late = p.online.ca.ta_request().unwrap();
    *p.ta.clock.lock().unwrap() = later;
    let m = refused(p.ta.ca.ta_sign(&late, &p.ta_id));
    assert!(m.starts_with("ta_expired"), "{m}");
    *p.ta.clock.lock().unwrap() = was;
    // An answer to a request that a newer one replaced.
    let _req3 = p.online.ca.ta_request().unwrap();
    let m = refused(p.online.ca.ta_import(&resp2));
    assert!(m.starts_with("ta_replayed") && m.contains("not the pending request"), "{m}");
    unchanged("expired and superseded", false);
}

#[test]
fn roll_1_the_rir_key_rolls_under_an_offline_ta_in_two_signing_sessions() {
    let p = set_up();
    p.exchange();
    p.online.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    p.online.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500\n10.1.0.0/24 AS64500"), false).unwrap();
    let before = p.online.walk();
    let same = |phase: &str| {
        let w = p.online.walk();
        assert_eq!((&w.vrps, &w.cas), (&before.vrps, &before.cas), "{phase}");
        w
    };

    let s = p.online.ca.keyroll_start("rir").unwrap();
    assert_eq!(s.phase, "awaiting_parent");
    let (old, next) = (s.key.clone(), s.next_key.clone().unwrap());
    same("awaiting the TA");
    // First session: the TA certifies the next key; staging starts.
    let r = p.exchange();
    assert!(r.keyroll.as_deref().unwrap_or("").contains("certified"), "{r:?}");
    assert_eq!(p.online.ca.keyroll_status("rir").unwrap().phase, "pending");
    assert_eq!(same("pending").instances["rir"], 2);
    // Staging over: the next key takes over; the old one publishes an empty
    // manifest until the TA revokes it.
    *p.online.clock.lock().unwrap() = p.online.now().add_secs(3601);
    assert_eq!(p.online.ca.keyroll_due().unwrap(), 1);
    let s = p.online.ca.keyroll_status("rir").unwrap();
    assert_eq!((s.phase.as_str(), s.key.as_str(), s.next_key.as_deref()), ("retiring", next.as_str(), Some(old.as_str())));
    assert_eq!(same("retiring").instances["rir"], 2);
    // Second session: the TA revokes the old certificate; the old key is destroyed.
    *p.ta.clock.lock().unwrap() = p.online.now();
    let r = p.exchange();
    assert!(r.keyroll.as_deref().unwrap_or("").contains("revoked"), "{r:?}");
    assert_eq!(p.online.ca.keyroll_status("rir").unwrap().phase, "active");
    assert_eq!(same("done").instances["rir"], 1);
    assert!(matches!(p.online.ca.signer().public_key(&key(&old)), Err(SignError::UnknownKey(_))));
}

#[test]
fn the_ca_warns_before_the_offline_tas_manifest_runs_out() {
    let p = set_up();
    p.exchange();
    assert!(!p.online.ca.ta_check_due().unwrap());
    // 22 days on: within a week (`ta_warn_days`) of the 28-day nextUpdate.
    *p.online.clock.lock().unwrap() = p.online.now().add_secs(22 * 86400);
    let s = p.online.ca.ta_status().unwrap();
    assert!(s.overdue && !s.expired, "{s:?}");
    assert!(p.online.ca.ta_check_due().unwrap());
    assert!(!p.online.ca.ta_check_due().unwrap(), "recorded once");
    let due: Vec<_> = p.online.ca.history(None, None).unwrap().into_iter().filter(|h| h.action == "ta.due").collect();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].outcome, "warning");
    // A signing session clears it.
    *p.ta.clock.lock().unwrap() = p.online.now();
    p.exchange();
    assert!(!p.online.ca.ta_status().unwrap().overdue);
}

/// ROLL-3 with the TA offline: its key rolls on its own machine (RFC 9691),
/// each step reaching the online CA in a signing session; both trees validate
/// with the same VRPs from either TAL until the old TA is retired.
#[test]
fn roll_3_an_offline_ta_rolls_its_key_through_signing_sessions() {
    use rpkit_objects::tal::Tal;
    let p = set_up();
    p.exchange();
    p.online.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    p.online.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500"), false).unwrap();
    let old_tal = p.online.ca.tal().unwrap();
    let before = p.online.walk();
    let at = |tal: &Tal| repo_check::walk(tal, &p.online.publisher.snapshot(), p.online.now());
    assert!(matches!(p.online.ca.ta_keyroll_start(), Err(CaError::Invalid { .. })), "the online CA holds no TA key");

    // On the TA's machine: the successor, announced in TAKs; a session carries both trees over.
    let s = p.ta.ca.ta_keyroll_start().unwrap();
    assert_eq!(s.phase, "staging");
    let successor = Tal {
        comments: vec![],
        uris: s.successor_uris.clone(),
        key: p.ta.ca.signer().public_key(&key(s.successor.as_ref().unwrap())).unwrap(),
    };
    p.exchange();
    let old_view = at(&old_tal);
    assert_eq!(old_view.vrps, before.vrps);
    assert_eq!(old_view.taks[0].successor.as_ref().map(|k| k.key.clone()), Some(successor.key.clone()));
    assert_eq!(at(&successor).vrps, before.vrps, "the successor's tree is complete online");
    assert_eq!(p.online.ca.tal().unwrap().key, old_tal.key, "the old key is in charge while staging");

    // The successor takes over at the next session after the staging time.
    *p.ta.clock.lock().unwrap() = p.ta.now().add_secs(30 * 86400 + 1);
    *p.online.clock.lock().unwrap() = p.ta.now();
    p.online.ca.reissue_due().unwrap();
    p.exchange();
    assert_eq!(p.ta.ca.ta_keyroll_status().unwrap().phase, "active");
    assert_eq!(p.online.ca.tal().unwrap().key, successor.key, "the online CA's TAL follows");
    assert_eq!(p.online.walk().vrps, before.vrps);
    assert_eq!(at(&old_tal).vrps, before.vrps, "the old TAL still works until retirement");

    // Retired on the TA's machine; the next session withdraws the old tree online.
    p.ta.ca.ta_keyroll_retire().unwrap();
    p.exchange();
    let repo = p.online.publisher.snapshot();
    assert!(!repo.contains_key(&old_tal.uris[1]), "the old TA certificate is withdrawn");
    let w = p.online.walk();
    assert_eq!(w.vrps, before.vrps);
    assert!(w.taks[0].predecessor.is_none());
}
