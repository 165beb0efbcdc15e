//! `rpkit inspect`: every object type is recognised by its content and printed as
//! JSON with its fields; a malformed object exits 1 with one line naming the rule.

use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::crl::{CrlBuilder, Revoked};
use rpkit_objects::crypto::sha256;
use rpkit_objects::manifest::{FileAndHash, Manifest, ManifestContent};
use rpkit_objects::resources::Asn;
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use rpkit_objects::tal::Tal;
use rpkit_test_vectors::fixture::Fixture;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rpkit-inspect-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn inspect(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rpkit")).arg("inspect").arg(path).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

fn json_of(dir: &Path, name: &str, bytes: &[u8]) -> Value {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let (code, out, err) = inspect(&p);
    assert_eq!(code, 0, "{name}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn inspect_prints_every_object_type_recognised_by_content() {
    let f = Fixture::new();
    let dir = tmpdir("types");
    // File names deliberately carry no or a wrong extension.
    let ta = json_of(&dir, "ta.bin", f.ta.to_der());
    assert_eq!(ta["type"], "certificate");
    assert_eq!(ta["kind"], "ta");
    assert_eq!(ta["ski"], f.ta.ski.hex());
    assert_eq!(ta["resources"]["ipv4"][0], "0.0.0.0/0");
    assert_eq!(ta["sia"]["rpki_notify"][0], "https://rpki.test/rrdp/notification.xml");

    let ca = json_of(&dir, "ca.roa", f.ca.to_der());
    assert_eq!(ca["kind"], "ca");
    assert_eq!(ca["aki"], f.ta.ski.hex());
    assert_eq!(ca["resources"]["asn"][0], "AS64496-AS64511");
    assert!(ca["crl_distribution_points"][0].as_str().unwrap().starts_with("rsync://"));
    assert!(ca["not_before"].as_str().unwrap().ends_with('Z'));

    let roa = Roa::build(
        &RoaContent { asn: Asn(64496), prefixes: vec![RoaPrefix { prefix: "192.0.2.0/24".parse().unwrap(), max_length: Some(26) }] },
        &f.issuer(),
        &f.ee(5, "r.roa"),
        f.key(),
        f.now,
    )
    .unwrap();
    let r = json_of(&dir, "roa", roa.signed.to_der());
    assert_eq!(r["type"], "roa");
    assert_eq!(r["asn"], 64496);
    assert_eq!(r["prefixes"][0]["prefix"], "192.0.2.0/24");
    assert_eq!(r["prefixes"][0]["max_length"], 26);
    assert_eq!(r["cms_signature_valid"], true);
    assert_eq!(r["signing_time"], f.now.rfc3339());
    assert_eq!(r["ee_certificate"]["resources"]["ipv4"][0], "192.0.2.0/24");

    let mc = ManifestContent {
        manifest_number: Serial::from_u64(0x1234),
        this_update: f.now,
        next_update: f.now.add_secs(3600),
        files: vec![FileAndHash { file: "r.roa".into(), hash: sha256(roa.signed.to_der()) }],
    };
    let m = Manifest::build(&mc, &f.issuer(), Serial::from_u64(6), "rsync://rpki.test/repo/member/m.mft").unwrap();
    let m = json_of(&dir, "m.cer", m.signed.to_der());
    assert_eq!(m["type"], "manifest");
    assert_eq!(m["manifest_number"], "1234");
    assert_eq!(m["files"][0]["file"], "r.roa");
    assert_eq!(m["files"][0]["hash"], rpkit_objects::hex::lower(&sha256(roa.signed.to_der())));
    assert_eq!(m["ee_certificate"]["resources"]["ipv4"], "inherit");

    let a = Aspa::build(&AspaContent::new(Asn(64500), [Asn(64501), Asn(64502)]).unwrap(), &f.issuer(), &f.ee(7, "a.asa"), f.key(), f.now)
        .unwrap();
    let a = json_of(&dir, "a", a.signed.to_der());
    assert_eq!(a["type"], "aspa");
    assert_eq!(a["customer_asid"], 64500);
    assert_eq!(a["providers"], serde_json::json!([64501, 64502]));

    let crl = CrlBuilder {
        issuer: f.ca.subject.clone(),
        aki: f.ca.ski,
        this_update: f.now,
        next_update: f.now.add_secs(3600),
        crl_number: Serial::from_u64(3),
        revoked: vec![Revoked { serial: Serial::from_u64(0xabc), revocation_date: f.now }],
    }
    .sign(&f.signer, &f.ca_key)
    .unwrap();
    let c = json_of(&dir, "c", crl.to_der());
    assert_eq!(c["type"], "crl");
    assert_eq!(c["revoked"][0]["serial"], "ABC");
    assert_eq!(c["crl_number"], "3");

    let tal = Tal { comments: vec!["test".into()], uris: vec!["https://rpki.test/ta.cer".into()], key: f.ta.public_key.clone() };
    let t = json_of(&dir, "t", tal.encode().as_bytes());
    assert_eq!(t["type"], "tal");
    assert_eq!(t["uris"][0], "https://rpki.test/ta.cer");
    assert_eq!(t["public_key"]["ski"], f.ta.ski.hex());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_malformed_exits_1_with_one_line_naming_the_rule() {
    let f = Fixture::new();
    let dir = tmpdir("bad");
    let roa = Roa::build(
        &RoaContent { asn: Asn(1), prefixes: vec![RoaPrefix { prefix: "10.0.0.0/8".parse().unwrap(), max_length: None }] },
        &f.issuer(),
        &f.ee(8, "x.roa"),
        f.key(),
        f.now,
    )
    .unwrap();
    let der = roa.signed.to_der();
    for (name, bytes, rule) in [
        ("truncated.roa", der[..der.len() - 10].to_vec(), "exceeds the available"),
        ("trailing.roa", [der, &[0u8][..]].concat(), "CMS-1"),
        ("garbage.cer", vec![0x01, 0x02, 0x03], "RFC 6481"),
        ("empty.tal", b"\n".to_vec(), "TA-1"),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, &bytes).unwrap();
        let (code, out, err) = inspect(&p);
        assert_eq!(code, 1, "{name}");
        assert!(out.is_empty(), "{name}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
        assert!(err.contains(rule), "{name}: {err}");
    }
    let (code, _, err) = inspect(&dir.join("missing.roa"));
    assert_eq!(code, 1);
    assert!(err.contains("missing.roa"));
    let _ = std::fs::remove_dir_all(&dir);
}
