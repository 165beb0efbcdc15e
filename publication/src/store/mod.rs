//! The repository's state, in SQLite (embedded) or PostgreSQL (shared by
//! several nodes), with versioned schema migrations for each.
//!
//! The publication server's SQL lives here, in one module per kind of
//! record, each reading and writing typed records; the RFC 8181 checks,
//! the shrink guard and fencing (`repository.rs`, `publishers.rs`) write none.

pub mod changes;
pub mod files;
pub mod objects;
pub mod publishers;
mod schema;
pub mod serials;
pub mod session;

use rpkit_serve::db::{Db, DbResult, Location, Schema};
use schema::{POSTGRES, SQLITE};

/// The repository's schema on either backend.
pub const SCHEMA: Schema = Schema { name: "publication", sqlite: SQLITE, postgres: POSTGRES, secure_delete: false };

/// Open (or create) the database at `at` and bring its schema up to date.
pub fn open(at: &Location) -> DbResult<Db> {
    Db::open(at, &SCHEMA)
}
