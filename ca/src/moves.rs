//! Moving a member between a hosted CA and one of its own (RFC 6492) with no
//! gap in its VRPs.
//!
//! - Delegate: the member is onboarded as a child while its hosted CA and
//!   ROAs stay published. Once its own CA has published the same ROAs and
//!   ASPAs (seen through a `ChildView`, a relying party's view of its
//!   repository), or the operator confirms, the hosted CA is retired.
//! - Host: the child's published ROAs and ASPAs are re-created in a new
//!   hosted CA and published; only then is the child's certificate revoked.

use crate::contract::{AspaSpec, MoveStatus, RoaSpec};
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::service::Ca;
use crate::store;
use crate::work::CaKind;
use rpkit_objects::cert::Cert;
use rpkit_objects::rfc8183::{ChildRequest, ParentResponse};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a CA published below its certificate, as a relying party validates it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub roas: BTreeSet<RoaSpec>,
    /// customer AS -> providers
    pub aspas: BTreeMap<u32, BTreeSet<u32>>,
}

/// Reads what a delegated child published below its certificate. The CA
/// cannot validate other repositories itself: the command that runs it gives
/// it a validator's view.
pub trait ChildView: Send + Sync {
    fn published(&self, cert: &Cert, uri: &str) -> std::result::Result<Published, String>;
}

impl Ca {
    /// The view delegated children's repositories are read through.
    pub fn set_child_view(&self, view: Arc<dyn ChildView>) {
        let _ = self.child_view.set(view);
    }

    fn view(&self) -> Result<&Arc<dyn ChildView>> {
        self.child_view.get().ok_or_else(|| CaError::NotFound("a view of children's repositories (it is set by `rpkit ca serve`)".into()))
    }

    /// Start moving hosted member `handle` to its own CA (`request`'s
    /// identity): it is onboarded as a child with its allocations, and stays
    /// hosted until its own CA publishes the same authorizations.
    pub fn delegate_member(&self, handle: &str, request: &ChildRequest, service_uri: &str) -> Result<ParentResponse> {
        let identity =
            self.identity.get().ok_or_else(|| CaError::NotFound("this CA's identity (it is loaded by `rpkit ca serve`)".into()))?;
        let event = Event::new("member.delegate", Some(handle), json!({ "identity": request.id_cert.ski.hex() }));
        self.change(event, |w| {
            w.always_recorded = true;
            let ca = w.ca_by_handle(handle).ok().filter(|c| c.kind == CaKind::Member);
            let ca = ca.ok_or_else(|| CaError::NotFound(format!("hosted member '{handle}'")))?;
            if store::children::exists(&w.tx, handle)? {
                return Err(CaError::Conflict(format!("member '{handle}' is already moving to its own CA")));
            }
            store::children::insert(&w.tx, handle, &ca.resources, request.id_cert.to_der(), w.now.0)?;
            store::moves::start(&w.tx, handle, w.now.0)?;
            Ok(())
        })?;
        Ok(self.parent_response(handle, request, service_uri, &identity.cert))
    }

    /// Finish a delegation: the hosted CA is retired once the member's own CA
    /// publishes every ROA and ASPA the hosted one does, or at once when the
    /// operator confirms (`confirmed`).
    pub fn complete_delegation(&self, handle: &str, confirmed: bool) -> Result<MoveStatus> {
        let moving = self.read(|c| store::moves::exists(c, handle))?;
        if !moving {
            return Err(CaError::NotFound(format!("a move of '{handle}' to its own CA")));
        }
        let missing = if confirmed { Vec::new() } else { self.still_missing(handle)? };
        if !missing.is_empty() {
            let text = missing.join(", ");
            self.write(|tx, now| store::moves::waiting(tx, handle, now.0, &text))?;
            return Ok(MoveStatus { handle: handle.into(), complete: false, waiting_for: missing });
        }
        let event = Event::new("member.delegated", Some(handle), json!({ "confirmed_by_operator": confirmed }));
        self.change(event, |w| {
            let opaque = store::cas::opaque_id(&w.tx, handle)?;
            crate::members::remove_hosted(w, handle)?;
            store::children::set_opaque_id(&w.tx, handle, opaque.as_deref())?;
            store::moves::forget(&w.tx, handle)
        })?;
        if let Err(e) = self.destroy_retired_keys() {
            tracing::warn!("the hosted CA's key of '{handle}' waits to be destroyed: {e}");
        }
        Ok(MoveStatus { handle: handle.into(), complete: true, waiting_for: Vec::new() })
    }

    /// The hosted member's ROAs and ASPAs its own CA does not publish yet.
    fn still_missing(&self, handle: &str) -> Result<Vec<String>> {
        let cert = self.read(|c| Ok(store::children::certs(c, handle)?.into_iter().next()))?;
        let Some(cert) = cert else { return Ok(vec!["its own CA's certificate (it has not asked for one yet)".into()]) };
        let published = self.view()?.published(&cert.cert()?, &cert.uri).map_err(CaError::Parent)?;
        let mut missing: Vec<String> = self
            .roas(handle)?
            .iter()
            .filter_map(|r| r.authorization())
            .filter(|r| !published.roas.contains(r))
            .map(|r| format!("ROA {r}"))
            .collect();
        for a in self.aspas(handle)? {
            let want: BTreeSet<u32> = a.providers.iter().copied().collect();
            if published.aspas.get(&a.customer) != Some(&want) {
                missing.push(format!("ASPA AS{}", a.customer));
            }
        }
        Ok(missing)
    }

    /// The schedule's part: complete every delegation whose member's CA now
    /// publishes what the hosted one does. Returns how many completed.
    pub fn check_moves(&self) -> Result<usize> {
        let handles = self.read(store::moves::handles)?;
        let _schedule = crate::history::acting_as(crate::history::Actor::Schedule);
        let mut done = 0;
        for h in handles {
            match self.complete_delegation(&h, false) {
                Ok(s) if s.complete => done += 1,
                Ok(_) => {}
                Err(e) => tracing::warn!("the move of '{h}' to its own CA: {e}"),
            }
        }
        Ok(done)
    }

    /// Move delegated member `handle` back to a hosted CA: its published ROAs
    /// and ASPAs are re-created and published here first; then the
    /// certificate of its own CA is revoked.
    pub fn host_member(&self, handle: &str) -> Result<crate::contract::MemberInfo> {
        let (resources, opaque, cert) = self.read(|c| {
            let child = store::children::get(c, handle)?.ok_or_else(|| CaError::NotFound(format!("delegated member '{handle}'")))?;
            let opaque = store::members::child_opaque_id(c, handle)?;
            Ok((child.resources, opaque, store::children::certs(c, handle)?.into_iter().next()))
        })?;
        let moving = self.read(|c| store::moves::started(c, handle))?;
        if moving.is_some() {
            return Err(CaError::Conflict(format!("'{handle}' is still hosted: its move to its own CA is not complete")));
        }
        let published = match &cert {
            Some(c) => {
                self.view()?.published(&c.cert()?, &c.uri).map_err(|e| CaError::Parent(format!("what '{handle}' published: {e}")))?
            }
            None => Published::default(),
        };
        let roas: BTreeSet<RoaSpec> = published.roas.into_iter().filter(|r| resources.contains_prefix(&r.prefix)).collect();
        let aspas: Vec<AspaSpec> = published
            .aspas
            .into_iter()
            .filter(|(c, _)| resources.asn.contains_asn(rpkit_objects::resources::Asn(*c)))
            .map(|(customer, p)| AspaSpec { customer, providers: p.into_iter().collect() })
            .collect();
        self.fill_key_pool(2 + roas.len() + aspas.len())?;
        let event = Event::new("member.host", Some(handle), json!({ "roas": roas.len(), "aspas": aspas.len() }));
        self.change(event, |w| {
            crate::members::add_member_moving_back(w, handle, &resources, opaque.as_deref())?;
            let ca = w.ca_by_handle(handle)?;
            crate::roas::sync_roas(w, &ca, &BTreeMap::new(), &roas)?;
            for a in &aspas {
                crate::aspas::issue_aspa(w, &ca, a)?;
            }
            Ok(())
        })?;
        // Published: the member's own CA can go.
        self.change(Event::new("member.hosted", Some(handle), json!({})), |w| {
            w.always_recorded = true;
            crate::children::remove_child(w, handle)
        })?;
        self.member(handle)
    }
}
