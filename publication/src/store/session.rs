//! The `session` table: one row, the RRDP session id and current serial, the
//! last revision applied and the current object count.

use rpkit_serve::args;
use rpkit_serve::db::{DbResult, Sql};

/// Whether the session row exists (a new repository has none).
pub fn exists(c: &impl Sql) -> DbResult<bool> {
    c.value("SELECT EXISTS (SELECT 1 FROM session)", args![])
}

/// Start session `id` at serial 1, revision 0.
pub fn create(c: &impl Sql, id: &str) -> DbResult<()> {
    c.execute("INSERT INTO session (id, serial, rev) VALUES (?1, 1, 0)", args![id])?;
    Ok(())
}

/// The session id and current serial.
pub fn id_and_serial(c: &impl Sql) -> DbResult<(String, u64)> {
    c.row("SELECT id, serial FROM session", args![], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The current object count.
pub fn object_count(c: &impl Sql) -> DbResult<usize> {
    c.value("SELECT objects FROM session", args![])
}

/// The current serial and the last revision applied.
pub fn serial_and_rev(c: &impl Sql) -> DbResult<(i64, i64)> {
    c.row("SELECT serial, rev FROM session", args![], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The last revision applied.
pub fn rev(c: &impl Sql) -> DbResult<i64> {
    c.value("SELECT rev FROM session", args![])
}

/// The last revision applied and the current object count.
pub fn rev_and_objects(c: &impl Sql) -> DbResult<(i64, usize)> {
    c.row("SELECT rev, objects FROM session", args![], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Make `serial` the current serial.
pub fn set_serial(c: &impl Sql, serial: i64) -> DbResult<()> {
    c.execute("UPDATE session SET serial = ?1", args![serial])?;
    Ok(())
}

/// Make `id` the session, at serial 1 (RRDPS-4).
pub fn restart(c: &impl Sql, id: &str) -> DbResult<()> {
    c.execute("UPDATE session SET id = ?1, serial = 1", args![id])?;
    Ok(())
}

/// Record revision `rev` applied, leaving `objects` objects.
pub fn set_rev(c: &impl Sql, rev: i64, objects: i64) -> DbResult<()> {
    c.execute("UPDATE session SET rev = ?1, objects = ?2", args![rev, objects])?;
    Ok(())
}
