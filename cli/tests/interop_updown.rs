//! Delegated RPKI with real peers. Krill 0.16.1 runs a member's own CA as a
//! child of our RIR CA: onboarded by RFC 8183 (`rpkit members add-child`),
//! certified over RFC 6492, publishing through RFC 8181 to our publication
//! server in a directory of our repository. Its ROAs validate under our TAL
//! in `rpkit validate`, rpki-client 8.2 and Routinator 0.15.2; when the
//! member's allocation shrinks, the ROA outside it disappears from all three.

#[path = "peers/hosted.rs"]
mod hosted;
#[path = "peers/krill.rs"]
mod krill;
use rpkit_test_vectors::peers;

use hosted::{routinator, rpki_client, rpkit_validate, run, Env, Outcome, Transport, Vrps, BIN};
use krill::Krill;
use std::time::{Duration, Instant};

fn vrps(list: &[(&str, u8, u32)]) -> Vrps {
    list.iter().map(|(p, l, a)| (p.to_string(), *l, *a)).collect()
}

/// All three validators over RRDP: their VRPs must be `want`.
fn all_validators_see(e: &Env, want: &Vrps, what: &str) -> Vec<(String, Outcome)> {
    let outcomes = vec![
        ("rpkit".to_string(), rpkit_validate(e, Transport::Rrdp)),
        ("rpki-client".to_string(), rpki_client(e, Transport::Rrdp)),
        ("routinator".to_string(), routinator(e, Transport::Rrdp)),
    ];
    for (name, o) in &outcomes {
        assert_eq!(&o.vrps, want, "{what}: {name}'s VRPs (problems: {:?})", o.problems);
    }
    outcomes
}

#[test]
fn krill_as_a_delegated_member_below_our_rir_ca() {
    let Some(p) = peers::prepare() else { return };
    let e = Env::start(p, "updown-krill");
    let krill = Krill::start(&e.peers, &e.w, "", &[]);
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
    let _ = std::fs::remove_dir_all(&e.w);
}
