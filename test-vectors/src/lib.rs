//! Deterministic scenarios for tests: repositories good and broken, with the
//! outcome each must produce, and the expected results for the shared corpus
//! (`corpus/verdicts.txt`); and `peers`, the independent tools, processes and
//! machine set-up that the interoperability tests and the benchmarks share.

pub mod bench_keys;
pub mod delegated;
pub mod fixture;
pub mod hostile;
pub mod malformed;
pub mod peers;
pub mod postgres;
pub mod scenario;
pub mod softhsm;
pub mod workload;
