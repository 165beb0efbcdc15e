//! The `roas` table: one row per authorization, with the ROA object that
//! carries it (several rows share an object when ROAs are packed).

use crate::contract::RoaSpec;
use crate::error::{CaError, Result};
use rpkit_objects::der::Time;
use rpkit_objects::export::ExportRoa;
use rpkit_objects::resources::Asn;
use rpkit_objects::serial::Serial;
use rpkit_serve::args;
use rpkit_serve::db::{Row, Sql};
use std::collections::BTreeMap;

/// An authorization as stored: what it allows, and the object carrying it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoaRow {
    pub spec: RoaSpec,
    pub uri: String,
    /// The carrying object's EE certificate expiry.
    pub not_after: Time,
}

fn spec(r: &Row, at: usize) -> Result<RoaSpec> {
    let p: String = r.get(at)?;
    let prefix = p.parse().map_err(|e| CaError::Conflict(format!("stored prefix {p}: {e}")))?;
    Ok(RoaSpec { prefix, max_length: r.get(at + 1)?, asn: Asn(r.get(at + 2)?) })
}

/// Every authorization of CA `ca_id`, by prefix, max length and AS.
pub fn of_ca(c: &impl Sql, ca_id: i64) -> Result<Vec<RoaRow>> {
    let mut v = Vec::new();
    c.for_each(
        "SELECT prefix, max_length, asn, uri, not_after FROM roas WHERE ca_id = ?1 ORDER BY prefix, max_length, asn",
        args![ca_id],
        |r| {
            v.push(RoaRow { spec: spec(&r, 0)?, uri: r.get(3)?, not_after: Time(r.get(4)?) });
            Ok::<(), CaError>(())
        },
    )?;
    Ok(v)
}

/// CA `ca_id`'s ROA objects: URI → the authorizations each holds.
pub fn objects(c: &impl Sql, ca_id: i64) -> Result<BTreeMap<String, Vec<RoaSpec>>> {
    let mut v: BTreeMap<String, Vec<RoaSpec>> = BTreeMap::new();
    c.for_each("SELECT uri, prefix, max_length, asn FROM roas WHERE ca_id = ?1", args![ca_id], |r| {
        v.entry(r.get(0)?).or_default().push(spec(&r, 1)?);
        Ok::<(), CaError>(())
    })?;
    Ok(v)
}

/// The authorizations of one ROA object of CA `ca_id`.
pub fn object(c: &impl Sql, ca_id: i64, uri: &str) -> Result<Vec<RoaSpec>> {
    let mut v = Vec::new();
    c.for_each("SELECT prefix, max_length, asn FROM roas WHERE uri = ?2 AND ca_id = ?1", args![ca_id, uri], |r| {
        v.push(spec(&r, 0)?);
        Ok::<(), CaError>(())
    })?;
    Ok(v)
}

/// Forget one ROA object's authorizations; its EE certificate's serial and
/// expiry (to revoke it), if there was such an object.
pub fn delete_object(c: &impl Sql, ca_id: i64, uri: &str) -> Result<Option<(Serial, Time)>> {
    let rows: Vec<(i64, i64)> =
        c.rows("DELETE FROM roas WHERE ca_id = ?1 AND uri = ?2 RETURNING ee_serial, not_after", args![ca_id, uri], |x| {
            Ok((x.get(0)?, x.get(1)?))
        })?;
    Ok(rows.first().map(|(s, t)| (Serial::from_u64(*s as u64), Time(*t))))
}

/// Record that the object at `uri` (EE serial `ee_serial`, expiring `not_after`) carries `spec`.
pub fn insert(c: &impl Sql, ca_id: i64, spec: &RoaSpec, uri: &str, ee_serial: i64, not_after: Time) -> Result<()> {
    c.execute(
        "INSERT INTO roas (ca_id, asn, prefix, max_length, uri, ee_serial, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![ca_id, spec.asn.0, spec.prefix.to_string(), spec.max_length, uri, ee_serial, not_after.0],
    )?;
    Ok(())
}

/// ROA objects whose EE certificate expires before `t`: (CA id, URI).
pub fn expiring(c: &impl Sql, t: i64) -> Result<Vec<(i64, String)>> {
    Ok(c.rows("SELECT DISTINCT ca_id, uri FROM roas WHERE not_after < ?1", args![t], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Authorizations of every CA.
pub fn count(c: &impl Sql) -> Result<usize> {
    Ok(c.value("SELECT COUNT(*) FROM roas", args![])?)
}

/// Every CA's authorizations, by CA handle, prefix, max length and AS.
pub fn export(c: &impl Sql) -> Result<Vec<ExportRoa>> {
    Ok(c.rows(
        "SELECT c.handle, r.asn, r.prefix, r.max_length, r.uri FROM roas r JOIN cas c ON c.id = r.ca_id ORDER BY c.handle, r.prefix, r.max_length, r.asn",
        args![],
        |r| Ok(ExportRoa { ca: r.get(0)?, asn: r.get(1)?, prefix: r.get(2)?, max_length: r.get(3)?, uri: r.get(4)? }),
    )?)
}

/// The ROA objects and ASPAs of CAs `ids` (each signed with a one-time key).
pub fn signed_objects(c: &impl Sql, ids: &[i64]) -> Result<i64> {
    let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    Ok(c.value(
        &format!(
            "SELECT (SELECT COUNT(DISTINCT uri) FROM roas WHERE ca_id IN ({ids})) + (SELECT COUNT(*) FROM aspas WHERE ca_id IN ({ids}))"
        ),
        args![],
    )?)
}
