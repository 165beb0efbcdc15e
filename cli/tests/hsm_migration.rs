//! Moving a CA from software keys into an HSM (SoftHSM2 over PKCS#11) by
//! staged key rolls, through a kill -9, with the validator's VRPs unchanged
//! throughout. (A test binary of its own: the PKCS#11 library is set up once
//! per process, for one token directory.)

use rpkit_test_vectors::peers;
#[path = "peers/up.rs"]
mod up_run;

use rpkit_objects::crypto::{Pkcs11Config, Pkcs11Signer};
use rpkit_test_vectors::softhsm::{self, Token};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use up_run::{port_settings, scratch, start_cmd, up_command, BIN};
#[path = "peers/hsm_support.rs"]
mod hsm_support;
use hsm_support::{database_bytes, flags_of, holds, pkcs1_start, vrps, vrps_if_up, wait_until};

/// `rpkit members keyroll HANDLE ...` / `rpkit ca keyroll rir ...` as the admin.
fn keyroll(data: &Path, up: &Value, args: &[&str]) -> String {
    let token = std::fs::read_to_string(data.join("ca/admin-token")).unwrap();
    let out =
        Command::new(BIN).args(args).env("RPKIT_SERVER", up["ca_api"].as_str().unwrap()).env("RPKIT_TOKEN", token.trim()).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Moving a CA set up with software keys into the HSM is a staged key roll of
/// every CA below the TA (ROLL-1): a restart with the PKCS#11 flags starts the
/// rolls, a kill -9 in the pending phase loses nothing, and after the staging
/// time every CA key is in the token, the software keys destroyed, while the
/// validator's VRPs never change.
#[test]
fn roll_1_software_keys_move_into_the_hsm_by_staged_rolls_and_no_vrp_is_lost() {
    if !softhsm::available() {
        return;
    }
    let w = scratch("hsm-migration");
    let t = Token::new(&w.join("hsm"), "rpkit-move", "1357");
    let data = w.join("data");
    let mut sets = port_settings();
    sets.push("ca.keyroll_staging_seconds=8".into());
    let up = start_cmd(up_command(&data, &sets, None), &data, &w.join("up1.log"));
    let http = up.json["validator_http"].as_str().unwrap().to_string();
    wait_until("the demo VRPs", || vrps(&http).contains("192.0.2.0/24-24 64496"));
    let before = vrps(&http);
    let db = || rusqlite::Connection::open(data.join("ca/ca.sqlite")).unwrap();
    let count = |sql: &str| -> i64 { db().query_row(sql, [], |r| r.get(0)).unwrap() };
    let cas = count("SELECT count(*) FROM cas");
    assert_eq!(count("SELECT count(*) FROM keys"), cas, "every CA key in software at first");
    let status = keyroll(&data, &up.json, &["members", "keyroll", "demo-isp", "--status"]);
    assert!(status.starts_with("demo-isp active: key ") && status.contains("(software, since "), "{status}");
    drop(up);

    // With the token: the rolls start, each next key in the token.
    let with_token = || {
        let mut cmd = up_command(&data, &sets, None);
        cmd.args(flags_of(&t.pin_file, "rpkit-move")).env("SOFTHSM2_CONF", &t.conf);
        cmd
    };
    let up = start_cmd(with_token(), &data, &w.join("up2.log"));
    wait_until("the migration rolls to start", || count("SELECT count(*) FROM keyrolls") == cas - 1);
    let status = keyroll(&data, &up.json, &["members", "keyroll", "demo-isp", "--status"]);
    assert!(status.contains("demo-isp pending: key ") && status.contains("(hsm), staged for migration, takes over at "), "{status}");
    let rir = keyroll(&data, &up.json, &["ca", "keyroll", "rir", "--status"]);
    assert!(rir.contains("rir pending") && rir.contains("(hsm), staged for migration"), "{rir}");
    assert_eq!(vrps_if_up(&http).unwrap(), before, "pending: the same VRPs");
    let old_keys: Vec<(String, Vec<u8>)> = db()
        .prepare("SELECT key_id, pkcs1 FROM keys WHERE key_id != (SELECT key_id FROM cas WHERE kind = 'ta')")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(old_keys.len() as i64, cas - 1);

    // kill -9 while the rolls are pending; the restart carries them on.
    up.proc.kill();
    let _ = std::fs::remove_file(data.join("up.json"));
    let up = start_cmd(with_token(), &data, &w.join("up3.log"));
    let http = up.json["validator_http"].as_str().unwrap().to_string();
    wait_until("every roll to end with its old key destroyed", || {
        if let Some(v) = vrps_if_up(&http) {
            assert_eq!(v, before, "the VRPs never change during the rolls");
        }
        count("SELECT count(*) FROM keyrolls") == 0 && count("SELECT count(*) FROM retired_keys") == 0
    });
    let status = keyroll(&data, &up.json, &["members", "keyroll", "demo-isp", "--status"]);
    assert!(status.starts_with("demo-isp active: key ") && status.contains("(hsm, since "), "{status}");
    assert_eq!(count("SELECT count(*) FROM keys"), 1, "only the trust anchor's key stays in software (it rolls by RFC 9691)");
    let token_ids: BTreeSet<String> =
        db().prepare("SELECT key_id FROM token_keys").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(token_ids.len() as i64, cas - 1);
    std::env::set_var("SOFTHSM2_CONF", &t.conf);
    let hsm =
        Pkcs11Signer::open(Pkcs11Config { module: softhsm::MODULE.into(), token_label: "rpkit-move".into(), pin: "1357".into() }).unwrap();
    let in_token: BTreeSet<String> = hsm.list_keys().unwrap().iter().map(|k| k.hex()).collect();
    assert_eq!(in_token, token_ids, "the token holds exactly the CA keys in use");
    // The old software keys are gone from the database file and its WAL, not just unlinked.
    let bytes = database_bytes(&data.join("ca"));
    for (id, pkcs1) in &old_keys {
        assert!(!token_ids.contains(id));
        assert!(!holds(&bytes, &pkcs1_start(&pkcs1[12..12 + 256])), "the destroyed key {id} is still in the database's bytes");
    }
    let history = keyroll(&data, &up.json, &["ca", "history", "--format", "json"]);
    let destroyed = history.matches("\"key.destroy\"").count();
    assert_eq!(destroyed as i64, cas - 1, "each old key's destruction is in the history");
    // Validators downstream saw the same VRPs after the rolls.
    wait_until("the validator after the rolls", || vrps_if_up(&http).is_some_and(|v| v == before));
}
