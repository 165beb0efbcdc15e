//! Keys as stored: software keys (`keys`, PKCS#1), the one-time keys a clean
//! stop keeps (`key_pool`), the token holding the HSM's keys (`token_keys`),
//! and keys retired but not yet destroyed (`retired_keys`).

use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// Every software key (PKCS#1 DER).
pub fn software(c: &impl Sql) -> Result<Vec<Vec<u8>>> {
    Ok(c.rows("SELECT pkcs1 FROM keys", args![], |r| r.get(0))?)
}

/// The label of the token holding the CA's keys, if any are in one.
pub fn token_label(c: &impl Sql) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT token_label FROM token_keys LIMIT 1", args![])?)
}

/// Take the kept one-time keys out of the database (PKCS#1 DER).
pub fn take_pool(c: &impl Sql) -> Result<Vec<Vec<u8>>> {
    let pooled = c.rows("SELECT pkcs1 FROM key_pool", args![], |r| r.get(0))?;
    c.execute("DELETE FROM key_pool", args![])?;
    Ok(pooled)
}

/// Keep one-time keys for the next start.
pub fn put_pool(c: &impl Sql, pkcs1: &[&[u8]]) -> Result<()> {
    for k in pkcs1 {
        c.execute("INSERT INTO key_pool (pkcs1) VALUES (?1)", args![k])?;
    }
    Ok(())
}

/// A software key (hex id, PKCS#1 DER).
pub fn put_software(c: &impl Sql, key: &str, pkcs1: &[u8]) -> Result<()> {
    c.execute(
        "INSERT INTO keys (key_id, pkcs1) VALUES (?1, ?2) ON CONFLICT (key_id) DO UPDATE SET pkcs1 = excluded.pkcs1",
        args![key, pkcs1],
    )?;
    Ok(())
}

/// A key in the token labelled `label`, by its hex id.
pub fn put_token(c: &impl Sql, key: &str, label: &str) -> Result<()> {
    c.execute(
        "INSERT INTO token_keys (key_id, token_label) VALUES (?1, ?2) ON CONFLICT (key_id) DO UPDATE SET token_label = excluded.token_label",
        args![key, label],
    )?;
    Ok(())
}

/// Whether key `key` (hex) is in the token.
pub fn in_token(c: &impl Sql, key: &str) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM token_keys WHERE key_id = ?1)", args![key])?)
}

/// Key `key` (hex) of CA `handle` leaves the database, to be destroyed.
pub fn retire(c: &impl Sql, key: &str, handle: &str, at: i64) -> Result<()> {
    c.execute("DELETE FROM keys WHERE key_id = ?1", args![key])?;
    c.execute("DELETE FROM token_keys WHERE key_id = ?1", args![key])?;
    c.execute("INSERT INTO retired_keys (key_id, ca_handle, retired) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", args![key, handle, at])?;
    Ok(())
}

/// Retired keys (hex) and their CAs' handles, oldest first.
pub fn retired(c: &impl Sql) -> Result<Vec<(String, String)>> {
    Ok(c.rows("SELECT key_id, ca_handle FROM retired_keys ORDER BY retired, key_id", args![], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Retired key `key` (hex) is destroyed.
pub fn destroyed(c: &impl Sql, key: &str) -> Result<()> {
    c.execute("DELETE FROM retired_keys WHERE key_id = ?1", args![key])?;
    Ok(())
}

/// Fold SQLite's write-ahead log into the database file, where deleted rows
/// are overwritten.
pub fn checkpoint(c: &impl Sql) -> Result<()> {
    Ok(c.batch("PRAGMA wal_checkpoint(TRUNCATE)")?)
}
