//! The `cas` table: one row per CA (the TA, one per key during its key roll;
//! the RIR CA; hosted members), with its key, certificate, and the state of
//! its manifest and CRL.

use crate::config::CaConfig;
use crate::error::{CaError, Result};
use rpkit_objects::cert::Cert;
use rpkit_objects::crypto::KeyId;
use rpkit_objects::file_type::FileType;
use rpkit_objects::resources::ResourceSet;
use rpkit_serve::args;
use rpkit_serve::db::{DbResult, Row, Sql, ToValue};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaKind {
    Ta,
    Rir,
    Member,
}

impl CaKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CaKind::Ta => "ta",
            CaKind::Rir => "rir",
            CaKind::Member => "member",
        }
    }
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "ta" => CaKind::Ta,
            "rir" => CaKind::Rir,
            _ => CaKind::Member,
        }
    }
}

/// A CA as stored.
#[derive(Clone, Debug)]
pub struct CaRecord {
    pub id: i64,
    pub handle: String,
    pub kind: CaKind,
    pub parent_id: Option<i64>,
    pub key: KeyId,
    pub resources: ResourceSet,
    pub cert: Cert,
    pub cert_uri: String,
    pub opaque_id: Option<String>,
}

impl CaRecord {
    pub fn pp_uri(&self, cfg: &CaConfig) -> String {
        cfg.pp_uri(&self.handle)
    }
    pub fn crl_name(&self) -> String {
        FileType::Crl.file_name(&self.key.file_stem())
    }
    pub fn mft_name(&self) -> String {
        FileType::Manifest.file_name(&self.key.file_stem())
    }
    pub fn crl_uri(&self, cfg: &CaConfig) -> String {
        format!("{}{}", self.pp_uri(cfg), self.crl_name())
    }
    pub fn mft_uri(&self, cfg: &CaConfig) -> String {
        format!("{}{}", self.pp_uri(cfg), self.mft_name())
    }
}

/// A CA row to insert.
pub struct NewCa<'a> {
    pub handle: &'a str,
    pub kind: CaKind,
    pub parent: Option<i64>,
    pub key: KeyId,
    pub resources: &'a ResourceSet,
    pub cert: &'a Cert,
    pub cert_uri: &'a str,
    pub opaque_id: Option<&'a str>,
}

/// A key identifier as the database keeps it (hex), of CA `handle`.
pub(crate) fn stored_key(handle: &str, hex: &str) -> Result<KeyId> {
    KeyId::from_hex(hex).ok_or_else(|| CaError::Conflict(format!("CA '{handle}': bad key id {hex:?}")))
}

/// The current TA's id, as SQL: the RIR CA's parent; on an offline TA's own
/// side (no RIR CA there) the one a key roll made current; else the only one.
pub(crate) const CURRENT_TA_ID: &str = "COALESCE((SELECT parent_id FROM cas WHERE kind = 'rir'), \
     (SELECT CAST(value AS BIGINT) FROM settings WHERE key = 'ta_current'), (SELECT MIN(id) FROM cas WHERE kind = 'ta'))";

const CA_COLUMNS: &str = "id, handle, kind, parent_id, key_id, resources, cert, cert_uri, opaque_id";

/// A CA row as read, before its fields are parsed.
type RawCa = (i64, String, String, Option<i64>, String, String, Vec<u8>, String, Option<String>);

fn ca_from_row(r: &Row) -> DbResult<RawCa> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?))
}

fn record(raw: RawCa) -> Result<CaRecord> {
    let (id, handle, kind, parent_id, key_id, resources, cert, cert_uri, opaque_id) = raw;
    let key = stored_key(&handle, &key_id)?;
    Ok(CaRecord {
        id,
        handle: handle.clone(),
        kind: CaKind::parse(&kind),
        parent_id,
        key,
        resources: resources.parse().map_err(|e| CaError::Conflict(format!("CA '{handle}': stored resources: {e}")))?,
        cert: Cert::decode(&cert).map_err(|e| CaError::Conflict(format!("CA '{handle}': stored certificate: {e}")))?,
        cert_uri,
        opaque_id,
    })
}

fn one(c: &impl Sql, cond: &str, p: &[&dyn ToValue]) -> Result<Option<CaRecord>> {
    let row = c.row_opt(&format!("SELECT {CA_COLUMNS} FROM cas WHERE {cond}"), p, ca_from_row)?;
    row.map(record).transpose()
}

/// The CA `handle`.
pub fn by_handle(c: &impl Sql, handle: &str) -> Result<Option<CaRecord>> {
    one(c, "handle = ?1", args![handle])
}

/// The CA `id`.
pub fn by_id(c: &impl Sql, id: i64) -> Result<Option<CaRecord>> {
    one(c, "id = ?1", args![id])
}

/// A CA of `kind` (the RIR CA, or a TA).
pub fn by_kind(c: &impl Sql, kind: CaKind) -> Result<Option<CaRecord>> {
    one(c, "kind = ?1", args![kind.as_str()])
}

/// The RIR CA, once it exists.
pub fn rir(c: &impl Sql) -> Result<Option<CaRecord>> {
    one(c, "kind = 'rir'", args![])
}

/// The current TA's id (see `CURRENT_TA_ID`), once there is a TA.
pub fn current_ta_id(c: &impl Sql) -> Result<Option<i64>> {
    Ok(c.value_opt::<Option<i64>>(&format!("SELECT {CURRENT_TA_ID}"), args![])?.flatten())
}

/// The current TA's certificate (DER) and URI, once there is one.
pub fn ta_cert(c: &impl Sql) -> Result<Option<(Vec<u8>, String)>> {
    let sql = format!("SELECT cert, cert_uri FROM cas WHERE id = {CURRENT_TA_ID}");
    Ok(c.row_opt(&sql, args![], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The id of the CA `handle`, of any kind.
pub fn id(c: &impl Sql, handle: &str) -> Result<Option<i64>> {
    Ok(c.value_opt("SELECT id FROM cas WHERE handle = ?1", args![handle])?)
}

/// Whether CA `id` exists.
pub fn exists(c: &impl Sql, id: i64) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM cas WHERE id = ?1)", args![id])?)
}

/// Insert a CA row, created (and its key held since) `created`; its id.
pub fn insert(c: &impl Sql, ca: &NewCa<'_>, created: i64) -> Result<i64> {
    Ok(c.value(
        "INSERT INTO cas (handle, kind, parent_id, key_id, resources, cert, cert_uri, opaque_id, created, key_since)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9) RETURNING id",
        args![
            ca.handle,
            ca.kind.as_str(),
            ca.parent,
            ca.key.hex(),
            ca.resources.to_string(),
            ca.cert.to_der(),
            ca.cert_uri,
            ca.opaque_id,
            created
        ],
    )?)
}

/// Forget CA `id`'s row.
pub fn delete(c: &impl Sql, id: i64) -> Result<()> {
    c.execute("DELETE FROM cas WHERE id = ?1", args![id])?;
    Ok(())
}

/// Take the next serial number in CA `ca_id`'s space.
pub fn next_serial(c: &impl Sql, ca_id: i64) -> Result<i64> {
    Ok(c.value("UPDATE cas SET next_serial = next_serial + 1 WHERE id = ?1 RETURNING next_serial - 1", args![ca_id])?)
}

/// CA `ca_id`'s current key (hex).
pub fn key_id(c: &impl Sql, ca_id: i64) -> Result<String> {
    Ok(c.value("SELECT key_id FROM cas WHERE id = ?1", args![ca_id])?)
}

/// The CA `handle`'s id, kind, key (hex) and since when it holds that key.
pub fn key_of(c: &impl Sql, handle: &str) -> Result<Option<(i64, String, String, i64)>> {
    Ok(c.row_opt("SELECT id, kind, key_id, COALESCE(key_since, created) FROM cas WHERE handle = ?1", args![handle], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?)
}

/// The RIR CA's key (hex), once it exists.
pub fn rir_key(c: &impl Sql) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT key_id FROM cas WHERE kind = 'rir'", args![])?)
}

/// The opaque id of the CA `handle` (which must exist).
pub fn opaque_id(c: &impl Sql, handle: &str) -> Result<Option<String>> {
    Ok(c.value("SELECT opaque_id FROM cas WHERE handle = ?1", args![handle])?)
}

/// The CAs CA `parent_id` certified, in order.
pub fn children_of(c: &impl Sql, parent_id: i64) -> Result<Vec<i64>> {
    Ok(c.rows("SELECT id FROM cas WHERE parent_id = ?1 ORDER BY id", args![parent_id], |r| r.get(0))?)
}

/// CA `id`'s certificate (DER), re-issued for the same key.
pub fn set_cert(c: &impl Sql, id: i64, cert: &[u8]) -> Result<()> {
    c.execute("UPDATE cas SET cert = ?2 WHERE id = ?1", args![id, cert])?;
    Ok(())
}

/// CA `id`'s certificate (DER) and its URI, from a parent elsewhere, for `resources`.
pub fn set_cert_from_parent(c: &impl Sql, id: i64, cert: &[u8], uri: &str, resources: &ResourceSet) -> Result<()> {
    c.execute("UPDATE cas SET cert = ?2, cert_uri = ?3, resources = ?4 WHERE id = ?1", args![id, cert, uri, resources.to_string()])?;
    Ok(())
}

/// CA `id` below `parent`, with the certificate (DER) at `uri` it issued.
pub fn set_parent(c: &impl Sql, id: i64, parent: i64, cert: &[u8], uri: &str) -> Result<()> {
    c.execute("UPDATE cas SET parent_id = ?2, cert = ?3, cert_uri = ?4 WHERE id = ?1", args![id, parent, cert, uri])?;
    Ok(())
}

/// `set_parent`, for `resources` too.
pub fn set_parent_and_resources(c: &impl Sql, id: i64, parent: i64, cert: &[u8], uri: &str, resources: &ResourceSet) -> Result<()> {
    c.execute(
        "UPDATE cas SET parent_id = ?2, cert = ?3, cert_uri = ?4, resources = ?5 WHERE id = ?1",
        args![id, parent, cert, uri, resources.to_string()],
    )?;
    Ok(())
}

// --- Trust anchors ----------------------------------------------------------------

/// Whether a TA exists here.
pub fn has_ta(c: &impl Sql) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM cas WHERE kind = 'ta')", args![])?)
}

/// Whether a TA's key is held here (in software or in the token).
pub fn has_ta_key(c: &impl Sql) -> Result<bool> {
    Ok(c.row(
        "SELECT EXISTS (SELECT 1 FROM cas c JOIN keys k ON k.key_id = c.key_id WHERE c.kind = 'ta')
                 OR EXISTS (SELECT 1 FROM cas c JOIN token_keys k ON k.key_id = c.key_id WHERE c.kind = 'ta')",
        args![],
        |r| r.get::<bool>(0),
    )?)
}

/// The TA instances' ids, in order.
pub fn ta_ids_in_order(c: &impl Sql) -> Result<Vec<i64>> {
    Ok(c.rows("SELECT id FROM cas WHERE kind = 'ta' ORDER BY id", args![], |r| r.get(0))?)
}

/// The TA instances' ids.
pub fn ta_ids(c: &impl Sql) -> Result<Vec<i64>> {
    Ok(c.rows("SELECT id FROM cas WHERE kind = 'ta'", args![], |r| r.get(0))?)
}

/// The TA instance of key `key` (hex).
pub fn ta_by_key(c: &impl Sql, key: &str) -> Result<Option<i64>> {
    Ok(c.value_opt("SELECT id FROM cas WHERE kind = 'ta' AND key_id = ?1", args![key])?)
}

/// TA `id`'s certificate (DER) as it last signed it, for `resources`.
pub fn set_ta_cert(c: &impl Sql, id: i64, cert: &[u8], resources: &ResourceSet) -> Result<()> {
    c.execute("UPDATE cas SET cert = ?2, resources = ?3 WHERE id = ?1", args![id, cert, resources.to_string()])?;
    Ok(())
}

// --- Manifests and CRLs -----------------------------------------------------------

/// A key's manifest and CRL state: the numbers last issued, and the last
/// manifest's EE serial, thisUpdate and nextUpdate (none before the first).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MftState {
    pub manifest_number: i64,
    pub crl_number: i64,
    pub mft_ee_serial: Option<i64>,
    pub this_update: Option<i64>,
    pub next_update: Option<i64>,
}

/// A manifest and CRL state read as `SELECT mft_ee_serial, mft_this_update,
/// mft_next_update, manifest_number, crl_number`.
pub(super) fn mft_row(r: &Row) -> DbResult<MftState> {
    Ok(MftState {
        mft_ee_serial: r.get(0)?,
        this_update: r.get(1)?,
        next_update: r.get(2)?,
        manifest_number: r.get(3)?,
        crl_number: r.get(4)?,
    })
}

/// The manifest and CRL state of CA `id`'s current key.
pub fn mft_state(c: &impl Sql, id: i64) -> Result<MftState> {
    Ok(c.row(
        "SELECT mft_ee_serial, mft_this_update, mft_next_update, manifest_number, crl_number FROM cas WHERE id = ?1",
        args![id],
        mft_row,
    )?)
}

/// Record the manifest and CRL just issued by CA `id`'s current key.
pub fn set_mft_state(c: &impl Sql, id: i64, s: &MftState) -> Result<()> {
    c.execute(
        "UPDATE cas SET manifest_number = ?2, crl_number = ?3, mft_ee_serial = ?4, mft_this_update = ?5, mft_next_update = ?6 WHERE id = ?1",
        args![id, s.manifest_number, s.crl_number, s.mft_ee_serial, s.this_update, s.next_update],
    )?;
    Ok(())
}

// --- The schedule ------------------------------------------------------------------

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
