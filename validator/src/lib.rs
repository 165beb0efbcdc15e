//! rpkit-validator: the relying party. From a TAL it reads the repository
//! (`store`, fetched by a `tree::Fetcher`), validates it top-down (`tree`), and
//! writes the validated payloads (`output`).

// Repositories are hostile input: no unwrap, expect or explicit panic.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod output;
pub mod report;
pub mod store;
pub mod tree;
