//! The CA's state, in SQLite (embedded) or PostgreSQL (shared by two nodes),
//! with versioned schema migrations for each. Every change runs in one write
//! transaction (see `work.rs`).
//!
//! The CA's SQL lives here, in one module per kind of record, each
//! reading and writing typed records; the issuing logic
//! (`roas.rs`, `aspas.rs`, `members.rs`, `service.rs`) writes none.

pub mod aspas;
pub mod cas;
pub mod keys;
pub mod members;
pub mod objects;
pub mod roas;
mod schema;

use rpkit_serve::args;
use rpkit_serve::db::{Db, DbResult, Location, Schema, Sql};
use schema::{MIGRATIONS, POSTGRES};

/// The CA's schema on either backend.
pub const SCHEMA: Schema = Schema { name: "ca", sqlite: MIGRATIONS, postgres: POSTGRES, secure_delete: true };

/// A value of the `settings` table (the CA's own key-value state).
pub(crate) fn setting(c: &impl Sql, key: &str) -> crate::error::Result<Option<String>> {
    Ok(c.value_opt("SELECT value FROM settings WHERE key = ?1", args![key])?)
}

pub(crate) fn put_setting(c: &impl Sql, key: &str, value: &str) -> crate::error::Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![key, value],
    )?;
    Ok(())
}

/// Open (or create) the database at `at` and bring its schema up to date.
pub fn open(at: &Location) -> DbResult<Db> {
    Db::open(at, &SCHEMA)
}

pub const LATEST_SCHEMA: usize = MIGRATIONS.len();
