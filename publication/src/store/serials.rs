//! The `serials` table: one row per RRDP serial, with its creation time and
//! the run of revisions (`first_rev` to `last_rev`) it covers.

use rpkit_serve::args;
use rpkit_serve::db::{DbResult, Sql};

/// Record serial 1 of a new repository, created `created`, covering no revision.
pub fn first(c: &impl Sql, created: i64) -> DbResult<()> {
    c.execute("INSERT INTO serials (serial, created, first_rev, last_rev) VALUES (1, ?1, 0, 0)", args![created])?;
    Ok(())
}

/// Record serial 1 of a new session over the current objects (revision `rev`).
pub fn restart(c: &impl Sql, created: i64, rev: i64) -> DbResult<()> {
    c.execute("INSERT INTO serials (serial, created, first_rev, last_rev) VALUES (1, ?1, ?2, ?2)", args![created, rev])?;
    Ok(())
}

/// Record `serial`, created `created`, covering revisions `first_rev` to `last_rev`.
pub fn insert(c: &impl Sql, serial: i64, created: i64, first_rev: i64, last_rev: i64) -> DbResult<()> {
    c.execute(
        "INSERT INTO serials (serial, created, first_rev, last_rev) VALUES (?1, ?2, ?3, ?4)",
        args![serial, created, first_rev, last_rev],
    )?;
    Ok(())
}

/// The revisions `serial` covers (first, last); it must exist.
pub fn revs(c: &impl Sql, serial: u64) -> DbResult<(i64, i64)> {
    c.row("SELECT first_rev, last_rev FROM serials WHERE serial = ?1", args![serial as i64], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The first revision `serial` covers, if it is kept.
pub fn first_rev(c: &impl Sql, serial: u64) -> DbResult<Option<i64>> {
    c.value_opt("SELECT first_rev FROM serials WHERE serial = ?1", args![serial as i64])
}

/// The last revision any serial covers (0 before the first).
pub fn last_rev(c: &impl Sql) -> DbResult<i64> {
    c.value("SELECT COALESCE(MAX(last_rev), 0) FROM serials", args![])
}

/// The session's last revision applied, and the last any serial covers.
pub fn applied_and_covered(c: &impl Sql) -> DbResult<(i64, i64)> {
    c.row("SELECT (SELECT rev FROM session), (SELECT COALESCE(MAX(last_rev), 0) FROM serials)", args![], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Serials with a delta (all but 1), oldest first, with their creation times.
pub fn with_delta(c: &impl Sql) -> DbResult<Vec<(u64, i64)>> {
    c.rows("SELECT serial, created FROM serials WHERE serial > 1 ORDER BY serial", args![], |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Forget the serials before `serial`, except serial 1.
pub fn delete_before(c: &impl Sql, serial: u64) -> DbResult<()> {
    c.execute("DELETE FROM serials WHERE serial < ?1 AND serial > 1", args![serial as i64])?;
    Ok(())
}

/// Forget every serial, with the changes and RRDP files of the session (RRDPS-4).
pub fn forget_all(c: &impl Sql) -> DbResult<()> {
    c.batch("DELETE FROM serials; DELETE FROM changes; DELETE FROM files;")
}
