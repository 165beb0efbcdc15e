//! The state on PostgreSQL, driven as an operator would. The publication
//! server (`rpkit publication serve --database-url`): publishers over RFC 8181,
//! RRDP written from the shared state; `rpkit publication backup
//! --database-url` takes one consistent copy into a SQLite file that the
//! embedded backend opens as it is, and a second server on the same database
//! sees the same repository. The whole system (`rpkit up --database-url`): the
//! CA and the publication server in one database, the demo members' and a new
//! ROA validated from the TAL, a restart that finds it all again, and `rpkit
//! ca backup` of the CA's state.

#[path = "peers/up.rs"]
mod up_run;

use rpkit_publication::repository::Repository;
use rpkit_test_vectors::peers;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

struct Server {
    child: Child,
    api: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rpkit publication serve` on `url`, its API address read from its log.
fn serve(data: &Path, url: &str) -> Server {
    let mut child = Command::new(BIN)
        .args(["publication", "serve", "--listen", "127.0.0.1:0", "--interval-ms", "50", "--data"])
        .arg(data)
        .env("RPKIT_DATABASE_URL", url)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let api = loop {
        let line = lines.next().expect("the server printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("publication server API and RFC 8181 on ") {
            break rest.to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server { child, api }
}

fn rpkit(args: &[&str], server: &Server, data: &Path) -> String {
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let out = Command::new(BIN)
        .args(args)
        .env("RPKIT_PUBLICATION_SERVER", &server.api)
        .env("RPKIT_PUBLICATION_TOKEN", token.trim())
        .output()
        .unwrap();
    assert!(out.status.success(), "rpkit {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The serial the notification file names.
fn notified_serial(data: &Path) -> u64 {
    let xml = std::fs::read_to_string(data.join("rrdp/notification.xml")).unwrap();
    let at = xml.find(" serial=\"").unwrap() + 9;
    xml[at..].split('"').next().unwrap().parse().unwrap()
}

#[test]
fn publication_state_in_postgresql_is_served_backed_up_and_shared_by_two_servers() {
    let Some(url) = rpkit_test_vectors::postgres::database("cli_publication") else { return };
    let dir = std::env::temp_dir().join(format!("rpkit-shared-db-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (one, two) = (dir.join("one"), dir.join("two"));

    let a = serve(&one, &url);
    assert!(!one.join("publication.sqlite").exists(), "the state is in PostgreSQL, not in the data directory");
    assert_eq!(rpkit(&["publication", "bench-fill", "--objects", "1500", "--size", "64"], &a, &one).trim(), "published 1500 objects");
    // RRDP files appear as the serials are cut from the shared state.
    let t0 = std::time::Instant::now();
    while !one.join("rrdp/notification.xml").exists() || notified_serial(&one) < 2 {
        assert!(t0.elapsed().as_secs() < 30, "no RRDP serial written");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let publishers = rpkit(&["publication", "publishers", "--format", "json"], &a, &one);
    assert!(publishers.contains("\"objects\": 1500") || publishers.contains("\"objects\":1500"), "{publishers}");

    // A backup while the server runs: a SQLite file holding the same repository.
    let backup = dir.join("backup.sqlite");
    let out = Command::new(BIN).args(["publication", "backup", "--database-url", &url, "--output"]).arg(&backup).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copy = Repository::open(Some(&backup)).unwrap();
    let shared = Repository::open_at(&rpkit_serve::db::Location::Postgres(url.clone())).unwrap();
    assert_eq!(copy.session().unwrap(), shared.session().unwrap());
    assert_eq!(copy.object_count().unwrap(), 1500);
    let base = "rsync://rpki.test/repo/bench/";
    assert_eq!(copy.list(base).unwrap(), shared.list(base).unwrap());
    assert_eq!(copy.list(base).unwrap().len(), 1500);
    assert_eq!(copy.publishers().unwrap().len(), 1);
    assert_eq!(copy.identity().unwrap().cert.to_der(), shared.identity().unwrap().cert.to_der(), "the server's identity is in the copy");
    // A backup never overwrites.
    let again = Command::new(BIN).args(["publication", "backup", "--database-url", &url, "--output"]).arg(&backup).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("a backup never overwrites"), "{}", String::from_utf8_lossy(&again.stderr));
    // A database that does not answer is named as such.
    let dead = Command::new(BIN)
        .args(["publication", "backup", "--database-url", "postgresql://postgres@127.0.0.1:1/none", "--output"])
        .arg(dir.join("dead.sqlite"))
        .output()
        .unwrap();
    assert!(!dead.status.success());
    assert!(!dir.join("dead.sqlite").exists(), "nothing half-written");

    // A second server on the same database serves the same repository.
    drop(a);
    let b = serve(&two, &url);
    let publishers = rpkit(&["publication", "publishers", "--format", "json"], &b, &two);
    assert!(publishers.contains("bench"), "{publishers}");
    let t0 = std::time::Instant::now();
    while !two.join("rrdp/notification.xml").exists() {
        assert!(t0.elapsed().as_secs() < 30, "the second server wrote no RRDP files");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(notified_serial(&two), shared.session().unwrap().1);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The validator's VRPs (`/json`) as "PREFIX-MAXLEN ASN" lines.
fn served_vrps(http: &str) -> std::collections::BTreeSet<String> {
    let j: serde_json::Value = reqwest::blocking::get(format!("{http}/json")).unwrap().json().unwrap();
    j["roas"].as_array().unwrap().iter().map(|r| format!("{}-{} AS{}", r["prefix"].as_str().unwrap(), r["maxLength"], r["asn"])).collect()
}

fn wait_for_vrps(http: &str, want: &std::collections::BTreeSet<String>) {
    let t0 = std::time::Instant::now();
    loop {
        let got = served_vrps(http);
        if &got == want {
            return;
        }
        assert!(t0.elapsed().as_secs() < 60, "after 60 s /json has {got:?}, want {want:?}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn rpkit_up_keeps_the_ca_and_the_repository_in_postgresql_and_resumes_from_it() {
    let Some(url) = rpkit_test_vectors::postgres::database("cli_up") else { return };
    let w = up_run::scratch("up-postgres");
    let data = w.join("data");
    let sets = up_run::port_settings();
    let log = w.join("up.log");
    let mut cmd = up_run::up_command(&data, &sets, None);
    cmd.args(["--database-url", &url]);
    let mut up = up_run::start_cmd(cmd, &data, &log);
    let j = up.json.clone();
    for f in ["ca/ca.sqlite", "publication/publication.sqlite"] {
        assert!(!data.join(f).exists(), "{f}: the state is in PostgreSQL");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("ca/database-url")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the remembered URL may hold a password");

    // The demo members' ROAs, then one more, validated from the TAL over RRDP.
    let http = j["validator_http"].as_str().unwrap().to_string();
    let mut want: std::collections::BTreeSet<String> =
        ["192.0.2.0/24-24 AS64496", "203.0.113.0/24-24 AS64500", "3fff::/24-48 AS64500", "100.64.0.0/24-24 AS65536"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    wait_for_vrps(&http, &want);
    let (api, token) = (j["ca_api"].as_str().unwrap(), j["member"]["token"].as_str().unwrap());
    let out = Command::new(BIN).args(["roa", "add", "198.51.100.0/24-24", "AS64496", "--server", api, "--token", token]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    want.insert("198.51.100.0/24-24 AS64496".into());
    wait_for_vrps(&http, &want);

    // Both stores are in the database, each in its own schema.
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let roas: i64 = pg.query_one("SELECT COUNT(*) FROM rpkit_ca.roas", &[]).unwrap().get(0);
    assert_eq!(roas, 5);
    let objects: i64 = pg.query_one("SELECT objects FROM rpkit_publication.session", &[]).unwrap().get(0);
    let ca_objects: i64 = pg.query_one("SELECT COUNT(*) FROM rpkit_ca.objects", &[]).unwrap().get(0);
    assert_eq!(objects, ca_objects, "the repository holds what the CA published");

    // An online backup of the CA's state, into a SQLite file.
    let backup = w.join("ca-backup.sqlite");
    let out = Command::new(BIN).args(["ca", "backup", "--data"]).arg(data.join("ca")).arg("--output").arg(&backup).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copy = rusqlite::Connection::open(&backup).unwrap();
    let copied: i64 = copy.query_row("SELECT COUNT(*) FROM roas", [], |r| r.get(0)).unwrap();
    assert_eq!(copied, 5);

    // The history's hash chain, checked in the database the data directory names.
    let out = Command::new(BIN).args(["ca", "history", "verify", "--data"]).arg(data.join("ca")).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("the chain holds"), "{said}{}", String::from_utf8_lossy(&out.stderr));
    let n: i64 = pg.query_one("SELECT COUNT(*) FROM rpkit_ca.history", &[]).unwrap().get(0);
    assert!(n > 0 && said.contains(&format!(": {n} entries,")), "{said} ({n} entries in the database)");
    // A broken link is found there too (and the entry put back).
    let actor: String = pg.query_one("SELECT actor FROM rpkit_ca.history WHERE seq = 2", &[]).unwrap().get(0);
    pg.execute("UPDATE rpkit_ca.history SET actor = 'intruder' WHERE seq = 2", &[]).unwrap();
    let out = Command::new(BIN).args(["ca", "history", "verify", "--data"]).arg(data.join("ca")).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("entry 2"), "{}", String::from_utf8_lossy(&out.stderr));
    pg.execute("UPDATE rpkit_ca.history SET actor = $1 WHERE seq = 2", &[&actor]).unwrap();

    // A clean stop and a start without the flag: the data directory remembers
    // its database; everything is still there.
    assert!(up.proc.stop().is_some_and(|s| s.success()), "{}", up.proc.log_text());
    let mut again = up_run::start(&data, &sets, &log);
    assert_eq!(again.json["member"]["token"], j["member"]["token"]);
    wait_for_vrps(&http, &want);
    assert!(!data.join("ca/ca.sqlite").exists());
    assert!(again.proc.stop().is_some_and(|s| s.success()));
    let _ = std::fs::remove_dir_all(&w);
}

/// `rpkit up`'s session id in its RRDP notification.
fn rrdp_session(data: &Path) -> String {
    let text = std::fs::read_to_string(data.join("publication/rrdp/notification.xml")).unwrap();
    text.split("session_id=\"").nth(1).unwrap().split('"').next().unwrap().to_string()
}

/// A deployment on SQLite moves to PostgreSQL (the step from one machine to
/// two): `rpkit ca migrate` and `rpkit publication migrate` copy each store
/// whole into an empty database, and `rpkit up` starts on it with the same
/// member token, VRPs and RRDP session. A second move, a move into a store
/// holding state, and a publication server started on SQLite after the move
/// are refused, each saying why.
#[test]
fn a_sqlite_deployment_moves_into_postgresql_with_every_vrp_and_its_rrdp_session() {
    let Some(url) = rpkit_test_vectors::postgres::database("cli_migrate") else { return };
    let w = up_run::scratch("up-migrate");
    let data = w.join("data");
    let sets = up_run::port_settings();
    let log = w.join("up.log");
    let mut up = up_run::start(&data, &sets, &log);
    let j = up.json.clone();
    let http = j["validator_http"].as_str().unwrap().to_string();
    let (api, token) = (j["ca_api"].as_str().unwrap(), j["member"]["token"].as_str().unwrap());
    let out = Command::new(BIN).args(["roa", "add", "198.51.100.0/24-24", "AS64496", "--server", api, "--token", token]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want: std::collections::BTreeSet<String> = [
        "192.0.2.0/24-24 AS64496",
        "203.0.113.0/24-24 AS64500",
        "3fff::/24-48 AS64500",
        "100.64.0.0/24-24 AS65536",
        "198.51.100.0/24-24 AS64496",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    wait_for_vrps(&http, &want);
    let session = rrdp_session(&data);
    assert!(up.proc.stop().is_some_and(|s| s.success()), "{}", up.proc.log_text());
    let count =
        |file: &str, sql: &str| -> i64 { rusqlite::Connection::open(data.join(file)).unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    let (roas, objects) =
        (count("ca/ca.sqlite", "SELECT COUNT(*) FROM roas"), count("publication/publication.sqlite", "SELECT objects FROM session"));
    assert_eq!(roas, 5);

    let run = |args: &[&str], dir: &Path| Command::new(BIN).args(args).arg("--data").arg(dir).args(["--to", &url]).output().unwrap();
    for (store, dir) in [("ca", data.join("ca")), ("publication", data.join("publication"))] {
        let out = run(&[store, "migrate"], &dir);
        assert!(out.status.success(), "{store}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!data.join("ca/ca.sqlite").exists() && data.join("ca/ca.sqlite.moved").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(data.join("ca/database-url")).unwrap().permissions().mode() & 0o777, 0o600);
    let mut pg = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let pg_roas: i64 = pg.query_one("SELECT COUNT(*) FROM rpkit_ca.roas", &[]).unwrap().get(0);
    let pg_objects: i64 = pg.query_one("SELECT objects FROM rpkit_publication.session", &[]).unwrap().get(0);
    assert_eq!((pg_roas, pg_objects), (roas, objects));

    // Refusals: moved already; a target that holds state; SQLite after the move.
    let out = run(&["ca", "migrate"], &data.join("ca"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already keeps its state in PostgreSQL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = w.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(data.join("publication/publication.sqlite.moved"), other.join("publication.sqlite")).unwrap();
    let out = run(&["publication", "migrate"], &other);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && said.contains("already holds publication state (table"), "{said}");
    assert!(other.join("publication.sqlite").exists(), "a refused move leaves the file in place");
    let out = Command::new(BIN)
        .args(["publication", "serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.join("publication"))
        .env_remove("RPKIT_DATABASE_URL")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && said.contains("moved to PostgreSQL"), "{said}");

    // `rpkit up` on the database: the same member, VRPs and RRDP session.
    let mut again = up_run::start(&data, &sets, &log);
    assert_eq!(again.json["member"]["token"], j["member"]["token"]);
    wait_for_vrps(&http, &want);
    assert_eq!(rrdp_session(&data), session, "relying parties go on with deltas");
    assert!(!data.join("ca/ca.sqlite").exists() && !data.join("publication/publication.sqlite").exists());
    assert!(again.proc.stop().is_some_and(|s| s.success()));
    let _ = std::fs::remove_dir_all(&w);
}
