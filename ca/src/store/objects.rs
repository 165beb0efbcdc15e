//! The `objects` table: every object the CA publishes, with the CA that
//! issued it (`None` for the TA certificate).

use crate::error::Result;
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
