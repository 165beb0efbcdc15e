//! Delegated RPKI with real peers, validated by `rpkit validate`, rpki-client
//! 8.2 and Routinator 0.15.2:
//!
//! - Krill 0.16.1 runs a member's own CA as a child of our RIR CA: onboarded
//!   by RFC 8183 (`rpkit members add-child`), certified over RFC 6492,
//!   publishing through RFC 8181 in a directory of our repository. Its ROAs
//!   validate under our TAL; when the member's allocation shrinks, the ROA
//!   outside it disappears from all three.
//! - rpkit as an NIR below rpkit as the RIR (`rpkit ca child-request`,
//!   `rpkit ca parent add`, `rpkit ca serve`): the NIR's members' ROAs
//!   validate from the RIR's TAL.
//! - rpkit as a child of Krill's own TA (its testbed), over https: validated
//!   from Krill's TAL.

#[path = "peers/child_ca.rs"]
mod child_ca;
#[path = "peers/hosted.rs"]
mod hosted;
#[path = "peers/krill.rs"]
mod krill;
use rpkit_test_vectors::peers;

use child_ca::Child;
use hosted::{routinator, rpki_client, rpkit_validate, run, Env, Outcome, Transport, Vrps, BIN};
use krill::Krill;
use std::process::Command;
use std::time::{Duration, Instant};

fn vrps(list: &[(&str, u8, u32)]) -> Vrps {
    list.iter().map(|(p, l, a)| (p.to_string(), *l, *a)).collect()
}

type Validator = fn(&Env, Transport) -> Outcome;

/// All three validators over RRDP: their VRPs must be `want`. Krill publishes
/// on its own schedule, so a validator that ran before its last message is
/// given two more runs, a few seconds apart.
fn all_validators_see(e: &Env, want: &Vrps, what: &str) -> Vec<(String, Outcome)> {
    let validators: [(&str, Validator); 3] = [("rpkit", rpkit_validate), ("rpki-client", rpki_client), ("routinator", routinator)];
    let mut outcomes = Vec::new();
    for (name, run) in validators {
        let mut o = run(e, Transport::Rrdp);
        for _ in 0..2 {
            if &o.vrps == want {
                break;
            }
            eprintln!("{what}: {name} saw {:?}, running it again", o.vrps);
            std::thread::sleep(Duration::from_secs(3));
            o = run(e, Transport::Rrdp);
        }
        if &o.vrps != want && name == "rpki-client" {
            // Tell a repository that is wrong from a copy that went wrong: the
            // same run with an empty cache.
            let _ = std::fs::remove_dir_all(e.w.join(format!("rpki-client-{:?}-cache", Transport::Rrdp)));
            let fresh = run(e, Transport::Rrdp);
            panic!(
                "{what}: rpki-client saw {:?} (problems: {:?}), {want:?} expected; with an empty cache it sees {:?} (problems: {:?}); \
                 publication server: {}",
                o.vrps,
                o.problems,
                fresh.vrps,
                fresh.problems,
                e.pub_status()
            );
        }
        assert_eq!(&o.vrps, want, "{what}: {name}'s VRPs (problems: {:?})", o.problems);
        outcomes.push((name.to_string(), o));
    }
    outcomes
}

#[test]
fn krill_and_rpkit_as_children_of_rpkit_and_of_krill() {
    let Some(p) = peers::prepare() else { return };
    let e = Env::start(p, "updown-krill");
    // Krill serves https with the test's TLS certificate; its testbed TA is a parent too.
    let krill = Krill::start(
        &e.peers,
        &e.w,
        Some(&e.tls),
        "\n[testbed]\nrrdp_base_uri = \"https://localhost:PORT/rrdp/\"\nrsync_jail = \"rsync://localhost/krill/\"\n\
         ta_aia = \"rsync://localhost/krill/ta/ta.cer\"\nta_uri = \"https://localhost:PORT/ta/ta.cer\"\n",
        &[],
    );
    let ca = ["--server", e.ca_url.as_str(), "--token", e.ca_token.as_str()];

    // Krill's CA publishes in our repository, in a directory of its own.
    krill.run(&["add", "--ca", "member1"]);
    std::fs::write(e.w.join("publisher_request.xml"), krill.run(&["repo", "request", "--ca", "member1"])).unwrap();
    let resp = run(std::process::Command::new(BIN)
        .args(["publication", "add-publisher"])
        .arg(e.w.join("publisher_request.xml"))
        .env("RPKIT_PUBLICATION_SERVER", &e.pub_url)
        .env("RPKIT_PUBLICATION_TOKEN", &e.pub_token));
    assert!(resp.contains("sia_base=\"rsync://rpki.test/repo/member1/\""), "{resp}");
    std::fs::write(e.w.join("repository_response.xml"), resp).unwrap();
    krill.run(&["repo", "configure", "--ca", "member1", "--response", e.w.join("repository_response.xml").to_str().unwrap()]);

    // RFC 8183 onboarding: Krill's child_request in, our parent_response out.
    std::fs::write(e.w.join("child_request.xml"), krill.run(&["parents", "request", "--ca", "member1"])).unwrap();
    let parent_response = run(std::process::Command::new(BIN)
        .args(["members", "add-child", "member1", "--resources", "AS64496, 10.0.0.0/16", "--request"])
        .arg(e.w.join("child_request.xml"))
        .args(ca));
    assert!(parent_response.contains("parent_handle=\"rir\"") && parent_response.contains("child_handle=\"member1\""), "{parent_response}");
    assert!(parent_response.contains(&format!("service_uri=\"{}/rfc6492/member1\"", e.ca_url)), "{parent_response}");
    std::fs::write(e.w.join("parent_response.xml"), parent_response).unwrap();
    krill.run(&["parents", "add", "--ca", "member1", "--parent", "rir", "--response", e.w.join("parent_response.xml").to_str().unwrap()]);

    // Krill asks for its certificate over RFC 6492 and publishes under it.
    let t0 = Instant::now();
    let member = loop {
        let m = e.ca_call(reqwest::Method::GET, "/api/v1/members/member1", None);
        if m["delegated"]["certificates"].as_array().is_some_and(|c| !c.is_empty()) {
            break m;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "Krill got no certificate: {m}\n{}", krill.log());
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(member["kind"], "delegated");
    assert_eq!(member["publication_point"], "rsync://rpki.test/repo/member1/0/");
    assert_eq!(member["delegated"]["certificates"][0]["resources"]["ipv4"][0], "10.0.0.0/16");
    krill.run(&["roas", "update", "--ca", "member1", "--add", "10.0.0.0/24 => 64496", "--add", "10.0.128.0/24 => 64496"]);
    let roas_published = |n: usize| {
        let t0 = Instant::now();
        loop {
            let dir = e.w.join("pub/rsync/current/repo/member1/0");
            let have = std::fs::read_dir(&dir).map(|d| d.flatten().filter(|f| f.path().extension().is_some_and(|x| x == "roa")).count());
            if have.as_ref().is_ok_and(|h| *h == n) {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "Krill's {n} ROAs not published: {have:?}\n{}", krill.log());
            std::thread::sleep(Duration::from_millis(300));
        }
        e.wait_published();
    };
    roas_published(2);
    let both = vrps(&[("10.0.0.0/24", 24, 64496), ("10.0.128.0/24", 24, 64496)]);
    for (name, o) in all_validators_see(&e, &both, "Krill's ROAs") {
        assert!(o.problems.is_empty(), "{name} reports problems: {:?}", o.problems);
    }

    // The allocation shrinks: our parent re-issues Krill's certificate at once,
    // and the ROA outside it is no longer valid anywhere. Krill learns of it at
    // its next contact and withdraws the ROA.
    run(std::process::Command::new(BIN).args(["members", "set-resources", "member1", "AS64496, 10.0.0.0/17"]).args(ca));
    e.wait_published();
    all_validators_see(&e, &vrps(&[("10.0.0.0/24", 24, 64496)]), "after the shrink");
    krill.run(&["parents", "refresh", "--ca", "member1"]);
    roas_published(1);
    for (name, o) in all_validators_see(&e, &vrps(&[("10.0.0.0/24", 24, 64496)]), "after Krill's refresh") {
        assert!(o.problems.is_empty(), "{name} reports problems: {:?}", o.problems);
    }
    // Every message Krill sent was answered; the operator sees its last contact.
    let log = std::fs::read_to_string(e.w.join("ca.log")).unwrap();
    assert!(!log.contains("up-down: refused"), "{log}");
    let m = e.ca_call(reqwest::Method::GET, "/api/v1/members/member1", None);
    assert_eq!(m["delegated"]["certificates"][0]["resources"]["ipv4"][0], "10.0.0.0/17", "{m}");
    assert!(m["delegated"]["last_contact"].is_string(), "{m}");
    let metrics = e.http.get(format!("{}/metrics", e.ca_url)).send().unwrap().text().unwrap();
    assert!(metrics.contains("rpkit_ca_child_messages_refused_total{child=\"member1\"} 0"), "{metrics}");

    // rpkit as an NIR below rpkit as the RIR: its members' ROAs validate from the RIR's TAL.
    let nir = Child::start(
        &e,
        "nir",
        "nir",
        &|request| {
            run(Command::new(BIN)
                .args(["members", "add-child", "nir", "--resources", "AS64500-AS64510, 10.16.0.0/12", "--request"])
                .arg(request)
                .args(ca))
        },
        &[],
    );
    nir.member_with_roa("n1", "AS64501, 10.17.0.0/16", "10.17.0.0/24", 64501);
    let status = nir.call(reqwest::Method::GET, "/api/v1/parent", None);
    assert_eq!(status["resources"]["ipv4"][0], "10.16.0.0/12", "{status}");
    assert!(status["last_error"].is_null(), "{status}");
    e.wait_published();
    let with_nir = vrps(&[("10.0.0.0/24", 24, 64496), ("10.17.0.0/24", 24, 64501)]);
    for (name, o) in all_validators_see(&e, &with_nir, "the NIR's member's ROA") {
        assert!(o.problems.is_empty(), "{name} reports problems: {:?}", o.problems);
    }
    assert_eq!(e.ca_call(reqwest::Method::GET, "/api/v1/members/nir", None)["publication_point"], "rsync://rpki.test/repo/nir/nir/");

    // rpkit as a child of Krill's own TA (its testbed), over https: validated from Krill's TAL.
    let below_krill = Child::start(
        &e,
        "kchild",
        "kchild",
        &|request| {
            let r = request.to_str().unwrap();
            krill.run(&[
                "children",
                "add",
                "--ca",
                "testbed",
                "--child",
                "kchild",
                "--ipv4",
                "10.64.0.0/16",
                "--asn",
                "AS64520",
                "--request",
                r,
            ])
        },
        &["--parent-root-cert", e.tls.ca_pem.to_str().unwrap()],
    );
    below_krill.member_with_roa("k1", "AS64520, 10.64.1.0/24", "10.64.1.0/24", 64520);
    let tal = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(&e.tls.ca_pem).unwrap()).unwrap())
        .build()
        .unwrap()
        .get(format!("https://localhost:{}/ta/ta.tal", krill.port))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(tal.contains("https://localhost:"), "{tal}");
    std::fs::write(e.w.join("tals/krill-testbed.tal"), tal).unwrap();
    peers::chmod(&e.w.join("tals/krill-testbed.tal"), 0o644);
    e.wait_published();
    let mut all = with_nir.clone();
    all.insert(("10.64.1.0/24".to_string(), 24, 64520));
    for (name, o) in all_validators_see(&e, &all, "the ROA below Krill's TA") {
        assert!(o.problems.is_empty(), "{name} reports problems: {:?}", o.problems);
    }
    let log = std::fs::read_to_string(e.w.join("kchild.log")).unwrap();
    assert!(!log.contains("sync with the parent failed"), "{log}");
    let _ = std::fs::remove_dir_all(&e.w);
}
