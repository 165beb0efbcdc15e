//! Members' ASPAs: one object per customer AS listing all its providers (ASPA-8).

use crate::contract::AspaSpec;
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::service::{ee_spec, member_id, serial_i64, Ca};
use crate::store;
use crate::work::{CaRecord, Work};
use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::crypto::Signer;
use rpkit_objects::file_type::FileType;
use rpkit_objects::resources::Asn;
use serde_json::json;

impl Ca {
    // --- ASPAs -------------------------------------------------------------------

    pub fn aspas(&self, handle: &str) -> Result<Vec<AspaSpec>> {
        self.read(|c| store::aspas::of_ca(c, member_id(c, handle)?))
    }

    /// Create or replace the ASPA of one customer AS (ASPA-8: the old object is
    /// revoked and withdrawn).
    pub fn put_aspa(&self, handle: &str, spec: &AspaSpec) -> Result<()> {
        let content = AspaContent::new(Asn(spec.customer), spec.providers.iter().map(|p| Asn(*p)))
            .map_err(|e| CaError::invalid("bad_aspa", e.detail.to_string()))?;
        self.fill_key_pool(2)?;
        let event = Event::new("aspa.put", Some(handle), json!(spec));
        self.change(event, |w| {
            let ca = w.ca_by_handle(handle)?;
            if !ca.resources.asn.contains_asn(content.customer) {
                return Err(CaError::invalid("not_held", format!("{} is not among the member's AS numbers", content.customer)));
            }
            withdraw_aspa(w, &ca, spec.customer)?;
            issue_aspa(w, &ca, spec)
        })
    }

    pub fn remove_aspa(&self, handle: &str, customer: u32) -> Result<()> {
        self.change(Event::new("aspa.remove", Some(handle), json!({ "customer": customer })), |w| {
            let ca = w.ca_by_handle(handle)?;
            if !withdraw_aspa(w, &ca, customer)? {
                return Err(CaError::NotFound(format!("ASPA for AS{customer}")));
            }
            Ok(())
        })
    }
}

pub(crate) fn withdraw_aspa(w: &mut Work<'_>, ca: &CaRecord, customer: u32) -> Result<bool> {
    match store::aspas::delete(&w.tx, ca.id, customer)? {
        Some((uri, serial, not_after)) => {
            w.revoke(ca.id, &serial, not_after)?;
            w.remove_object(&uri)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Issue the ASPA of one customer AS (ASPA-8: one object per customer).
pub(crate) fn issue_aspa(w: &mut Work<'_>, ca: &CaRecord, spec: &AspaSpec) -> Result<()> {
    let content = AspaContent::new(Asn(spec.customer), spec.providers.iter().map(|p| Asn(*p)))
        .map_err(|e| CaError::invalid("bad_aspa", e.detail.to_string()))?;
    let key = w.signer.one_time_key()?;
    let uri = format!("{}{}", ca.pp_uri(w.cfg), FileType::Aspa.file_name(&key.public_key().key_id().file_stem()));
    let ee = ee_spec(w, ca, &uri)?;
    let aspa = Aspa::build(&content, &w.issuer(ca), &ee, key, w.now)?;
    let stored = AspaSpec { customer: spec.customer, providers: content.providers.iter().map(|p| p.0).collect() };
    store::aspas::insert(&w.tx, ca.id, &stored, &uri, serial_i64(&ee.serial), ee.not_after)?;
    w.put_object(Some(ca.id), &uri, aspa.signed.to_der().to_vec())
}
