//! An offline TA's exchanges. On its side: the nonces of the requests it
//! answered (`ta_nonces`) and the certificates it gave its child
//! (`ta_children`); on the online CA's: its requests (`ta_exchanges`).

use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// Whether the request `nonce` was answered.
pub fn nonce_seen(c: &impl Sql, nonce: &str) -> Result<bool> {
    Ok(c.row("SELECT EXISTS (SELECT 1 FROM ta_nonces WHERE nonce = ?1)", args![nonce], |r| r.get::<bool>(0))?)
}

/// The request `nonce` is answered at `at`.
pub fn add_nonce(c: &impl Sql, nonce: &str, at: i64) -> Result<()> {
    c.execute("INSERT INTO ta_nonces (nonce, answered) VALUES (?1, ?2)", args![nonce, at])?;
    Ok(())
}

/// The certificates TA `ta_id` gave its child: key (hex), URI, serial and expiry, by key.
pub fn child_certs(c: &impl Sql, ta_id: i64) -> Result<Vec<(String, String, i64, i64)>> {
    Ok(c.rows("SELECT key_id, uri, serial, not_after FROM ta_children WHERE ta_id = ?1 ORDER BY key_id", args![ta_id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?)
}

/// The certificates (DER) TA `ta_id` gave its child, as published.
pub fn child_cert_ders(c: &impl Sql, ta_id: i64) -> Result<Vec<Vec<u8>>> {
    Ok(c.rows("SELECT o.der FROM ta_children c JOIN objects o ON o.uri = c.uri WHERE c.ta_id = ?1", args![ta_id], |r| r.get(0))?)
}

/// Whether TA `ta_id` certified the child's key `key` (hex).
pub fn has_child_cert(c: &impl Sql, ta_id: i64, key: &str) -> Result<bool> {
    Ok(c.row("SELECT EXISTS (SELECT 1 FROM ta_children WHERE ta_id = ?1 AND key_id = ?2)", args![ta_id, key], |r| r.get(0))?)
}

/// TA `ta_id` certified key `key` (hex) of child `handle` (serial, expiry) at `uri`.
pub fn add_child_cert(c: &impl Sql, ta_id: i64, key: &str, handle: &str, uri: &str, serial: i64, not_after: i64) -> Result<()> {
    c.execute(
        "INSERT INTO ta_children (ta_id, key_id, handle, uri, serial, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![ta_id, key, handle, uri, serial, not_after],
    )?;
    Ok(())
}

/// Forget TA `ta_id`'s certificate for the child's key `key` (hex).
pub fn delete_child_cert(c: &impl Sql, ta_id: i64, key: &str) -> Result<()> {
    c.execute("DELETE FROM ta_children WHERE ta_id = ?1 AND key_id = ?2", args![ta_id, key])?;
    Ok(())
}

/// Forget every certificate TA `ta_id` gave its child.
pub fn delete_child_certs(c: &impl Sql, ta_id: i64) -> Result<()> {
    c.execute("DELETE FROM ta_children WHERE ta_id = ?1", args![ta_id])?;
    Ok(())
}

/// The request pending is superseded.
pub fn supersede_pending(c: &impl Sql) -> Result<()> {
    c.execute("UPDATE ta_exchanges SET state = 'superseded' WHERE state = 'pending'", args![])?;
    Ok(())
}

/// A request `nonce`, pending, made at `created` and valid until `valid_until`.
pub fn add_request(c: &impl Sql, nonce: &str, created: i64, valid_until: i64) -> Result<()> {
    c.execute(
        "INSERT INTO ta_exchanges (nonce, created, valid_until, state) VALUES (?1, ?2, ?3, 'pending')",
        args![nonce, created, valid_until],
    )?;
    Ok(())
}

/// The state of request `nonce`: pending, answered or superseded.
pub fn request_state(c: &impl Sql, nonce: &str) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT state FROM ta_exchanges WHERE nonce = ?1", args![nonce])?)
}

/// The nonce of the request pending.
pub fn pending_nonce(c: &impl Sql) -> Result<Option<String>> {
    Ok(c.row_opt("SELECT nonce FROM ta_exchanges WHERE state = 'pending'", args![], |r| r.get::<String>(0))?)
}

/// The request pending: its nonce and until when it is valid.
pub fn pending(c: &impl Sql) -> Result<Option<(String, i64)>> {
    Ok(c.row_opt("SELECT nonce, valid_until FROM ta_exchanges WHERE state = 'pending'", args![], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The request `nonce` is answered.
pub fn answered(c: &impl Sql, nonce: &str) -> Result<()> {
    c.execute("UPDATE ta_exchanges SET state = 'answered' WHERE nonce = ?1", args![nonce])?;
    Ok(())
}
