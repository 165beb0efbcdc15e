//! The `objects` table: the current objects, by rsync URI, with their SHA-256.

use rpkit_objects::crypto::sha256;
use rpkit_serve::args;
use rpkit_serve::db::{DbError, DbResult, Sql};

/// The object at `uri`, if any.
pub fn der(c: &impl Sql, uri: &str) -> DbResult<Option<Vec<u8>>> {
    c.value_opt("SELECT der FROM objects WHERE uri = ?1", args![uri])
}

/// The SHA-256 of the object at `uri`, if any.
pub fn hash(c: &impl Sql, uri: &str) -> DbResult<Option<[u8; 32]>> {
    c.value_opt("SELECT hash FROM objects WHERE uri = ?1", args![uri])
}

/// Every object (URI, SHA-256) whose URI starts with `base`, in URI order.
pub fn under(c: &impl Sql, base: &str) -> DbResult<Vec<(String, [u8; 32])>> {
    c.rows(
        "SELECT uri, hash FROM objects WHERE substr(uri, 1, length(CAST(?1 AS TEXT))) = CAST(?1 AS TEXT) ORDER BY uri",
        args![base],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Visit every object (URI, DER) in URI order, one row at a time.
pub fn for_each<E: From<DbError>>(c: &impl Sql, mut f: impl FnMut(&str, &[u8]) -> Result<(), E>) -> Result<(), E> {
    c.for_each("SELECT uri, der FROM objects ORDER BY uri", args![], |r| {
        let uri: String = r.get(0)?;
        f(&uri, r.blob(1)?)
    })
}

/// Put `der` at `uri` (with its SHA-256), replacing any object there.
pub fn put(c: &impl Sql, uri: &str, der: &[u8]) -> DbResult<()> {
    c.execute(
        "INSERT INTO objects (uri, hash, der) VALUES (?1, ?2, ?3) ON CONFLICT (uri) DO UPDATE SET hash = excluded.hash, der = excluded.der",
        args![uri, sha256(der), der],
    )?;
    Ok(())
}

/// Remove the object at `uri`.
pub fn delete(c: &impl Sql, uri: &str) -> DbResult<()> {
    c.execute("DELETE FROM objects WHERE uri = ?1", args![uri])?;
    Ok(())
}

/// Take the table away under the server (a storage fault, for tests).
#[cfg(test)]
pub(crate) fn hide(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    c.execute_batch("ALTER TABLE objects RENAME TO objects_gone")
}

/// Put the table `hide` took away back.
#[cfg(test)]
pub(crate) fn unhide(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    c.execute_batch("ALTER TABLE objects_gone RENAME TO objects")
}
