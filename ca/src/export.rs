//! The CA's statement of intent for auditors (`GET /api/v1/export`): every
//! object it publishes with its hash, and the ROAs and ASPAs behind them, read
//! under the connection lock, so that the three lists agree.

use crate::error::Result;
use crate::service::Ca;
use crate::store::aspas::parse_providers;
use rpkit_objects::export::{Export, ExportAspa, ExportDelegated, ExportObject, ExportRoa};
use rpkit_serve::args;
use rpkit_serve::db::Sql;

impl Ca {
    pub fn export(&self) -> Result<Export> {
        let generated = self.now().rfc3339();
        self.read(|c| {
            let objects = c.rows("SELECT o.uri, o.hash, COALESCE(c.handle, '') FROM objects o LEFT JOIN cas c ON c.id = o.ca_id ORDER BY o.uri", args![], |r| {
                    let hash: Vec<u8> = r.get(1)?;
                    Ok(ExportObject { uri: r.get(0)?, sha256: rpkit_objects::hex::lower(&hash), ca: r.get(2)? })
                })?;
            let roas = c.rows("SELECT c.handle, r.asn, r.prefix, r.max_length, r.uri FROM roas r JOIN cas c ON c.id = r.ca_id ORDER BY c.handle, r.prefix, r.max_length, r.asn", args![], |r| Ok(ExportRoa { ca: r.get(0)?, asn: r.get(1)?, prefix: r.get(2)?, max_length: r.get(3)?, uri: r.get(4)? }))?;
            let aspas = c.rows("SELECT c.handle, a.customer, a.providers, a.uri FROM aspas a JOIN cas c ON c.id = a.ca_id ORDER BY c.handle, a.customer", args![], |r| {
                    let providers: String = r.get(2)?;
                    Ok(ExportAspa { ca: r.get(0)?, customer: r.get(1)?, providers: parse_providers(&providers), uri: r.get(3)? })
                })?;
            let delegated = c.rows("SELECT uri, handle, resources FROM child_certs ORDER BY uri", args![], |r| Ok(ExportDelegated { uri: r.get(0)?, member: r.get(1)?, resources: r.get(2)? }))?;
            Ok(Export { generated, objects, roas, aspas, delegated })
        })
    }
}
