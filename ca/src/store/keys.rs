//! Keys as stored: software keys (`keys`, PKCS#1), the one-time keys a clean
//! stop keeps (`key_pool`), and the token holding the HSM's keys (`token_keys`).

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
