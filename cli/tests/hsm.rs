//! CA keys in an HSM (SoftHSM2 over PKCS#11): `rpkit up` with every CA key,
//! its RFC 8181 identity and its one-time keys in the token comes up and issues ROAs; the database holds no private part of
//! those keys; a wrong PIN, an absent token or a missing module stop the start
//! naming the cause; a token pulled in the middle of the work refuses changes
//! (nothing applied, reads still served, /health and /metrics tell) until it
//! is back. (rpki-client and Routinator accept a repository signed in the
//! HSM: `interop_repository.rs` runs with every key in SoftHSM2.)

use rpkit_test_vectors::peers;
#[path = "peers/up.rs"]
mod up_run;

use rpkit_objects::crypto::{Pkcs11Config, Pkcs11Signer};
use rpkit_test_vectors::softhsm::{self, Token};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use up_run::{port_settings, scratch, start_cmd, up_command, BIN};
#[path = "peers/hsm_support.rs"]
mod hsm_support;
use hsm_support::{database_bytes, flags_of, holds, pkcs1_start, vrps, wait_until};

fn get(url: &str) -> (u16, String) {
    match reqwest::blocking::get(url) {
        Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
        // With its cause (refused, timed out): the error's own text names only the URL.
        Err(e) => (0, format!("{e:?}")),
    }
}

/// `rpkit roa ...` as the demo member.
fn roa(up: &Value, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("roa")
        .args(args)
        .env("RPKIT_SERVER", up["ca_api"].as_str().unwrap())
        .env("RPKIT_TOKEN", up["member"]["token"].as_str().unwrap())
        .output()
        .unwrap()
}

#[test]
fn up_with_every_ca_key_in_softhsm_issues_roas_keeps_no_private_part_and_survives_a_pulled_token() {
    if !softhsm::available() {
        return;
    }
    let w = scratch("hsm");
    let t = Token::new(&w.join("hsm"), "rpkit-ca", "4321");
    let data = w.join("data");
    let sets = port_settings();
    let mut cmd = up_command(&data, &sets, None);
    // One-time keys in the token too (the interoperability test keeps them in software).
    cmd.args(flags_of(&t.pin_file, "rpkit-ca")).args(["--one-time-keys", "hsm"]).env("SOFTHSM2_CONF", &t.conf);
    let mut up = start_cmd(cmd, &data, &w.join("up.log"));
    let http = up.json["validator_http"].as_str().unwrap().to_string();
    let ca_api = up.json["ca_api"].as_str().unwrap().to_string();
    wait_until("the demo VRPs", || vrps(&http).contains("192.0.2.0/24-24 64496"));

    // A member's ROA, signed under its CA key in the token.
    let o = roa(&up.json, &["add", "192.0.2.0/25", "AS64496"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until("the new VRP", || vrps(&http).contains("192.0.2.0/25-25 64496"));

    // The database: token keys by identifier only, none of their private parts.
    let db = rusqlite::Connection::open(data.join("ca/ca.sqlite")).unwrap();
    let software: i64 = db.query_row("SELECT count(*) FROM keys", [], |r| r.get(0)).unwrap();
    let cas: i64 = db.query_row("SELECT count(*) FROM cas", [], |r| r.get(0)).unwrap();
    let token_ids: Vec<String> =
        db.prepare("SELECT key_id FROM token_keys").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    drop(db);
    assert_eq!(software, 0, "no CA key in software");
    assert!(token_ids.len() as i64 >= cas && cas >= 5, "{} token keys for {cas} CAs", token_ids.len());
    std::env::set_var("SOFTHSM2_CONF", &t.conf);
    let hsm =
        Pkcs11Signer::open(Pkcs11Config { module: softhsm::MODULE.into(), token_label: "rpkit-ca".into(), pin: "4321".into() }).unwrap();
    let in_token: BTreeSet<String> = hsm.list_keys().unwrap().iter().map(|k| k.hex()).collect();
    assert!(token_ids.iter().all(|id| in_token.contains(id)), "every recorded key is in the token");
    // The RFC 8181/8183 identity too: its two keys by identifier, no key file.
    let bpki = data.join("ca/bpki");
    assert!(!bpki.join("id.key").exists() && !bpki.join("id-ee.key").exists(), "no identity key file");
    let ids = std::fs::read_to_string(bpki.join("id.key-ids")).unwrap();
    assert_eq!(ids.split_whitespace().filter(|id| in_token.contains(*id)).count(), 2, "{ids}");
    let bytes = database_bytes(&data.join("ca"));
    for k in hsm.list_keys().unwrap() {
        let n = hsm.modulus(&k).unwrap();
        if token_ids.contains(&k.hex()) {
            assert!(holds(&bytes, &n[..64]), "the database holds the public key of CA key {k} (its certificate)");
        }
        assert!(!holds(&bytes, &pkcs1_start(&n)), "the database holds the private key of {k}");
    }
    drop(hsm);
    // The same search finds the keys of a CA with software keys: it can fail.
    let soft = w.join("soft");
    let st = Command::new(BIN).args(["ta", "init", "--data"]).arg(&soft).output().unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let db = rusqlite::Connection::open(soft.join("ca.sqlite")).unwrap();
    let der: Vec<u8> = db.query_row("SELECT pkcs1 FROM keys LIMIT 1", [], |r| r.get(0)).unwrap();
    drop(db);
    assert_eq!(der[4..12], [0x02, 0x01, 0x00, 0x02, 0x82, 0x01, 0x01, 0x00], "PKCS#1: version, then n");
    let n = &der[12..12 + 256];
    assert!(holds(&database_bytes(&soft), &pkcs1_start(n)), "the search finds a software key");

    // The token is pulled: changes are refused naming the HSM and nothing is
    // applied; reads go on; /health and /metrics say so.
    let rsync = Path::new(up.json["rsync_dir"].as_str().unwrap()).to_path_buf();
    let before_tree = peers::tree_digests(&rsync);
    let before_roas = String::from_utf8(roa(&up.json, &["list"]).stdout).unwrap();
    let saved = w.join("saved-tokens");
    assert!(Command::new("cp").arg("-a").arg(t.tokens_dir()).arg(&saved).status().unwrap().success());
    t.delete_token("rpkit-ca");
    wait_until("/health to report the HSM", || {
        let (st, body) = get(&format!("{ca_api}/health"));
        st == 503 && body.contains("signer: HSM")
    });
    let (_, metrics) = get(&format!("{ca_api}/metrics"));
    assert!(metrics.contains("rpkit_ca_signer_up 0\n"), "{metrics}");
    let o = roa(&up.json, &["add", "192.0.2.128/25", "AS64496"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("HSM") && err.contains("hsm_unavailable"), "{err}");
    let after = roa(&up.json, &["list"]);
    assert!(after.status.success(), "reads are served: {}", String::from_utf8_lossy(&after.stderr));
    assert_eq!(String::from_utf8(after.stdout).unwrap(), before_roas, "nothing applied");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(peers::tree_digests(&rsync), before_tree, "the repository is as before");

    // The token is back: the CA reopens it (after its back-off) and works again.
    std::fs::remove_dir_all(t.tokens_dir()).unwrap();
    // Put back whole, by a rename: the CA's retries never see a half-copied token.
    let staged = w.join("restored-tokens");
    assert!(Command::new("cp").arg("-a").arg(&saved).arg(&staged).status().unwrap().success());
    std::fs::rename(&staged, t.tokens_dir()).unwrap();
    let mut last;
    let t0 = Instant::now();
    while {
        let (st, body) = get(&format!("{ca_api}/health"));
        last = body;
        st != 200
    } {
        if t0.elapsed() > Duration::from_secs(90) {
            let status = up.proc.exited().map_or("still running".to_string(), |st| format!("exited: {st}"));
            panic!("/health to recover: not after 90 s; it says {last}\nrpkit up {status}\n{}", up.proc.log_text());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = roa(&up.json, &["add", "192.0.2.128/25", "AS64496"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until("the VRP added after the token came back", || vrps(&http).contains("192.0.2.128/25-25 64496"));
    drop(up);
    // A clean stop keeps a software key pool in the database; the token's is none of it.
    let pooled: i64 = rusqlite::Connection::open(data.join("ca/ca.sqlite"))
        .unwrap()
        .query_row("SELECT count(*) FROM key_pool", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pooled, 0, "no one-time key in software");

    // Start-up faults, each named; the start refuses and changes nothing.
    let bad_pin = w.join("bad.pin");
    std::fs::write(&bad_pin, "0000\n").unwrap();
    for (args, want) in [
        (flags_of(&bad_pin, "rpkit-ca"), "refuses the PIN"),
        (flags_of(&t.pin_file, "absent"), "no token labelled \"absent\""),
        (
            {
                let mut f = flags_of(&t.pin_file, "rpkit-ca");
                f[1] = "/nonexistent/libvendor-pkcs11.so".into();
                f
            },
            "/nonexistent/libvendor-pkcs11.so does not exist",
        ),
    ] {
        let mut cmd = up_command(&data, &sets, None);
        let out = cmd.args(&args).env("SOFTHSM2_CONF", &t.conf).arg("--quiet").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{args:?}: {err}");
    }

    // A restart without flags finds the keys through the CA's settings.
    let mut cmd = up_command(&data, &sets, None);
    cmd.env("SOFTHSM2_CONF", &t.conf);
    let up = start_cmd(cmd, &data, &w.join("up2.log"));
    let http = up.json["validator_http"].as_str().unwrap().to_string();
    wait_until("the VRPs after a restart", || vrps(&http).contains("192.0.2.128/25-25 64496"));
    let o = roa(&up.json, &["remove", "192.0.2.0/25", "AS64496"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until("the removal", || !vrps(&http).contains("192.0.2.0/25-25 64496"));
}
