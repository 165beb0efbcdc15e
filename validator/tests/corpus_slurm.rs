//! The SLURM files of the shared corpus through our strict RFC 8416 parser
//! (SLURM-1..13): the valid ones load with the entries they hold; the others
//! are refused for the reason each is wrong.

mod common;

use common::corpus_path as corpus;
use rpkit_validator::slurm::Slurm;

type Counts = (usize, usize, usize, usize);

/// (file, expected: prefix filters, BGPsec filters, prefix assertions, BGPsec
/// assertions; or every reason the file is refused).
const FILES: &[(&str, Result<Counts, &[&str]>)] = &[
    ("fort/examples/demo.slurm", Ok((3, 1, 2, 0))),
    ("routinator/slurm/empty.json", Ok((0, 0, 0, 0))),
    ("routinator/output/000.slurm", Ok((0, 0, 0, 0))),
    ("routinator/output/001.slurm", Ok((0, 0, 0, 0))),
    // The same assertion twice in one file: allowed (the overlap rule is between files).
    ("routinator/output/100.slurm", Ok((0, 0, 2, 0))),
    // The RFC's example verbatim: 3-octet SKIs and a placeholder key.
    (
        "routinator/slurm/full.json",
        Err(&["SKI \"Zm9v\" decodes to 3 octets", "SKI \"YmFy\"", "routerPublicKey \"<some base64 public key>\""]),
    ),
    ("routinator/slurm/bad_maxlen.json", Err(&["maxPrefixLength 20 is outside 24..32 for 198.51.100.0/24"])),
    // Padded standard base64 where RFC 8416 §3.3.2 asks for base64url without padding.
    ("rpki-prover/slurm1.json", Err(&["SKI \"Zm9v\"", "routerPublicKey \"MFkw"])),
    ("rpki-rs/slurm/full.json", Err(&["routerPublicKey of AS64496 is not a P-256 SubjectPublicKeyInfo"])),
    ("routinator/output/010.slurm", Err(&["routerPublicKey of AS1234 is not a P-256"])),
    ("routinator/output/110.slurm", Err(&["routerPublicKey of AS1234 is not a P-256"])),
    ("rpki-validator-3/slurm/slurm1.json", Err(&["unknown field `publicKey`"])),
    ("stayrtr/cmd-stayrtr/test.slurm.json", Err(&["missing field `bgpsecAssertions`"])),
    // Version 2 (ASPA, a draft): refused as such, whatever else is in the file (SLURM-13).
    ("rpki-rs/slurm/full_v2.json", Err(&["slurmVersion 2 is not supported"])),
    ("stayrtr/prefixfile/slurm.json", Err(&["slurmVersion 2 is not supported"])),
    ("routinator/output/000.slurm2", Err(&["slurmVersion 2 is not supported"])),
    ("routinator/output/101.slurm2", Err(&["slurmVersion 2 is not supported"])),
];

#[test]
fn slurm_1_13_corpus_files_load_or_fail_for_each_reason() {
    let mut failures = Vec::new();
    for (file, want) in FILES {
        let got = Slurm::load(&[corpus(file)])
            .map(|s| (s.prefix_filters.len(), s.bgpsec_filters.len(), s.prefix_assertions.len(), s.bgpsec_assertions.len()))
            .map_err(|e| e.to_string());
        match (&got, want) {
            (Ok(g), Ok(w)) if g == w => {}
            (Err(e), Err(reasons)) if reasons.iter().all(|r| e.contains(r)) && e.contains(file) => {}
            _ => failures.push(format!("{file}: got {got:?}, want {want:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Two valid corpus files claiming the same prefixes are refused together (SLURM-12).
#[test]
fn slurm_12_overlapping_corpus_files_are_refused_together() {
    let e = Slurm::load(&[corpus("fort/examples/demo.slurm"), corpus("routinator/output/100.slurm")]).map(|_| ());
    assert!(e.is_ok(), "no shared prefix: {e:?}");
    let e = Slurm::load(&[corpus("routinator/output/100.slurm"), corpus("routinator/output/101.slurm")]).unwrap_err().to_string();
    assert!(e.contains("overlap") && e.contains("12.34.56.0/24"), "{e}");
}
