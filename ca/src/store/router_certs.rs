//! The `router_certs` table: the BGPsec router certificates each CA issued,
//! one per (AS, router key).

use crate::error::{CaError, Result};
use rpkit_objects::crypto::PublicKey;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// A router certificate as stored: the AS, the router key, where it is published.
#[derive(Clone, Debug)]
pub(crate) struct RouterCert {
    pub asn: u32,
    pub key: PublicKey,
    pub uri: String,
    pub serial: i64,
    pub not_after: i64,
}

/// CA `ca_id`'s router certificates, by AS and key.
pub(crate) fn of_ca(c: &impl Sql, ca_id: i64) -> Result<Vec<RouterCert>> {
    let rows: Vec<(u32, Vec<u8>, String, i64, i64)> =
        c.rows("SELECT asn, spki, uri, serial, not_after FROM router_certs WHERE ca_id = ?1 ORDER BY asn, key_id", args![ca_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?;
    let mut out = Vec::new();
    for (asn, spki, uri, serial, not_after) in rows {
        let key = PublicKey::decode(&spki).map_err(|e| CaError::Conflict(format!("stored router key: {e}")))?;
        out.push(RouterCert { asn, key, uri, serial, not_after });
    }
    Ok(out)
}

/// Record CA `ca_id`'s certificate at `uri` (serial, expiry) for `key` and `asn`.
pub fn insert(c: &impl Sql, ca_id: i64, asn: u32, key: &PublicKey, uri: &str, serial: i64, not_after: i64) -> Result<()> {
    c.execute(
        "INSERT INTO router_certs (ca_id, asn, key_id, spki, uri, serial, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![ca_id, asn, key.key_id().hex(), key.spki(), uri, serial, not_after],
    )?;
    Ok(())
}

/// Forget CA `ca_id`'s certificate for key `key` (hex) and `asn`.
pub fn delete(c: &impl Sql, ca_id: i64, asn: u32, key: &str) -> Result<()> {
    c.execute("DELETE FROM router_certs WHERE ca_id = ?1 AND asn = ?2 AND key_id = ?3", args![ca_id, asn, key])?;
    Ok(())
}
