//! The publication server: repository state (SQLite), RRDP files (RFC 8182)
//! and, to come, the RFC 8181 server, HTTPS serving and the rsync tree.

pub mod repository;
pub mod rrdp;
pub mod rsync_tree;
