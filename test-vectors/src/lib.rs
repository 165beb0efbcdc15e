//! Deterministic scenarios for tests: repositories good and broken, with the
//! outcome each must produce, and the expected results for the shared corpus
//! (`corpus/verdicts.txt`).

pub mod delegated;
pub mod fixture;
pub mod hostile;
pub mod malformed;
pub mod scenario;
pub mod workload;
