//! The test vectors of CHECKLIST Appendix B, read in place from the checklist.

mod common;

use base64::Engine;
use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::resources::{Asn, Choice};
use rpkit_objects::roa::{Roa, RoaContent};

fn checklist() -> String {
    let p = common::corpus().join("../spec/CHECKLIST.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The hex string in backticks on the line of a `- **B.n ...**` item.
fn inline_hex(label: &str) -> Vec<u8> {
    let text = checklist();
    let start = text.find(&format!("**{label}")).unwrap();
    let item = &text[start..];
    let item = &item[..item.find("\n- **").unwrap_or(item.len())];
    let hex = item.split('`').nth(1).unwrap();
    rpkit_objects::hex::decode(hex).unwrap()
}

/// The base64 block following `{label} (base64 of the DER):`.
fn block(label: &str) -> Vec<u8> {
    let text = checklist();
    let start = text.find(&format!("{label} (base64 of the DER):")).unwrap();
    let rest = &text[start..];
    let b = rest.split("```").nth(1).unwrap();
    let b64: String = b.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
}

fn time(s: &str) -> Time {
    Time::parse_rfc3339(s).unwrap()
}

#[test]
fn b1_roa_econtent() {
    let mut w = Vec::new();
    let c = RoaContent::decode(&inline_hex("B.1"), &mut w).unwrap();
    assert_eq!(c.asn, Asn(15562));
    let p: Vec<String> = c.prefixes.iter().map(|p| format!("{}-{}", p.prefix, p.max_len())).collect();
    assert_eq!(p, ["2001:67c:208c::/48-48", "2a0e:b240::/48-48"]);
    assert!(w.is_empty());
    assert_eq!(c.encode(), inline_hex("B.1"), "our encoder reproduces the vector");
}

#[test]
fn b2_aspa_econtent() {
    let c = AspaContent::decode(&inline_hex("B.2")).unwrap();
    assert_eq!(c.customer, Asn(65123));
    assert_eq!(c.providers, [Asn(64512), Asn(65551), Asn(4200000000)]);
    assert_eq!(c.encode(), inline_hex("B.2"));
}

#[test]
fn b3_full_roa_decodes_and_verifies() {
    let der = block("B.3");
    assert_eq!(der.len(), 1807);
    assert_eq!(rpkit_objects::hex::lower(&sha256(&der)), "13afbad09ed59b315efd8722d38b09fd02962e376e4def32247f9de905649b47");
    let roa = Roa::decode(&der).unwrap();
    roa.signed.verify_signature().unwrap();
    let ee = &roa.signed.ee;
    assert_eq!(ee.serial.hex(), "86F9");
    assert_eq!(ee.ski.hex(), "A3D964245749BB6DD5AB1F2E830E33A6C5146E8F");
    assert_eq!(ee.aki.unwrap().hex(), "38E14F92FDC7CCFBFC182361523AE27D697E952F");
    assert_eq!(ee.not_before, time("2022-06-17T00:24:22Z"));
    assert_eq!(ee.not_after, time("2023-07-01T00:00:00Z"));
    assert_eq!(roa.signed.signing_time, time("2022-06-17T00:24:22Z"));
    assert_eq!(ee.resources.explicit_set().to_string(), "2001:67c:208c::/48, 2a0e:b240::/48");
    assert_eq!(roa.content.asn, Asn(15562));
    // The EE's SIA carries rpkiNotify: one warning naming CERT-18 (errata 7239).
    let rules: Vec<&str> = roa.warnings.iter().map(|w| w.rule).collect();
    assert_eq!(rules, ["CERT-18"]);
}

#[test]
fn b4_full_aspa_decodes_and_verifies_with_absent_sha256_parameters() {
    let der = block("B.4");
    assert_eq!(der.len(), 1584);
    assert_eq!(rpkit_objects::hex::lower(&sha256(&der)), "4ba07e8ca3821573e5467ef0b3a29de6d829b12c7ad3db49669c3ad0255a7fd6");
    let aspa = Aspa::decode(&der).unwrap();
    aspa.signed.verify_signature().unwrap();
    let ee = &aspa.signed.ee;
    assert_eq!(ee.serial.hex(), "4");
    assert_eq!(ee.ski.hex(), "2B87C76F5EEEF62044F528B82C929B28D55732AC");
    assert_eq!(ee.aki.unwrap().hex(), "369AD0192C674E783222CD328566B79412B18F26");
    assert_eq!((ee.not_before, ee.not_after), (time("2025-01-06T10:26:48Z"), time("2026-01-06T10:26:48Z")));
    assert_eq!(aspa.signed.signing_time, time("2025-01-06T10:26:48Z"));
    assert_eq!(ee.resources.asn.as_ref().and_then(Choice::blocks).unwrap().to_strings(), ["AS65123"]);
    assert_eq!(ee.sia.signed_object, ["rsync://localhost/ta/an-object.asa"]);
    assert!(aspa.warnings.is_empty(), "{:?}", aspa.warnings);
}

#[test]
fn cms_8_flipped_payload_bit_is_rejected() {
    let mut der = block("B.3");
    // The eContent starts right after the ROA OID's [0] and OCTET STRING headers.
    let pos = der.windows(4).position(|w| w == [0x30, 0x24, 0x02, 0x02]).unwrap();
    der[pos + 3] ^= 0x01;
    assert_eq!(Roa::decode(&der).unwrap_err().rule, "CMS-8");
}
