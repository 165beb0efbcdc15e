//! The `keyrolls` table: a CA's other key during its key roll (RFC 6489): the
//! next key while pending, or the old one while an offline parent has yet to
//! revoke it (`retiring`), with its certificate and its own manifest and CRL.

use super::cas::MftState;
use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// A roll as the status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roll {
    /// The other key (hex).
    pub key_id: String,
    pub reason: String,
    pub started: i64,
    pub activate_at: i64,
    /// `pending` or `retiring`.
    pub phase: String,
    /// Whether the parent certified the key yet.
    pub certified: bool,
}

/// A next key its parent here certified, staged until `activate_at`.
#[derive(Clone, Copy, Debug)]
pub struct NewRoll<'a> {
    pub ca_id: i64,
    pub key_id: &'a str,
    pub cert: &'a [u8],
    pub cert_uri: &'a str,
    pub reason: &'a str,
    pub started: i64,
    pub activate_at: i64,
}

/// CA `ca_id`'s other key (hex), its certificate (DER, empty until certified) and URI.
pub fn next_cert(c: &impl Sql, ca_id: i64) -> Result<Option<(String, Vec<u8>, String)>> {
    Ok(c.row_opt("SELECT key_id, cert, cert_uri FROM keyrolls WHERE ca_id = ?1", args![ca_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
}

/// CA `ca_id`'s other key (hex) and the roll's phase.
pub fn phase(c: &impl Sql, ca_id: i64) -> Result<Option<(String, String)>> {
    Ok(c.row_opt("SELECT key_id, phase FROM keyrolls WHERE ca_id = ?1", args![ca_id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// CA `ca_id`'s other key (hex), the roll's phase and the key's certificate (DER).
pub fn state(c: &impl Sql, ca_id: i64) -> Result<Option<(String, String, Vec<u8>)>> {
    Ok(c.row_opt("SELECT key_id, phase, cert FROM keyrolls WHERE ca_id = ?1", args![ca_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
}

/// Whether CA `ca_id`'s key rolls.
pub fn exists(c: &impl Sql, ca_id: i64) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM keyrolls WHERE ca_id = ?1)", args![ca_id])?)
}

/// CA `ca_id`'s roll.
pub fn status(c: &impl Sql, ca_id: i64) -> Result<Option<Roll>> {
    Ok(c.row_opt(
        "SELECT key_id, reason, started, activate_at, phase, length(cert) > 0 FROM keyrolls WHERE ca_id = ?1",
        args![ca_id],
        |r| {
            Ok(Roll {
                key_id: r.get(0)?,
                reason: r.get(1)?,
                started: r.get(2)?,
                activate_at: r.get(3)?,
                phase: r.get(4)?,
                certified: r.get(5)?,
            })
        },
    )?)
}

/// A next key `key` (hex) of CA `ca_id` waiting for an offline parent's
/// certificate: none yet, and no time to activate.
pub fn await_parent(c: &impl Sql, ca_id: i64, key: &str, reason: &str, started: i64) -> Result<()> {
    c.execute(
        "INSERT INTO keyrolls (ca_id, key_id, cert, cert_uri, reason, started, activate_at) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6)",
        args![ca_id, key, Vec::<u8>::new(), reason, started, i64::MAX],
    )?;
    Ok(())
}

/// A next key, certified.
pub fn insert(c: &impl Sql, r: &NewRoll<'_>) -> Result<()> {
    c.execute(
        "INSERT INTO keyrolls (ca_id, key_id, cert, cert_uri, reason, started, activate_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![r.ca_id, r.key_id, r.cert, r.cert_uri, r.reason, r.started, r.activate_at],
    )?;
    Ok(())
}

/// The old key `key` (hex) of CA `ca_id`, retiring since `started` with its
/// certificate (DER) at `cert_uri` and its manifest and CRL state.
pub fn insert_retiring(c: &impl Sql, ca_id: i64, key: &str, cert: &[u8], cert_uri: &str, started: i64, s: &MftState) -> Result<()> {
    c.execute(
        "INSERT INTO keyrolls (ca_id, key_id, cert, cert_uri, reason, started, activate_at, manifest_number, crl_number,
                mft_ee_serial, mft_this_update, mft_next_update, phase)
             VALUES (?1, ?2, ?3, ?4, 'retiring', ?5, ?5, ?6, ?7, ?8, ?9, ?10, 'retiring')",
        args![ca_id, key, cert, cert_uri, started, s.manifest_number, s.crl_number, s.mft_ee_serial, s.this_update, s.next_update],
    )?;
    Ok(())
}

/// CA `ca_id`'s next key is certified (DER, at `uri`), staged until `activate_at`.
pub fn certified(c: &impl Sql, ca_id: i64, cert: &[u8], uri: &str, activate_at: i64) -> Result<()> {
    c.execute("UPDATE keyrolls SET cert = ?2, cert_uri = ?3, activate_at = ?4 WHERE ca_id = ?1", args![ca_id, cert, uri, activate_at])?;
    Ok(())
}

/// The certificate (DER) of CA `ca_id`'s other key, re-issued.
pub fn set_cert(c: &impl Sql, ca_id: i64, cert: &[u8]) -> Result<()> {
    c.execute("UPDATE keyrolls SET cert = ?2 WHERE ca_id = ?1", args![ca_id, cert])?;
    Ok(())
}

/// CA `ca_id`'s next key becomes its key since `key_since`, with its
/// certificate and manifest and CRL state.
pub fn promote(c: &impl Sql, ca_id: i64, key_since: i64) -> Result<()> {
    c.execute(
        "UPDATE cas SET key_id = k.key_id, cert = k.cert, cert_uri = k.cert_uri, manifest_number = k.manifest_number,
            crl_number = k.crl_number, mft_ee_serial = k.mft_ee_serial, mft_this_update = k.mft_this_update,
            mft_next_update = k.mft_next_update, key_since = ?2
         FROM (SELECT * FROM keyrolls WHERE ca_id = ?1) AS k WHERE cas.id = ?1",
        args![ca_id, key_since],
    )?;
    Ok(())
}

/// CA `ca_id`'s roll is over.
pub fn delete(c: &impl Sql, ca_id: i64) -> Result<()> {
    c.execute("DELETE FROM keyrolls WHERE ca_id = ?1", args![ca_id])?;
    Ok(())
}

/// The manifest and CRL state of CA `ca_id`'s other key.
pub fn mft_state(c: &impl Sql, ca_id: i64) -> Result<MftState> {
    Ok(c.row(
        "SELECT mft_ee_serial, mft_this_update, mft_next_update, manifest_number, crl_number FROM keyrolls WHERE ca_id = ?1",
        args![ca_id],
        super::cas::mft_row,
    )?)
}

/// Record the manifest and CRL just issued by CA `ca_id`'s other key.
pub fn set_mft_state(c: &impl Sql, ca_id: i64, s: &MftState) -> Result<()> {
    c.execute(
        "UPDATE keyrolls SET manifest_number = ?2, crl_number = ?3, mft_ee_serial = ?4, mft_this_update = ?5, mft_next_update = ?6 WHERE ca_id = ?1",
        args![ca_id, s.manifest_number, s.crl_number, s.mft_ee_serial, s.this_update, s.next_update],
    )?;
    Ok(())
}

/// Staged rolls due at `now` (id, handle), oldest first, at most `limit`.
pub fn due(c: &impl Sql, now: i64, limit: i64) -> Result<Vec<(i64, String)>> {
    Ok(c.rows(
        "SELECT c.id, c.handle FROM keyrolls k JOIN cas c ON c.id = k.ca_id
                 WHERE k.phase = 'pending' AND length(k.cert) > 0 AND k.activate_at <= ?1 ORDER BY k.activate_at, c.id LIMIT ?2",
        args![now, limit],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// CAs (not TAs) with no roll whose key is in software while `migrate`, or
/// held `interval` seconds at `now` (interval 0: never): id, handle, and
/// whether the key is in software; those first, at most `limit`.
pub fn to_start(c: &impl Sql, migrate: bool, interval: i64, now: i64, limit: i64) -> Result<Vec<(i64, String, bool)>> {
    Ok(c.rows(
        "SELECT c.id, c.handle, EXISTS (SELECT 1 FROM keys WHERE key_id = c.key_id) AS soft FROM cas c
                 WHERE c.kind != 'ta' AND NOT EXISTS (SELECT 1 FROM keyrolls k WHERE k.ca_id = c.id)
                   AND ((?1 AND EXISTS (SELECT 1 FROM keys WHERE key_id = c.key_id))
                     OR (?2 > 0 AND COALESCE(c.key_since, c.created) + ?2 <= ?3))
                 ORDER BY soft DESC, c.id LIMIT ?4",
        args![migrate, interval, now, limit],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// The RIR CA's pending next key (hex).
pub fn rir_pending_key(c: &impl Sql) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT k.key_id FROM keyrolls k JOIN cas c ON c.id = k.ca_id WHERE c.kind = 'rir' AND k.phase = 'pending'", args![])?)
}

/// The RIR CA's other key (hex), the roll's phase, and whether the key is certified.
pub fn rir_roll(c: &impl Sql) -> Result<Option<(String, String, bool)>> {
    Ok(c.row_opt(
        "SELECT k.key_id, k.phase, length(k.cert) > 0 FROM keyrolls k JOIN cas c ON c.id = k.ca_id WHERE c.kind = 'rir'",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?)
}

/// Whether the RIR CA's roll waits for its parent: to certify the next key, or revoke the old one.
pub fn rir_waits_for_parent(c: &impl Sql) -> Result<bool> {
    Ok(c.row(
        "SELECT EXISTS (SELECT 1 FROM keyrolls k JOIN cas c ON c.id = k.ca_id
                     WHERE c.kind = 'rir' AND (k.phase = 'retiring' OR length(k.cert) = 0))",
        args![],
        |r| r.get::<bool>(0),
    )?)
}
