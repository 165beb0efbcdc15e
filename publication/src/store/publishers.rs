//! The `publishers` table (RFC 8181 publishers: identity certificate, base
//! URI, the newest fencing token) and the `identity` row (the server's own
//! BPKI identity).

use rpkit_objects::bpki::IdentityParts;
use rpkit_serve::args;
use rpkit_serve::db::{DbResult, Sql};

/// A publisher as stored: handle, identity certificate (DER), base URI.
pub type PublisherRow = (String, Vec<u8>, String);

/// Every publisher, by handle.
pub fn all(c: &impl Sql) -> DbResult<Vec<PublisherRow>> {
    c.rows("SELECT handle, id_cert, base_uri FROM publishers ORDER BY handle", args![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}

/// Register publisher `handle`, added `added`, or give it a new certificate and base.
pub fn upsert(c: &impl Sql, handle: &str, id_cert: &[u8], base_uri: &str, added: i64) -> DbResult<()> {
    c.execute(
        "INSERT INTO publishers (handle, id_cert, base_uri, added) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (handle) DO UPDATE SET id_cert = excluded.id_cert, base_uri = excluded.base_uri",
        args![handle, id_cert, base_uri, added],
    )?;
    Ok(())
}

/// Forget publisher `handle`.
pub fn delete(c: &impl Sql, handle: &str) -> DbResult<()> {
    c.execute("DELETE FROM publishers WHERE handle = ?1", args![handle])?;
    Ok(())
}

/// Raise `handle`'s fencing token to `token`; false if it sent a higher one before (or is unknown).
pub fn advance_fence(c: &impl Sql, handle: &str, token: i64) -> DbResult<bool> {
    Ok(c.execute("UPDATE publishers SET fence = ?2 WHERE handle = ?1 AND fence <= ?2", args![handle, token])? != 0)
}

/// The highest fencing token `handle` sent, if it is registered.
pub fn fence(c: &impl Sql, handle: &str) -> DbResult<Option<i64>> {
    c.value_opt("SELECT fence FROM publishers WHERE handle = ?1", args![handle])
}

/// The server identity's key, message-signing key and certificate, once created.
pub fn identity(c: &impl Sql) -> DbResult<Option<IdentityParts>> {
    c.row_opt("SELECT key, ee_key, cert FROM identity", args![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}

/// Store the server identity's parts.
pub fn set_identity(c: &impl Sql, key: &[u8], ee_key: &[u8], cert: &[u8]) -> DbResult<()> {
    c.execute("INSERT INTO identity (key, ee_key, cert) VALUES (?1, ?2, ?3)", args![key, ee_key, cert])?;
    Ok(())
}
