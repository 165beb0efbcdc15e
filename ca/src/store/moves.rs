//! The `moves` table: hosted members moving to a CA of their own, while both
//! publish (`crate::moves`).

use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// `handle` starts moving to its own CA at `started`.
pub fn start(c: &impl Sql, handle: &str, started: i64) -> Result<()> {
    c.execute("INSERT INTO moves (handle, started) VALUES (?1, ?2)", args![handle, started])?;
    Ok(())
}

/// Whether `handle` is moving.
pub fn exists(c: &impl Sql, handle: &str) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM moves WHERE handle = ?1)", args![handle])?)
}

/// When `handle` started moving, if it is.
pub fn started(c: &impl Sql, handle: &str) -> Result<Option<i64>> {
    Ok(c.value_opt("SELECT started FROM moves WHERE handle = ?1", args![handle])?)
}

/// When `handle` started moving and what its own CA was last seen to lack.
pub fn of(c: &impl Sql, handle: &str) -> Result<Option<(i64, Option<String>)>> {
    Ok(c.row_opt("SELECT started, waiting_for FROM moves WHERE handle = ?1", args![handle], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The members moving, oldest first.
pub fn handles(c: &impl Sql) -> Result<Vec<String>> {
    Ok(c.rows("SELECT handle FROM moves ORDER BY started", args![], |r| r.get(0))?)
}

/// Checked at `checked`, `handle`'s own CA still lacks `waiting_for`.
pub fn waiting(c: &impl Sql, handle: &str, checked: i64, waiting_for: &str) -> Result<()> {
    c.execute("UPDATE moves SET checked = ?2, waiting_for = ?3 WHERE handle = ?1", args![handle, checked, waiting_for])?;
    Ok(())
}

/// A member's move to its own CA is over (or never was).
pub fn forget(c: &impl Sql, handle: &str) -> Result<()> {
    c.execute("DELETE FROM moves WHERE handle = ?1", args![handle])?;
    Ok(())
}
