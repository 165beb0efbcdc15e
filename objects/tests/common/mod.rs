//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/corpus` relative to the workspace root (tests read it in place).
pub fn corpus() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    std::env::var_os("RPKIT_CORPUS").map(PathBuf::from).unwrap_or(root)
}

pub fn corpus_file(rel: &str) -> Vec<u8> {
    let p = corpus().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[allow(unused_imports)]
pub use rpkit_test_vectors::fixture::{Fixture, BASE};
