//! The offline trust anchor as an operator runs it, step by step as the
//! README's operator guide shows: RFC 8183 set-up between the online CA and
//! the TA's own data directory, a signing session carried by files, the
//! online CA serving members under the RIR certificate it got, the TA's state
//! in `ta-status`, /health and /metrics, replayed files refused by both sides,
//! and the TA's own key roll reaching the online CA.

use rpkit_test_vectors::peers::{self, Proc};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

fn run(args: &[&str], dir_args: &[&Path]) -> Output {
    Command::new(BIN).args(args).args(dir_args).output().unwrap()
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn api(url: &str, token: &str, args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("RPKIT_SERVER", url).env("RPKIT_TOKEN", token).output().unwrap()
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_offline_ta_certifies_the_online_rir_ca_through_carried_files() {
    let w = peers::open_dir("offline-ta");
    let (ca, ta) = (w.join("ca"), w.join("ta"));
    // 1. The online CA's identity, as an RFC 8183 child_request.
    let child = ok(run(&["ca", "child-request", "--data"], &[&ca]));
    assert!(child.contains("<child_request") && child.contains("child_handle=\"rir\""), "{child}");
    std::fs::write(w.join("child.xml"), &child).unwrap();
    // 2. On the TA's machine: the TA alone; its parent_response and TAL.
    let out = ok(run(
        &["ta", "init", "--offline", "--next-update-days", "21", "--child-request"],
        &[&w.join("child.xml"), Path::new("--data"), &ta],
    ));
    assert!(out.contains("offline trust anchor created for child 'rir'"), "{out}");
    let parent = ta.join("parent-response.xml");
    assert!(std::fs::read_to_string(&parent).unwrap().contains("<parent_response"));
    // 3. Back online: the TA is this CA's parent.
    ok(run(&["ca", "parent", "add", "--data"], &[&ca, &parent]));
    let again = run(&["ta", "init", "--data"], &[&ca]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && err.contains("already holds a CA"), "an online CA with an offline TA makes no TA of its own: {err}");
    let mut server = Proc::spawn(
        Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(&ca).env("RUST_LOG", "warn"),
        &w.join("ca.log"),
    );
    let url = server.wait_line("rpkit CA API on ");
    let admin = std::fs::read_to_string(ca.join("admin-token")).unwrap().trim().to_string();
    let refused = api(&url, &admin, &["members", "add", "isp", "AS64496, 192.0.2.0/24"]);
    assert!(!refused.status.success(), "no member before the RIR CA is certified");

    // 4. A signing session: request, carried over, answered, carried back.
    let (req, resp) = (w.join("request.der"), w.join("response.der"));
    ok(api(&url, &admin, &["ca", "ta-request", "-o", req.to_str().unwrap()]));
    let signed = ok(run(&["ta", "sign", "--data"], &[&ta, Path::new("--request"), &req, Path::new("--response"), &resp]));
    assert!(signed.contains("the TA's manifest and CRL run out at"), "{signed}");
    let report: Value = serde_json::from_str(&ok(api(&url, &admin, &["ca", "ta-response", resp.to_str().unwrap()]))).unwrap();
    assert_eq!(report["rir_certified"], true, "{report}");

    // 5. The online CA works under the RIR certificate; everything is published.
    ok(api(&url, &admin, &["members", "add", "isp", "AS64496, 192.0.2.0/24"]));
    let files = files_under(&ca.join("repository"));
    let in_dir = |d: &str, ext: &str| files.iter().filter(|f| f.contains(&format!("/{d}/")) && f.ends_with(ext)).count();
    assert!(files.iter().any(|f| f.ends_with("repo/ta.cer")), "{files:?}");
    assert_eq!((in_dir("ta", ".mft"), in_dir("ta", ".crl"), in_dir("ta", ".cer")), (1, 1, 1), "{files:?}");
    assert_eq!((in_dir("rir", ".mft"), in_dir("rir", ".cer")), (1, 1), "{files:?}");
    let tal = reqwest::blocking::get(format!("{url}/api/v1/tal")).unwrap().text().unwrap();
    assert_eq!(tal.trim(), std::fs::read_to_string(ta.join("ta.tal")).unwrap().trim(), "the online CA serves the offline TA's TAL");

    // 6. What the operator watches: the next signing session, 21 - 7 days on.
    let status: Value = serde_json::from_str(&ok(api(&url, &admin, &["ca", "ta-status"]))).unwrap();
    assert_eq!((status["offline"].as_bool(), status["overdue"].as_bool()), (Some(true), Some(false)), "{status}");
    let next = status["next_update"].as_str().unwrap();
    let due = status["signing_due"].as_str().unwrap();
    assert!(due < next, "{status}");
    let metrics = reqwest::blocking::get(format!("{url}/metrics")).unwrap().text().unwrap();
    assert!(
        metrics.contains("rpkit_ca_ta_next_update_timestamp_seconds ") && metrics.contains("rpkit_ca_ta_signing_overdue 0"),
        "{metrics}"
    );
    assert_eq!(reqwest::blocking::get(format!("{url}/health")).unwrap().text().unwrap(), "ok\n");

    // 7. Replays: the same answer again, the same request to the TA again.
    let o = api(&url, &admin, &["ca", "ta-response", resp.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("ta_replayed"), "{err}");
    let o = run(&["ta", "sign", "--data"], &[&ta, Path::new("--request"), &req, Path::new("--response"), &w.join("again.der")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("replayed"), "{err}");
    assert!(!w.join("again.der").exists(), "a refused request writes no answer");

    // 8. The TA's own key roll (RFC 9691) on its machine, carried over by the next session.
    let out = ok(run(&["ta", "keyroll", "--data"], &[&ta]));
    assert!(out.starts_with("trust anchor staging: ") && out.contains("successor "), "{out}");
    let (req2, resp2) = (w.join("request2.der"), w.join("response2.der"));
    ok(api(&url, &admin, &["ca", "ta-request", "-o", req2.to_str().unwrap()]));
    ok(run(&["ta", "sign", "--data"], &[&ta, Path::new("--request"), &req2, Path::new("--response"), &resp2]));
    ok(api(&url, &admin, &["ca", "ta-response", resp2.to_str().unwrap()]));
    let files = files_under(&ca.join("repository"));
    let ta_certs = files.iter().filter(|f| f.ends_with(".cer") && f.matches('/').count() == 2).count();
    let taks = files.iter().filter(|f| f.ends_with(".tak")).count();
    assert_eq!((ta_certs, taks), (2, 2), "both TA instances and their TAKs are published online: {files:?}");
    server.stop();
}
