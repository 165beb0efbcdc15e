//! Access control of the CA's API, over HTTP on loopback: every route the
//! router has (enumerated from its table and probed for methods, so a new
//! endpoint is covered without editing this file) refuses anonymous callers
//! and other members, and lets the admin and the member itself through;
//! tokens are stored hashed; request budgets are per token; bodies are bounded.

use reqwest::blocking::Client;
use reqwest::Method;
use rpkit_ca::api::{self, Access, AppState};
use rpkit_ca::contract::{AspaSpec, RoaDelta};
use rpkit_ca::publisher::MemoryPublisher;
use rpkit_ca::{Ca, CaConfig};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

struct Server {
    url: String,
    ca: Arc<Ca>,
    publisher: Arc<MemoryPublisher>,
    admin: String,
    alice: String,
    bob: String,
}

const ADMIN: &str = "rpkit_admin_test_token";

fn start(dir: Option<&Path>, config: CaConfig) -> Server {
    let publisher = Arc::new(MemoryPublisher::new());
    let ca = Arc::new(Ca::open(dir, config, publisher.clone()).unwrap());
    ca.init(&"AS64496-AS65535, 10.0.0.0/8".parse().unwrap()).unwrap();
    ca.add_member("alice", &"AS64500, 10.1.0.0/16".parse().unwrap(), None).unwrap();
    ca.add_member("bob", &"AS64501, 10.2.0.0/16".parse().unwrap(), None).unwrap();
    let (alice, bob) = (ca.create_token("alice").unwrap(), ca.create_token("bob").unwrap());
    ca.apply_roas("alice", &RoaDelta::parse_lines("10.1.0.0/16 AS64500").unwrap(), false).unwrap();
    ca.apply_roas("bob", &RoaDelta::parse_lines("10.2.0.0/16-24 AS64501").unwrap(), false).unwrap();
    ca.put_aspa("bob", &AspaSpec { customer: 64501, providers: vec![64502] }).unwrap();
    // It answers delegated children (RFC 6492) with this identity.
    ca.set_identity(rpkit_objects::bpki::Identity::create().unwrap());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(ca.clone(), ADMIN);
    std::thread::spawn(move || {
        rt.block_on(api::serve(listener, state, std::time::Duration::from_secs(3600), std::future::pending())).unwrap();
    });
    Server { url, ca, publisher, admin: ADMIN.into(), alice, bob }
}

impl Server {
    fn call(&self, m: &Method, path: &str, token: Option<&str>, body: &str) -> (u16, Value) {
        let mut rq = Client::new().request(m.clone(), format!("{}{path}", self.url)).header("content-type", "application/json");
        if let Some(t) = token {
            rq = rq.bearer_auth(t);
        }
        let r = rq.body(body.to_string()).send().unwrap();
        let status = r.status().as_u16();
        (status, serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or(Value::Null))
    }

    /// Everything a member could care about: members, their resources, ROAs and
    /// ASPAs, and what is published (as a digest, to keep failures readable).
    fn state(&self) -> String {
        let mut out = format!("{:?}\n", self.ca.members().unwrap());
        for h in ["alice", "bob"] {
            out += &format!("{h}: {:?} {:?}\n", self.ca.roas(h).ok(), self.ca.aspas(h).ok());
        }
        let published: Vec<(String, String)> = self
            .publisher
            .snapshot()
            .into_iter()
            .map(|(u, d)| (u, rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(&d))))
            .collect();
        out + &format!("{published:?}")
    }
}

const METHODS: [Method; 6] = [Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::HEAD];

fn concrete(path: &str) -> String {
    path.replace("{handle}", "bob").replace("{customer}", "64501").replace("{asn}", "64501").replace("{key_id}", "00")
}

/// Every (path, method) of the table with bob's handle and customer AS filled
/// in, after checking that the router answers exactly those: a method the
/// router has for a path is never missing from the table.
fn routed(s: &Server) -> Vec<(String, Method, Access)> {
    let table = api::routes();
    let mut out = Vec::new();
    let paths: BTreeSet<&str> = table.iter().map(|(p, _, _)| p.as_str()).collect();
    for path in paths {
        for m in &METHODS {
            let declared: Vec<Access> =
                table.iter().filter(|(p, _, ms)| *p == path && ms.contains(&m.as_str())).map(|(_, a, _)| *a).collect();
            // Undeclared methods answer 405 before any check (HEAD rides on GET).
            let (st, _) = s.call(m, &concrete(path), None, "");
            let has_get = table.iter().any(|(p, _, ms)| *p == path && ms.contains(&"GET"));
            if *m == Method::HEAD {
                assert_eq!(st == 405, !has_get, "HEAD {path}");
                continue;
            }
            assert_eq!(st != 405, !declared.is_empty(), "{m} {path}: the router answers {st}, the table declares {declared:?}");
            assert!(declared.len() <= 1, "{m} {path} declared twice");
            if let Some(a) = declared.first() {
                out.push((concrete(path), m.clone(), *a));
            }
        }
    }
    out
}

/// The policy, stated apart from the router's table: what any route may be.
/// A new route under a member's `{handle}` is the member's own unless listed
/// here as admin-only; anything else is the admin's.
fn policy(path: &str, m: &Method) -> Access {
    // The RFC 6492 endpoint takes no token: its messages are signed by the child's identity.
    const PUBLIC: [&str; 5] = ["/health", "/metrics", "/api/v1/openapi.json", "/api/v1/tal", "/rfc6492/bob"];
    const ADMIN_ONLY_MEMBER: [(&str, &str); 8] = [
        ("DELETE", "/api/v1/members/bob"),
        ("PUT", "/api/v1/members/bob/resources"),
        ("POST", "/api/v1/members/bob/tokens"),
        ("POST", "/api/v1/members/bob/keyroll"),
        ("POST", "/api/v1/members/bob/delegate"),
        ("POST", "/api/v1/members/bob/host"),
        ("POST", "/api/v1/members/bob/suspend"),
        ("POST", "/api/v1/members/bob/unsuspend"),
    ];
    if PUBLIC.contains(&path) {
        Access::Public
    } else if path == "/api/v1/whoami" || path == "/api/v1/history" {
        Access::AnyToken
    } else if path.starts_with("/api/v1/members/bob") && !ADMIN_ONLY_MEMBER.contains(&(m.as_str(), path)) {
        Access::MemberOrAdmin
    } else {
        Access::Admin
    }
}

#[test]
fn every_route_refuses_anonymous_callers_and_other_members() {
    let s = start(None, CaConfig::default());
    let routes = routed(&s);
    assert!(routes.len() >= 18, "the router has at least the 18 documented (path, method) pairs: {routes:?}");
    for (path, m, declared) in &routes {
        assert_eq!(*declared, policy(path, m), "{m} {path}: the table's access differs from the policy");
    }

    let before = s.state();
    for (path, m, _) in &routes {
        let access = &policy(path, m);
        let what = format!("{m} {path} ({access:?})");
        // Anonymous, a forged token, and alice on bob's resources.
        for token in [None, Some("rpkit_forged_token")] {
            let (st, body) = s.call(m, path, token, "{}");
            match access {
                Access::Public => assert!(st < 400, "{what}: {st} {body}"),
                _ => assert_eq!((st, body["code"].as_str()), (401, Some("unauthorized")), "{what} with {token:?}"),
            }
        }
        let (st, body) = s.call(m, path, Some(&s.alice), "{}");
        match access {
            Access::Public | Access::AnyToken => assert!(st < 400, "{what} as alice: {st} {body}"),
            Access::Admin | Access::MemberOrAdmin => {
                assert_eq!((st, body["code"].as_str()), (403, Some("forbidden")), "{what} as alice: {body}")
            }
        }
        // bob's own token passes the check on his paths, never on admin-only ones.
        // (An unparseable body stops the handler before it changes anything;
        // a bodiless DELETE of bob's ASPA is left out: it would succeed.)
        if *m == Method::DELETE && path.contains("/aspas/") {
            continue;
        }
        let (st, body) = s.call(m, path, Some(&s.bob), "not json");
        match access {
            Access::Admin => assert_eq!(st, 403, "{what} as bob: {body}"),
            _ => assert!(st != 401 && st != 403, "{what} as bob: {st} {body}"),
        }
    }
    assert_eq!(s.state(), before, "refused requests changed nothing");

    // Handles are compared as the handler sees them: percent-decoded.
    assert_eq!(s.call(&Method::GET, "/api/v1/members/%62ob/roas", Some(&s.alice), "").0, 403);
    assert_eq!(s.call(&Method::GET, "/api/v1/members/%61lice/roas", Some(&s.alice), "").0, 200);
    assert_eq!(s.call(&Method::GET, "/api/v1/members/alice%2F..%2Fbob/roas", Some(&s.alice), "").0, 403);
    // The admin reaches every member.
    let (st, roas) = s.call(&Method::GET, "/api/v1/members/bob/roas", Some(&s.admin), "");
    assert_eq!((st, roas[0]["prefix"].as_str()), (200, Some("10.2.0.0/16")));
    // A removed member's token stops working.
    assert_eq!(s.call(&Method::DELETE, "/api/v1/members/alice", Some(&s.admin), "").0, 204);
    assert_eq!(s.call(&Method::GET, "/api/v1/whoami", Some(&s.alice), "").0, 401);
}

#[test]
fn tokens_are_stored_only_as_digests() {
    let dir = std::env::temp_dir().join(format!("rpkit-api-access-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let s = start(Some(&dir), CaConfig::default());
    let token = s.call(&Method::POST, "/api/v1/members/bob/tokens", Some(&s.admin), "").1["token"].as_str().unwrap().to_string();
    assert_eq!(s.call(&Method::GET, "/api/v1/whoami", Some(&token), "").1["member"], "bob");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            files.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let digest = rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(token.as_bytes()));
    for t in [&token, &s.alice, &s.bob] {
        for (p, data) in &files {
            assert!(!contains(data, t.as_bytes()), "a token in clear in {}", p.display());
        }
    }
    assert!(files.iter().any(|(_, d)| contains(d, digest.as_bytes())), "the token's SHA-256 is what is stored");
    // The comparison is by digest: equal tokens only.
    assert!(api::same_token(&token, &token.clone()));
    assert!(!api::same_token(&token, &token[..token.len() - 1]));
    assert!(!api::same_token(&token, ""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn each_token_has_its_own_request_budget() {
    let s = start(None, CaConfig { api_rate_per_sec: 1, api_rate_burst: 5, ..CaConfig::default() });
    let whoami = |t: &str| s.call(&Method::GET, "/api/v1/whoami", Some(t), "");
    for _ in 0..5 {
        assert_eq!(whoami(&s.alice).0, 200);
    }
    let r = Client::new().get(format!("{}/api/v1/whoami", s.url)).bearer_auth(&s.alice).send().unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    let body: Value = r.json().unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["message"].as_str().unwrap().contains("at most 1 a second"), "{body}");
    // Others are not held back by alice's burst.
    assert_eq!(whoami(&s.bob).0, 200);
    assert_eq!(whoami(&s.admin).0, 200);
    // Wrong tokens share their address's budget, so guessing is throttled too.
    let codes: Vec<u16> = (0..7).map(|i| whoami(&format!("rpkit_guess_{i}")).0).collect();
    assert_eq!(codes.iter().filter(|c| **c == 401).count(), 5, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 429).count(), 2, "{codes:?}");
    // Public endpoints have no budget.
    assert!((0..10).all(|_| s.call(&Method::GET, "/health", None, "").0 == 200));
    // The budget refills.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(whoami(&s.alice).0, 200);
}

#[test]
fn request_bodies_over_the_limit_are_refused() {
    let s = start(None, CaConfig { api_max_body_bytes: 4096, api_max_import_bytes: 8192, ..CaConfig::default() });
    let before = s.state();
    let entries: Vec<String> = (0..200).map(|i| format!(r#"{{"prefix": "10.1.{}.0/24", "asn": 64500}}"#, i % 256)).collect();
    let big = format!("[{}]", entries.join(","));
    assert!(big.len() > 4096);
    let (st, body) = s.call(&Method::POST, "/api/v1/members/alice/roas", Some(&s.alice), &big);
    assert_eq!((st, body["code"].as_str()), (413, Some("too_large")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("4096 bytes"), "{body}");
    // The import's own, larger limit.
    let line = "lacnic|BR|ipv4|10.3.0.0|256|20200101|allocated|carol|e-stats\n";
    let (st, body) = s.call(&Method::POST, "/api/v1/members/import", Some(&s.admin), &line.repeat(8192 / line.len() + 1));
    assert_eq!((st, body["code"].as_str()), (413, Some("too_large")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("8192 bytes"), "{body}");
    assert_eq!(s.state(), before, "nothing changed");
    // Under the limits both are accepted.
    let (st, body) = s.call(&Method::POST, "/api/v1/members/alice/roas", Some(&s.alice), &format!("[{}]", entries[..20].join(",")));
    assert_eq!(st, 200, "{body}");
}
