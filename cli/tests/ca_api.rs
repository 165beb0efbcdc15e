//! The hosted CA end to end: `rpkit ta init`, `rpkit ca serve` as a real process,
//! a generated delegated-extended file of 500 members imported through the CLI,
//! ROAs and ASPAs through the HTTP API and the CLI, access control, lost-update
//! protection and bad input; the published repository walked and checked with
//! our own code and with the `rpki` crate.

#[path = "../../ca/tests/repo_check/mod.rs"]
mod repo_check;

use rpkit_objects::der::Time;
use rpkit_objects::tal::Tal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

struct Server {
    child: Child,
    url: String,
    data: PathBuf,
    admin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn start(name: &str) -> Server {
    let data = std::env::temp_dir().join(format!("rpkit-ca-api-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let out = Command::new(BIN).args(["ta", "init", "--data"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut child = Command::new(BIN)
        .args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let l = lines.next().expect("server exited").unwrap();
        if let Some(u) = l.strip_prefix("rpkit CA API on ") {
            break u.to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let admin = std::fs::read_to_string(data.join("admin-token")).unwrap().trim().to_string();
    Server { child, url, data, admin }
}

impl Server {
    fn cli(&self, token: &str, args: &[&str]) -> Output {
        Command::new(BIN).args(args).env("RPKIT_SERVER", &self.url).env("RPKIT_TOKEN", token).output().unwrap()
    }

    fn http(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        let c = reqwest::blocking::Client::new();
        let mut rb = c.request(method, format!("{}{path}", self.url));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        if let Some(e) = if_match {
            rb = rb.header("If-Match", e);
        }
        let r = rb.send().unwrap();
        let status = r.status().as_u16();
        let etag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_string());
        let text = r.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), etag)
    }

    /// The published repository as URI -> DER.
    fn repository(&self) -> BTreeMap<String, Vec<u8>> {
        let root = self.data.join("repository");
        let mut out = BTreeMap::new();
        fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.insert(format!("rsync://{}", p.strip_prefix(root).unwrap().to_string_lossy()), std::fs::read(&p).unwrap());
                }
            }
        }
        walk(&root, &root, &mut out);
        out
    }

    fn walk(&self) -> repo_check::Walk {
        let tal = Tal::parse(&std::fs::read(self.data.join("ta.tal")).unwrap()).unwrap();
        repo_check::walk(&tal, &self.repository(), Time::now())
    }
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "stdout: {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn import_500_members_then_roas_and_aspas_through_api_and_cli() {
    let s = start("e2e");
    let file = s.data.join("delegated.txt");
    let text = rpkit_test_vectors::delegated::generate(500, 42);
    std::fs::write(&file, &text).unwrap();
    let report: Value = serde_json::from_str(&ok(&s.cli(&s.admin, &["members", "import", file.to_str().unwrap()]))).unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 500);

    // Members 100000 and 100001: tokens, ROAs through the API and the CLI.
    let holders = rpkit_ca::delegated::parse(&text).unwrap();
    let a = &holders["100000"].resources;
    let b = &holders["100001"].resources;
    let ta = ok(&s.cli(&s.admin, &["members", "token", "create", "100000"])).trim().to_string();
    let tb = ok(&s.cli(&s.admin, &["members", "token", "create", "100001"])).trim().to_string();
    let a_pfx = a.ipv4.to_prefixes()[0];
    let a_asn = a.asn.set.ranges()[0].0;
    let (st, body, _) = s.http(
        reqwest::Method::POST,
        "/api/v1/members/100000/roas",
        Some(&ta),
        Some(json!({"prefix": a_pfx.to_string(), "asn": a_asn})),
        None,
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["added"][0], format!("{a_pfx}-{} AS{a_asn}", a_pfx.len));
    let b_pfx = b.ipv4.to_prefixes()[0];
    let b_asn = b.asn.set.ranges()[0].0;
    ok(&s.cli(&tb, &["roa", "add", &format!("{b_pfx}-{}", b_pfx.len), &format!("AS{b_asn}")]));
    // A whole set from a file, atomically: one more ROA for B, and AS0 for a v6 block if B has one.
    let mut set = format!("# B's ROAs\n{b_pfx} AS{b_asn}\n{b_pfx}-{} AS{}\n", (b_pfx.len + 1).min(32), b_asn);
    if let Some(v6) = b.ipv6.to_prefixes().first() {
        set.push_str(&format!("{v6} AS0\n"));
    }
    let roa_file = s.data.join("roas.txt");
    std::fs::write(&roa_file, &set).unwrap();
    ok(&s.cli(&tb, &["roa", "apply", "--file", roa_file.to_str().unwrap()]));
    let listed: Vec<Value> = serde_json::from_str(&ok(&s.cli(&tb, &["roa", "list", "--format", "json"]))).unwrap();
    assert_eq!(listed.len(), set.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count());
    assert!(listed.iter().all(|r| r["prefix"].is_string() && r["max_length"].is_u64() && r["asn"].is_u64()));
    // ASPA through the CLI.
    ok(&s.cli(&tb, &["aspa", "set", &format!("AS{b_asn}"), "AS65001", "AS65000"]));
    let aspas: Value = serde_json::from_str(&ok(&s.cli(&tb, &["aspa", "list", "--format", "json"]))).unwrap();
    assert_eq!(aspas, json!([{"customer": b_asn, "providers": [65000, 65001]}]));
    let members: Vec<Value> = serde_json::from_str(&ok(&s.cli(&s.admin, &["members", "list", "--format", "json"]))).unwrap();
    assert_eq!(members.len(), 500);

    let w = s.walk();
    // Every member CA holds exactly its allocation.
    for (id, h) in &holders {
        assert_eq!(w.cas.get(id.as_str()), Some(&h.resources), "member {id}");
    }
    assert!(w.vrps.contains(&format!("{a_pfx}-{} AS{a_asn}", a_pfx.len)));
    assert!(w.vrps.contains(&format!("{b_pfx}-{} AS{b_asn}", (b_pfx.len + 1).min(32))));
    assert_eq!(w.aspas[&b_asn], [65000, 65001]);
    assert_eq!(w.vrps.len(), 1 + listed.len());
}

#[test]
fn access_control_lost_updates_and_bad_input() {
    let s = start("acl");
    ok(&s.cli(&s.admin, &["members", "add", "isp-a", "AS64500, 192.0.2.0/24, 2001:db8:a::/48"]));
    ok(&s.cli(&s.admin, &["members", "add", "isp-b", "AS64501, 198.51.100.0/24"]));
    let ta = ok(&s.cli(&s.admin, &["members", "token", "create", "isp-a"])).trim().to_string();
    let tb = ok(&s.cli(&s.admin, &["members", "token", "create", "isp-b"])).trim().to_string();
    ok(&s.cli(&tb, &["roa", "add", "198.51.100.0/24", "AS64501"]));
    let before = s.repository();
    use reqwest::Method as M;
    let roa = json!({"prefix": "198.51.100.0/24", "asn": 64501});

    // A member token never reaches another member (nor admin endpoints).
    for (m, p, body) in [
        (M::GET, "/api/v1/members/isp-b/roas", None),
        (M::POST, "/api/v1/members/isp-b/roas", Some(roa.clone())),
        (M::DELETE, "/api/v1/members/isp-b/roas", Some(roa.clone())),
        (M::GET, "/api/v1/members/isp-b", None),
        (M::PUT, "/api/v1/members/isp-b/aspas/64501", Some(json!({"providers": [1]}))),
        (M::GET, "/api/v1/members", None),
        (M::GET, "/api/v1/export", None),
        (M::POST, "/api/v1/members/isp-a/tokens", None),
        (M::DELETE, "/api/v1/members/isp-b", None),
    ] {
        let (st, body, _) = s.http(m.clone(), p, Some(&ta), body, None);
        assert_eq!(st, 403, "{m} {p}: {body}");
        assert_eq!(body["code"], "forbidden");
    }
    assert_eq!(s.http(M::GET, "/api/v1/members/isp-a/roas", None, None, None).0, 401);
    assert_eq!(s.http(M::GET, "/api/v1/members/isp-a/roas", Some("rpkit_forged"), None, None).0, 401);
    let out = s.cli(&ta, &["roa", "list", "--member", "isp-b"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to member 'isp-a'"));

    // Bad input: 4xx with a reason, nothing changes.
    let bad = |body: Value, want_status: u16, want: &str| {
        let (st, b, _) = s.http(M::POST, "/api/v1/members/isp-a/roas/delta", Some(&ta), Some(body.clone()), None);
        assert_eq!(st, want_status, "{body}: {b}");
        assert!(b.to_string().contains(want), "{body}: {b}");
    };
    bad(json!({"added": [{"prefix": "203.0.113.0/24", "asn": 64500}]}), 422, "not_held");
    bad(json!({"added": [{"prefix": "192.0.2.0/24", "max_length": 23, "asn": 64500}]}), 422, "bad_max_length");
    bad(json!({"added": [{"prefix": "192.0.2.0/24", "max_length": 33, "asn": 64500}]}), 422, "bad_max_length");
    bad(json!({"added": [{"prefix": "2001:db8:a::/48", "max_length": 129, "asn": 64500}]}), 422, "bad_max_length");
    bad(json!({"added": [{"prefix": "192.0.2.1/24", "asn": 64500}]}), 400, "host bits");
    bad(json!({"added": [{"prefix": "192.0.2.0/24", "asn": 4294967296u64}]}), 400, "asn");
    bad(json!({"added": [{"prefix": "192.0.2.0/24"}]}), 400, "missing field `asn`");
    bad(json!({"added": [{"prefix": "192.0.2.0/24", "asn": 64500}, {"prefix": "10.0.0.0/8", "asn": 64500}]}), 422, "10.0.0.0/8");
    bad(json!({"removed": [{"prefix": "192.0.2.0/24", "asn": 64500}]}), 422, "not_found");
    let (st, b, _) = s.http(M::POST, "/api/v1/members/nobody/roas/delta", Some(&s.admin), Some(json!({"added": []})), None);
    assert_eq!((st, b["code"].as_str()), (404, Some("not_found")));
    let out = s.cli(&ta, &["roa", "add", "203.0.113.0/24", "AS64500"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("203.0.113.0/24 is not within the member's resources"), "{err}");
    let out = s.cli(&ta, &["roa", "add", "192.0.2.0/24", "ASfoo"]);
    assert!(!out.status.success());
    assert_eq!(s.repository(), before, "nothing published by bad requests");

    // Lost updates: a stale ETag is refused and changes nothing.
    let (_, _, etag) = s.http(M::GET, "/api/v1/members/isp-a/roas", Some(&ta), None, None);
    let etag = etag.unwrap();
    let add = json!({"added": [{"prefix": "192.0.2.0/24", "asn": 64500}]});
    assert_eq!(s.http(M::POST, "/api/v1/members/isp-a/roas/delta", Some(&ta), Some(add.clone()), Some(&etag)).0, 200);
    let changed = s.repository();
    let (st, b, _) = s.http(
        M::POST,
        "/api/v1/members/isp-a/roas/delta",
        Some(&ta),
        Some(json!({"added": [{"prefix": "192.0.2.0/25", "asn": 64500}]})),
        Some(&etag),
    );
    assert_eq!((st, b["code"].as_str()), (412, Some("stale_etag")));
    assert_eq!(s.repository(), changed);
    // Dry run: a report, no change.
    let (st, b, _) = s.http(
        M::POST,
        "/api/v1/members/isp-a/roas/delta?dry_run=true",
        Some(&ta),
        Some(json!({"added": [{"prefix": "192.0.2.0/25", "asn": 64500}]})),
        None,
    );
    assert_eq!((st, b["dry_run"].as_bool()), (200, Some(true)));
    assert_eq!(b["added"][0], "192.0.2.0/25-25 AS64500");
    assert_eq!(s.repository(), changed);
    let w = s.walk();
    assert_eq!(w.vrps.iter().collect::<Vec<_>>(), ["192.0.2.0/24-24 AS64500", "198.51.100.0/24-24 AS64501"]);

    // Health and metrics.
    let health = reqwest::blocking::get(format!("{}/health", s.url)).unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let metrics = reqwest::blocking::get(format!("{}/metrics", s.url)).unwrap().text().unwrap();
    assert!(metrics.contains("rpkit_ca_members 2\n"), "{metrics}");
    assert!(metrics.contains("rpkit_ca_roas 2\n"), "{metrics}");
    assert!(metrics.contains("rpkit_ca_key_pool_target 64\n"), "{metrics}");
    assert!(metrics.contains("rpkit_ca_keys_generated_total "), "{metrics}");

    // The OpenAPI document lists the endpoints.
    let (st, doc, _) = s.http(M::GET, "/api/v1/openapi.json", None, None, None);
    assert_eq!(st, 200);
    assert!(doc["paths"]["/api/v1/members/{handle}/roas/delta"].is_object());
}
