//! A member moves from its hosted CA to one of its own (rpkit, below our RIR
//! CA over RFC 6492) and back, while `rpkit validator serve` validates the
//! repository every second: no run after the first ever lacks one of the
//! member's VRPs. The move completes on its own once the member's CA
//! publishes the same ROAs and ASPA, which the RIR's CA reads from the
//! member's repository as a relying party does.

#[path = "peers/child_ca.rs"]
mod child_ca;
#[path = "peers/hosted.rs"]
mod hosted;
use rpkit_test_vectors::peers;

use child_ca::Child;
use hosted::{json_vrps, run, Env, Vrps, BIN};
use peers::Proc;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_member_moves_to_its_own_ca_and_back_and_no_validation_run_loses_a_vrp() {
    let Some(p) = peers::prepare() else { return };
    let e = Env::start(p, "moves");
    let ca = ["--server", e.ca_url.as_str(), "--token", e.ca_token.as_str()];
    e.ca_call(reqwest::Method::POST, "/api/v1/members", Some(json!({ "handle": "mover", "resources": "AS64530, 10.32.0.0/16" })));
    let roas = json!({ "added": [
        { "prefix": "10.32.0.0/16", "max_length": 20, "asn": 64530 },
        { "prefix": "10.32.7.0/24", "max_length": 24, "asn": 64530 },
    ] });
    e.ca_call(reqwest::Method::POST, "/api/v1/members/mover/roas/delta", Some(roas.clone()));
    e.ca_call(reqwest::Method::PUT, "/api/v1/members/mover/aspas/64530", Some(json!({ "providers": [65010, 65011] })));
    let member: Vrps = [("10.32.0.0/16".to_string(), 20, 64530), ("10.32.7.0/24".to_string(), 24, 64530)].into();
    e.wait_published();

    // A validator running every second, polled every 250 ms.
    let http_port = peers::free_port();
    let mut validator = Proc::spawn(
        Command::new(BIN)
            .args(["validator", "serve", "--refresh", "1", "--rtr", "127.0.0.1:0", "--http", &format!("127.0.0.1:{http_port}"), "--tal"])
            .arg(e.w.join("tals/ta.tal"))
            .arg("--cache")
            .arg(e.w.join("validator-cache"))
            .arg("--rrdp-root-cert")
            .arg(&e.tls.ca_pem),
        &e.w.join("validator.log"),
    );
    let runs: Arc<Mutex<Vec<(String, Vrps)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (runs, stop) = (runs.clone(), stop.clone());
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok(j) = http.get(format!("http://127.0.0.1:{http_port}/json")).send().and_then(|r| r.json::<Value>()) {
                    let built = j["metadata"]["buildtime"].as_str().unwrap_or_default().to_string();
                    let vrps: Vrps = json_vrps(&j).into_iter().filter(|v| v.2 == 64530).collect();
                    let mut r = runs.lock().unwrap();
                    if r.last().is_none_or(|l| l.0 != built) {
                        r.push((built, vrps));
                    }
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        })
    };
    let wait_runs = |n: usize| {
        let have = runs.lock().unwrap().len();
        let t0 = Instant::now();
        while runs.lock().unwrap().len() < have + n {
            let log = std::fs::read_to_string(e.w.join("validator.log")).unwrap_or_default();
            assert!(t0.elapsed() < Duration::from_secs(120), "the validator made no new run:\n{log}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_runs(2);

    // Delegate: the member's own CA (publishing as `mover-own`) is certified, the hosted one stays.
    let own = Child::start(
        &e,
        "mover",
        "mover-own",
        &|request| run(Command::new(BIN).args(["members", "delegate", "mover", "--request"]).arg(request).args(ca)),
        &[],
    );
    // The RIR's CA checks and waits: the member's CA publishes nothing yet.
    let t0 = Instant::now();
    loop {
        let m = e.ca_call(reqwest::Method::GET, "/api/v1/members/mover", None);
        assert_eq!(m["kind"], "moving", "{m}");
        if m["delegated"]["waiting_for"].as_str().is_some_and(|w| w.contains("ROA 10.32.7.0/24-24 AS64530") && w.contains("ASPA AS64530")) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "the move was never checked: {m}");
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_runs(2);
    // Its CA publishes the member's authorizations; the RIR's CA sees them and retires the hosted CA.
    own.call(reqwest::Method::POST, "/api/v1/members", Some(json!({ "handle": "ops", "resources": "AS64530, 10.32.0.0/16" })));
    own.call(reqwest::Method::POST, "/api/v1/members/ops/roas/delta", Some(roas));
    own.call(reqwest::Method::PUT, "/api/v1/members/ops/aspas/64530", Some(json!({ "providers": [65010, 65011] })));
    let t0 = Instant::now();
    loop {
        let m = e.ca_call(reqwest::Method::GET, "/api/v1/members/mover", None);
        if m["kind"] == "delegated" {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(90), "the move did not complete: {m}");
        std::thread::sleep(Duration::from_millis(500));
    }
    e.wait_published();
    wait_runs(3);

    // Host again: the member's published authorizations re-created here, then its CA revoked.
    let hosted = run(Command::new(BIN).args(["members", "host", "mover"]).args(ca));
    assert!(hosted.contains("\"kind\": \"hosted\""), "{hosted}");
    e.wait_published();
    wait_runs(3);
    stop.store(true, Ordering::SeqCst);
    poller.join().unwrap();
    validator.stop();

    let runs = runs.lock().unwrap();
    assert!(runs.len() >= 10, "{} validation runs", runs.len());
    // The first run may predate the first complete fetch; from the first full one on, none lacks a VRP.
    let first = runs.iter().position(|(_, v)| *v == member).expect("a run with the member's VRPs");
    for (built, vrps) in &runs[first..] {
        assert_eq!(vrps, &member, "the run of {built}");
    }
    let roas: Vec<Value> = serde_json::from_value(e.ca_call(reqwest::Method::GET, "/api/v1/members/mover/roas", None)).unwrap();
    assert_eq!(roas.len(), 2);
    let m = e.ca_call(reqwest::Method::GET, "/api/v1/members/mover/aspas", None);
    assert_eq!(m[0]["providers"], json!([65010, 65011]), "{m}");
    let _ = std::fs::remove_dir_all(&e.w);
}
