//! The repository as relying parties see it. The hosted CA (100 members, 1,040
//! ROAs, 40 of them packed into multi-prefix ROAs, ASPAs) publishes through RFC 8181 to `rpkit publication serve`, which
//! serves RRDP over HTTPS and an rsync tree through a real rsyncd, as
//! `rpki.test`. `rpkit validate`, rpki-client 8.2 and Routinator 0.15.2, each
//! over RRDP only and over rsync only, must report no problem and output exactly
//! the CA's VRPs and ASPAs (so the same sets as each other); after ROA adds and
//! removes all pick the change up from an RRDP delta; after a server restart the
//! RRDP session continues. Every key of the CA (trust anchor, RIR, members,
//! its RFC 8181 identity) lives in an HSM, SoftHSM2 over PKCS#11.

#[path = "peers/hosted.rs"]
mod hosted;
use rpkit_test_vectors::peers;

use hosted::{
    first_prefix, json_vrps, routinator, rpki_client, rpkit_validate, run, start_publication, Aspas, CaRun, Env, Transport, Vrps, BIN,
};
use peers::{free_port, Proc};
use rpkit_test_vectors::softhsm::{self, Token};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The router keys the CA certified (they do not change during the test).
static ROUTER_KEYS: std::sync::OnceLock<hosted::RouterKeys> = std::sync::OnceLock::new();

/// `rpkit audit` of the repository: exit status, its JSON and the stderr summary.
fn rpkit_audit(e: &Env, expect: &Path, cache: &str, format: &str) -> (i32, String) {
    let o = Command::new(BIN)
        .args(["audit", "--disable-rsync", "--format", format, "--tal"])
        .arg(e.w.join("tals/ta.tal"))
        .arg("--cache")
        .arg(e.w.join(cache))
        .arg("--rrdp-root-cert")
        .arg(&e.tls.ca_pem)
        .arg("--expect")
        .arg(expect)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), String::from_utf8(o.stdout).unwrap() + &String::from_utf8_lossy(&o.stderr))
}

/// The auditor's view: the whole repository accounted for, object by object,
/// against the CA's own export; then an export the repository no longer matches.
fn audit_matches_the_ca_export(e: &Env, want: &(Vrps, Aspas)) {
    let export_path = e.w.join("export.json");
    run(Command::new(BIN)
        .args(["ca", "export", "--server", &e.ca_url, "--token", &e.ca_token, "--output"])
        .arg(&export_path)
        .stdin(Stdio::null()));
    let export: Value = serde_json::from_str(&std::fs::read_to_string(&export_path).unwrap()).unwrap();
    let exported = export["objects"].as_array().unwrap();
    assert_eq!(export["roas"].as_array().unwrap().len(), want.0.len());
    assert_eq!(export["aspas"].as_array().unwrap().len(), want.1.len());

    let (code, out) = rpkit_audit(e, &export_path, "audit-cache", "json");
    let json_end = out.rfind("\n}\n").unwrap() + 3;
    let audit: Value = serde_json::from_str(&out[..json_end]).unwrap();
    assert_eq!(code, 0, "a clean repository audits clean: {}", &out[json_end..]);
    assert_eq!(audit["summary"]["problems"], 0);
    assert_eq!(audit["differences"].as_array().map(Vec::len), Some(0));
    let objects = audit["objects"].as_array().unwrap();
    // Every published object, once, valid; the TA certificate found through its https URI.
    assert_eq!(objects.len(), exported.len(), "objects audited vs exported");
    assert!(objects.iter().all(|o| o["status"] == "valid" && o["problems"].as_array().unwrap().is_empty()));
    let by_uri: BTreeMap<&str, &Value> = objects.iter().map(|o| (o["uri"].as_str().unwrap(), o)).collect();
    for x in exported.iter().filter(|x| x["ca"] != "") {
        let o = by_uri.get(x["uri"].as_str().unwrap()).unwrap_or_else(|| panic!("{x} not audited"));
        assert_eq!(o["sha256"], x["sha256"]);
    }
    // Member objects hang under TA > RIR CA > member CA, and each carries its expiry.
    let roa = objects.iter().find(|o| o["kind"] == "roa").unwrap();
    let chain = roa["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 3, "{roa}");
    assert!(chain[0].as_str().unwrap().starts_with("https://"), "the TA certificate's TAL URI heads the chain: {roa}");
    assert!(roa["expires"].as_str().unwrap().ends_with('Z'));
    let cas = audit["cas"].as_array().unwrap();
    let certificates = exported.iter().filter(|x| x["uri"].as_str().unwrap().ends_with(".cer")).count();
    let routers = ROUTER_KEYS.get().map_or(0, |k| k.len());
    assert_eq!(cas.len(), certificates - routers, "one CA per certificate the CA published, the TA's included, router certificates not");
    assert_eq!(objects.iter().filter(|o| o["kind"] == "router-certificate").count(), routers, "router certificates audited as such");
    assert!(cas.iter().all(|c| c["status"] == "valid" && c["objects"]["invalid"] == 0));
    let tallied: u64 = cas.iter().map(|c| c["objects"]["objects"].as_u64().unwrap()).sum();
    assert_eq!(tallied as usize + 1, objects.len(), "per-CA tallies add up to every object but the TA certificate");

    // An export the repository does not match: an object the CA says it
    // published that is not there, another whose hash differs, and a VRP the
    // repository has that the export lacks.
    let mut changed = export.clone();
    let objs = changed["objects"].as_array_mut().unwrap();
    let roa_uri = objs.iter().find(|x| x["uri"].as_str().unwrap().ends_with(".roa")).unwrap()["uri"].as_str().unwrap().to_string();
    let missing = roa_uri.rsplit_once('/').unwrap().0.to_string() + "/not-published.roa";
    objs.push(json!({"uri": missing, "sha256": "00".repeat(32), "ca": "someone"}));
    let mft = objs.iter_mut().find(|x| x["uri"].as_str().unwrap().ends_with(".mft")).unwrap();
    mft["sha256"] = json!("11".repeat(32));
    let mft_uri = mft["uri"].as_str().unwrap().to_string();
    let dropped = changed["roas"].as_array_mut().unwrap().remove(0);
    let changed_path = e.w.join("export-changed.json");
    std::fs::write(&changed_path, serde_json::to_vec(&changed).unwrap()).unwrap();
    let (code, out) = rpkit_audit(e, &changed_path, "audit-cache", "text");
    assert_eq!(code, 2, "differences make the audit fail: {out}");
    let diff_lines: Vec<&str> =
        out.lines().skip_while(|l| !l.starts_with("Differences from ")).skip(1).take_while(|l| !l.is_empty()).collect();
    let vrp = format!("{}-{} AS{}", dropped["prefix"].as_str().unwrap(), dropped["max_length"], dropped["asn"]);
    assert_eq!(diff_lines.len(), 3, "{out}");
    assert!(diff_lines.iter().any(|l| l.contains("missing ") && l.contains(&missing)), "{out}");
    assert!(diff_lines.iter().any(|l| l.contains("differs ") && l.contains(&mft_uri)), "{out}");
    assert!(diff_lines.iter().any(|l| l.contains("unexpected-vrp") && l.contains(&vrp)), "{out}");
    assert!(out.contains("; 3 differences from the CA's export"), "{out}");
}

/// Run every validator set-up and compare with what the CA holds.
fn check_all(e: &Env, want: &(Vrps, Aspas), phase: &str) {
    for (tool, mode) in [
        ("rpkit", Transport::Rrdp),
        ("rpkit", Transport::Rsync),
        ("rpki-client", Transport::Rrdp),
        ("rpki-client", Transport::Rsync),
        ("routinator", Transport::Rrdp),
        ("routinator", Transport::Rsync),
    ] {
        check_one(e, want, phase, tool, mode);
    }
}

fn check_one(e: &Env, want: &(Vrps, Aspas), phase: &str, tool: &str, mode: Transport) -> (usize, usize) {
    let from = e.publication_log_len();
    let o = match tool {
        "rpki-client" => rpki_client(e, mode),
        "routinator" => routinator(e, mode),
        _ => rpkit_validate(e, mode),
    };
    std::thread::sleep(Duration::from_millis(200));
    let fetches = e.rrdp_fetches_since(from);
    assert!(o.problems.is_empty(), "{phase}: {tool} over {mode:?} reported problems:\n{}", o.problems.join("\n"));
    let missing: Vec<_> = want.0.difference(&o.vrps).take(5).collect();
    let extra: Vec<_> = o.vrps.difference(&want.0).take(5).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{phase}: {tool} over {mode:?}: VRPs differ; missing {missing:?}, extra {extra:?}");
    let router_keys = ROUTER_KEYS.get().expect("router certificates made");
    assert_eq!(&o.router_keys, router_keys, "{phase}: {tool} over {mode:?}: router keys (BGPSEC-4) differ");
    if tool == "rpki-client" {
        assert_eq!(o.old_aspa_profile, want.1.len(), "{phase}: rpki-client 8.2 fails on exactly the ASPA objects, one per customer");
    } else {
        assert_eq!(o.aspas, want.1, "{phase}: {tool} over {mode:?}: ASPAs differ");
    }
    eprintln!(
        "{phase}: {tool} over {mode:?}: {} VRPs, {} ASPAs, {} router keys, exactly as the CA holds; RRDP deltas/snapshots fetched: {fetches:?}",
        o.vrps.len(),
        o.aspas.len(),
        o.router_keys.len()
    );
    fetches
}

/// RFC 6811 by brute force over the expected VRPs: 0 valid, 1 not found, 2 invalid (rpki-rov's codes).
fn rov_state(want: &Vrps, prefix: &rpkit_objects::resources::Prefix, asn: u32) -> u8 {
    let covering: Vec<_> = want.iter().filter(|(p, _, _)| p.parse::<rpkit_objects::resources::Prefix>().unwrap().covers(prefix)).collect();
    if covering.is_empty() {
        1
    } else if covering.iter().any(|(_, max, a)| *a == asn && asn != 0 && prefix.len <= *max) {
        0
    } else {
        2
    }
}

/// Our json through StayRTR: rtrdump sees exactly our VRPs, and rtrlib's
/// rpki-rov gives every announcement of a table the state `rpkit validity`
/// gives it (valid, invalid AS, invalid length, not found, AS0).
fn stayrtr_and_rpki_rov_agree(e: &Env, want: &Vrps) {
    let json = e.w.join("rpkit-Rrdp.json");
    let port = free_port();
    let mut stayrtr = Proc::spawn(
        Command::new("stayrtr").arg("-bind").arg(format!("127.0.0.1:{port}")).arg("-cache").arg(&json).args(["-metrics.addr", ""]),
        &e.w.join("stayrtr.log"),
    );
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(20), "stayrtr did not start: {}", stayrtr.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let dump = e.w.join("rtrdump.json");
    run(Command::new("timeout")
        .args(["30", "rtrdump", "-connect"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-rtr.version", "1", "-file"])
        .arg(&dump));
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    let got = json_vrps(&d);
    assert_eq!(&got, want, "StayRTR fed our json serves exactly our VRPs");

    // A table of announcements around the VRPs.
    use rpkit_objects::resources::Prefix;
    let mut table: Vec<(Prefix, u32)> = Vec::new();
    for (p, max, asn) in want.iter().step_by(97) {
        let p: Prefix = p.parse().unwrap();
        table.push((p, *asn));
        table.push((p, 65999));
        table.push((p, 0));
        if *max < p.afi.bits() {
            table.push((Prefix::new(p.afi, p.addr, max + 1).unwrap(), *asn));
        }
    }
    for text in ["198.18.0.0/15", "2001:db8:ffff::/48", "0.0.0.0/0"] {
        table.push((text.parse().unwrap(), 64496));
    }
    let expected: Vec<u8> = table.iter().map(|(p, a)| rov_state(want, p, *a)).collect();
    for state in 0..3 {
        assert!(expected.contains(&state), "the table holds every state: {expected:?}");
    }
    // rpkit validity, batch mode, on the cache of the last run (offline).
    let input = e.w.join("routes.txt");
    std::fs::write(&input, table.iter().map(|(p, a)| format!("{p} AS{a}\n")).collect::<String>()).unwrap();
    let out = run(Command::new(BIN)
        .args(["validity", "--offline", "--tal"])
        .arg(e.w.join("tals/ta.tal"))
        .arg("--cache")
        .arg(e.w.join("rpkit-Rrdp-cache"))
        .arg("--input")
        .arg(&input));
    let ours: Vec<u8> = out
        .lines()
        .map(|l| match l.rsplit(' ').next().unwrap() {
            "valid" => 0,
            "not-found" => 1,
            "invalid" => 2,
            other => panic!("state {other}"),
        })
        .collect();
    assert_eq!(ours, expected, "rpkit validity agrees with RFC 6811 by brute force");
    // rtrlib's rpki-rov over RTR from StayRTR.
    let mut rov = Command::new("timeout")
        .args(["60", "rpki-rov", "127.0.0.1"])
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = rov.stdin.take().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    for (p, a) in &table {
        writeln!(stdin, "{} {} {a}", p.ip(), p.len).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    drop(stdin);
    let out = rov.wait_with_output().unwrap();
    let theirs: Vec<u8> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains('|'))
        .map(|l| l.rsplit('|').next().unwrap().trim().parse().unwrap())
        .collect();
    assert_eq!(theirs, expected, "rpki-rov over RTR agrees");
    // One route in Routinator's JSON shape.
    let (p, a) = &table[0];
    let j: Value = serde_json::from_str(&run(Command::new(BIN)
        .args(["validity", "--offline", "--json", "--tal"])
        .arg(e.w.join("tals/ta.tal"))
        .arg("--cache")
        .arg(e.w.join("rpkit-Rrdp-cache"))
        .arg(format!("AS{a}"))
        .arg(p.to_string())))
    .unwrap();
    let v = &j["validated_routes"][0]["validity"];
    assert_eq!(v["state"], "valid");
    assert!(v["VRPs"]["matched"].as_array().unwrap().iter().any(|m| m["asn"] == format!("AS{a}") && m["prefix"] == p.to_string()), "{j}");
    stayrtr.stop();
    eprintln!("StayRTR served our {} VRPs; rpkit validity and rpki-rov agree on {} announcements", got.len(), table.len());
}

/// `rpkit members keyroll ...` / `rpkit ca keyroll rir ...` as the admin.
fn keyroll(e: &Env, args: &[&str]) -> String {
    run(Command::new(BIN).args(args).env("RPKIT_SERVER", &e.ca_url).env("RPKIT_TOKEN", &e.ca_token).stdin(Stdio::null()))
}

/// ROLL-1, ROLL-2: the RIR CA and two member CAs (one with packed ROAs) roll
/// their keys (in the token); after each phase (all pending, through a kill -9
/// of the CA; the RIR's key active; the members' keys active) every validator
/// outputs the VRPs and ASPAs it did before, with no warning.
fn key_rolls_change_no_vrp(e: &mut Env, ca_run: &CaRun, want: &(Vrps, Aspas), packed: &str, other: &str) {
    let rir = keyroll(e, &["ca", "keyroll", "rir"]);
    assert!(rir.starts_with("rir pending: key "), "{rir}");
    for h in [packed, other] {
        let s = keyroll(e, &["members", "keyroll", h]);
        assert!(s.contains("pending") && s.contains("staged for operator"), "{s}");
    }
    e.wait_published();
    for tool in ["rpkit", "rpki-client", "routinator"] {
        check_one(e, want, "key rolls pending", tool, Transport::Rrdp);
    }
    e.restart_ca(ca_run, "ca-after-kill.log");
    assert!(keyroll(e, &["ca", "keyroll", "rir", "--status"]).starts_with("rir pending"), "the roll survives kill -9");
    let rir = keyroll(e, &["ca", "keyroll", "rir", "--activate"]);
    assert!(rir.starts_with("rir active: key "), "{rir}");
    e.wait_published();
    for tool in ["rpkit", "rpki-client", "routinator"] {
        check_one(e, want, "RIR key rolled, members' pending", tool, Transport::Rrdp);
    }
    keyroll(e, &["members", "keyroll", other, "--activate"]);
    let s = e.ca_call(reqwest::Method::POST, &format!("/api/v1/members/{packed}/keyroll"), Some(json!({ "activate": true })));
    assert_eq!(s["phase"], "active");
    e.wait_published();
    check_all(e, want, "every key rolled");
    let db = rusqlite::Connection::open(e.w.join("ca/ca.sqlite")).unwrap();
    let left: i64 = db.query_row("SELECT (SELECT count(*) FROM keyrolls) + (SELECT count(*) FROM retired_keys)", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 0, "no roll pending, every old key destroyed");
}

/// ROLL-3, OBJ-3: a TA key roll (RFC 9691) announces the successor in TAK
/// objects; rpki-client and Routinator, which do not follow TAKs, and
/// `rpkit validate` go on validating from the old TAL with no warning and the
/// same VRPs, while staging and after the successor took over.
fn ta_key_roll_keeps_the_old_tal_working(e: &Env, want: &(Vrps, Aspas)) {
    let out = run(Command::new(BIN).args(["ta", "keyroll"]).env("RPKIT_SERVER", &e.ca_url).env("RPKIT_TOKEN", &e.ca_token));
    assert!(out.starts_with("trust anchor staging: "), "{out}");
    e.wait_published();
    for tool in ["rpkit", "rpki-client", "routinator"] {
        check_one(e, want, "TA key roll staging", tool, Transport::Rrdp);
    }
    let out = run(Command::new(BIN).args(["ta", "keyroll", "--activate"]).env("RPKIT_SERVER", &e.ca_url).env("RPKIT_TOKEN", &e.ca_token));
    assert!(out.starts_with("trust anchor active: "), "{out}");
    e.wait_published();
    for tool in ["rpkit", "rpki-client", "routinator"] {
        check_one(e, want, "TA key roll, successor in charge", tool, Transport::Rrdp);
    }
}

#[test]
fn rpki_client_and_routinator_accept_the_repository_over_rrdp_and_rsync() {
    let Some(p) = peers::prepare() else { return };
    // Members with 30 ROAs or more get ROAs of one ASN holding up to 16
    // prefixes (ROA-10), so that both forms reach the relying parties.
    let packing = [("roa_aggregate_threshold", json!(30)), ("roa_deaggregate_threshold", json!(25)), ("roa_max_prefixes", json!(16))];
    // The CA's keys in SoftHSM2 when it is there (always under CI=true).
    let hsm_dir = peers::open_dir("interop-hsm");
    let ca_run = if softhsm::available() {
        let t = Token::new(&hsm_dir, "rpkit-interop", "2468");
        let flags = ["--pkcs11-module", softhsm::MODULE, "--pkcs11-token", "rpkit-interop", "--pkcs11-pin-file"];
        let mut args: Vec<String> = flags.iter().map(|f| f.to_string()).collect();
        args.push(t.pin_file.display().to_string());
        CaRun { args, env: vec![("SOFTHSM2_CONF".into(), t.conf.clone())] }
    } else {
        CaRun::default()
    };
    let hsm = !ca_run.args.is_empty();
    let mut e = Env::start_full(p, "interop", &packing, &ca_run);

    let (handles, holders) = e.populate();
    if hsm {
        let db = rusqlite::Connection::open(e.w.join("ca/ca.sqlite")).unwrap();
        let (software, in_token): (i64, i64) = db
            .query_row("SELECT (SELECT count(*) FROM keys), (SELECT count(*) FROM token_keys)", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert!(software == 0 && in_token > 100, "{software} CA keys in software, {in_token} in the token");
        assert!(e.w.join("ca/bpki/id.key-ids").exists() && !e.w.join("ca/bpki/id.key").exists(), "the identity in the token");
    }
    let handles: Vec<&String> = handles.iter().collect();
    // Router certificates (RFC 8209) for two members' ASes, asked with openssl-made requests.
    let mut certified = 0;
    for h in handles[60..].iter() {
        let Some(asn) = holders[h.as_str()].resources.asn.set.ranges().first().map(|r| r.0) else { continue };
        let key = e.w.join(format!("router-{h}.key"));
        let csr = e.w.join(format!("router-{h}.csr"));
        run(Command::new("openssl").args(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out"]).arg(&key));
        run(Command::new("openssl").args(["req", "-new", "-subj", "/CN=edge-1", "-key"]).arg(&key).arg("-out").arg(&csr));
        let out = run(Command::new(BIN)
            .args(["router-cert", "add", "--member", h, "--asn", &format!("AS{asn}"), "--csr"])
            .arg(&csr)
            .env("RPKIT_SERVER", &e.ca_url)
            .env("RPKIT_TOKEN", &e.ca_token));
        assert!(out.contains(&format!("ROUTER-{asn:08X}")), "{out}");
        certified += 1;
        if certified == 2 {
            break;
        }
    }
    let certified = e.ca_router_keys();
    assert_eq!(certified.len(), 2);
    ROUTER_KEYS.set(certified).unwrap();
    // One member (not among those changed below) gets 40 more ROAs,
    // more-specifics of one of its prefixes for one ASN.
    let (packed, subprefixes) = handles[5..50]
        .iter()
        .find_map(|h| {
            let p = *holders[h.as_str()].resources.ipv4.to_prefixes().first()?;
            (p.len <= 26).then(|| {
                let base = u32::from_be_bytes(p.to_string().split('/').next().unwrap().parse::<std::net::Ipv4Addr>().unwrap().octets());
                let len = p.len + 6;
                let v: Vec<String> = (0..40u32).map(|i| format!("{}/{len}", std::net::Ipv4Addr::from(base + (i << (32 - len))))).collect();
                (h.to_string(), v)
            })
        })
        .expect("a member with a /26 or shorter");
    let added: Vec<Value> = subprefixes.iter().map(|p| json!({"prefix": p, "asn": 65200})).collect();
    e.ca_call(reqwest::Method::POST, &format!("/api/v1/members/{packed}/roas/delta"), Some(json!({ "added": added })));
    let objects = |e: &Env| {
        let v = e.ca_call(reqwest::Method::GET, &format!("/api/v1/members/{packed}/roas"), None);
        v.as_array().unwrap().iter().map(|r| r["uri"].as_str().unwrap().to_string()).collect::<std::collections::BTreeSet<_>>().len()
    };
    // 10 ROAs of one prefix for 10 ASNs, 40 for AS65200: 10 + 3 objects.
    assert_eq!(objects(&e), 13);
    let (session, serial) = e.wait_published();
    let want = e.ca_payloads();
    assert_eq!(want.0.len(), 1040);
    assert!(!want.1.is_empty());
    check_all(&e, &want, "initial");
    stayrtr_and_rpki_rov_agree(&e, &want.0);

    // A delta of ROA adds and removes, and an ASPA change.
    for h in handles.iter().take(5) {
        let (pfx, len, _) = first_prefix(&holders[h.as_str()].resources);
        let delta = json!({
            "removed": [{"prefix": pfx, "max_length": len, "asn": 64496}],
            "added": [{"prefix": pfx, "max_length": len, "asn": 65100}, {"prefix": pfx, "max_length": len, "asn": 65101}],
        });
        e.ca_call(reqwest::Method::POST, &format!("/api/v1/members/{h}/roas/delta"), Some(delta));
    }
    // Two of the packed ROAs removed: their objects are re-issued without them.
    let removed: Vec<Value> = subprefixes[..2].iter().map(|p| json!({"prefix": p, "asn": 65200})).collect();
    e.ca_call(reqwest::Method::POST, &format!("/api/v1/members/{packed}/roas/delta"), Some(json!({ "removed": removed })));
    assert_eq!(objects(&e), 13);
    let (session2, serial2) = e.wait_published();
    assert_eq!(session2, session);
    assert!(serial2 > serial);
    let want2 = e.ca_payloads();
    assert_eq!(want2.0.len(), 1043);
    for tool in ["rpkit", "rpki-client", "routinator"] {
        let (deltas, snapshots) = check_one(&e, &want2, "after a delta", tool, Transport::Rrdp);
        assert!(deltas > 0 && snapshots == 0, "{tool} must update from deltas only (deltas {deltas}, snapshots {snapshots})");
    }
    check_one(&e, &want2, "after a delta", "rpkit", Transport::Rsync);
    check_one(&e, &want2, "after a delta", "rpki-client", Transport::Rsync);
    check_one(&e, &want2, "after a delta", "routinator", Transport::Rsync);

    // Restart: the session goes on, the next change is the next serial.
    e.publication.take().unwrap().stop();
    let (p, url) = start_publication(&e.w, &e.tls, e.pub_url.trim_start_matches("http://"));
    assert_eq!(url, e.pub_url);
    e.publication = Some(p);
    e.pub_url = url;
    let (session3, serial3) = e.wait_published();
    assert_eq!((session3.as_str(), serial3), (session.as_str(), serial2), "same session and serial after a restart");
    let h = handles[50];
    let (pfx, len, _) = first_prefix(&holders[h.as_str()].resources);
    e.ca_call(
        reqwest::Method::POST,
        &format!("/api/v1/members/{h}/roas/delta"),
        Some(json!({"removed": [{"prefix": pfx, "max_length": len, "asn": 64497}]})),
    );
    let (session4, serial4) = e.wait_published();
    assert_eq!((session4.as_str(), serial4), (session.as_str(), serial3 + 1));
    let want4 = e.ca_payloads();
    assert_eq!(want4.0.len(), 1042);
    for tool in ["rpkit", "rpki-client", "routinator"] {
        let (deltas, snapshots) = check_one(&e, &want4, "after a restart", tool, Transport::Rrdp);
        assert!(deltas > 0 && snapshots == 0, "{tool} must continue from deltas (deltas {deltas}, snapshots {snapshots})");
    }
    key_rolls_change_no_vrp(&mut e, &ca_run, &want4, &packed, handles[7]);
    audit_matches_the_ca_export(&e, &want4);
    ta_key_roll_keeps_the_old_tal_working(&e, &want4);
    let _ = std::io::stderr().flush();
    let w = e.w.clone();
    drop(e);
    let _ = std::fs::remove_dir_all(&w);
}
