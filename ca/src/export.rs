//! The CA's statement of intent for auditors (`GET /api/v1/export`): every
//! object it publishes with its hash, and the ROAs and ASPAs behind them, read
//! under the connection lock, so that the three lists agree.

use crate::aspas::parse_providers;
use crate::error::Result;
use crate::service::Ca;
use rpkit_objects::export::{Export, ExportAspa, ExportDelegated, ExportObject, ExportRoa};

impl Ca {
    pub fn export(&self) -> Result<Export> {
        let generated = self.now().rfc3339();
        self.read(|c| {
            let mut st = c.prepare(
                "SELECT o.uri, o.hash, COALESCE(c.handle, '') FROM objects o LEFT JOIN cas c ON c.id = o.ca_id ORDER BY o.uri",
            )?;
            let objects = st
                .query_map([], |r| {
                    let hash: Vec<u8> = r.get(1)?;
                    Ok(ExportObject { uri: r.get(0)?, sha256: rpkit_objects::hex::lower(&hash), ca: r.get(2)? })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut st = c.prepare(
                "SELECT c.handle, r.asn, r.prefix, r.max_length, r.uri FROM roas r JOIN cas c ON c.id = r.ca_id ORDER BY c.handle, r.prefix, r.max_length, r.asn",
            )?;
            let roas = st
                .query_map([], |r| Ok(ExportRoa { ca: r.get(0)?, asn: r.get(1)?, prefix: r.get(2)?, max_length: r.get(3)?, uri: r.get(4)? }))?
                .collect::<rusqlite::Result<_>>()?;
            let mut st =
                c.prepare("SELECT c.handle, a.customer, a.providers, a.uri FROM aspas a JOIN cas c ON c.id = a.ca_id ORDER BY c.handle, a.customer")?;
            let aspas = st
                .query_map([], |r| {
                    let providers: String = r.get(2)?;
                    Ok(ExportAspa { ca: r.get(0)?, customer: r.get(1)?, providers: parse_providers(&providers), uri: r.get(3)? })
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut st = c.prepare("SELECT uri, handle, resources FROM child_certs ORDER BY uri")?;
            let delegated =
                st.query_map([], |r| Ok(ExportDelegated { uri: r.get(0)?, member: r.get(1)?, resources: r.get(2)? }))?.collect::<rusqlite::Result<_>>()?;
            Ok(Export { generated, objects, roas, aspas, delegated })
        })
    }
}
