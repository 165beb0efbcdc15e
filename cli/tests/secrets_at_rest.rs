//! Private keys at rest: whatever the umask, `rpkit up`, its backups and its
//! restarts leave every file holding a key or a token 0600 and the directories
//! holding them closed to other users, while the public RRDP and rsync trees
//! and the validator's cache stay readable. A server refuses a data directory
//! whose secrets are open, naming the file and its `chmod` (or only warns, if
//! told so); a directory of an earlier version is tightened on its first start.

use rpkit_test_vectors::peers;
#[path = "peers/up.rs"]
mod up_run;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;
use up_run::{port_settings, scratch, start_cmd, up_command, BIN};

/// Directories of DATA and their exact modes.
const DIRS: &[(&str, u32)] = &[("", 0o711), ("tls", 0o700), ("ca", 0o700), ("ca/bpki", 0o700), ("publication", 0o711)];

/// Every file of DATA that holds a private key or a token (the databases'
/// WAL files exist while the system runs).
const SECRETS: &[&str] = &[
    "up.json",
    "demo-member.json",
    "tls/key.pem",
    "ca/ca.sqlite",
    "ca/ca.sqlite-wal",
    "ca/ca.sqlite-shm",
    "ca/admin-token",
    "ca/bpki/id.key",
    "ca/bpki/id-ee.key",
    "publication/publication.sqlite",
    "publication/publication.sqlite-wal",
    "publication/publication.sqlite-shm",
    "publication/admin-token",
];

/// What other users may read in DATA: the public trees and the settings.
const PUBLIC: &[&str] = &["publication/rrdp", "publication/rsync", "validator", "rpkit.toml"];

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// Every regular file below `dir`, with whether a user other than the owner
/// (and not in its group) can open it: every directory on the way lets
/// others pass (o+x) and the file lets them read (o+r).
fn reach(dir: &Path, others_pass: bool, out: &mut Vec<(PathBuf, bool)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            reach(&p, others_pass && m.permissions().mode() & 0o001 != 0, out);
        } else if m.is_file() {
            out.push((p, others_pass && m.permissions().mode() & 0o004 != 0));
        }
    }
}

/// The modes every secret and directory of DATA must have, and who can read what.
fn check_modes(data: &Path, when: &str) {
    for (d, m) in DIRS {
        assert_eq!(format!("{:04o}", mode(&data.join(d))), format!("{m:04o}"), "{when}: directory DATA/{d}");
    }
    for f in SECRETS {
        assert_eq!(format!("{:04o}", mode(&data.join(f))), "0600", "{when}: DATA/{f}");
    }
    let mut files = Vec::new();
    reach(data, mode(data) & 0o001 != 0, &mut files);
    let (mut open, mut public) = (0, 0);
    for (p, readable) in files {
        let rel = p.strip_prefix(data).unwrap();
        let is_public = PUBLIC.iter().any(|q| rel.starts_with(q));
        assert_eq!(readable, is_public, "{when}: DATA/{} readable by others: {readable}", rel.display());
        open += usize::from(readable);
        public += usize::from(is_public);
    }
    // The public trees hold the repository (a ROA of the demo member at least) and the cache.
    assert!(data.join("publication/rrdp/notification.xml").is_file() && open == public && public > 20, "{when}: {public} public files");
    let demo = data.join("publication/rsync/current/repo/demo-isp");
    assert!(std::fs::read_dir(&demo).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|x| x == "roa")), "{when}");
}

/// Run `rpkit ARGS` under `umask`.
fn rpkit_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh").args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\""), BIN]).args(args).output().unwrap()
}

/// A server process that must refuse to start: its exit status and stderr.
fn refused(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    err
}

/// `rpkit up` with its data in a new directory, under `umask`: the modes after
/// the first start, after backups of both databases and after a restart.
fn first_start_backup_restart(name: &str, umask: &str) -> (PathBuf, PathBuf, Vec<String>) {
    let w = scratch(name);
    let data = w.join("data");
    let sets = port_settings();
    let log = w.join("up.log");
    let mut up = start_cmd(up_command(&data, &sets, Some(umask)), &data, &log);
    check_modes(&data, &format!("umask {umask}, first start"));

    // Backups, online: 0600 whatever the umask, and they hold the CA's keys.
    for (what, sub) in [("ca", "ca"), ("publication", "publication")] {
        let out = w.join(format!("{what}-backup.sqlite"));
        let o = rpkit_umask(umask, &[what, "backup", "--data", data.join(sub).to_str().unwrap(), "--output", out.to_str().unwrap()]);
        assert!(o.status.success(), "{what} backup: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(mode(&out), 0o600, "umask {umask}: {what} backup");
        // It holds what the live database holds: every key of the CA, the server's identity.
        let table = if what == "ca" { "keys" } else { "identity" };
        let count = |p: &Path| -> i64 {
            let db = rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
        };
        let n = count(&out);
        assert!(n >= 1 && n == count(&data.join(sub).join(format!("{sub}.sqlite"))), "the {what} backup holds {n} rows of {table}");
        // A second backup never overwrites the first.
        let o = rpkit_umask(umask, &[what, "backup", "--data", data.join(sub).to_str().unwrap(), "--output", out.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&o.stderr).contains("a backup never overwrites"), "{o:?}");
    }

    let st = up.proc.stop().expect("rpkit up stops on SIGINT");
    assert!(st.success(), "{}", up.proc.log_text());
    let mut again = start_cmd(up_command(&data, &sets, Some(umask)), &data, &log);
    check_modes(&data, &format!("umask {umask}, restart"));
    assert!(!again.proc.log_text().contains("tightened"), "nothing to tighten:\n{}", again.proc.log_text());
    assert!(again.proc.stop().is_some_and(|s| s.success()));
    (w, data, sets)
}

#[test]
fn secrets_stay_private_under_umask_022_and_a_server_refuses_an_open_database_naming_it() {
    let (w, data, sets) = first_start_backup_restart("secrets-022", "022");

    // The CA's database opened to every user: `rpkit up` and `rpkit ca serve` refuse, naming it.
    let db = data.join("ca/ca.sqlite");
    chmod(&db, 0o644);
    let named = format!("{} has mode 0644", db.display());
    let fix = format!("chmod 600 {}", db.display());
    let err = refused(&mut up_command(&data, &sets, Some("022")));
    assert!(err.contains(&named) && err.contains(&fix), "{err}");
    assert!(!data.join("up.json").exists(), "nothing started");
    assert_eq!(mode(&db), 0o644, "a refusal changes nothing");
    let ca_serve = |extra: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(["ca", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(data.join("ca")).args(extra);
        c
    };
    let err = refused(&mut ca_serve(&[]));
    assert!(err.contains(&named) && err.contains(&fix) && err.contains("--permissions warn"), "{err}");

    // Only warn, for operators who control access otherwise: it starts, and says so.
    let mut warned = peers::Proc::spawn(&mut ca_serve(&["--permissions", "warn"]), &w.join("ca-warn.log"));
    warned.wait_line("rpkit CA API on ");
    assert!(warned.log_text().contains(&format!("warning: {named}")), "{}", warned.log_text());
    assert!(warned.stop().is_some_and(|s| s.success()));
    assert_eq!(mode(&db), 0o644, "warn changes no mode");
    chmod(&db, 0o600);

    // A data directory others can list, and the publication server's database.
    chmod(&data.join("ca"), 0o755);
    let err = refused(&mut ca_serve(&[]));
    assert!(err.contains(&format!("chmod 700 {}", data.join("ca").display())), "{err}");
    chmod(&data.join("ca"), 0o700);
    let pdb = data.join("publication/publication.sqlite");
    chmod(&pdb, 0o640);
    let err = refused(Command::new(BIN).args(["publication", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(data.join("publication")));
    assert!(err.contains(&format!("{} has mode 0640", pdb.display())) && err.contains(&format!("chmod 600 {}", pdb.display())), "{err}");
    chmod(&pdb, 0o600);

    // Put right, it starts again.
    let mut up = start_cmd(up_command(&data, &sets, Some("022")), &data, &w.join("up.log"));
    check_modes(&data, "umask 022, after the refusals");
    assert!(up.proc.stop().is_some_and(|s| s.success()));
}

#[test]
fn secrets_stay_private_under_umask_002_and_an_earlier_versions_directory_is_tightened_once() {
    let (w, data, sets) = first_start_backup_restart("secrets-002", "002");
    let token = std::fs::read_to_string(data.join("demo-member.json")).unwrap();

    // As an earlier version left it under umask 002: no markers, files 0664, directories 0775.
    let mut opened = Vec::new();
    for (d, _) in DIRS {
        let dir = data.join(d).components().collect::<PathBuf>();
        let _ = std::fs::remove_file(dir.join(".permissions"));
        chmod(&dir, 0o775);
        opened.push(dir);
    }
    for f in SECRETS.iter().filter(|f| data.join(f).exists()) {
        chmod(&data.join(f), 0o664);
        opened.push(data.join(f));
    }
    let t0 = Instant::now();
    let mut up = start_cmd(up_command(&data, &sets, Some("002")), &data, &w.join("up-upgrade.log"));
    let log = up.proc.log_text();
    for p in &opened {
        let want = if p.is_dir() { [0o700, 0o711] } else { [0o600, 0o600] };
        let line = format!("{}: mode {:04o} tightened to ", p.display(), if p.is_dir() { 0o775 } else { 0o664 });
        assert!(want.iter().any(|m| log.contains(&format!("{line}{m:04o}"))), "no '{line}' in\n{log}");
    }
    check_modes(&data, "umask 002, after tightening an earlier version's directory");
    assert_eq!(std::fs::read_to_string(data.join("demo-member.json")).unwrap(), token, "the state is kept");
    for d in ["", "ca", "publication"] {
        assert_eq!(mode(&data.join(d).join(".permissions")), 0o600);
    }
    assert!(up.proc.stop().is_some_and(|s| s.success()));
    eprintln!("the upgrading start took {:.1} s", t0.elapsed().as_secs_f64());
}

#[test]
fn ta_init_and_publication_serve_make_their_data_directories_private_under_umask_002() {
    let w = scratch("secrets-standalone");
    // The CA's directory through the operator's commands: identity, then the TA.
    let ca = w.join("ca");
    for args in [&["ca", "publisher-request"][..], &["ta", "init"][..]] {
        let o = rpkit_umask("002", &[args, &["--data", ca.to_str().unwrap()]].concat());
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(format!("{:04o}", mode(&ca)), "0700");
    assert_eq!(format!("{:04o}", mode(&ca.join("bpki"))), "0700");
    for f in ["ca.sqlite", "admin-token", "bpki/id.key", "bpki/id-ee.key", ".permissions"] {
        assert_eq!(format!("{:04o}", mode(&ca.join(f))), "0600", "{f}");
    }
    // The TAL is no secret, but only the owner reaches it in there.
    assert_eq!(mode(&ca.join("ta.tal")) & 0o004, 0o004);

    // The publication server's directory: private files, public trees reachable.
    let p = w.join("pub");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "umask 002 && exec \"$0\" \"$@\"", BIN, "publication", "serve", "--listen", "127.0.0.1:0", "--data"]).arg(&p);
    let mut server = peers::Proc::spawn(&mut cmd, &w.join("pub.log"));
    server.wait_line("publication server API and RFC 8181 on ");
    assert!(server.stop().is_some_and(|s| s.success()));
    assert_eq!(format!("{:04o}", mode(&p)), "0711");
    for f in ["publication.sqlite", "admin-token", ".permissions"] {
        assert_eq!(format!("{:04o}", mode(&p.join(f))), "0600", "{f}");
    }
    let mut files = Vec::new();
    reach(&p, true, &mut files);
    let open: Vec<String> = files.iter().filter(|(_, r)| *r).map(|(f, _)| f.strip_prefix(&p).unwrap().display().to_string()).collect();
    assert!(open.iter().any(|f| f == "rrdp/notification.xml"), "{open:?}");
    assert!(open.iter().all(|f| f.starts_with("rrdp/") || f.starts_with("rsync/")), "only the public trees: {open:?}");
}
