//! An rpkit CA below an RFC 6492 parent for the interoperability tests, set
//! up as an operator would: registered at our publication server, onboarded
//! by its parent, `rpkit ca serve` syncing with it.
#![allow(dead_code)]

use crate::hosted::{run, Env, BIN};
use rpkit_test_vectors::peers::Proc;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// An rpkit CA below an RFC 6492 parent, publishing in our repository.
pub struct Child {
    _proc: Proc,
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl Child {
    /// Set up `handle`'s CA in `w/handle` as operators would; `parent` turns
    /// its child_request (a file) into the parent's parent_response (XML).
    /// It publishes in our repository as publisher `publisher` (below `repo/publisher/`).
    pub fn start(e: &Env, handle: &str, publisher: &str, parent: &dyn Fn(&Path) -> String, add_args: &[&str]) -> Child {
        let data = e.w.join(handle);
        let file = |name: &str, text: String| {
            let p = e.w.join(format!("{handle}-{name}.xml"));
            std::fs::write(&p, text).unwrap();
            p
        };
        let req =
            file("publisher-request", run(Command::new(BIN).args(["ca", "publisher-request", "--handle", publisher, "--data"]).arg(&data)));
        let resp = file(
            "repository-response",
            run(Command::new(BIN)
                .args(["publication", "add-publisher"])
                .arg(&req)
                .env("RPKIT_PUBLICATION_SERVER", &e.pub_url)
                .env("RPKIT_PUBLICATION_TOKEN", &e.pub_token)),
        );
        run(Command::new(BIN).args(["ca", "repository", "--data"]).arg(&data).arg(&resp));
        let child_request =
            file("child-request", run(Command::new(BIN).args(["ca", "child-request", "--handle", handle, "--data"]).arg(&data)));
        let parent_response = file("parent-response", parent(&child_request));
        let added = run(Command::new(BIN).args(["ca", "parent", "add", "--data"]).arg(&data).arg(&parent_response).args(add_args));
        assert!(added.contains(&format!("publishing below rsync://rpki.test/repo/{publisher}/")), "{added}");
        let mut proc = Proc::spawn(
            Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data).env("RUST_LOG", "warn"),
            &e.w.join(format!("{handle}.log")),
        );
        let url = proc.wait_line("rpkit CA API on ");
        let token = std::fs::read_to_string(data.join("admin-token")).unwrap().trim().to_string();
        let c = Child { _proc: proc, url, token, http: reqwest::blocking::Client::new() };
        // `ca serve` syncs with its parent at once: the top CA gets its certificate.
        let t0 = Instant::now();
        loop {
            let s = c.call(reqwest::Method::GET, "/api/v1/parent", None);
            if s["resources"].is_object() {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "{handle} got no certificate from its parent: {s}");
            std::thread::sleep(Duration::from_millis(300));
        }
        c
    }

    pub fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut rb = self.http.request(method, format!("{}{path}", self.url)).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// A member with one ROA.
    pub fn member_with_roa(&self, handle: &str, resources: &str, prefix: &str, asn: u32) {
        self.call(reqwest::Method::POST, "/api/v1/members", Some(json!({ "handle": handle, "resources": resources })));
        let roa = json!({ "added": [{ "prefix": prefix, "max_length": 24, "asn": asn }] });
        self.call(reqwest::Method::POST, &format!("/api/v1/members/{handle}/roas/delta"), Some(roa));
    }
}
