//! Every object in `../shared/corpus` is decoded and compared with the verdict its
//! folder's MANIFEST.md gives (issue acceptance "Corpus"). Where our strict
//! profile deliberately differs from the source's verdict, or the verdict needs an
//! issuer or a clock that a single-object decoder does not have, the file
//! `test-vectors/corpus/verdicts.txt` says so, with the rule and the reason.

#[path = "../common/mod.rs"]
mod common;
mod manifest;

use manifest::Verdict;
use rpkit_objects::aspa::AspaContent;
use rpkit_objects::cert::CertKind;
use rpkit_objects::manifest::ManifestContent;
use rpkit_objects::object::Object;
use rpkit_objects::roa::RoaContent;
use rpkit_objects::Error;
use std::path::{Path, PathBuf};

const OBJECT_EXTENSIONS: &[&str] = &["cer", "crl", "mft", "roa", "asa", "gbr", "sig", "tak", "spl", "tal"];

#[derive(Debug, PartialEq)]
enum Expect {
    Accept,
    Reject(Vec<String>),
    Skip,
}

struct Override {
    glob: String,
    expect: Expect,
    used: std::cell::Cell<bool>,
}

fn overrides() -> Vec<Override> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/corpus/verdicts.txt");
    let text = std::fs::read_to_string(&p).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut it = l.split_whitespace();
            let glob = it.next().unwrap().to_string();
            let action = it.next().unwrap_or_else(|| panic!("no action in: {l}"));
            let expect = match action.split_once(':') {
                Some(("reject", rules)) => Expect::Reject(rules.split(',').map(str::to_string).collect()),
                _ if action == "reject" => Expect::Reject(vec![]),
                _ if action == "accept" => Expect::Accept,
                _ if action == "skip" => Expect::Skip,
                _ => panic!("bad action in: {l}"),
            };
            assert!(it.next().is_some(), "every override needs a reason: {l}");
            Override { glob, expect, used: Default::default() }
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Decode, and check every signature the object carries on its own.
fn check_object(bytes: &[u8]) -> Result<(), Error> {
    let obj = Object::decode(bytes)?;
    if let Some(s) = obj.signed() {
        s.verify_signature()?;
    }
    if let Object::Cert(c) = &obj {
        if c.kind == CertKind::Ta {
            c.verify_self_signed()?;
        }
    }
    Ok(())
}

/// Bare eContent: accepted if one of the content decoders takes it.
fn check_econtent(bytes: &[u8]) -> Result<(), Error> {
    let roa = RoaContent::decode(bytes, &mut Vec::new()).map(|_| ());
    let aspa = AspaContent::decode(bytes).map(|_| ());
    let mft = ManifestContent::decode(bytes).map(|_| ());
    roa.or(aspa).or(mft)
}

#[test]
fn corpus_objects_match_their_manifest_verdicts() {
    let corpus = common::corpus();
    let overrides = overrides();
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(&corpus).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("MANIFEST.md").is_file()).collect();
    folders.sort();
    let (mut accepted, mut rejected, mut smoke, mut skipped) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for folder in &folders {
        let rows = manifest::parse(&std::fs::read_to_string(folder.join("MANIFEST.md")).unwrap(), folder);
        let mut files = Vec::new();
        walk(folder, &mut files);
        for path in files {
            let rel = path.strip_prefix(folder).unwrap().to_string_lossy().replace('\\', "/");
            let full = format!("{}/{rel}", folder.file_name().unwrap().to_string_lossy());
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            let row = manifest::lookup(&rows, &rel);
            let bare_content = ext == "der" && row.is_some_and(|r| r.description.to_lowercase().contains("econtent"));
            if !OBJECT_EXTENSIONS.contains(&ext) && !bare_content {
                continue;
            }
            let ov =
                overrides.iter().filter(|o| manifest::glob(&o.glob, &full)).max_by_key(|o| o.glob.chars().filter(|c| *c != '*').count());
            let file_name = path.file_name().unwrap().to_string_lossy();
            let from_manifest = row.map(|r| r.verdict).filter(|v| *v != Verdict::None).or_else(|| manifest::by_name(&file_name));
            let expect = match (ov, from_manifest) {
                (Some(o), _) => {
                    o.used.set(true);
                    &o.expect
                }
                (None, Some(Verdict::Valid | Verdict::DecodeOk)) => &Expect::Accept,
                (None, Some(Verdict::Invalid)) => &Expect::Reject(vec![]),
                (None, _) => &Expect::Skip,
            };
            let bytes = std::fs::read(&path).unwrap();
            // Every file is decoded, even without a verdict: it must not panic.
            let result = if bare_content { check_econtent(&bytes) } else { check_object(&bytes) };
            match (expect, &result) {
                (Expect::Skip, _) => {
                    if ov.is_some() {
                        skipped += 1;
                    } else {
                        smoke += 1;
                    }
                }
                (Expect::Accept, Ok(())) => accepted += 1,
                (Expect::Reject(rules), Err(e)) if rules.is_empty() || rules.iter().any(|r| r == e.rule) => rejected += 1,
                (Expect::Accept, Err(e)) => failures.push(format!("{full}: expected valid, rejected: {e}")),
                (Expect::Reject(rules), Ok(())) => failures.push(format!("{full}: expected rejection {rules:?}, accepted")),
                (Expect::Reject(rules), Err(e)) => failures.push(format!("{full}: expected rejection by {rules:?}, rejected by: {e}")),
            }
        }
    }
    for o in &overrides {
        if !o.used.get() {
            failures.push(format!("verdicts.txt entry '{}' matches no corpus object", o.glob));
        }
    }
    println!("corpus: {accepted} accepted as expected, {rejected} rejected as expected, {smoke} decoded without a verdict, {skipped} skipped (not RPKI repository objects)");
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    assert!(accepted > 50 && rejected > 250, "too few corpus objects examined");
}
