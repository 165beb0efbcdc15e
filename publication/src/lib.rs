//! The publication server: repository state (SQLite), the RFC 8181 server for
//! publishers, RRDP files (RFC 8182) served over HTTPS, and the rsync tree.

pub mod http;
pub mod publishers;
pub mod repository;
pub mod rfc8181;
pub mod rrdp;
pub mod rsync_tree;
pub mod service;
pub(crate) mod store;
