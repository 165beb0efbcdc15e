//! The `aspas` table: one ASPA object per customer AS of a CA (ASPA-8).

use crate::contract::AspaSpec;
use crate::error::Result;
use rpkit_objects::der::Time;
use rpkit_objects::export::ExportAspa;
use rpkit_objects::serial::Serial;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// Providers as stored: AS numbers joined by commas.
fn parse_providers(s: &str) -> Vec<u32> {
    s.split(',').filter_map(|p| p.parse().ok()).collect()
}

/// The ASPAs of CA `ca_id`, by customer AS.
pub fn of_ca(c: &impl Sql, ca_id: i64) -> Result<Vec<AspaSpec>> {
    Ok(c.rows("SELECT customer, providers FROM aspas WHERE ca_id = ?1 ORDER BY customer", args![ca_id], |r| {
        Ok(AspaSpec { customer: r.get(0)?, providers: parse_providers(&r.get::<String>(1)?) })
    })?)
}

/// The customer ASes of CA `ca_id`'s ASPAs.
pub fn customers(c: &impl Sql, ca_id: i64) -> Result<Vec<u32>> {
    Ok(c.rows("SELECT customer FROM aspas WHERE ca_id = ?1", args![ca_id], |r| r.get(0))?)
}

/// The providers of one customer's ASPA.
pub fn providers(c: &impl Sql, ca_id: i64, customer: u32) -> Result<Vec<u32>> {
    let s: String = c.value("SELECT providers FROM aspas WHERE ca_id = ?1 AND customer = ?2", args![ca_id, customer])?;
    Ok(parse_providers(&s))
}

/// Forget one customer's ASPA: its object's URI, EE serial and expiry, if there was one.
pub fn delete(c: &impl Sql, ca_id: i64, customer: u32) -> Result<Option<(String, Serial, Time)>> {
    Ok(c.row_opt(
        "DELETE FROM aspas WHERE ca_id = ?1 AND customer = ?2 RETURNING uri, ee_serial, not_after",
        args![ca_id, customer],
        |x| Ok((x.get(0)?, Serial::from_u64(x.get::<i64>(1)? as u64), Time(x.get(2)?))),
    )?)
}

/// Record the ASPA object at `uri` for `spec`.
pub fn insert(c: &impl Sql, ca_id: i64, spec: &AspaSpec, uri: &str, ee_serial: i64, not_after: Time) -> Result<()> {
    let providers = spec.providers.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    c.execute(
        "INSERT INTO aspas (ca_id, customer, providers, uri, ee_serial, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![ca_id, spec.customer, providers, uri, ee_serial, not_after.0],
    )?;
    Ok(())
}

/// ASPAs whose EE certificate expires before `t`: (CA id, customer).
pub fn expiring(c: &impl Sql, t: i64) -> Result<Vec<(i64, u32)>> {
    Ok(c.rows("SELECT ca_id, customer FROM aspas WHERE not_after < ?1", args![t], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Every CA's ASPAs, by CA handle and customer AS.
pub fn export(c: &impl Sql) -> Result<Vec<ExportAspa>> {
    Ok(c.rows(
        "SELECT c.handle, a.customer, a.providers, a.uri FROM aspas a JOIN cas c ON c.id = a.ca_id ORDER BY c.handle, a.customer",
        args![],
        |r| {
            let providers: String = r.get(2)?;
            Ok(ExportAspa { ca: r.get(0)?, customer: r.get(1)?, providers: parse_providers(&providers), uri: r.get(3)? })
        },
    )?)
}
