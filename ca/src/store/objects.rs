//! The `objects` table: every object the CA publishes, with the CA that
//! issued it (`None` for the TA certificate).

use super::cas::CURRENT_TA_ID;
use crate::error::Result;
use rpkit_objects::export::ExportObject;
use rpkit_objects::manifest::FileAndHash;
use rpkit_serve::args;
use rpkit_serve::db::Sql;
use std::collections::BTreeMap;

/// Every published object: URI → DER.
pub fn all(c: &impl Sql) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut v = BTreeMap::new();
    c.for_each("SELECT uri, der FROM objects", args![], |r| {
        v.insert(r.get(0)?, r.get(1)?);
        Ok::<(), rpkit_serve::db::DbError>(())
    })?;
    Ok(v)
}

/// The URIs of the objects CA `ca_id` issued.
pub fn uris_of(c: &impl Sql, ca_id: i64) -> Result<Vec<String>> {
    Ok(c.rows("SELECT uri FROM objects WHERE ca_id = ?1", args![ca_id], |r| r.get(0))?)
}

/// The SHA-256 of the object at `uri`, if one is published there.
pub fn hash(c: &impl Sql, uri: &str) -> Result<Option<Vec<u8>>> {
    Ok(c.value_opt("SELECT hash FROM objects WHERE uri = ?1", args![uri])?)
}

/// The SHA-256 of the object at `uri` and the CA that issued it, if one is published there.
pub fn hash_and_owner(c: &impl Sql, uri: &str) -> Result<Option<(Vec<u8>, Option<i64>)>> {
    Ok(c.row_opt("SELECT hash, ca_id FROM objects WHERE uri = ?1", args![uri], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The object at `uri` (DER), if one is published there.
pub fn der(c: &impl Sql, uri: &str) -> Result<Option<Vec<u8>>> {
    Ok(c.value_opt("SELECT der FROM objects WHERE uri = ?1", args![uri])?)
}

/// Store (or replace) the object at `uri`: its file name, DER and SHA-256.
pub fn put(c: &impl Sql, uri: &str, ca_id: Option<i64>, name: &str, der: &[u8], hash: &[u8]) -> Result<()> {
    c.execute(
        "INSERT INTO objects (uri, ca_id, name, der, hash) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (uri) DO UPDATE SET ca_id = excluded.ca_id, name = excluded.name, der = excluded.der, hash = excluded.hash",
        args![uri, ca_id, name, der, hash],
    )?;
    Ok(())
}

/// Forget the object at `uri`.
pub fn delete(c: &impl Sql, uri: &str) -> Result<()> {
    c.execute("DELETE FROM objects WHERE uri = ?1", args![uri])?;
    Ok(())
}

/// The objects at `a` and `b` are CA `ca_id`'s.
pub fn set_owner(c: &impl Sql, ca_id: i64, a: &str, b: &str) -> Result<()> {
    c.execute("UPDATE objects SET ca_id = ?1 WHERE uri IN (?2, ?3)", args![ca_id, a, b])?;
    Ok(())
}

/// The objects at `a` and `b` are no CA's (off its manifest).
pub fn disown(c: &impl Sql, a: &str, b: &str) -> Result<()> {
    c.execute("UPDATE objects SET ca_id = NULL WHERE uri IN (?1, ?2)", args![a, b])?;
    Ok(())
}

/// The files on CA `ca_id`'s manifest: everything it issued but the manifest `mft_name`, by name.
pub fn manifest_files(c: &impl Sql, ca_id: i64, mft_name: &str) -> Result<Vec<FileAndHash>> {
    Ok(c.rows("SELECT name, hash FROM objects WHERE ca_id = ?1 AND name != ?2 ORDER BY name", args![ca_id, mft_name], |r| {
        Ok(FileAndHash { file: r.get(0)?, hash: r.get(1)? })
    })?)
}

/// The current TA's manifest (DER), once there is one.
pub fn ta_manifest(c: &impl Sql) -> Result<Option<Vec<u8>>> {
    Ok(c.value_opt(&format!("SELECT der FROM objects WHERE ca_id = {CURRENT_TA_ID} AND name LIKE '%.mft' LIMIT 1"), args![])?)
}

/// The URIs of what the TA instances publish, their certificates too.
pub fn of_tas(c: &impl Sql) -> Result<Vec<String>> {
    Ok(c.rows(
        "SELECT o.uri FROM objects o WHERE o.ca_id IN (SELECT id FROM cas WHERE kind = 'ta')
             OR o.uri IN (SELECT cert_uri FROM cas WHERE kind = 'ta')",
        args![],
        |r| r.get(0),
    )?)
}

/// Every published object with its SHA-256 and the CA whose point holds it, by URI.
pub fn export(c: &impl Sql) -> Result<Vec<ExportObject>> {
    Ok(c.rows(
        "SELECT o.uri, o.hash, COALESCE(c.handle, '') FROM objects o LEFT JOIN cas c ON c.id = o.ca_id ORDER BY o.uri",
        args![],
        |r| {
            let hash: Vec<u8> = r.get(1)?;
            Ok(ExportObject { uri: r.get(0)?, sha256: rpkit_objects::hex::lower(&hash), ca: r.get(2)? })
        },
    )?)
}
