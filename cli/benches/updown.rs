//! RFC 6492 as a parent at scale: N delegated children (default 1,000), each
//! onboarded by RFC 8183 and then asking `rpkit ca serve` for its
//! certificate (a `list`, then an `issue`), 16 at a time over HTTP. Measured:
//! the wall time of all the asking, the parent's peak RSS, and, in the same
//! run, the bare cost of signing N CA certificates with one key: the floor
//! of the parent's work (each answer is also a signed CMS message, and each
//! issue re-signs the RIR CA's manifest and CRL with a fresh one-time key).
//!
//! Run: `cargo bench -p rpkit --bench updown -- [--quick] [--children N]`
//! (`--quick`: 50). The report is printed and written to
//! `target/bench/updown.md` (`updown-quick.md`).

use rpkit_test_vectors::peers;

#[path = "support/rss.rs"]
mod rss;

#[path = "support/keys.rs"]
mod keys;

use peers::Proc;
use rpkit_objects::bpki::{self, Identity};
use rpkit_objects::cert::{CertBuilder, SiaSpec};
use rpkit_objects::crypto::{KeyId, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::name::Name;
use rpkit_objects::pkcs10::CaCertRequest;
use rpkit_objects::resources::{CertResources, ResourceSet};
use rpkit_objects::rfc8183::{ChildRequest, ParentResponse};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_message::SignedMessage;
use rpkit_objects::up_down::{IssueRequest, Limit, Message, Payload};
use rss::RssWatch;
use serde_json::{json, Value};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A child CA: its BPKI identity and its CA key, in one software signer.
struct Child {
    handle: String,
    id: Identity,
    signer: Arc<SoftSigner>,
    key: KeyId,
    parent: Option<ParentResponse>,
}

fn child(handle: String, mut keys: impl Iterator<Item = rpkit_objects::crypto::KeyPair>) -> Child {
    let signer = Arc::new(SoftSigner::new());
    let (id_key, ee_key, key) =
        (signer.insert(keys.next().unwrap()), signer.insert(keys.next().unwrap()), signer.insert(keys.next().unwrap()));
    let now = Time::now();
    let public = signer.public_key(&id_key).unwrap();
    let cert = bpki::issue(&*signer, &id_key, None, &public, Serial::from_u64(1), now.add_secs(-300), now.add_secs(86400)).unwrap();
    let id = Identity::in_signer(signer.clone(), id_key, ee_key, cert.to_der()).unwrap();
    Child { handle, id, signer, key, parent: None }
}

impl Child {
    fn send(&self, http: &reqwest::blocking::Client, payload: Payload) -> Payload {
        let p = self.parent.as_ref().unwrap();
        let m = Message { sender: p.child_handle.clone(), recipient: p.parent_handle.clone(), payload };
        let body = self.id.sign(m.encode().as_bytes(), Time::now()).unwrap();
        let resp = http.post(&p.service_uri).header("Content-Type", "application/rpki-updown").body(body).send().unwrap();
        assert!(resp.status().is_success());
        let answer = SignedMessage::decode(&resp.bytes().unwrap()).unwrap();
        answer.verify(&p.id_cert, Time::now()).unwrap();
        Message::decode(answer.content()).unwrap().payload
    }

    /// `list`, then `issue` for the class offered: the certificate's DER.
    fn certify(&self, http: &reqwest::blocking::Client) -> Vec<u8> {
        let Payload::ListResponse(classes) = self.send(http, Payload::List) else { panic!("{}: no list_response", self.handle) };
        let repo = format!("rsync://children.test/repo/{}/", self.handle);
        let mft = format!("{repo}{}.mft", self.key.hex());
        let csr = CaCertRequest::build(&*self.signer, &self.key, &repo, &mft, None).unwrap();
        let req = IssueRequest { class_name: classes[0].class_name.clone(), limit: Limit::default(), csr };
        match self.send(http, Payload::Issue(req)) {
            Payload::IssueResponse(c) => c.certificates[0].der.clone(),
            other => panic!("{}: {other:?}", self.handle),
        }
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = arg("--children").unwrap_or(if quick { 50 } else { 1000 });
    let w = peers::open_dir("bench-updown");
    let data = w.join("ca");
    run(Command::new(BIN).args(["ta", "init", "--data"]).arg(&data));
    // The parent's per-address request budget is for the API's clients; the children here all come from one address.
    let cfg_path = data.join("ca.json");
    let mut cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["api_rate_per_sec"] = json!(0);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let mut server = Proc::spawn(
        Command::new(BIN).args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(&data).env("RUST_LOG", "warn"),
        &w.join("ca.log"),
    );
    let url = server.wait_line("rpkit CA API on ");
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap().trim().to_string();
    let http = reqwest::blocking::Client::new();

    // Children with cached keys (three each: identity, message and CA key).
    let keys = keys::cached(&peers::workspace().join("target/bench-keys/updown-keys.bin"), 3 * n);
    let mut it = keys.into_iter();
    let mut children: Vec<Child> = (0..n).map(|i| child(format!("c{i}"), it.by_ref().take(3))).collect();
    let t = Instant::now();
    for (i, c) in children.iter_mut().enumerate() {
        let req = ChildRequest { tag: None, child_handle: c.handle.clone(), id_cert: c.id.cert.clone() };
        let resources = format!("AS{}, 10.{}.{}.0/24", 64512 + i, i / 256, i % 256);
        let r: Value = http
            .post(format!("{url}/api/v1/children"))
            .bearer_auth(&token)
            .json(&json!({ "handle": c.handle, "request": req.encode(), "resources": resources }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        c.parent = Some(ParentResponse::decode(r["parent_response"].as_str().unwrap().as_bytes()).unwrap());
    }
    let onboard_secs = t.elapsed().as_secs_f64();

    // The RIR CA's manifest number counts the changes that publish.
    let rir_dir = data.join("repository/rpki.test/repo/rir");
    let manifest_number = || -> u64 {
        let mft =
            std::fs::read_dir(&rir_dir).unwrap().flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "mft")).unwrap();
        let m = rpkit_objects::manifest::Manifest::decode(&std::fs::read(mft).unwrap()).unwrap();
        m.content.manifest_number.to_u128().unwrap() as u64
    };
    let changes_before = manifest_number();
    // All children ask for their certificates, 16 at a time.
    let watch = RssWatch::start(server.id());
    let next = Arc::new(AtomicUsize::new(0));
    let children = Arc::new(children);
    let t = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (next, children) = (next.clone(), children.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::new();
                let mut got = 0;
                while let Some(c) = children.get(next.fetch_add(1, Ordering::SeqCst)) {
                    assert!(!c.certify(&http).is_empty());
                    got += 1;
                }
                got
            })
        })
        .collect();
    let certified: usize = workers.into_iter().map(|h| h.join().unwrap()).sum();
    let ask_secs = t.elapsed().as_secs_f64();
    let rss = watch.peak_mib();
    assert_eq!(certified, n);
    let members: Value = http.get(format!("{url}/api/v1/members")).bearer_auth(&token).send().unwrap().json().unwrap();
    let with_cert =
        members.as_array().unwrap().iter().filter(|m| m["delegated"]["certificates"].as_array().is_some_and(|c| c.len() == 1)).count();
    assert_eq!(with_cert, n, "every child holds one certificate");
    let changes = manifest_number() - changes_before;
    server.stop();

    // The floor: N CA certificates signed with one key, one after another, in this process.
    let soft = SoftSigner::new();
    let issuer = soft.insert(keys::cached(&peers::workspace().join("target/bench-keys/updown-keys.bin"), 1).remove(0));
    let subject_keys: Vec<_> = children.iter().map(|c| c.signer.public_key(&c.key).unwrap()).collect();
    let name = Name::new("issuer", None).unwrap();
    let res: ResourceSet = "10.0.0.0/8".parse().unwrap();
    let t = Instant::now();
    for (i, k) in subject_keys.iter().enumerate() {
        CertBuilder {
            serial: Serial::from_u64(i as u64 + 1),
            issuer: name.clone(),
            subject: Name::new(&k.key_id().hex(), None).unwrap(),
            not_before: Time::now(),
            not_after: Time::now().add_secs(86400),
            public_key: k.clone(),
            ca: true,
            aki: Some(soft.public_key(&issuer).unwrap().key_id()),
            crl_uri: Some("rsync://x.test/r/i.crl".into()),
            ca_issuer: Some("rsync://x.test/r/i.cer".into()),
            sia: SiaSpec::Ca { repository: "rsync://x.test/c/".into(), manifest: "rsync://x.test/c/m.mft".into(), notify: None },
            resources: CertResources::explicit(&res),
            bgpsec_router: false,
        }
        .sign(&soft, &issuer)
        .unwrap();
    }
    let bare_secs = t.elapsed().as_secs_f64();

    let report = format!(
        "## Delegated children (RFC 6492): {n} children asking `rpkit ca serve` for a certificate\n\n\
         Each child sends a `list` and an `issue` (CMS-signed, over HTTP, 16 children at a time); the parent \
         verifies both, answers both signed, and issues, publishes and records each certificate as one change \
         (its CA certificate, the RIR CA's manifest and CRL re-signed with a fresh one-time key); requests that \
         arrive while a change is under way go into the next one together. The children run on the same \
         machine, so their own signing (two messages and a certificate request each) is in the wall time.\n\n\
         | | |\n|---|---:|\n\
         | onboarding of {n} children (RFC 8183, one API call each, s) | {onboard_secs:.1} |\n\
         | all {n} children certified (s) | {ask_secs:.1} |\n\
         | per child (ms) | {:.1} |\n\
         | bare signing of {n} CA certificates with one key, same run (s) | {bare_secs:.2} |\n\
         | certified ÷ bare signing | {:.1}× |\n\
         | changes (manifests re-signed) for the {n} certificates | {changes} |\n\
         | peak RSS of `rpkit ca serve` while they asked (MiB) | {rss:.0} |\n",
        ask_secs * 1000.0 / n as f64,
        ask_secs / bare_secs
    );
    println!("{report}");
    let dir = peers::workspace().join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(if quick { "updown-quick.md" } else { "updown.md" }), &report).unwrap();
    let _ = std::fs::remove_dir_all(&w);
}
