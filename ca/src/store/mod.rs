//! The CA's state, in SQLite (embedded) or PostgreSQL (shared by two nodes),
//! with versioned schema migrations for each. Every change runs in one write
//! transaction (see `work.rs`).
//!
//! The CA's SQL lives here, in one module per kind of record, each
//! reading and writing typed records; the issuing logic (every module
//! outside `store`) writes none.

pub mod aspas;
pub mod cas;
pub mod children;
pub mod history;
pub mod keyrolls;
pub mod keys;
pub mod members;
pub mod moves;
pub mod objects;
pub mod offline_ta;
pub mod revocations;
pub mod roas;
pub mod router_certs;
mod schema;
pub mod settings;
pub mod ta_keyroll;

use rpkit_serve::db::{Db, DbResult, Location, Schema};
use schema::{MIGRATIONS, POSTGRES};

/// The CA's schema on either backend.
pub const SCHEMA: Schema = Schema { name: "ca", sqlite: MIGRATIONS, postgres: POSTGRES, secure_delete: true };

/// Open (or create) the database at `at` and bring its schema up to date.
pub fn open(at: &Location) -> DbResult<Db> {
    Db::open(at, &SCHEMA)
}

pub const LATEST_SCHEMA: usize = MIGRATIONS.len();
