//! The `revocations` table: what each CA revoked, by the key that issued it
//! (`NULL`: the CA's current key), until the revoked certificate expires.

use crate::error::Result;
use rpkit_objects::crl::Revoked;
use rpkit_objects::der::Time;
use rpkit_objects::serial::Serial;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// Serial `serial`, issued by key `key` (hex) of CA `ca_id`, revoked at `revoked_at` until `expires`.
pub fn insert(c: &impl Sql, ca_id: i64, serial: i64, revoked_at: i64, expires: i64, key: &str) -> Result<()> {
    c.execute(
        "INSERT INTO revocations (ca_id, serial, revoked_at, expires, key_id) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        args![ca_id, serial, revoked_at, expires, key],
    )?;
    Ok(())
}

/// Forget CA `ca_id`'s revocations of certificates expired at `now`.
pub fn delete_expired(c: &impl Sql, ca_id: i64, now: i64) -> Result<()> {
    c.execute("DELETE FROM revocations WHERE ca_id = ?1 AND expires <= ?2", args![ca_id, now])?;
    Ok(())
}

/// The revocations for the CRL of CA `ca_id`'s current key `key` (hex), by serial.
pub fn of_current_key(c: &impl Sql, ca_id: i64, key: &str) -> Result<Vec<Revoked>> {
    // Rows from before revocations named their key belong to the current key.
    Ok(c.rows(
        "SELECT serial, revoked_at FROM revocations WHERE ca_id = ?1 AND (key_id = ?2 OR key_id IS NULL) ORDER BY serial",
        args![ca_id, key],
        |r| Ok(Revoked { serial: Serial::from_u64(r.get(0)?), revocation_date: Time(r.get(1)?) }),
    )?)
}

/// The revocations for the CRL of CA `ca_id`'s other key `key` (hex), by serial.
pub fn of_key(c: &impl Sql, ca_id: i64, key: &str) -> Result<Vec<Revoked>> {
    Ok(c.rows("SELECT serial, revoked_at FROM revocations WHERE ca_id = ?1 AND key_id = ?2 ORDER BY serial", args![ca_id, key], |r| {
        Ok(Revoked { serial: Serial::from_u64(r.get(0)?), revocation_date: Time(r.get(1)?) })
    })?)
}

/// CA `ca_id`'s revocations that name no key are key `key`'s (hex).
pub fn name_key(c: &impl Sql, ca_id: i64, key: &str) -> Result<()> {
    c.execute("UPDATE revocations SET key_id = ?2 WHERE ca_id = ?1 AND key_id IS NULL", args![ca_id, key])?;
    Ok(())
}

/// Forget CA `ca_id`'s revocations by key `key` (hex), and those that name no key.
pub fn delete_of_current_key(c: &impl Sql, ca_id: i64, key: &str) -> Result<()> {
    c.execute("DELETE FROM revocations WHERE ca_id = ?1 AND (key_id = ?2 OR key_id IS NULL)", args![ca_id, key])?;
    Ok(())
}

/// Forget CA `ca_id`'s revocations by key `key` (hex).
pub fn delete_of_key(c: &impl Sql, ca_id: i64, key: &str) -> Result<()> {
    c.execute("DELETE FROM revocations WHERE ca_id = ?1 AND key_id = ?2", args![ca_id, key])?;
    Ok(())
}

/// Forget every revocation of CA `ca_id`.
pub fn delete_of_ca(c: &impl Sql, ca_id: i64) -> Result<()> {
    c.execute("DELETE FROM revocations WHERE ca_id = ?1", args![ca_id])?;
    Ok(())
}
