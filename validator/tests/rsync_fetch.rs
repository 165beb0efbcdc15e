//! Fetching with the rsync binary from a real rsync daemon: the module arrives
//! without symbolic links (RSYNC-4), unsafe URIs never reach rsync (RSYNC-3),
//! and a server that drips bytes is cut off at the deadline (RSYNC-2).

mod common;

use rpkit_validator::fetch::{Fetch, FetchOptions};
use rpkit_validator::http::Http;
use rpkit_validator::pack::Pack;
use rpkit_validator::rrdp::{Repo, PACK};
use rpkit_validator::rsync::{fetch, mirror_root};
use rpkit_validator::store::{DirStore, Store};
use rpkit_validator::tree::Fetcher;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have_rsync() -> bool {
    let ok = Command::new("rsync").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(ok || std::env::var("CI").is_err(), "rsync is required (scripts/peers.sh installs it)");
    if !ok {
        eprintln!("rsync not installed: skipped outside CI");
    }
    ok
}

struct Daemon {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

use rpkit_test_vectors::peers::free_port;

fn daemon(name: &str) -> Daemon {
    let dir = std::env::temp_dir().join(format!("rpkit-rsync-fetch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let module = dir.join("module");
    std::fs::create_dir_all(module.join("sub")).unwrap();
    std::fs::write(module.join("a.roa"), b"roa").unwrap();
    std::fs::write(module.join("sub/b.cer"), b"cer").unwrap();
    std::os::unix::fs::symlink("/etc", module.join("evil")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", module.join("passwd.cer")).unwrap();
    start(dir, free_port())
}

/// rsyncd serving `DIR/module` as `repo` on `port`.
fn start(dir: PathBuf, port: u16) -> Daemon {
    let module = dir.join("module");
    let conf = dir.join("rsyncd.conf");
    std::fs::write(
        &conf,
        format!("use chroot = no\npid file = {0}/rsyncd.pid\n[repo]\npath = {1}\nread only = yes\n", dir.display(), module.display()),
    )
    .unwrap();
    let child = Command::new("rsync")
        .args(["--daemon", "--no-detach", "--address=127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--config={}", conf.display()))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "rsyncd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon { child, dir, port }
}

#[test]
fn rsync_4_a_module_arrives_without_its_symbolic_links() {
    if !have_rsync() {
        return;
    }
    let d = daemon("links");
    let cache = d.dir.join("cache");
    let module = format!("rsync://127.0.0.1:{}/repo/", d.port);
    fetch(&cache, &module, Instant::now() + Duration::from_secs(60), Duration::from_secs(10)).unwrap();
    let store = DirStore::new(mirror_root(&cache));
    assert_eq!(store.get(&format!("{module}a.roa")).as_deref(), Some(&b"roa"[..]));
    assert_eq!(store.get(&format!("{module}sub/b.cer")).as_deref(), Some(&b"cer"[..]));
    assert_eq!(store.get(&format!("{module}passwd.cer")), None);
    let local = mirror_root(&cache).join(format!("127.0.0.1:{}/repo", d.port));
    assert!(!local.join("evil").exists() && !local.join("passwd.cer").exists());
    // A second fetch after a change deletes what the server no longer has.
    std::fs::remove_file(d.dir.join("module/a.roa")).unwrap();
    fetch(&cache, &module, Instant::now() + Duration::from_secs(60), Duration::from_secs(10)).unwrap();
    assert_eq!(store.get(&format!("{module}a.roa")), None);
}

#[test]
fn rsync_3_unsafe_uris_never_reach_rsync() {
    let cache = std::env::temp_dir().join(format!("rpkit-rsync-unsafe-{}", std::process::id()));
    for uri in ["rsync://h/../x/", "rsync://h/mod/../../etc/", "rsync://-e sh/x/", "rsync://user@h/m/", "rsync://h/m/%2e%2e/"] {
        let e = fetch(&cache, uri, Instant::now() + Duration::from_secs(5), Duration::from_secs(5)).unwrap_err().to_string();
        assert!(e.contains("RSYNC-3"), "{uri}: {e}");
    }
    assert!(!cache.exists(), "nothing was created for a refused URI");
}

#[test]
fn rsync_2_a_drip_feeding_server_is_cut_off_at_the_deadline() {
    if !have_rsync() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                // A greeting one byte at a time, never finished.
                for b in b"@RSYNCD: 31.0 sha512 sha256 md5\n".iter().cycle() {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            });
        }
    });
    let cache = std::env::temp_dir().join(format!("rpkit-rsync-drip-{}", std::process::id()));
    let t = Instant::now();
    let e = fetch(&cache, &format!("rsync://127.0.0.1:{port}/repo/"), Instant::now() + Duration::from_secs(3), Duration::from_secs(30))
        .unwrap_err()
        .to_string();
    assert!(e.contains("time limit"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "stopped after {:?}", t.elapsed());
    let _ = std::fs::remove_dir_all(&cache);
}

/// RRDPC-11 with CMS-13 (RFC 9589 §2.2): when RRDP fails, the rsync fallback
/// starts from the objects RRDP last brought in, written into the mirror with
/// their objects' times; rsync then makes the mirror the module's copy.
#[test]
fn rrdpc_11_cms_13_an_rsync_fallback_starts_from_the_rrdp_copy() {
    if !have_rsync() {
        return;
    }
    let r = common::repo();
    let port = free_port();
    let module = format!("rsync://127.0.0.1:{port}/repo/");
    // The test repository's objects, moved under the module.
    let objects: BTreeMap<String, Vec<u8>> = r
        .objects
        .iter()
        .filter_map(|(u, d)| Some((format!("{module}{}", u.strip_prefix("rsync://")?.splitn(3, '/').nth(2)?), d.clone())))
        .collect();
    assert!(objects.len() > 5);
    let dir = std::env::temp_dir().join(format!("rpkit-rsync-seed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = dir.join("cache");
    // An RRDP copy from an earlier run; the repository's RRDP server is gone since.
    let notify = "https://127.0.0.1:1/notification.xml";
    let mut w = Pack::writer(&Repo::dir_of(&cache, notify), PACK).unwrap();
    for (u, d) in &objects {
        w.add(u, d).unwrap();
    }
    w.add(&format!("{module}stale.roa"), b"withdrawn since").unwrap();
    w.commit().unwrap();
    let opts = FetchOptions { repository_timeout: Duration::from_secs(20), ..FetchOptions::default() };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let fetcher = || Fetch::new(cache.clone(), Http::new(&[]).unwrap(), opts.clone(), now);

    // No rsync daemon yet: the fetch fails, and the mirror holds the RRDP copy.
    let f = fetcher();
    assert!(f.publication_point(&module, Some(notify)).is_err());
    let rules: Vec<&str> = f.take_warnings().iter().map(|w| w.rule).collect();
    assert!(rules.contains(&"RRDPC-11") && rules.contains(&"RSYNC-2"), "{rules:?}");
    let mirror = mirror_root(&cache).join(format!("127.0.0.1:{port}/repo"));
    for (u, d) in &objects {
        let path = mirror.join(&u[module.len()..]);
        assert_eq!(&std::fs::read(&path).unwrap(), d, "{u}");
        let want = rpkit_objects::object::file_time(d).unwrap_or_else(|| panic!("{u}: no time"));
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap();
        assert_eq!(mtime.as_secs() as i64, want.0, "{u}");
    }
    assert!(mirror.join("stale.roa").exists());

    // The daemon up with the module's files, one of them changed since:
    // rsync brings that one and removes what the module no longer has.
    let served = dir.join("rsyncd");
    let (changed, other) = (objects.keys().next().unwrap().clone(), objects.keys().nth(1).unwrap().clone());
    for (u, d) in &objects {
        let path = served.join("module").join(&u[module.len()..]);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, if *u == changed { &objects[&other] } else { d }).unwrap();
    }
    let _d = start(served, port);
    let f = fetcher();
    let store = f.publication_point(&module, Some(notify)).unwrap();
    assert_eq!(store.get(&changed).as_ref(), Some(&objects[&other]));
    assert_eq!(store.get(&other).as_ref(), Some(&objects[&other]));
    assert!(!mirror.join("stale.roa").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
