//! `rpkit up` end to end: the whole system from an empty directory; a ROA added
//! with the command it prints reaches the validator's `/json` and routers over
//! RTR (rtrclient); SIGINT stops it cleanly and a second start resumes the
//! state. And the README's role guides: every shell block between "## Guides"
//! and the next section runs, line by line, against a running `rpkit up`.
//! Loopback ports only: no root needed (rtrclient comes from scripts/peers.sh;
//! under CI=true its absence fails the test).

use rpkit_test_vectors::peers;
#[path = "peers/up.rs"]
mod up_run;

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use up_run::{port_settings, scratch, start, BIN};

type Vrps = BTreeSet<(String, u8, u32)>;

fn vrps(json: &Value) -> Vrps {
    json["roas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["prefix"].as_str().unwrap().to_string(), r["maxLength"].as_u64().unwrap() as u8, r["asn"].as_u64().unwrap() as u32))
        .collect()
}

fn get_json(url: &str) -> Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

/// Wait until the validator's `/json` holds `want`.
fn wait_vrps(http: &str, want: &Vrps) -> Duration {
    let t0 = Instant::now();
    loop {
        let got = vrps(&get_json(&format!("{http}/json")));
        if &got == want {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "after 60 s /json has {got:?}, want {want:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A command line as printed, run with our binary for `rpkit`.
fn run_printed(line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words[0], "rpkit", "{line}");
    let out = Command::new(BIN).args(&words[1..]).output().unwrap();
    assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn rtrclient_available() -> bool {
    let ok = Command::new("rtrclient").arg("-h").output().is_ok();
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "rtrclient is missing (scripts/peers.sh installs it)");
        eprintln!("SKIPPED: the RTR part needs rtrclient (scripts/peers.sh installs it)");
    }
    ok
}

/// One full sync with rtrclient's export mode: the VRPs a router gets.
fn rtrclient(addr: &str, out: &Path) -> Vrps {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let o = Command::new("timeout").args(["30", "rtrclient", "-e", "-t", "csv", "-o"]).arg(out).args(["tcp", host, port]).output().unwrap();
    assert!(o.status.success(), "rtrclient: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_hexdigit()))
        .map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (format!("{}/{}", f[0], f[1]), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

fn demo_vrps() -> Vrps {
    [("192.0.2.0/24", 24, 64496), ("203.0.113.0/24", 24, 64500), ("3fff::/24", 48, 64500), ("100.64.0.0/24", 24, 65536)]
        .iter()
        .map(|(p, m, a)| (p.to_string(), *m, *a))
        .collect()
}

#[test]
fn up_serves_a_printed_roa_add_over_json_and_rtr_and_resumes_after_sigint() {
    let w = scratch("up");
    let data = w.join("data");
    let sets = port_settings();
    let log = w.join("up.log");
    let mut up = start(&data, &sets, &log);
    let j = up.json.clone();

    // DESIGN.md's up.json contract.
    for k in ["tal", "tls_ca", "rsync_dir"] {
        assert!(Path::new(j[k].as_str().unwrap()).exists(), "{k}: {j}");
    }
    assert!(std::fs::read_to_string(j["tal"].as_str().unwrap()).unwrap().contains("https://localhost:"), "{j}");
    assert_eq!(j["member"]["handle"], "demo-isp");
    assert_eq!(j["member"]["resources"]["ipv4"], serde_json::json!(["192.0.2.0/24", "198.51.100.0/24"]));
    assert_eq!(j["member"]["resources"]["ipv6"], serde_json::json!(["2001:db8::/32"]));
    assert_eq!(j["member"]["resources"]["asn"], serde_json::json!(["AS64496-AS64499"]));
    assert!(j["rrdp_notification"].as_str().unwrap().starts_with("https://localhost:"), "{j}");
    assert_eq!(j["rsync_base"], "rsync://localhost/repo/");
    assert!(Path::new(j["rsync_dir"].as_str().unwrap()).join("repo/demo-isp").is_dir(), "the rsync tree holds the member's point");
    let http = j["validator_http"].as_str().unwrap().to_string();
    let rtr = j["rtr"].as_str().unwrap().to_string();
    // Files holding tokens or keys are for the owner only.
    for f in ["up.json", "demo-member.json", "tls/key.pem", "ca/admin-token", "publication/admin-token"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }

    // The demo members' ROAs validate from the TAL over RRDP/HTTPS.
    let mut want = demo_vrps();
    wait_vrps(&http, &want);

    // The three printed commands.
    let text = up.proc.log_text();
    let tries: Vec<&str> = text.lines().skip_while(|l| *l != "Try:").skip(1).take(3).map(str::trim).collect();
    assert_eq!(tries.len(), 3, "{text}");
    assert!(tries[0].starts_with("rpkit roa add 198.51.100.0/24-24 AS64496 --server "), "{}", tries[0]);
    assert!(tries[2].starts_with("rtrclient tcp "), "{}", tries[2]);
    let out = run_printed(tries[0]);
    assert!(out.contains("added 198.51.100.0/24-24 AS64496"), "{out}");
    want.insert(("198.51.100.0/24".into(), 24, 64496));
    let took = wait_vrps(&http, &want);
    eprintln!("the new ROA reached /json after {took:?}");
    let out = run_printed(tries[1]);
    assert!(out.starts_with("198.51.100.0/24 AS64496: valid"), "{out}");
    assert!(out.contains("matched: 198.51.100.0/24-24 AS64496"), "{out}");
    if rtrclient_available() {
        assert_eq!(rtrclient(&rtr, &w.join("rtr.csv")), want, "a router gets exactly /json's VRPs");
    }

    // Settings: the environment variable given at start is in effect.
    let out = Command::new(BIN)
        .args(["config", "--format", "json", "--data"])
        .arg(&data)
        .env("RPKIT_VALIDATOR_REFRESH_SECS", "1")
        .output()
        .unwrap();
    let cfg: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(cfg["validator"]["refresh_secs"], 1);
    let status = get_json(&format!("{http}/status"));
    assert!(status["runs"].as_u64().unwrap() >= 2, "{status}");

    // Ctrl-C: a clean stop, up.json gone.
    let session = std::fs::read_to_string(data.join("publication/rrdp/notification.xml")).unwrap();
    let session = session.split("session_id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let st = up.proc.stop().expect("rpkit up stops on SIGINT");
    assert!(st.success(), "exit status {st}:\n{}", up.proc.log_text());
    assert!(!data.join("up.json").exists());
    assert!(up.proc.log_text().contains("stopped;"), "{}", up.proc.log_text());

    // Restart on the same directory: same member token, same RRDP session, the ROA still there.
    let mut again = start(&data, &sets, &log);
    assert_eq!(again.json["member"]["token"], j["member"]["token"]);
    wait_vrps(&http, &want);
    let notification = std::fs::read_to_string(data.join("publication/rrdp/notification.xml")).unwrap();
    assert!(notification.contains(&format!("session_id=\"{session}\"")), "the RRDP session continues");
    let out = Command::new(BIN)
        .args([
            "roa",
            "list",
            "--format",
            "json",
            "--server",
            j["ca_api"].as_str().unwrap(),
            "--token",
            j["member"]["token"].as_str().unwrap(),
        ])
        .output()
        .unwrap();
    let roas: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: BTreeSet<String> = roas.as_array().unwrap().iter().map(|r| format!("{} {}", r["prefix"], r["asn"])).collect();
    assert_eq!(listed, BTreeSet::from(["\"192.0.2.0/24\" 64496".to_string(), "\"198.51.100.0/24\" 64496".to_string()]));
    assert!(again.proc.stop().is_some_and(|s| s.success()));
}

#[test]
fn up_refuses_a_taken_port_an_unknown_setting_and_env_without_a_running_system() {
    let w = scratch("up-refusals");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut sets = port_settings();
    sets[0] = format!("ca.listen={}", busy.local_addr().unwrap());
    let out = Command::new(BIN).args(["up", "--data"]).arg(w.join("data")).args(sets.iter().flat_map(|s| ["--set", s])).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ca.listen = 127.0.0.1:") && err.contains("in use"), "{err}");
    let out = Command::new(BIN).args(["up", "--data"]).arg(w.join("data")).args(["--set", "validator.refresh=5"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no setting \"validator.refresh\""), "{out:?}");
    let out = Command::new(BIN).args(["up", "--env", "--data"]).arg(w.join("data")).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `rpkit up` is running"), "{out:?}");
}

/// The shell blocks of the README's "## Guides" section.
fn guide_blocks() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(peers::workspace().join("README.md")).unwrap();
    let guides = readme.split("\n## Guides").nth(1).expect("README has a ## Guides section");
    let guides = guides.split("\n## ").next().unwrap();
    let mut out = Vec::new();
    let mut heading = String::new();
    let mut block: Option<String> = None;
    for line in guides.lines() {
        match &mut block {
            None if line.starts_with("### ") => heading = line.trim_start_matches('#').trim().to_string(),
            None if line.trim() == "```sh" => block = Some(String::new()),
            Some(b) if line.trim() == "```" => {
                out.push((heading.clone(), std::mem::take(b)));
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None => {}
        }
    }
    out
}

#[test]
fn readme_guides_run_against_rpkit_up() {
    // The guides drive the peer tools (rtrclient, StayRTR, rpki-client, Krill).
    let Some(p) = peers::prepare() else { return };
    let blocks = guide_blocks();
    let headings: BTreeSet<&str> = blocks.iter().map(|(h, _)| h.as_str()).collect();
    for role in ["RIR operator", "Member", "Router operator", "Auditor"] {
        assert!(headings.iter().any(|h| h.starts_with(role)), "no guide for {role}: {headings:?}");
    }
    let w = scratch("readme");
    let data = w.join("data");
    let up = start(&data, &port_settings(), &w.join("up.log"));
    wait_vrps(up.json["validator_http"].as_str().unwrap(), &demo_vrps());
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}:{}", bin_dir.display(), p.krill.display(), std::env::var("PATH").unwrap_or_default());
    for (i, (heading, block)) in blocks.iter().enumerate() {
        let dir = w.join(format!("block-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        // Background servers of a block are stopped at its end.
        let script = format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true' EXIT\n{block}");
        let t0 = Instant::now();
        let out = Command::new("timeout")
            .args(["600", "bash", "-c", &script])
            .current_dir(&dir)
            .env("PATH", &path)
            .env("RPKIT_UP_DATA", &data)
            .env_remove("RPKIT_SERVER")
            .env_remove("RPKIT_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README, {heading}, block {i} failed ({}):\n{block}\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("README {heading} block {i}: ok in {:.1} s", t0.elapsed().as_secs_f64());
    }
}
