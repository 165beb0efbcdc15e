//! The `changes` table: every revision's changes, one row per URI: the new
//! object (`NULL` for a withdraw) and the hash of the one it replaced.

use crate::repository::DeltaElement;
use rpkit_serve::args;
use rpkit_serve::db::{DbError, DbResult, Sql};

/// Record that revision `rev` published `der` at `uri`, replacing the object hashed `replaces`.
pub fn publish(c: &impl Sql, rev: i64, uri: &str, der: &[u8], replaces: Option<[u8; 32]>) -> DbResult<()> {
    c.execute("INSERT INTO changes (rev, uri, der, replaces) VALUES (?1, ?2, ?3, ?4)", args![rev, uri, der, replaces])?;
    Ok(())
}

/// Record that revision `rev` withdrew the object hashed `hash` at `uri`.
pub fn withdraw(c: &impl Sql, rev: i64, uri: &str, hash: &[u8; 32]) -> DbResult<()> {
    c.execute("INSERT INTO changes (rev, uri, der, replaces) VALUES (?1, ?2, NULL, ?3)", args![rev, uri, hash])?;
    Ok(())
}

/// Visit the changes of revisions `first` to `last`, by URI, then revision.
pub fn for_each_between<E: From<DbError>>(
    c: &impl Sql,
    first: i64,
    last: i64,
    mut f: impl FnMut(DeltaElement) -> Result<(), E>,
) -> Result<(), E> {
    c.for_each("SELECT uri, der, replaces FROM changes WHERE rev BETWEEN ?1 AND ?2 ORDER BY uri, rev", args![first, last], |r| {
        f(DeltaElement { uri: r.get(0)?, der: r.get(1)?, replaces: r.get(2)? })
    })
}

/// Forget the changes of revisions before `rev`.
pub fn delete_before(c: &impl Sql, rev: i64) -> DbResult<()> {
    c.execute("DELETE FROM changes WHERE rev < ?1", args![rev])?;
    Ok(())
}
