//! rpkit-validator: the relying party. From a TAL it fetches the repository
//! (`fetch`: `rrdp`, `rsync`, over `http`), validates it top-down (`tree`,
//! `point`), keeps what RRDP brought in and the last validated
//! copy (`cache`) in packs (`pack`), and writes the validated payloads
//! (`output`);
//! `audit` keeps the per-object record an auditor reads; `error` says why a
//! fetch or a run failed. The daemon (`serve`)
//! runs validation periodically and serves routers over RTR (`rtr`) and
//! people and scripts over HTTP (`api`, `metrics`).

// Repositories are hostile input: no unwrap, expect or explicit panic.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod audit;
pub mod cache;
pub mod error;
pub mod fetch;
pub mod http;
pub mod metrics;
pub mod output;
pub mod pack;
pub mod point;
pub mod report;
pub mod rov;
pub mod rrdp;
pub mod rsync;
pub mod rtr;
pub mod run;
pub mod serve;
pub mod slurm;
pub mod store;
pub mod tak;
pub mod tree;
