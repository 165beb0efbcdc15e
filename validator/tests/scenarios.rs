//! The scenario suite (test-vectors): on each good or broken repository our
//! validator yields exactly the expected VRPs and ASPAs and names the expected
//! rule at the expected object.

use rpkit_objects::der::Time;
use rpkit_test_vectors::scenario::{build, Scenario, ALL};
use rpkit_validator::report::Report;
use rpkit_validator::tree::{validate_tal, NoFetch, Options};
use std::collections::{BTreeMap, BTreeSet};

fn check(s: &Scenario) -> Vec<String> {
    let r: Report = validate_tal(&s.tal, "ta", &NoFetch(&s.objects), None, s.now, &Options::default());
    let mut problems = Vec::new();
    let vrps: BTreeSet<String> = r.vrps.iter().map(|v| format!("{}-{} AS{}", v.prefix, v.max_length, v.asn)).collect();
    if vrps != s.vrps {
        problems.push(format!("VRPs: got {vrps:?}, want {:?}", s.vrps));
    }
    let aspas: BTreeMap<u32, Vec<u32>> = r.aspas.iter().map(|a| (a.customer, a.providers.clone())).collect();
    if aspas != s.aspas {
        problems.push(format!("ASPAs: got {aspas:?}, want {:?}", s.aspas));
    }
    let got: Vec<(&str, &str)> = r.warnings.iter().map(|w| (w.rule, w.uri.as_str())).collect();
    for (rule, uri) in &s.warnings {
        if !got.iter().any(|(r, u)| r == rule && u.ends_with(uri.as_str())) {
            problems.push(format!("missing warning {rule} at …{uri}; got {got:?}"));
        }
    }
    if got.len() != s.warnings.len() {
        problems.push(format!("{} warnings, want {}: {:#?}", got.len(), s.warnings.len(), r.warnings));
    }
    problems
}

#[test]
fn every_scenario_gives_the_expected_verdict() {
    let now = Time::now();
    let mut failures = Vec::new();
    // Key generation dominates: build on every core.
    let built: Vec<Scenario> = std::thread::scope(|t| {
        let handles: Vec<_> = ALL.iter().map(|(name, _)| t.spawn(move || build(name, now))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (s, (name, what)) in built.iter().zip(ALL) {
        let p = check(s);
        if !p.is_empty() {
            failures.push(format!("{name} ({what}):\n  {}", p.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
