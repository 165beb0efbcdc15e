//! Members as stored: hosted members are rows of `cas` (kind `member`),
//! delegated ones rows of `children`; their tokens in `tokens`.

use crate::error::{CaError, Result};
use rpkit_objects::resources::ResourceSet;
use rpkit_serve::args;
use rpkit_serve::db::Sql;
use std::collections::BTreeMap;

/// A hosted member's row.
#[derive(Clone, Debug)]
pub struct HostedRow {
    pub handle: String,
    pub opaque_id: Option<String>,
    pub resources: ResourceSet,
    pub cert_uri: String,
}

fn resources(text: &str) -> Result<ResourceSet> {
    text.parse().map_err(|e| CaError::Conflict(format!("stored resources {text}: {e}")))
}

/// The CA id of the hosted member `handle`.
pub fn id(c: &impl Sql, handle: &str) -> Result<Option<i64>> {
    Ok(c.value_opt("SELECT id FROM cas WHERE handle = ?1 AND kind = 'member'", args![handle])?)
}

/// The hosted member `handle`.
pub fn hosted(c: &impl Sql, handle: &str) -> Result<Option<HostedRow>> {
    let row: Option<(String, Option<String>, String, String)> =
        c.row_opt("SELECT handle, opaque_id, resources, cert_uri FROM cas WHERE handle = ?1 AND kind = 'member'", args![handle], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    row.map(|(handle, opaque_id, res, cert_uri)| Ok(HostedRow { handle, opaque_id, resources: resources(&res)?, cert_uri })).transpose()
}

/// The resources of the hosted member `handle` (as stored).
pub fn hosted_resources(c: &impl Sql, handle: &str) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT resources FROM cas WHERE handle = ?1 AND kind = 'member'", args![handle])?)
}

/// Every member's handle and resources (as stored), hosted and delegated.
pub fn all_resources(c: &impl Sql) -> Result<Vec<(String, String)>> {
    Ok(c.rows("SELECT handle, resources FROM cas WHERE kind = 'member' UNION SELECT handle, resources FROM children", args![], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?)
}

/// The opaque id (delegated-extended) of the delegated member `handle`.
pub fn child_opaque_id(c: &impl Sql, handle: &str) -> Result<Option<String>> {
    Ok(c.value("SELECT opaque_id FROM children WHERE handle = ?1", args![handle])?)
}

/// Every member's handle, hosted and delegated, in order.
pub fn handles(c: &impl Sql) -> Result<Vec<String>> {
    Ok(c.rows("SELECT handle FROM cas WHERE kind = 'member' UNION SELECT handle FROM children ORDER BY handle", args![], |r| r.get(0))?)
}

/// Members by opaque id, hosted and delegated (those that have one).
pub fn by_opaque_id(c: &impl Sql) -> Result<BTreeMap<String, String>> {
    let v: Vec<(String, String)> = c.rows(
        "SELECT opaque_id, handle FROM cas WHERE kind = 'member' AND opaque_id IS NOT NULL
         UNION SELECT opaque_id, handle FROM children WHERE opaque_id IS NOT NULL",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(v.into_iter().collect())
}

/// The RIR CA's resources, once it exists.
pub fn rir_resources(c: &impl Sql) -> Result<Option<ResourceSet>> {
    c.value_opt::<String>("SELECT resources FROM cas WHERE kind = 'rir'", args![])?.map(|t| resources(&t)).transpose()
}

/// The resources of CA `ca_id`.
pub fn resources_of(c: &impl Sql, ca_id: i64) -> Result<ResourceSet> {
    resources(&c.value::<String>("SELECT resources FROM cas WHERE id = ?1", args![ca_id])?)
}

/// Hosted members.
pub fn count(c: &impl Sql) -> Result<usize> {
    Ok(c.value("SELECT COUNT(*) FROM cas WHERE kind = 'member'", args![])?)
}

/// CA `ca_id` holds `resources` with the certificate `cert` (DER).
pub fn set_resources(c: &impl Sql, ca_id: i64, resources: &ResourceSet, cert: &[u8]) -> Result<()> {
    c.execute("UPDATE cas SET resources = ?2, cert = ?3 WHERE id = ?1", args![ca_id, resources.to_string(), cert])?;
    Ok(())
}

/// Forget CA `ca_id` and its records (ROAs, ASPAs, router certificates,
/// revocations, tokens); its objects are withdrawn first.
pub fn delete(c: &impl Sql, ca_id: i64) -> Result<()> {
    for table in ["roas", "aspas", "router_certs", "revocations", "tokens"] {
        c.execute(&format!("DELETE FROM {table} WHERE ca_id = ?1"), args![ca_id])?;
    }
    c.execute("DELETE FROM cas WHERE id = ?1", args![ca_id])?;
    Ok(())
}

/// A member's bearer token, by its hash.
pub fn add_token(c: &impl Sql, hash: &str, ca_id: i64, created: i64) -> Result<()> {
    c.execute("INSERT INTO tokens (hash, ca_id, created) VALUES (?1, ?2, ?3)", args![hash, ca_id, created])?;
    Ok(())
}

/// The member a token's hash belongs to.
pub fn of_token(c: &impl Sql, hash: &str) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT c.handle FROM tokens t JOIN cas c ON c.id = t.ca_id WHERE t.hash = ?1", args![hash])?)
}
