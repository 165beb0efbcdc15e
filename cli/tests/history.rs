//! The CA's history: every change applied is an entry naming its actor, what
//! was asked and what was published (hashes that match the repository); a
//! member sees only its own entries; `rpkit ca history verify` checks the hash
//! chain offline and names the first entry altered, removed or reordered.

use rpkit_test_vectors::peers::{self, Proc};
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

fn cli(url: &str, token: &str, args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RPKIT_SERVER", url).env("RPKIT_TOKEN", token).output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn history(url: &str, token: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["ca", "history", "--format", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(cli(url, token, &args))).unwrap()
}

/// `rpkit ca history verify` on a copy of the database changed by `sql`.
fn verify_after(data: &Path, name: &str, sql: &str) -> (bool, String) {
    let copy = data.parent().unwrap().join(name);
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(data.join("ca.sqlite"), copy.join("ca.sqlite")).unwrap();
    if !sql.is_empty() {
        rusqlite::Connection::open(copy.join("ca.sqlite")).unwrap().execute_batch(sql).unwrap();
    }
    let o = Command::new(BIN).args(["ca", "history", "verify", "--data"]).arg(&copy).output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr))
}

/// The head hash a verify prints.
fn out_head(out: &str) -> &str {
    out.rsplit("head ").next().unwrap().trim()
}

#[test]
fn every_change_is_recorded_in_a_chain_that_verify_checks_offline() {
    let w = peers::open_dir("history");
    let data = w.join("ca");
    ok(Command::new(BIN).args(["ta", "init", "--data"]).arg(&data).output().unwrap());
    let mut server = Proc::spawn(
        Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data).env("RUST_LOG", "warn"),
        &w.join("ca.log"),
    );
    let url = server.wait_line("rpkit CA API on ");
    let admin = std::fs::read_to_string(data.join("admin-token")).unwrap().trim().to_string();
    ok(cli(&url, &admin, &["members", "add", "isp-a", "AS64496, 192.0.2.0/24"]));
    ok(cli(&url, &admin, &["members", "add", "isp-b", "AS64497, 198.51.100.0/24"]));
    let token_a = ok(cli(&url, &admin, &["members", "token", "create", "isp-a"])).trim().to_string();
    let token_b = ok(cli(&url, &admin, &["members", "token", "create", "isp-b"])).trim().to_string();
    ok(cli(&url, &token_a, &["roa", "add", "192.0.2.0/24", "AS64496"]));
    ok(cli(&url, &token_b, &["roa", "add", "198.51.100.0/24", "AS64497"]));
    ok(cli(&url, &token_a, &["aspa", "set", "AS64496", "AS64500"]));
    ok(cli(&url, &token_a, &["roa", "remove", "192.0.2.0/24", "AS64496"]));
    // A refused request changes nothing and adds no entry.
    assert!(!cli(&url, &token_a, &["roa", "add", "203.0.113.0/24", "AS64496"]).status.success());

    let all = history(&url, &admin, &[]);
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["ta.init", "member.add", "member.add", "token.create", "token.create", "roa.apply", "roa.apply", "aspa.put", "roa.apply"]
    );
    let seqs: Vec<u64> = all.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
    assert_eq!(all[0]["actor"], "operator");
    assert_eq!(all[1]["actor"], "admin");
    assert!(all[5]["actor"].as_str().unwrap().starts_with("member:isp-a (token "), "{}", all[5]["actor"]);
    assert_eq!(all[5]["request"], json!({"added": [{"prefix": "192.0.2.0/24", "max_length": 24, "asn": 64496}], "removed": []}));
    for e in &all {
        assert_eq!(e["outcome"], "applied");
    }
    for pair in all.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "a chain");
    }
    // What an entry published is what the repository got.
    let object = |entry: &Value, ext: &str| {
        entry["published"].as_array().unwrap().iter().find(|o| o["uri"].as_str().unwrap().ends_with(ext)).unwrap().clone()
    };
    let file_digest = |uri: &Value| {
        let path = data.join("repository").join(uri.as_str().unwrap().trim_start_matches("rsync://"));
        rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(&std::fs::read(&path).unwrap()))
    };
    let aspa = object(&all[7], ".asa");
    assert_eq!(aspa["sha256"].as_str().unwrap(), file_digest(&aspa["uri"]), "the ASPA in the repository is the one recorded");
    let mft = object(&all[8], ".mft");
    assert_eq!(mft["sha256"].as_str().unwrap(), file_digest(&mft["uri"]), "the current manifest is the last one recorded");
    let roa = object(&all[5], ".roa");
    let withdrawn = all[8]["published"].as_array().unwrap().iter().find(|o| o["uri"] == roa["uri"]).unwrap().clone();
    assert_eq!(withdrawn["withdrawn"], true, "the last change withdrew the ROA");
    assert_eq!(withdrawn["sha256"], roa["sha256"], "the object withdrawn is the one published");

    // A member sees only its own entries, and never another's.
    let mine = history(&url, &token_b, &[]);
    assert!(!mine.is_empty() && mine.iter().all(|e| e["member"] == "isp-b"), "{mine:?}");
    let other = cli(&url, &token_b, &["ca", "history", "--member", "isp-a"]);
    assert!(!other.status.success() && String::from_utf8_lossy(&other.stderr).contains("forbidden"));
    let since = history(&url, &admin, &["--since", all[6]["time"].as_str().unwrap()]);
    assert!(since.iter().all(|e| e["seq"].as_u64().unwrap() >= 7 || e["time"] == all[6]["time"]));
    server.stop();

    let (held, out) = verify_after(&data, "intact", "");
    assert!(held && out.contains("9 entries, the chain holds"), "{out}");
    let (held, out) = verify_after(&data, "altered", "UPDATE history SET request = '{\"added\": []}' WHERE seq = 6;");
    assert!(!held && out.contains("entry 6: altered"), "{out}");
    let (held, out) = verify_after(&data, "removed", "DELETE FROM history WHERE seq = 4;");
    assert!(!held && out.contains("entry 4: missing"), "{out}");
    let (held, out) = verify_after(
        &data,
        "reordered",
        "UPDATE history SET seq = 100 WHERE seq = 3; UPDATE history SET seq = 3 WHERE seq = 2; UPDATE history SET seq = 2 WHERE seq = 100;",
    );
    assert!(!held && out.contains("entry 2:"), "{out}");
    // A tail cut off leaves a shorter chain that holds: the head noted before finds it.
    let head = all[8]["hash"].as_str().unwrap();
    assert!(out_head(&verify_after(&data, "intact-head", "").1) == head);
    let copy = data.parent().unwrap().join("cut");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(data.join("ca.sqlite"), copy.join("ca.sqlite")).unwrap();
    rusqlite::Connection::open(copy.join("ca.sqlite")).unwrap().execute_batch("DELETE FROM history WHERE seq = 9;").unwrap();
    let o = Command::new(BIN).args(["ca", "history", "verify", "--head", head, "--data"]).arg(&copy).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("cut off") && err.contains("ends at entry 8"), "{err}");
    let _ = std::fs::remove_dir_all(&w);
}
