//! What the HSM tests share: SoftHSM2's flags, waiting, and searching a CA's
//! database bytes for private keys.
#![allow(dead_code)]

use rpkit_test_vectors::softhsm;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// The PKCS#11 flags for SoftHSM2's token `label`.
pub fn flags_of(pin_file: &Path, label: &str) -> Vec<String> {
    vec![
        "--pkcs11-module".into(),
        softhsm::MODULE.into(),
        "--pkcs11-token".into(),
        label.into(),
        "--pkcs11-pin-file".into(),
        pin_file.display().to_string(),
    ]
}

pub fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < Duration::from_secs(90), "{what}: not after 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Where a PKCS#1 RSAPrivateKey of the modulus `n` would start: version 0,
/// then n as a 257-octet INTEGER (an SPKI holds n after a SEQUENCE header, never after `02 01 00`).
pub fn pkcs1_start(n: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00];
    v.extend_from_slice(&n[..64]);
    v
}

pub fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The database and its WAL, as bytes.
pub fn database_bytes(ca_dir: &Path) -> Vec<u8> {
    let mut all = std::fs::read(ca_dir.join("ca.sqlite")).unwrap();
    all.extend(std::fs::read(ca_dir.join("ca.sqlite-wal")).unwrap_or_default());
    all
}

/// The validator's VRPs when it answers (None while it restarts).
pub fn vrps_if_up(http: &str) -> Option<BTreeSet<String>> {
    let r = reqwest::blocking::get(format!("{http}/json")).ok()?;
    (r.status().as_u16() == 200).then(|| {
        let j: Value = serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or_default();
        j["roas"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| format!("{}-{} {}", r["prefix"].as_str().unwrap_or(""), r["maxLength"], r["asn"]))
            .collect()
    })
}

/// The validator's VRPs; none while it does not answer.
pub fn vrps(http: &str) -> BTreeSet<String> {
    vrps_if_up(http).unwrap_or_default()
}
