//! Delegated members as stored: `children` (their allocations and
//! identities), `child_certs` (the certificates the RIR CA issued them, one
//! per key) and `child_messages` (digests of their recent messages).

use crate::error::{CaError, Result};
use rpkit_objects::bpki::IdCert;
use rpkit_objects::cert::Cert;
use rpkit_objects::export::ExportDelegated;
use rpkit_objects::resources::{Afi, ResourceSet};
use rpkit_objects::up_down::{decode_asns, decode_ips, encode_asns, encode_ips, Limit};
use rpkit_serve::args;
use rpkit_serve::db::Sql;
use serde_json::json;

/// A delegated member as stored.
#[derive(Clone, Debug)]
pub(crate) struct Child {
    pub handle: String,
    pub resources: ResourceSet,
    pub id_cert: IdCert,
    pub suspended: bool,
    pub last_signing_time: Option<i64>,
}

/// A certificate the RIR CA issued to a child, for one of its keys.
#[derive(Clone, Debug)]
pub(crate) struct ChildCert {
    pub key_id: String,
    pub uri: String,
    pub not_after: i64,
    pub resources: ResourceSet,
    pub limit: Limit,
    pub sia: (String, String, Option<String>),
    pub der: Vec<u8>,
}

impl ChildCert {
    pub fn cert(&self) -> Result<Cert> {
        Cert::decode(&self.der).map_err(|e| CaError::Conflict(format!("stored child certificate {}: {e}", self.uri)))
    }
}

/// A delegated member's state: resources, suspended, last contact and
/// message, since when it is a child.
pub(crate) type ChildRow = (ResourceSet, bool, Option<i64>, Option<String>, i64);

fn parse_set(handle: &str, s: &str) -> Result<ResourceSet> {
    s.parse().map_err(|e| CaError::Conflict(format!("child '{handle}': stored resources: {e}")))
}

fn limit_to_text(l: &Limit) -> String {
    json!({
        "asn": l.asn.as_ref().map(encode_asns),
        "ipv4": l.ipv4.as_ref().map(encode_ips),
        "ipv6": l.ipv6.as_ref().map(encode_ips),
    })
    .to_string()
}

fn limit_from_text(s: &str) -> Limit {
    let v: serde_json::Value = serde_json::from_str(s).unwrap_or_default();
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Limit {
        asn: get("asn").and_then(|s| decode_asns(&s).ok()),
        ipv4: get("ipv4").and_then(|s| decode_ips(&s, Afi::Ipv4).ok()),
        ipv6: get("ipv6").and_then(|s| decode_ips(&s, Afi::Ipv6).ok()),
    }
}

/// The delegated member `handle`.
pub(crate) fn get(c: &impl Sql, handle: &str) -> Result<Option<Child>> {
    let row: Option<(String, Vec<u8>, bool, Option<i64>)> =
        c.row_opt("SELECT resources, id_cert, suspended, last_signing_time FROM children WHERE handle = ?1", args![handle], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let Some((res, id, suspended, last_signing_time)) = row else { return Ok(None) };
    let id_cert = IdCert::decode(&id).map_err(|e| CaError::Conflict(format!("child '{handle}': stored identity: {e}")))?;
    Ok(Some(Child { handle: handle.to_string(), resources: parse_set(handle, &res)?, id_cert, suspended, last_signing_time }))
}

/// Whether `handle` is a delegated member.
pub fn exists(c: &impl Sql, handle: &str) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM children WHERE handle = ?1)", args![handle])?)
}

/// A delegated member's state for the operator.
pub(crate) fn status(c: &impl Sql, handle: &str) -> Result<Option<ChildRow>> {
    type Row = (String, bool, Option<i64>, Option<String>, i64);
    let row: Option<Row> = c.row_opt(
        "SELECT resources, suspended, last_contact, last_message, created FROM children WHERE handle = ?1",
        args![handle],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    row.map(|(res, suspended, last_contact, last_message, created)| {
        Ok((parse_set(handle, &res)?, suspended, last_contact, last_message, created))
    })
    .transpose()
}

/// A new delegated member `handle` holding `resources`, with the identity `id_cert` (DER).
pub fn insert(c: &impl Sql, handle: &str, resources: &ResourceSet, id_cert: &[u8], created: i64) -> Result<()> {
    c.execute(
        "INSERT INTO children (handle, resources, id_cert, created) VALUES (?1, ?2, ?3, ?4)",
        args![handle, resources.to_string(), id_cert, created],
    )?;
    Ok(())
}

/// A new identity (DER) for `handle`: its messages' signing times start over.
pub fn set_identity(c: &impl Sql, handle: &str, id_cert: &[u8]) -> Result<()> {
    c.execute("UPDATE children SET id_cert = ?2, last_signing_time = NULL WHERE handle = ?1", args![handle, id_cert])?;
    Ok(())
}

/// `handle` holds `resources`.
pub fn set_resources(c: &impl Sql, handle: &str, resources: &ResourceSet) -> Result<()> {
    c.execute("UPDATE children SET resources = ?2 WHERE handle = ?1", args![handle, resources.to_string()])?;
    Ok(())
}

/// `handle` is suspended, or not.
pub fn set_suspended(c: &impl Sql, handle: &str, suspended: bool) -> Result<()> {
    c.execute("UPDATE children SET suspended = ?2 WHERE handle = ?1", args![handle, suspended])?;
    Ok(())
}

/// `handle` keeps the opaque id it had as a hosted member.
pub fn set_opaque_id(c: &impl Sql, handle: &str, opaque_id: Option<&str>) -> Result<()> {
    c.execute("UPDATE children SET opaque_id = ?2 WHERE handle = ?1", args![handle, opaque_id])?;
    Ok(())
}

/// Forget `handle` and its messages' digests.
pub fn delete(c: &impl Sql, handle: &str) -> Result<()> {
    c.execute("DELETE FROM child_messages WHERE handle = ?1", args![handle])?;
    c.execute("DELETE FROM children WHERE handle = ?1", args![handle])?;
    Ok(())
}

/// Per delegated member: last contact, when its earliest certificate ends
/// (0: none), whether it is suspended; by handle.
pub fn metrics(c: &impl Sql) -> Result<Vec<(String, i64, i64, bool)>> {
    Ok(c.rows(
        "SELECT h.handle, COALESCE(h.last_contact, 0), COALESCE(MIN(c.not_after), 0), h.suspended
                 FROM children h LEFT JOIN child_certs c ON c.handle = h.handle GROUP BY h.handle ORDER BY h.handle",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?)
}

// --- Certificates -----------------------------------------------------------------

/// The certificates `handle` holds, by key.
pub(crate) fn certs(c: &impl Sql, handle: &str) -> Result<Vec<ChildCert>> {
    let rows = c.rows(
        "SELECT key_id, uri, not_after, resources, req_limit, sia_repository, sia_manifest, sia_notify, cert
         FROM child_certs WHERE handle = ?1 ORDER BY key_id",
        args![handle],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<i64>(2)?,
                r.get::<String>(3)?,
                r.get::<String>(4)?,
                (r.get::<String>(5)?, r.get::<String>(6)?, r.get::<Option<String>>(7)?),
                r.get::<Vec<u8>>(8)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for (key_id, uri, not_after, res, limit, sia, der) in rows {
        out.push(ChildCert { key_id, uri, not_after, resources: parse_set(handle, &res)?, limit: limit_from_text(&limit), sia, der });
    }
    Ok(out)
}

/// Record (or replace) `handle`'s certificate `cc`, serial `serial`.
pub(crate) fn put_cert(c: &impl Sql, handle: &str, cc: &ChildCert, serial: i64) -> Result<()> {
    c.execute(
        "INSERT INTO child_certs (handle, key_id, uri, serial, not_after, resources, req_limit, sia_repository, sia_manifest, sia_notify, cert)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (handle, key_id) DO UPDATE SET uri = excluded.uri, serial = excluded.serial, not_after = excluded.not_after,
           resources = excluded.resources, req_limit = excluded.req_limit, sia_repository = excluded.sia_repository,
           sia_manifest = excluded.sia_manifest, sia_notify = excluded.sia_notify, cert = excluded.cert",
        args![
            handle,
            cc.key_id,
            cc.uri,
            serial,
            cc.not_after,
            cc.resources.to_string(),
            limit_to_text(&cc.limit),
            cc.sia.0,
            cc.sia.1,
            cc.sia.2,
            cc.der
        ],
    )?;
    Ok(())
}

/// Forget `handle`'s certificate for key `key` (hex).
pub fn delete_cert(c: &impl Sql, handle: &str, key: &str) -> Result<()> {
    c.execute("DELETE FROM child_certs WHERE handle = ?1 AND key_id = ?2", args![handle, key])?;
    Ok(())
}

/// The delegated members holding certificates, in order.
pub fn certified(c: &impl Sql) -> Result<Vec<String>> {
    Ok(c.rows("SELECT DISTINCT handle FROM child_certs ORDER BY handle", args![], |r| r.get(0))?)
}

/// Whether key `key` (hex) is another child's, or any CA's here.
pub fn key_used_elsewhere(c: &impl Sql, key: &str, handle: &str) -> Result<bool> {
    Ok(c.value(
        "SELECT EXISTS (SELECT 1 FROM child_certs WHERE key_id = ?1 AND handle != ?2)
                     OR EXISTS (SELECT 1 FROM cas WHERE key_id = ?1) OR EXISTS (SELECT 1 FROM keyrolls WHERE key_id = ?1)",
        args![key, handle],
    )?)
}

/// The certificates issued to delegated members, by URI.
pub fn export(c: &impl Sql) -> Result<Vec<ExportDelegated>> {
    Ok(c.rows("SELECT uri, handle, resources FROM child_certs ORDER BY uri", args![], |r| {
        Ok(ExportDelegated { uri: r.get(0)?, member: r.get(1)?, resources: r.get(2)? })
    })?)
}

// --- Messages ---------------------------------------------------------------------

/// Whether `handle` sent the message of SHA-256 `digest` before.
pub fn message_seen(c: &impl Sql, handle: &str, digest: &[u8]) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM child_messages WHERE handle = ?1 AND digest = ?2)", args![handle, digest])?)
}

/// `handle` sent a message of type `kind` signed at `signed_at`, received at `now`.
pub fn contact(c: &impl Sql, handle: &str, now: i64, signed_at: i64, kind: &str) -> Result<()> {
    c.execute(
        "UPDATE children SET last_contact = ?2, last_signing_time = MAX(COALESCE(last_signing_time, 0), ?3), last_message = ?4
                 WHERE handle = ?1",
        args![handle, now, signed_at, kind],
    )?;
    Ok(())
}

/// The digest of `handle`'s message signed at `signed_at`.
pub fn add_message(c: &impl Sql, handle: &str, digest: &[u8], signed_at: i64) -> Result<()> {
    c.execute(
        "INSERT INTO child_messages (handle, digest, signing_time) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![handle, digest, signed_at],
    )?;
    Ok(())
}

/// Forget the digests of `handle`'s messages signed before `t`.
pub fn forget_messages_before(c: &impl Sql, handle: &str, t: i64) -> Result<()> {
    c.execute("DELETE FROM child_messages WHERE handle = ?1 AND signing_time < ?2", args![handle, t])?;
    Ok(())
}
