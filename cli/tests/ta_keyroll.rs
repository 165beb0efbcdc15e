//! The trust anchor's key roll (RFC 9691) against a running `rpkit up`:
//! `rpkit ta keyroll` announces the successor in TAK objects; `rpkit validate`
//! from the old TAL follows the TAK to the new key and outputs the same VRPs
//! at every phase; after the old TA is retired the same cache still validates
//! (from the new key) while a validator that never followed the TAK, on the
//! old TAL with a fresh cache, finds no TA, as the RFC describes; `rpkit up`'s
//! own validator follows too.

use rpkit_test_vectors::peers;
#[path = "peers/up.rs"]
mod up_run;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use up_run::{port_settings, scratch, start, BIN};

/// `rpkit validate` on the TAL `tal` with the cache `cache`: its VRPs and stderr.
fn validate(up: &Value, tal: &Path, cache: &Path, acceptance: &str) -> (BTreeSet<String>, String) {
    let out = Command::new(BIN)
        .args(["validate", "--disable-rsync", "--format", "json", "--tak-acceptance-secs", acceptance, "--tal"])
        .arg(tal)
        .arg("--cache")
        .arg(cache)
        .arg("--rrdp-root-cert")
        .arg(up["tls_ca"].as_str().unwrap())
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let vrps = j["roas"].as_array().into_iter().flatten().map(|r| format!("{} {} {}", r["prefix"], r["maxLength"], r["asn"])).collect();
    (vrps, err)
}

fn keyroll(up: &Value, data: &Path, args: &[&str]) -> String {
    let token = std::fs::read_to_string(data.join("ca/admin-token")).unwrap();
    let out = Command::new(BIN)
        .args(["ta", "keyroll"])
        .args(args)
        .env("RPKIT_SERVER", up["ca_api"].as_str().unwrap())
        .env("RPKIT_TOKEN", token.trim())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn wait_published(up: &Value, tal: &Path, cache: &Path, want: &BTreeSet<String>, what: &str) {
    let t0 = Instant::now();
    loop {
        let (got, err) = validate(up, tal, cache, "0");
        if &got == want && !err.contains("warning:") {
            return;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "{what}: {got:?} vs {want:?}\n{err}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn roll_3_a_validator_follows_the_tak_to_the_new_ta_key_with_no_vrp_lost() {
    let w = scratch("ta-keyroll");
    let data = w.join("data");
    let up = start(&data, &port_settings(), &w.join("up.log"));
    let old_tal = w.join("old.tal");
    std::fs::copy(up.json["tal"].as_str().unwrap(), &old_tal).unwrap();
    let (follower, plain) = (w.join("follower-cache"), w.join("plain-cache"));
    let (before, err) = validate(&up.json, &old_tal, &follower, "0");
    assert!(before.len() >= 4 && !err.contains("warning:"), "{before:?}\n{err}");

    // Staging: the successor announced.
    let out = keyroll(&up.json, &data, &[]);
    assert!(out.starts_with("trust anchor staging: key ") && out.contains("successor "), "{out}");
    let new_tal = w.join("new.tal");
    // The follower moves to the successor once the TAK is published (acceptance time 0 s),
    // with the same VRPs in every run.
    let t0 = Instant::now();
    loop {
        let (vrps, err) = validate(&up.json, &old_tal, &follower, "0");
        assert_eq!(vrps, before, "{err}");
        let state = std::fs::read_to_string(follower.join("tak/old.json")).unwrap_or_default();
        if state.contains("\"current\": {") {
            assert!(err.contains("moved to the successor key"), "{err}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the follower never moved: {state}\n{err}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // A validator with the default 30 days stays on the old key, and sees the same VRPs.
    let (vrps, err) = validate(&up.json, &old_tal, &plain, &(30 * 86400).to_string());
    assert_eq!(vrps, before, "{err}");
    let state = std::fs::read_to_string(plain.join("tak/old.json")).unwrap();
    assert!(state.contains("\"current\": null") && state.contains("\"successor\": ["), "waiting: {state}");

    // The successor takes over; then the old TA is retired.
    let out = keyroll(&up.json, &data, &["--activate", "--tal", new_tal.to_str().unwrap()]);
    assert!(out.starts_with("trust anchor active: key "), "{out}");
    // The TAL the CA now gives is the successor's: another key, and what /api/v1/tal serves.
    let (old_text, new_text) = (std::fs::read_to_string(&old_tal).unwrap(), std::fs::read_to_string(&new_tal).unwrap());
    assert_ne!(old_text.lines().last(), new_text.lines().last(), "the TAL's key changed");
    let served = reqwest::blocking::get(format!("{}/api/v1/tal", up.json["ca_api"].as_str().unwrap())).unwrap().text().unwrap();
    assert_eq!(served, new_text);
    wait_published(&up.json, &old_tal, &follower, &before, "the follower after the takeover");
    let (vrps, err) = validate(&up.json, &old_tal, &plain, &(30 * 86400).to_string());
    assert_eq!(vrps, before, "the old TAL still works until the old TA is retired: {err}");
    let out = keyroll(&up.json, &data, &["--retire"]);
    assert!(out.starts_with("trust anchor none: key "), "{out}");
    wait_published(&up.json, &old_tal, &follower, &before, "the follower after the retirement");
    let (vrps, err) = validate(&up.json, &new_tal, &w.join("new-cache"), "0");
    assert_eq!(vrps, before, "the new TAL: {err}");
    let (vrps, err) = validate(&up.json, &old_tal, &w.join("fresh-cache"), &(30 * 86400).to_string());
    assert!(vrps.is_empty() && err.contains("TA-"), "a validator that never followed the TAK finds no TA: {err}");
    // rpkit up's own validator followed too: its routers lost nothing.
    let http = up.json["validator_http"].as_str().unwrap();
    let j: Value = reqwest::blocking::get(format!("{http}/json")).unwrap().json().unwrap();
    let served: BTreeSet<String> =
        j["roas"].as_array().unwrap().iter().map(|r| format!("{} {} {}", r["prefix"], r["maxLength"], r["asn"])).collect();
    assert_eq!(served, before, "rpkit up's validator");
}
