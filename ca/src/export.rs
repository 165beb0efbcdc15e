//! The CA's statement of intent for auditors (`GET /api/v1/export`): every
//! object it publishes with its hash, and the ROAs and ASPAs behind them, read
//! under the connection lock, so that the three lists agree.

use crate::error::Result;
use crate::service::Ca;
use crate::store;
use rpkit_objects::export::Export;

impl Ca {
    pub fn export(&self) -> Result<Export> {
        let generated = self.now().rfc3339();
        self.read(|c| {
            let objects = store::objects::export(c)?;
            let roas = store::roas::export(c)?;
            let aspas = store::aspas::export(c)?;
            let delegated = store::children::export(c)?;
            Ok(Export { generated, objects, roas, aspas, delegated })
        })
    }
}
