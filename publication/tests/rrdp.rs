//! Repository state and RRDP files (CHECKLIST 4.2): sessions and serials,
//! RFC 8181 hash and permission checks, the shrink guard, delta semantics and
//! retention, checked by parsing what was written.

use quick_xml::events::Event;
use rpkit_objects::crypto::sha256;
use rpkit_objects::rfc8181::{Change, ChangeSet, ErrorCode};
use rpkit_objects::rrdp::NS;
use rpkit_publication::repository::{RepoError, Repository};
use rpkit_publication::rrdp::snapshot::Layout;
use rpkit_publication::rrdp::{segments, RrdpConfig, RrdpWriter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const BASE: &str = "rsync://rpki.test/repo/";
const HTTPS: &str = "https://rpki.test/rrdp/";

/// An element: name and attributes, with its text.
#[derive(Debug, Clone)]
struct El {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
}

fn parse(path: &Path) -> (El, Vec<El>) {
    parse_text(std::fs::read_to_string(path).unwrap())
}

fn parse_text(xml: String) -> (El, Vec<El>) {
    assert!(xml.is_ascii());
    let mut r = quick_xml::Reader::from_str(&xml);
    let mut root = None;
    let mut kids: Vec<El> = Vec::new();
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let el = El {
                    name: String::from_utf8(e.name().as_ref().to_vec()).unwrap(),
                    attrs: e
                        .attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().to_string())
                        })
                        .collect(),
                    text: String::new(),
                };
                if root.is_none() {
                    root = Some(el);
                } else {
                    kids.push(el);
                }
            }
            Event::Text(t) => {
                if let Some(k) = kids.last_mut() {
                    k.text.push_str(&t.unescape().unwrap());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (root.unwrap(), kids)
}

struct Env {
    repo: Repository,
    writer: RrdpWriter,
    dir: PathBuf,
    now: i64,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = std::env::temp_dir().join(format!("rpkit-rrdp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Repository::open(Some(&dir.join("pub.sqlite"))).unwrap();
        let writer = RrdpWriter::new(RrdpConfig::new(dir.join("rrdp"), HTTPS));
        Env { repo, writer, dir, now: 1_800_000_000 }
    }

    fn apply(&mut self, changes: Vec<Change>) -> Result<Option<u64>, RepoError> {
        self.repo.apply(BASE, &ChangeSet { changes }, false)?;
        Ok(self.writer.update(&mut self.repo, self.now).unwrap())
    }

    /// The notification, with every listed file checked against its hash.
    fn notification(&self) -> (El, Vec<El>) {
        let (root, kids) = parse(&self.dir.join("rrdp/notification.xml"));
        assert_eq!(root.attrs["xmlns"], NS);
        assert_eq!(root.attrs["version"], "1");
        for k in &kids {
            let uri = &k.attrs["uri"];
            let rel = uri.strip_prefix(HTTPS).expect("same origin (RRDPS-8)");
            let bytes = segments::read(&self.dir.join("rrdp"), rel).unwrap_or_else(|_| panic!("listed file {rel} exists"));
            assert_eq!(k.attrs["hash"], rpkit_objects::hex::lower(&sha256(&bytes)));
        }
        (root, kids)
    }

    fn file(&self, uri: &str) -> (El, Vec<El>) {
        parse_text(String::from_utf8(self.bytes(uri.strip_prefix(HTTPS).unwrap())).unwrap())
    }

    /// An RRDP file as served (a snapshot joined from its segments).
    fn bytes(&self, rel: &str) -> Vec<u8> {
        segments::read(&self.dir.join("rrdp"), rel).unwrap()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn publish(name: &str, der: &[u8]) -> Change {
    Change::Publish { uri: format!("{BASE}ca/{name}"), der: der.to_vec(), replaces: None }
}

#[test]
fn rrdps_1_new_session_starts_at_serial_1_with_a_snapshot() {
    let mut e = Env::new("init");
    e.writer.update(&mut e.repo, e.now).unwrap();
    let (root, kids) = e.notification();
    let sid = &root.attrs["session_id"];
    assert_eq!(sid.len(), 36);
    assert_eq!(&sid[14..15], "4", "version 4 UUID");
    assert_eq!(root.attrs["serial"], "1");
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].name, "snapshot");
    let uri = &kids[0].attrs["uri"];
    assert!(uri.starts_with(&format!("{HTTPS}{sid}/1/")), "{uri}: session and a random part in the path (RRDPS-12)");
    let (snap, objs) = e.file(uri);
    assert_eq!((snap.name.as_str(), snap.attrs["serial"].as_str(), objs.len()), ("snapshot", "1", 0));
}

#[test]
fn rrdps_2_7_serials_deltas_and_hash_attributes() {
    let mut e = Env::new("deltas");
    // A large object that stays keeps the snapshot bigger than the deltas (RRDPS-3).
    assert_eq!(e.apply(vec![publish("a.roa", b"A1"), publish("b.roa", b"B1"), publish("big.cer", &[7u8; 4000])]).unwrap(), Some(2));
    assert_eq!(
        e.apply(vec![
            Change::Publish { uri: format!("{BASE}ca/a.roa"), der: b"A2".to_vec(), replaces: Some(sha256(b"A1")) },
            publish("c.roa", b"C1")
        ])
        .unwrap(),
        Some(3)
    );
    assert_eq!(e.apply(vec![Change::Withdraw { uri: format!("{BASE}ca/b.roa"), hash: sha256(b"B1") }]).unwrap(), Some(4));
    assert_eq!(e.apply(vec![]).unwrap(), None, "no empty deltas");
    let (root, kids) = e.notification();
    assert_eq!(root.attrs["serial"], "4");
    let deltas: Vec<&El> = kids.iter().filter(|k| k.name == "delta").collect();
    // Serial 2 carried the large object: listing it would make the deltas larger
    // than the snapshot, so only 4 and 3 are listed (RRDPS-3).
    assert_eq!(deltas.iter().map(|d| d.attrs["serial"].as_str()).collect::<Vec<_>>(), ["4", "3"]);
    // Serial 3: a replacement carries the old hash, a new object none (RRDPS-7).
    let (d3, els) = e.file(&deltas[1].attrs["uri"]);
    assert_eq!(d3.attrs["serial"], "3");
    let by_uri: BTreeMap<&str, &El> = els.iter().map(|x| (x.attrs["uri"].as_str(), x)).collect();
    let a = by_uri[&*format!("{BASE}ca/a.roa")];
    assert_eq!(a.attrs.get("hash").map(String::as_str), Some(&*rpkit_objects::hex::lower(&sha256(b"A1"))));
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(a.text.trim()).unwrap(), b"A2");
    assert!(!by_uri[&*format!("{BASE}ca/c.roa")].attrs.contains_key("hash"));
    let (_, els) = e.file(&deltas[0].attrs["uri"]);
    assert_eq!(els[0].name, "withdraw");
    assert_eq!(els[0].attrs["hash"], rpkit_objects::hex::lower(&sha256(b"B1")));
    // The snapshot holds exactly the current objects, without hashes.
    let snap = kids.iter().find(|k| k.name == "snapshot").unwrap();
    let (s, objs) = e.file(&snap.attrs["uri"]);
    assert_eq!(s.attrs["serial"], "4");
    let uris: Vec<&str> = objs.iter().map(|o| o.attrs["uri"].as_str()).collect();
    assert_eq!(uris, [format!("{BASE}ca/a.roa"), format!("{BASE}ca/big.cer"), format!("{BASE}ca/c.roa")]);
    assert!(objs.iter().all(|o| !o.attrs.contains_key("hash")));
}

#[test]
fn rfc8181_checks_refuse_and_change_nothing() {
    let mut e = Env::new("8181");
    e.apply(vec![publish("a.roa", b"A1")]).unwrap();
    let serial = e.repo.session().unwrap().1;
    let code = |e: &mut Env, c: Vec<Change>| match e.repo.apply(BASE, &ChangeSet { changes: c }, false) {
        Err(RepoError::Refused { code, .. }) => code,
        other => panic!("{other:?}"),
    };
    let outside = Change::Publish { uri: "rsync://other.test/repo/x.roa".into(), der: b"x".to_vec(), replaces: None };
    assert_eq!(code(&mut e, vec![outside]), ErrorCode::PermissionFailure);
    let escape = Change::Publish { uri: format!("{BASE}ca/../../etc/x.roa"), der: b"x".to_vec(), replaces: None };
    assert_eq!(code(&mut e, vec![escape]), ErrorCode::PermissionFailure);
    assert_eq!(code(&mut e, vec![publish("a.roa", b"again")]), ErrorCode::ObjectAlreadyPresent);
    let wrong = Change::Publish { uri: format!("{BASE}ca/a.roa"), der: b"A2".to_vec(), replaces: Some(sha256(b"nope")) };
    assert_eq!(code(&mut e, vec![wrong]), ErrorCode::NoObjectMatchingHash);
    assert_eq!(code(&mut e, vec![Change::Withdraw { uri: format!("{BASE}ca/zz.roa"), hash: sha256(b"z") }]), ErrorCode::NoObjectPresent);
    // A good element followed by a bad one: nothing of the message is applied.
    assert_eq!(
        code(&mut e, vec![publish("new.roa", b"N"), Change::Withdraw { uri: format!("{BASE}ca/a.roa"), hash: sha256(b"x") }]),
        ErrorCode::NoObjectMatchingHash
    );
    assert_eq!(e.repo.session().unwrap().1, serial);
    assert_eq!(e.repo.list(BASE).unwrap(), vec![(format!("{BASE}ca/a.roa"), sha256(b"A1"))]);
}

#[test]
fn shrink_guard_refuses_mass_withdrawal_unless_forced() {
    let mut e = Env::new("guard");
    let objs: Vec<Change> = (0..200).map(|i| publish(&format!("o{i}.roa"), format!("obj{i}").as_bytes())).collect();
    e.apply(objs).unwrap();
    let withdraw: Vec<Change> =
        (0..30).map(|i| Change::Withdraw { uri: format!("{BASE}ca/o{i}.roa"), hash: sha256(format!("obj{i}").as_bytes()) }).collect();
    let cs = ChangeSet { changes: withdraw };
    assert!(matches!(e.repo.apply(BASE, &cs, false), Err(RepoError::Refused { code: ErrorCode::ConsistencyProblem, .. })));
    assert_eq!(e.repo.object_count().unwrap(), 200);
    assert!(e.repo.apply(BASE, &cs, true).unwrap().is_some());
    assert_eq!(e.repo.object_count().unwrap(), 170);
}

#[test]
fn rrdps_3_retention_by_size_and_grace_and_listed_files_always_exist() {
    let mut e = Env::new("retention");
    e.writer.cfg.grace_secs = 300;
    // Snapshots in segments: those no listed snapshot names go too.
    e.writer.cfg.snapshot_layout = Layout::Segments;
    e.apply(vec![publish("small.roa", b"s")]).unwrap();
    // Each delta replaces one large object; the snapshot holds one copy of it.
    let mut prev = b"s".to_vec();
    for i in 0..6 {
        let big = vec![b'a' + i as u8; 4000];
        e.now += 60;
        e.apply(vec![Change::Publish { uri: format!("{BASE}ca/small.roa"), der: big.clone(), replaces: Some(sha256(&prev)) }]).unwrap();
        prev = big;
        let (root, kids) = e.notification();
        let snap_size = e.bytes(kids[0].attrs["uri"].strip_prefix(HTTPS).unwrap()).len() as u64;
        let delta_total: u64 = kids[1..]
            .iter()
            .map(|d| std::fs::metadata(e.dir.join("rrdp").join(d.attrs["uri"].strip_prefix(HTTPS).unwrap())).unwrap().len())
            .sum();
        assert!(delta_total <= snap_size, "deltas {delta_total} > snapshot {snap_size}");
        // Listed deltas are contiguous down from the serial.
        let serial: u64 = root.attrs["serial"].parse().unwrap();
        for (i, d) in kids[1..].iter().enumerate() {
            assert_eq!(d.attrs["serial"], (serial - i as u64).to_string());
        }
    }
    // After the grace period, unlisted files are deleted; listed ones stay.
    e.now += 3600;
    e.apply(vec![publish("other.roa", b"o")]).unwrap();
    let (_, kids) = e.notification();
    let listed: Vec<String> = kids.iter().map(|k| k.attrs["uri"].strip_prefix(HTTPS).unwrap().to_string()).collect();
    let mut on_disk = Vec::new();
    fn walk(d: &Path, root: &Path, out: &mut Vec<String>) {
        for x in std::fs::read_dir(d).unwrap() {
            let p = x.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out)
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().to_string())
            }
        }
    }
    walk(&e.dir.join("rrdp"), &e.dir.join("rrdp"), &mut on_disk);
    on_disk.retain(|f| f != "notification.xml");
    // The snapshot is its parts file and the segments it names, nothing more.
    let (segs, mut files): (Vec<String>, Vec<String>) = on_disk.into_iter().partition(|f| f.ends_with(".seg"));
    for f in &mut files {
        if let Some(rel) = f.strip_suffix(segments::PARTS_SUFFIX) {
            *f = rel.to_string();
        }
    }
    files.sort();
    let mut want = listed.clone();
    want.sort();
    assert_eq!(files, want);
    let parts = segments::Parts::load(&e.dir.join("rrdp"), &listed[0]).unwrap();
    let mut named: Vec<String> = parts.segments.into_iter().map(|(n, _)| n).collect();
    let mut segs = segs;
    named.sort();
    segs.sort();
    assert_eq!(segs, named, "segments no snapshot names are removed");
}

#[test]
fn session_and_serials_continue_after_restart() {
    let dir = std::env::temp_dir().join(format!("rpkit-rrdp-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("pub.sqlite");
    let (sid, serial) = {
        let mut r = Repository::open(Some(&db)).unwrap();
        r.apply(BASE, &ChangeSet { changes: vec![publish("a.roa", b"a")] }, false).unwrap();
        r.cut_serial(0).unwrap();
        r.session().unwrap()
    };
    let mut r = Repository::open(Some(&db)).unwrap();
    assert_eq!(r.session().unwrap(), (sid.clone(), serial));
    r.apply(BASE, &ChangeSet { changes: vec![publish("b.roa", b"b")] }, false).unwrap();
    assert_eq!(r.cut_serial(0).unwrap(), Some(serial + 1));
    assert_eq!(r.session().unwrap().0, sid);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rrdps_4_change_sets_within_one_interval_make_one_merged_delta() {
    let mut e = Env::new("merge");
    e.apply(vec![publish("keep.roa", b"K1"), publish("gone.roa", b"G1"), publish("big.cer", &[7u8; 4000])]).unwrap();
    // Three change sets before the writer runs again.
    let cs = |c: Vec<Change>| ChangeSet { changes: c };
    e.repo
        .apply(
            BASE,
            &cs(vec![Change::Publish { uri: format!("{BASE}ca/keep.roa"), der: b"K2".to_vec(), replaces: Some(sha256(b"K1")) }]),
            false,
        )
        .unwrap();
    e.repo
        .apply(
            BASE,
            &cs(vec![
                Change::Publish { uri: format!("{BASE}ca/keep.roa"), der: b"K3".to_vec(), replaces: Some(sha256(b"K2")) },
                publish("brief.roa", b"B"),
            ]),
            false,
        )
        .unwrap();
    e.repo
        .apply(
            BASE,
            &cs(vec![
                Change::Withdraw { uri: format!("{BASE}ca/brief.roa"), hash: sha256(b"B") },
                Change::Withdraw { uri: format!("{BASE}ca/gone.roa"), hash: sha256(b"G1") },
            ]),
            false,
        )
        .unwrap();
    assert_eq!(e.repo.pending_revisions().unwrap(), 3);
    assert_eq!(e.writer.update(&mut e.repo, e.now).unwrap(), Some(3), "one serial for the three change sets");
    assert_eq!(e.writer.update(&mut e.repo, e.now).unwrap(), None, "no empty deltas");
    let (_, kids) = e.notification();
    let d3 = kids.iter().find(|k| k.name == "delta" && k.attrs["serial"] == "3").unwrap();
    let (_, els) = e.file(&d3.attrs["uri"]);
    let view: Vec<(String, String, Option<String>)> = els
        .iter()
        .map(|el| (el.name.clone(), el.attrs["uri"].rsplit('/').next().unwrap().to_string(), el.attrs.get("hash").cloned()))
        .collect();
    assert_eq!(
        view,
        vec![
            ("withdraw".to_string(), "gone.roa".to_string(), Some(rpkit_objects::hex::lower(&sha256(b"G1")))),
            ("publish".to_string(), "keep.roa".to_string(), Some(rpkit_objects::hex::lower(&sha256(b"K1")))),
        ],
        "brief.roa came and went inside the serial; keep.roa replaces the object of serial 2"
    );
}

#[test]
fn incremental_snapshots_are_byte_identical_to_full_ones() {
    incremental_snapshots_are_byte_identical_to_full_ones_in(Layout::Whole);
}

#[test]
fn incremental_snapshots_in_segments_are_byte_identical_to_full_ones() {
    incremental_snapshots_are_byte_identical_to_full_ones_in(Layout::Segments);
}

fn incremental_snapshots_are_byte_identical_to_full_ones_in(layout: Layout) {
    let mut e = Env::new(&format!("incremental-{layout:?}"));
    // Runs of two or three lines: joins split, keep and merge them.
    e.writer.cfg.segment_bytes = 150;
    e.writer.cfg.snapshot_layout = layout;
    // Names whose characters sort before and after '.' and '/' (URIs with XML
    // specials are refused by the URI rule, RSYNC-3).
    let names = ["a.roa", "a-b.roa", "b.cer", "c=q.mft", "m/x.roa", "m/y.roa", "m+.roa", "z.crl", "zz~.roa", "a_b.roa"];
    let mut current: std::collections::BTreeMap<String, Vec<u8>> = Default::default();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..60u32 {
        let mut changes = Vec::new();
        for name in names {
            let uri = format!("{BASE}ca/{name}");
            match (next() % 4, current.get(&uri)) {
                (0, None) | (1, None) => changes.push(Change::Publish { uri, der: format!("{name}{round}").into_bytes(), replaces: None }),
                (0, Some(old)) => {
                    changes.push(Change::Publish { uri, der: format!("{name}{round}").into_bytes(), replaces: Some(sha256(old)) })
                }
                (1, Some(old)) => changes.push(Change::Withdraw { uri, hash: sha256(old) }),
                _ => {}
            }
        }
        // Sometimes two change sets in one serial.
        let split = if next() % 2 == 0 { changes.len() / 2 } else { changes.len() };
        let (first, second) = changes.split_at(split);
        for cs in [first, second] {
            if cs.is_empty() {
                continue;
            }
            e.repo.apply(BASE, &ChangeSet { changes: cs.to_vec() }, true).unwrap();
            for c in cs {
                match c {
                    Change::Publish { uri, der, .. } => current.insert(uri.clone(), der.clone()),
                    Change::Withdraw { uri, .. } => current.remove(uri),
                };
            }
        }
        e.writer.update(&mut e.repo, e.now).unwrap();
        let (session, serial) = e.repo.session().unwrap();
        let file = e.repo.files("snapshot").unwrap().into_iter().find(|f| f.serial == serial).unwrap();
        let written = e.bytes(&file.path);
        let mut full = Vec::new();
        rpkit_publication::rrdp::snapshot::full(&e.repo, &session, serial, &mut full).unwrap();
        assert_eq!(String::from_utf8_lossy(&written), String::from_utf8_lossy(&full), "serial {serial}");
        if round == 30 {
            // A snapshot (or its segment) altered on disk: the next one cannot
            // be joined from it (nor its index read back) and is written in full.
            let altered = match layout {
                Layout::Whole => e.dir.join("rrdp").join(&file.path),
                Layout::Segments => {
                    let parts = segments::Parts::load(&e.dir.join("rrdp"), &file.path).unwrap();
                    e.dir.join("rrdp").join(&parts.segments[0].0)
                }
            };
            let mut f = std::fs::OpenOptions::new().append(true).open(altered).unwrap();
            std::io::Write::write_all(&mut f, b" ").unwrap();
        }
    }
    use std::sync::atomic::Ordering::Relaxed;
    let (inc, full, joined) =
        (e.writer.incremental_snapshots.load(Relaxed), e.writer.full_snapshots.load(Relaxed), e.writer.joined_snapshots.load(Relaxed));
    assert!(full <= 2 && inc >= 55, "incremental {inc}, full {full}");
    // All but the first and the one after the altered file are joined from the previous index.
    assert!(joined >= 54, "joined {joined}");
}

/// Memory stays bounded: a serial whose delta is larger than the writer
/// holds is streamed to its file and its snapshot written in full (the same
/// bytes); the small serials after it are joined again.
#[test]
fn a_delta_too_large_to_hold_is_streamed_and_its_snapshot_written_in_full() {
    let mut e = Env::new("large-delta");
    e.writer.cfg.max_held_delta_bytes = 1000;
    // Serial 2: the first snapshot, written in full.
    e.apply(vec![Change::Publish { uri: format!("{BASE}ca/a.roa"), der: vec![1; 10], replaces: None }]).unwrap();
    let big: Vec<Change> =
        (0..20).map(|i| Change::Publish { uri: format!("{BASE}ca/o{i:02}.roa"), der: vec![i as u8; 100], replaces: None }).collect();
    e.apply(big).unwrap();
    e.apply(vec![Change::Publish { uri: format!("{BASE}ca/p.roa"), der: vec![7; 10], replaces: None }]).unwrap();
    use std::sync::atomic::Ordering::Relaxed;
    let (full, joined) = (e.writer.full_snapshots.load(Relaxed), e.writer.joined_snapshots.load(Relaxed));
    assert_eq!((full, joined), (2, 1), "the 2,000-byte delta of serial 3 is not held; serial 4's is joined");
    let delta = e.repo.files("delta").unwrap().into_iter().find(|f| f.serial == 3).unwrap();
    let text = std::fs::read_to_string(e.dir.join("rrdp").join(&delta.path)).unwrap();
    assert_eq!(text.matches("<publish ").count(), 20, "the streamed delta has every object");
    let (session, serial) = e.repo.session().unwrap();
    let file = e.repo.files("snapshot").unwrap().into_iter().find(|f| f.serial == serial).unwrap();
    let mut want = Vec::new();
    rpkit_publication::rrdp::snapshot::full(&e.repo, &session, serial, &mut want).unwrap();
    assert_eq!(e.bytes(&file.path), want);
}

/// RRDPS-2 at scale: a serial writes only the snapshot segments its delta
/// touches and reuses the rest; after a restart the index is read back
/// from the segments; the bytes are always those of a full write.
#[test]
fn a_serial_rewrites_only_the_segments_its_delta_touches() {
    let mut e = Env::new("segments");
    e.writer.cfg.segment_bytes = 2000;
    e.writer.cfg.snapshot_layout = Layout::Segments;
    let der = |i: u32, v: u8| vec![v.wrapping_add(i as u8); 100];
    e.apply((0..200).map(|i| publish(&format!("o{i:03}.roa"), &der(i, 0))).collect()).unwrap();
    let parts = |e: &Env| {
        let (_, serial) = e.repo.session().unwrap();
        let f = e.repo.files("snapshot").unwrap().into_iter().find(|f| f.serial == serial).unwrap();
        let mut want = Vec::new();
        rpkit_publication::rrdp::snapshot::full(&e.repo, &e.repo.session().unwrap().0, serial, &mut want).unwrap();
        assert_eq!(e.bytes(&f.path), want, "serial {serial} as a full write");
        segments::Parts::load(&e.dir.join("rrdp"), &f.path).unwrap().segments
    };
    let first = parts(&e);
    assert!(first.len() >= 10, "{} segments", first.len());
    let replace = |i: u32, old: u8, new: u8| Change::Publish {
        uri: format!("{BASE}ca/o{i:03}.roa"),
        der: der(i, new),
        replaces: Some(sha256(&der(i, old))),
    };
    e.apply(vec![replace(100, 0, 1)]).unwrap();
    let second = parts(&e);
    let shared = second.iter().filter(|s| first.contains(s)).count();
    assert_eq!(shared, first.len() - 1, "one segment written again, the others reused");
    // Withdrawing most of a segment's lines: what is left takes its neighbour in.
    let withdrawn: Vec<Change> =
        (0..30).map(|i| Change::Withdraw { uri: format!("{BASE}ca/o{i:03}.roa"), hash: sha256(&der(i, 0)) }).collect();
    e.repo.apply(BASE, &ChangeSet { changes: withdrawn }, true).unwrap();
    e.writer.update(&mut e.repo, e.now).unwrap();
    let third = parts(&e);
    assert!(third.len() < second.len(), "{} -> {} segments", second.len(), third.len());
    // A new writer (a restart) holds no index: it reads it back from the segments.
    let cfg = e.writer.cfg.clone();
    e.writer = RrdpWriter::new(cfg);
    e.apply(vec![replace(150, 0, 2)]).unwrap();
    let fourth = parts(&e);
    assert_eq!(fourth.iter().filter(|s| third.contains(s)).count(), third.len() - 1);
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!((e.writer.incremental_snapshots.load(Relaxed), e.writer.joined_snapshots.load(Relaxed)), (1, 0));
}

#[test]
fn an_inconsistent_previous_snapshot_is_detected() {
    use rpkit_publication::repository::DeltaElement;
    use rpkit_publication::rrdp::snapshot::{join, Builder, Shape};
    let dir = std::env::temp_dir().join(format!("rpkit-rrdp-inconsistent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shape = Shape { layout: Layout::Segments, target: 1 << 20 };
    let mut b = Builder::new(&dir, "s/1/x/snapshot.xml", "s", 1, shape.target, shape.layout).unwrap();
    b.publish("rsync://h/m/a", b"A").unwrap();
    let (_, _, index) = b.finish().unwrap();
    let withdraw_missing = [DeltaElement { uri: "rsync://h/m/b".into(), der: None, replaces: Some([0; 32]) }];
    let new_but_present = [DeltaElement { uri: "rsync://h/m/a".into(), der: Some(b"B".to_vec()), replaces: None }];
    for delta in [&withdraw_missing[..], &new_but_present[..]] {
        assert!(join(&dir, &index, delta, ("s", 2), "s/2/x/snapshot.xml", shape).is_err());
    }
    let new = [DeltaElement { uri: "rsync://h/m/0".into(), der: Some(b"N".to_vec()), replaces: None }];
    join(&dir, &index, &new, ("s", 2), "s/2/x/snapshot.xml", shape).unwrap();
    let text = String::from_utf8(segments::read(&dir, "s/2/x/snapshot.xml").unwrap()).unwrap();
    assert!(text.contains(
        "serial=\"2\">\n  <publish uri=\"rsync://h/m/0\">Tg==</publish>\n  <publish uri=\"rsync://h/m/a\">QQ==</publish>\n</snapshot>\n"
    ));
    // A segment cut short no longer matches the index.
    let parts = segments::Parts::load(&dir, "s/1/x/snapshot.xml").unwrap();
    let seg = dir.join(&parts.segments[0].0);
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 12).unwrap();
    assert!(join(&dir, &index, &[], ("s", 3), "s/3/x/snapshot.xml", shape).is_err(), "truncated");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rrdps_3_deltas_younger_than_four_hours_stay_listed_past_the_count() {
    let mut e = Env::new("age");
    e.writer.cfg.max_deltas = 3;
    e.apply(vec![publish("big.cer", &[7u8; 20_000])]).unwrap();
    for i in 0..6u8 {
        e.apply(vec![publish(&format!("r{i}.roa"), &[i; 10])]).unwrap();
    }
    let deltas = |e: &Env| e.notification().1.iter().filter(|k| k.name == "delta").count();
    // Serial 2 (with the big object) fails the size rule; the six after it are young.
    assert_eq!(deltas(&e), 6, "all young deltas within the size rule are listed, past the count of 3");
    // Five hours later the count applies again.
    e.now += 5 * 3600;
    e.apply(vec![publish("late.roa", b"late")]).unwrap();
    assert_eq!(deltas(&e), 3, "once older than 4 hours, the count of 3 applies again");
}
