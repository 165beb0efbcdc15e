//! The rsync tree (REPO-6, CMS-13): complete trees switched atomically through a
//! symlink, unchanged files hard-linked, mtimes from the objects, constant on
//! directories, superseded trees removed after the keep period.

use rpkit_objects::crl::CrlBuilder;
use rpkit_objects::crypto::sha256;
use rpkit_objects::resources::Asn;
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use rpkit_publication::rsync_tree::RsyncTree;
use rpkit_test_vectors::fixture::Fixture;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

fn mtime(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).unwrap().modified().unwrap().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn repo_6_cms_13_trees_switch_atomically_with_object_times() {
    let f = Fixture::new();
    let dir = std::env::temp_dir().join(format!("rpkit-rsync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut tree = RsyncTree::new(&dir);
    let roa = Roa::build(
        &RoaContent { asn: Asn(64496), prefixes: vec![RoaPrefix { prefix: "10.0.0.0/16".parse().unwrap(), max_length: None }] },
        &f.issuer(),
        &f.ee(9, "a.roa"),
        f.key(),
        f.now.add_secs(-100),
    )
    .unwrap();
    let crl = CrlBuilder {
        issuer: f.ca.subject.clone(),
        aki: f.ca.ski,
        this_update: f.now.add_secs(-50),
        next_update: f.now.add_secs(3600),
        crl_number: Serial::from_u64(1),
        revoked: vec![],
    }
    .sign(&f.signer, &f.ca_key)
    .unwrap();
    let objs: Vec<(String, Vec<u8>)> = vec![
        ("rsync://rpki.test/repo/member/a.roa".into(), roa.signed.to_der().to_vec()),
        ("rsync://rpki.test/repo/member/c.crl".into(), crl.to_der().to_vec()),
        ("rsync://rpki.test/repo/ta/m.cer".into(), f.ca.to_der().to_vec()),
    ];
    let first = tree.update(objs.iter().map(|(u, d)| (u.as_str(), sha256(d), d.as_slice()))).unwrap();
    let cur = tree.current();
    assert_eq!(std::fs::read(cur.join("repo/member/a.roa")).unwrap(), objs[0].1);
    assert_eq!(mtime(&cur.join("repo/member/a.roa")), (f.now.0 - 100) as u64, "signing-time");
    assert_eq!(mtime(&cur.join("repo/member/c.crl")), (f.now.0 - 50) as u64, "thisUpdate");
    assert_eq!(mtime(&cur.join("repo/ta/m.cer")), f.ca.not_before.0 as u64, "notBefore");
    let dir_mtime = mtime(&cur.join("repo/member"));
    assert_eq!(dir_mtime, mtime(&cur.join("repo")));

    // Change the CRL only: a new tree, the ROA and certificate hard-linked.
    let crl2 = CrlBuilder {
        issuer: f.ca.subject.clone(),
        aki: f.ca.ski,
        this_update: f.now,
        next_update: f.now.add_secs(3600),
        crl_number: Serial::from_u64(2),
        revoked: vec![],
    }
    .sign(&f.signer, &f.ca_key)
    .unwrap();
    let mut objs2 = objs.clone();
    objs2[1].1 = crl2.to_der().to_vec();
    std::thread::sleep(Duration::from_millis(5));
    let second = tree.update(objs2.iter().map(|(u, d)| (u.as_str(), sha256(d), d.as_slice()))).unwrap();
    assert_ne!(first, second);
    assert_eq!(std::fs::canonicalize(tree.current()).unwrap(), std::fs::canonicalize(&second).unwrap());
    let ino = |root: &std::path::Path, p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino(&first, "repo/member/a.roa"), ino(&second, "repo/member/a.roa"), "unchanged file not rewritten");
    assert_ne!(ino(&first, "repo/member/c.crl"), ino(&second, "repo/member/c.crl"));
    assert_eq!(std::fs::read(second.join("repo/member/c.crl")).unwrap(), objs2[1].1);
    assert!(first.exists(), "the superseded tree stays for slow clients");

    // A withdrawn object is absent from the next tree; with no keep period old trees go.
    tree.keep_secs = 0;
    std::thread::sleep(Duration::from_millis(5));
    let third = tree.update(objs2[..2].iter().map(|(u, d)| (u.as_str(), sha256(d), d.as_slice()))).unwrap();
    assert!(!third.join("repo/ta/m.cer").exists());
    assert!(!first.exists() && !second.exists());

    // URIs that could leave the tree are refused.
    let bad = [("rsync://rpki.test/repo/../etc/x.roa", sha256(b"x"), &b"x"[..])];
    assert!(tree.update(bad).is_err());
    let trees = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().is_dir() && !e.as_ref().unwrap().path().is_symlink())
        .count();
    assert_eq!(trees, 1, "no half-written tree is left behind");
    assert_eq!(std::fs::canonicalize(tree.current()).unwrap(), std::fs::canonicalize(&third).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}
