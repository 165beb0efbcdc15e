//! The pack that holds RRDP copies and the validated cache: what is saved is
//! what a later open sees, what is not saved is cut, a broken or hostile index
//! is refused by name, and compaction keeps every live object.

use rpkit_validator::pack::Pack;
use rpkit_validator::store::Store;
use std::path::PathBuf;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rpkit-pack-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn packs(d: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pack"))
        .collect();
    v.sort();
    v
}

const A: &str = "rsync://h.test/repo/ca/a.roa";
const B: &str = "rsync://h.test/repo/ca/b.roa";
const M: &str = "rsync://h.test/repo/ca/ca.mft";
const DEEP: &str = "rsync://h.test/repo/ca/child/c.roa";

#[test]
fn saved_objects_outlive_the_process_and_unsaved_ones_are_cut() {
    let d = dir("save");
    let p = Pack::open(&d, "t").unwrap();
    p.put_all([(A, &b"a1"[..]), (B, &b"b1"[..]), (DEEP, &b"c1"[..])]).unwrap();
    p.put(M, b"m1").unwrap();
    assert_eq!(p.get(A).as_deref(), Some(&b"a1"[..]));
    assert_eq!(p.list("rsync://h.test/repo/ca/"), ["a.roa", "b.roa", "ca.mft"], "direct children only");
    p.save().unwrap();
    let pack_file = d.join(&packs(&d)[0]);
    let saved_len = std::fs::metadata(&pack_file).unwrap().len();
    // A run that appends and stops before saving: its bytes are cut on open.
    p.put(A, b"a2-never-saved").unwrap();
    p.remove(B);
    drop(p);
    assert!(std::fs::metadata(&pack_file).unwrap().len() > saved_len);
    let p = Pack::open(&d, "t").unwrap();
    assert_eq!(std::fs::metadata(&pack_file).unwrap().len(), saved_len);
    assert_eq!(p.uris(), [A, B, M, DEEP]);
    assert_eq!((p.get(A).unwrap(), p.get(B).unwrap()), (b"a1".to_vec(), b"b1".to_vec()));
    // Replace, remove, save: the next open sees exactly that.
    p.put(A, b"a3").unwrap();
    assert!(p.remove(B) && !p.remove(B));
    p.save().unwrap();
    let p = Pack::open(&d, "t").unwrap();
    assert_eq!(p.uris(), [A, M, DEEP]);
    assert_eq!(p.get(A).as_deref(), Some(&b"a3"[..]));
    assert_eq!(p.uris_under("rsync://h.test/repo/ca/child/"), [DEEP]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_new_pack_replaces_the_old_only_when_committed() {
    let d = dir("writer");
    let p = Pack::open(&d, "t").unwrap();
    p.put(A, b"old").unwrap();
    p.save().unwrap();
    let old = packs(&d);
    // Abandoned (a snapshot whose hash did not match): its file goes, the old copy stays.
    let mut w = Pack::writer(&d, "t").unwrap();
    assert!(w.add(B, b"new").unwrap());
    assert!(!w.add(B, b"again").unwrap(), "a URI added twice is refused");
    drop(w);
    assert_eq!(packs(&d), old);
    assert_eq!(Pack::open(&d, "t").unwrap().uris(), [A]);
    // Committed: the new copy alone, and one pack file.
    let mut w = Pack::writer(&d, "t").unwrap();
    w.add(B, b"new").unwrap();
    let p = w.commit().unwrap();
    assert_eq!(p.uris(), [B]);
    assert_eq!(packs(&d).len(), 1);
    assert_ne!(packs(&d), old);
    assert_eq!(Pack::open(&d, "t").unwrap().get(B).as_deref(), Some(&b"new"[..]));
    // A pack file no index names (a process stopped between the two) is removed on open.
    std::fs::write(d.join("t-stray.pack"), b"x").unwrap();
    Pack::open(&d, "t").unwrap();
    assert_eq!(packs(&d).len(), 1);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn compaction_keeps_every_live_object_and_drops_the_dead_bytes() {
    let d = dir("compact");
    let p = Pack::open(&d, "t").unwrap();
    let big = vec![7u8; 1 << 20];
    for round in 0..40u8 {
        let mut data = big.clone();
        data[0] = round;
        p.put(A, &data).unwrap();
        p.put(B, &[round]).unwrap();
    }
    p.save().unwrap();
    let file = d.join(&packs(&d)[0]);
    assert!(std::fs::metadata(&file).unwrap().len() < 2 << 20, "39 dead copies of 1 MiB were dropped");
    let p = Pack::open(&d, "t").unwrap();
    assert_eq!(p.get(A).unwrap()[0], 39);
    assert_eq!(p.get(A).unwrap().len(), 1 << 20);
    assert_eq!(p.get(B).unwrap(), [39]);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_broken_or_hostile_index_is_refused_by_name() {
    let d = dir("hostile");
    let p = Pack::open(&d, "t").unwrap();
    p.put(A, b"abc").unwrap();
    p.save().unwrap();
    let idx = d.join("t.idx");
    let good = std::fs::read(&idx).unwrap();
    let err = |bytes: &[u8]| {
        std::fs::write(&idx, bytes).unwrap();
        let e = Pack::open(&d, "t").expect_err("refused");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
        e.to_string()
    };
    assert!(err(b"not an index").contains("not a pack index"));
    // The pack it names may not leave the directory.
    let mut escape = good.clone();
    escape[12] = b'/';
    assert!(err(&escape).contains("names"), "a pack name with a slash");
    // An entry past the bytes covered.
    let mut past = good.clone();
    let at = past.len() - 12;
    past[at..at + 8].copy_from_slice(&1u64.to_le_bytes());
    assert!(err(&past).contains("out of bounds"));
    // An entry whose URI could leave the mirror when written out.
    let mut dotdot = good.clone();
    let pos = dotdot.windows(6).position(|w| w == b"/repo/").unwrap();
    dotdot[pos + 1..pos + 5].copy_from_slice(b"../.");
    assert!(err(&dotdot).contains("unsafe"));
    // A pack shorter than its index says.
    std::fs::write(&idx, &good).unwrap();
    std::fs::write(d.join(&packs(&d)[0]), b"a").unwrap();
    assert!(err(&good).contains("holds 1 bytes"));
    // A pack gone from under its index.
    std::fs::remove_file(d.join(&packs(&d)[0])).unwrap();
    assert!(err(&good).contains("which is missing"));
    let _ = std::fs::remove_dir_all(&d);
}
