//! The `cas` table as the service reads it whole: the TA's certificate, every
//! CA's certificate, manifest and CRL numbers.

use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// The current TA's certificate (DER) and URI, once there is one.
pub fn ta_cert(c: &impl Sql) -> Result<Option<(Vec<u8>, String)>> {
    let sql = format!("SELECT cert, cert_uri FROM cas WHERE id = {}", crate::work::CURRENT_TA_ID);
    Ok(c.row_opt(&sql, args![], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Every CA's id and certificate (DER); without the TA and the RIR CA when
/// `without_top` (their certificates come from elsewhere).
pub fn certs(c: &impl Sql, without_top: bool) -> Result<Vec<(i64, Vec<u8>)>> {
    Ok(c.rows("SELECT id, cert FROM cas WHERE NOT (?1 AND kind IN ('ta', 'rir'))", args![without_top], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// A CA's manifest and CRL numbers.
pub fn numbers(c: &impl Sql, handle: &str) -> Result<(i64, i64)> {
    Ok(c.row("SELECT manifest_number, crl_number FROM cas WHERE handle = ?1", args![handle], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// CAs (and keys being staged) whose manifest and CRL are within `margin`
/// seconds of their nextUpdate at `now`, or were never issued; not the TA's
/// when `offline_ta` (it signs its own).
pub fn stale_manifests(c: &impl Sql, now: i64, margin: i64, offline_ta: bool) -> Result<Vec<i64>> {
    Ok(c.rows(
        "SELECT id FROM cas WHERE (mft_next_update IS NULL OR mft_next_update - ?1 < ?2) AND NOT (?3 AND kind = 'ta')
         UNION SELECT ca_id FROM keyrolls WHERE length(cert) > 0 AND (mft_next_update IS NULL OR mft_next_update - ?1 < ?2)",
        args![now, margin, offline_ta],
        |r| r.get(0),
    )?)
}

/// CAs holding a router certificate that expires before `t`.
pub fn router_holders_expiring(c: &impl Sql, t: i64) -> Result<Vec<i64>> {
    Ok(c.rows("SELECT DISTINCT ca_id FROM router_certs WHERE not_after < ?1", args![t], |r| r.get(0))?)
}

/// Delegated children's certificates expiring before both `t` and `limit`.
pub fn child_certs_expiring(c: &impl Sql, t: i64, limit: i64) -> Result<i64> {
    Ok(c.value("SELECT COUNT(*) FROM child_certs WHERE not_after < ?1 AND not_after < ?2", args![t, limit])?)
}
