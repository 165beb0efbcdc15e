//! Top-down validation of repositories built by the hosted CA: the payloads
//! equal what the CA holds, and each kind of breakage rejects exactly the
//! publication point or object it should, with the rule named (MFT-13, RES-8 ...).

mod common;

use common::{repo, uri_of, vrps};
use rpkit_ca::publisher::MemoryPublisher;
use rpkit_ca::{Ca, CaConfig};
use rpkit_objects::der::Time;
use rpkit_objects::tal::Tal;
use rpkit_validator::output;
use rpkit_validator::report::Report;
use rpkit_validator::tree::{validate_tal, NoFetch, Options};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

fn run(tal: &Tal, objects: &BTreeMap<String, Vec<u8>>, now: Time) -> Report {
    validate_tal(tal, "ta", &NoFetch(objects), None, now, &Options::default())
}

#[test]
fn a_good_repository_yields_exactly_the_cas_payloads() {
    let r = repo();
    let out = run(&r.tal, &r.objects, Time::now());
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(vrps(&out), r.vrps);
    assert_eq!(out.aspas.len(), 1);
    assert_eq!((out.aspas[0].customer, out.aspas[0].providers.clone()), (64501, vec![65001, 65002]));
    assert_eq!(out.counts.manifests, 4, "TA, RIR and two members");
    assert_eq!(out.counts.roas, 5);
    // rpki-client's json field names and types.
    let j: serde_json::Value = serde_json::from_str(&output::json(&out, Time::now())).unwrap();
    assert_eq!(j["roas"].as_array().unwrap().len(), 5);
    assert!(j["roas"][0]["asn"].is_u64() && j["roas"][0]["maxLength"].is_u64() && j["roas"][0]["expires"].is_i64());
    assert_eq!(j["aspas"][0]["customer_asid"], 64501);
    let csv = output::csv(&out);
    assert!(csv.starts_with("ASN,IP Prefix,Max Length,Trust Anchor\n") && csv.contains("AS64501,192.0.2.0/24,24,ta\n"), "{csv}");
    assert!(output::openbgpd(&out).contains("10.1.0.0/16 maxlen 24 source-as 64500 expires"));
}

fn one_warning(out: &Report) -> (&str, &str, &str) {
    assert_eq!(out.warnings.len(), 1, "{:#?}", out.warnings);
    let w = &out.warnings[0];
    (w.uri.as_str(), w.rule, w.detail.as_str())
}

#[test]
fn mft_13_a_missing_or_altered_listed_file_fails_the_whole_publication_point() {
    let r = repo();
    let b_vrps: BTreeSet<String> = r.vrps.iter().filter(|v| v.starts_with("192.0.2.")).cloned().collect();
    let others: BTreeSet<String> = r.vrps.difference(&b_vrps).cloned().collect();
    // Missing ROA of isp-b: isp-b's point fails, isp-a's stands.
    let mut objects = r.objects.clone();
    let roa = uri_of(&objects, "isp-b", ".roa");
    objects.remove(&roa);
    let out = run(&r.tal, &objects, Time::now());
    let (uri, rule, detail) = one_warning(&out);
    assert_eq!((uri, rule), (roa.as_str(), "MFT-13"));
    assert!(detail.contains("missing"), "{detail}");
    assert_eq!(vrps(&out), others);
    assert!(out.aspas.is_empty(), "isp-b's ASPA goes with its publication point");
    // Altered bytes: hash mismatch.
    let mut objects = r.objects.clone();
    objects.get_mut(&roa).unwrap().push(0);
    let out = run(&r.tal, &objects, Time::now());
    let (_, rule, detail) = one_warning(&out);
    assert_eq!(rule, "MFT-13");
    assert!(detail.contains("does not match its manifest hash"), "{detail}");
    assert_eq!(vrps(&out), others);
    // An extra file not on the manifest is ignored (MFT-15).
    let mut objects = r.objects.clone();
    let extra = roa.replace(".roa", "x.roa");
    objects.insert(extra, r.objects[&roa].clone());
    let out = run(&r.tal, &objects, Time::now());
    assert!(out.warnings.is_empty());
    assert_eq!(vrps(&out), r.vrps);
}

#[test]
fn mft_13_stale_manifests_fail() {
    let r = repo();
    // Two days later every manifest (next update 24 h) is stale: nothing validates below the TA.
    let out = run(&r.tal, &r.objects, Time::now().add_secs(2 * 86400));
    assert!(out.vrps.is_empty());
    assert_eq!(out.warnings.len(), 1, "the TA's point fails, so nothing below is even looked at: {:#?}", out.warnings);
    assert!(out.warnings[0].detail.contains("stale"));
}

#[test]
fn mft_13_a_manifest_from_the_future_fails() {
    // The TA and RIR CA made at t0; a member added two hours later re-issues the
    // RIR CA's manifest; validated at t0 + 1 h that manifest is not yet current.
    let publisher = Arc::new(MemoryPublisher::new());
    let mut ca = Ca::open(None, CaConfig::default(), publisher.clone()).unwrap();
    let t0 = Time::now();
    let clock = Arc::new(std::sync::Mutex::new(t0));
    let c = clock.clone();
    ca.set_clock(Arc::new(move || *c.lock().unwrap()));
    let tal = ca.init(&"AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap()).unwrap();
    *clock.lock().unwrap() = t0.add_secs(7200);
    ca.add_member("late", &"AS64500, 10.9.0.0/16".parse().unwrap(), None).unwrap();
    let out = run(&tal, &publisher.snapshot(), t0.add_secs(3600));
    let (uri, rule, detail) = one_warning(&out);
    assert_eq!(rule, "MFT-13");
    assert!(uri.contains("/rir/") && detail.contains("future"), "{uri}: {detail}");
}

#[test]
fn ta_3_a_tal_with_another_key_rejects_the_trust_anchor() {
    let r = repo();
    let mut tal = r.tal.clone();
    tal.key = repo().tal.key;
    let out = run(&tal, &r.objects, Time::now());
    assert_eq!(one_warning(&out).1, "TA-3");
    assert!(out.vrps.is_empty());
}

#[test]
fn ta_5_the_ta_certificate_must_be_found() {
    let r = repo();
    let mut objects = r.objects.clone();
    objects.retain(|u, _| !u.ends_with("/ta.cer"));
    let out = run(&r.tal, &objects, Time::now());
    assert_eq!(one_warning(&out).1, "TA-5");
}
