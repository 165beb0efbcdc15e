//! The scenario suite (test-vectors): on each good or broken repository our
//! validator yields exactly the expected VRPs and ASPAs and names the expected
//! rule at the expected object.

use rpkit_objects::der::Time;
use rpkit_test_vectors::scenario::{build, Scenario, ALL};
use rpkit_validator::audit::{chain, CaRecord, PointStatus, Status};
use rpkit_validator::cache::ValidCache;
use rpkit_validator::report::Report;
use rpkit_validator::tree::{validate_tal, NoFetch, Options};
use std::collections::{BTreeMap, BTreeSet};

/// Validate the scenario's repository; where it has an earlier state, that one
/// first with a cache that the second run then uses.
fn run(s: &Scenario, opts: &Options) -> Report {
    let Some(earlier) = &s.earlier else {
        return validate_tal(&s.tal, "ta", &NoFetch(&s.objects), None, s.now, opts);
    };
    let dir = std::env::temp_dir().join(format!("rpkit-scenario-{}-{}-{}", s.name, opts.audit, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = ValidCache::new(&dir).unwrap();
    let r = validate_tal(&s.tal, "ta", &NoFetch(earlier), Some(&first), s.now, &Options::default());
    assert!(r.warnings.is_empty(), "{}: the earlier state must be clean: {:#?}", s.name, r.warnings);
    first.sweep();
    let second = ValidCache::new(&dir).unwrap();
    let r = validate_tal(&s.tal, "ta", &NoFetch(&s.objects), Some(&second), s.now, opts);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn check(s: &Scenario) -> Vec<String> {
    let r: Report = run(s, &Options::default());
    let mut problems = Vec::new();
    let vrps: BTreeSet<String> =
        r.vrps.iter().map(|v| format!("{}-{} AS{}", v.origin.prefix, v.origin.max_length, v.origin.asn.0)).collect();
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

/// The audit of a scenario: the same verdict, and every object accounted for
/// with the expected rule where the expected warning points.
fn check_audit(s: &Scenario) -> Vec<String> {
    let plain = run(s, &Options::default());
    let r = run(s, &Options { audit: true, ..Options::default() });
    let mut problems = Vec::new();
    if r.vrps != plain.vrps || r.aspas != plain.aspas || r.warnings != plain.warnings {
        problems.push("an audit run gives other payloads or warnings than a plain run".to_string());
    }
    for (rule, uri) in &s.warnings {
        let at_object = r
            .objects
            .iter()
            .any(|o| o.uri.ends_with(uri.as_str()) && o.status == Status::Invalid && o.problems.iter().any(|p| p.rule == *rule));
        let at_ca = r
            .cas
            .iter()
            .any(|c| c.status != PointStatus::Valid && c.problems.iter().any(|p| p.rule == *rule && p.detail.contains(uri.as_str())));
        if !at_object && !at_ca {
            problems.push(format!("audit: no invalid object or failed or cached CA with {rule} at …{uri}"));
        }
    }
    // Files off the manifest are reported (MFT-15) though validation ignores them.
    let unlisted: Vec<&str> = r.objects.iter().filter(|o| o.status == Status::Unlisted).map(|o| o.uri.as_str()).collect();
    let want_unlisted = usize::from(matches!(s.name, "unlisted-roa" | "extra-file"));
    if unlisted.len() != want_unlisted {
        problems.push(format!("audit: unlisted {unlisted:?}, want {want_unlisted}"));
    }
    let clean = r.objects.iter().all(|o| o.status == Status::Valid) && r.cas.iter().all(|c| c.status == PointStatus::Valid);
    if clean != (s.warnings.is_empty() && want_unlisted == 0) {
        problems.push(format!("audit: clean = {clean} with {} expected warnings", s.warnings.len()));
    }
    // Every file in the directory of a CA that was reached is recorded exactly once.
    let mut seen = BTreeMap::new();
    for o in &r.objects {
        *seen.entry(o.uri.as_str()).or_insert(0) += 1;
    }
    for uri in s.objects.keys() {
        let in_reached = r.cas.iter().any(|c| uri.strip_prefix(c.repository.as_str()).is_some_and(|n| !n.contains('/')));
        let n = seen.get(uri.as_str()).copied().unwrap_or(0);
        if in_reached && n != 1 {
            problems.push(format!("audit: {uri} recorded {n} times"));
        }
    }
    // Chains lead to the trust anchor.
    let cas: BTreeMap<&str, &CaRecord> = r.cas.iter().map(|c| (c.uri.as_str(), c)).collect();
    for c in &r.cas {
        let ch = chain(&cas, &c.uri);
        if ch.len() != c.depth + 1 || cas.get(ch[0]).is_none_or(|t| t.depth != 0) {
            problems.push(format!("audit: chain of {} is {ch:?} at depth {}", c.uri, c.depth));
        }
    }
    problems
}

#[test]
fn every_scenario_gives_the_expected_verdict_and_audit_record() {
    let now = Time::now();
    let mut failures = Vec::new();
    // Key generation dominates: build on every core.
    let built: Vec<Scenario> = std::thread::scope(|t| {
        let handles: Vec<_> = ALL.iter().map(|(name, _)| t.spawn(move || build(name, now))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (s, (name, what)) in built.iter().zip(ALL) {
        // The audit's record of the same repository (built once: keys are the cost).
        let p: Vec<String> = check(s).into_iter().chain(check_audit(s)).collect();
        if !p.is_empty() {
            failures.push(format!("{name} ({what}):\n  {}", p.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
