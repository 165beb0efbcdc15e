//! Krill 0.16.1 as an RFC 8181 publisher of `rpkit publication serve`: Krill
//! registers with its RFC 8183 publisher_request, verifies the repository with
//! a `list`, then publishes its CA's manifest, CRL and ROA as it gets a
//! certificate from its testbed parent, and withdraws the ROA when it is
//! removed. What lands in our repository is decoded and checked.

#[path = "peers/krill.rs"]
mod krill;
use krill::Krill;
use rpkit_test_vectors::peers;

use peers::Proc;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

/// Files of a directory: (name, bytes).
type Files = Vec<(String, Vec<u8>)>;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{:?}: {}{}", cmd, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Files of the current rsync tree below `dir`, by extension.
fn files(dir: &Path) -> Files {
    let mut out: Files = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap())).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn inspect(name: &str, der: &[u8], w: &Path) -> Value {
    let p = w.join(name);
    std::fs::write(&p, der).unwrap();
    serde_json::from_str(&run(Command::new(BIN).arg("inspect").arg(&p))).unwrap()
}

#[test]
fn krill_publishes_its_ca_through_our_rfc8181_server() {
    let Some(p) = peers::prepare() else { return };
    let w = peers::open_dir("krill");
    let mut publication = Proc::spawn(
        Command::new(BIN).args(["publication", "serve", "--listen", "127.0.0.1:0", "--interval-ms", "200", "--data"]).arg(w.join("pub")),
        &w.join("publication.log"),
    );
    let pub_url = publication.wait_line("publication server API and RFC 8181 on ");
    let pub_token = std::fs::read_to_string(w.join("pub/admin-token")).unwrap().trim().to_string();

    let krill = Krill::start(
        &p,
        &w,
        None,
        "\n[testbed]\nrrdp_base_uri = \"https://localhost:PORT/rrdp/\"\nrsync_jail = \"rsync://localhost/krill/\"\n\
         ta_aia = \"rsync://localhost/krill/ta/ta.cer\"\nta_uri = \"https://localhost:PORT/ta/ta.cer\"\n",
        &[],
    );
    let krillc = |args: &[&str]| krill.run(args);
    // Krill takes a moment to set up its testbed.
    let t0 = Instant::now();
    while !krill.try_run(&["list"]).is_some_and(|o| o.contains("testbed")) {
        assert!(t0.elapsed() < Duration::from_secs(60), "krill's testbed did not start:\n{}", krill.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    // RFC 8183: Krill's publisher_request in, our repository_response out;
    // Krill checks the repository (an RFC 8181 list) before it accepts it.
    krillc(&["add", "--ca", "ca1"]);
    std::fs::write(w.join("publisher_request.xml"), krillc(&["repo", "request", "--ca", "ca1"])).unwrap();
    let resp = run(Command::new(BIN)
        .args(["publication", "add-publisher"])
        .arg(w.join("publisher_request.xml"))
        .env("RPKIT_PUBLICATION_SERVER", &pub_url)
        .env("RPKIT_PUBLICATION_TOKEN", &pub_token));
    assert!(resp.contains("sia_base=\"rsync://rpki.test/repo/ca1/\""), "{resp}");
    std::fs::write(w.join("repository_response.xml"), resp).unwrap();
    krillc(&["repo", "configure", "--ca", "ca1", "--response", w.join("repository_response.xml").to_str().unwrap()]);

    // A certificate from Krill's testbed parent, then a ROA.
    std::fs::write(w.join("child_request.xml"), krillc(&["parents", "request", "--ca", "ca1"])).unwrap();
    let parent_response = krillc(&[
        "children",
        "add",
        "--ca",
        "testbed",
        "--child",
        "ca1",
        "--ipv4",
        "10.0.0.0/16",
        "--asn",
        "AS64496",
        "--request",
        w.join("child_request.xml").to_str().unwrap(),
    ]);
    std::fs::write(w.join("parent_response.xml"), parent_response).unwrap();
    krillc(&["parents", "add", "--ca", "ca1", "--parent", "testbed", "--response", w.join("parent_response.xml").to_str().unwrap()]);
    // Krill publishes in a directory `0/` below its base URI.
    let dir = w.join("pub/rsync/current/repo/ca1/0");
    let wait_for = |want: &dyn Fn(&Files) -> bool, what: &str| {
        let t0 = Instant::now();
        loop {
            let f = files(&dir);
            if want(&f) {
                return f;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "{what}: have {:?}", f.iter().map(|x| &x.0).collect::<Vec<_>>());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    fn has(f: &Files, ext: &str) -> bool {
        f.iter().any(|(n, _)| n.ends_with(ext))
    }
    wait_for(&|f| has(f, ".mft") && has(f, ".crl"), "Krill's manifest and CRL");
    krillc(&["roas", "update", "--ca", "ca1", "--add", "10.0.0.0/24 => 64496"]);
    let published = wait_for(&|f| has(f, ".roa"), "Krill's ROA");

    // What Krill published decodes, and its manifest lists the other files.
    let mut listed = Vec::new();
    let mut roas = Vec::new();
    for (name, der) in &published {
        let v = inspect(name, der, &w);
        if name.ends_with(".mft") {
            assert_eq!(v["cms_signature_valid"], true);
            for f in v["files"].as_array().unwrap() {
                let file = f["file"].as_str().unwrap().to_string();
                let der = &published.iter().find(|(n, _)| *n == file).expect("listed file published").1;
                assert_eq!(f["hash"].as_str().unwrap(), rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(der)));
                listed.push(file);
            }
        }
        if name.ends_with(".roa") {
            roas.push((
                v["asn"].as_u64().unwrap(),
                v["prefixes"][0]["prefix"].as_str().unwrap().to_string(),
                v["cms_signature_valid"] == true,
            ));
        }
    }
    assert_eq!(roas, [(64496, "10.0.0.0/24".to_string(), true)]);
    let mut others: Vec<String> = published.iter().map(|(n, _)| n.clone()).filter(|n| !n.ends_with(".mft")).collect();
    others.sort();
    listed.sort();
    assert_eq!(listed, others, "the manifest lists exactly the other published files");

    // Removing the ROA withdraws it here.
    krillc(&["roas", "update", "--ca", "ca1", "--remove", "10.0.0.0/24 => 64496"]);
    wait_for(&|f| !has(f, ".roa") && has(f, ".mft"), "the ROA withdrawn");
    let log = std::fs::read_to_string(w.join("publication.log")).unwrap();
    assert!(!log.contains("refused"), "no RFC 8181 message from Krill was refused:\n{log}");
    publication.stop();
    let _ = std::fs::remove_dir_all(&w);
}
