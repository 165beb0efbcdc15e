//! Members and their allocations: add, re-certify, remove, and the import of a
//! delegated-extended file as a difference against the current members.

use crate::aspas::withdraw_aspa;
use crate::contract::{ImportReport, MemberInfo, ResourceChange, RoaSpec};
use crate::delegated;
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::roas::{authorizations, roa_objects, sync_roas};
use crate::service::Ca;
use crate::store;
use crate::work::{CaKind, CaRecord, NewCa, Work};
use rpkit_objects::crypto::Signer;
use rpkit_objects::file_type::FileType;
use rpkit_objects::resources::{Asn, ResourceSet};
use rpkit_serve::db::Sql;
use serde_json::json;

/// Valid member handles: also directory names in the repository.
pub fn check_handle(h: &str) -> Result<()> {
    let ok = !h.is_empty() && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(CaError::invalid("bad_handle", format!("'{h}' is not a valid handle (1-64 of A-Z a-z 0-9 - _)")));
    }
    Ok(())
}

impl Ca {
    // --- Members -----------------------------------------------------------------

    /// Add a member with its allocations; its CA is certified by the RIR CA.
    pub fn add_member(&self, handle: &str, resources: &ResourceSet, opaque_id: Option<&str>) -> Result<MemberInfo> {
        check_handle(handle)?;
        self.fill_key_pool(2)?;
        let event = Event::new("member.add", Some(handle), json!({ "resources": resources.to_string(), "opaque_id": opaque_id }));
        self.change(event, |w| add_member(w, handle, resources, opaque_id))?;
        self.member(handle)
    }

    pub fn member(&self, handle: &str) -> Result<MemberInfo> {
        self.read(|c| {
            let Some(store::members::HostedRow { handle, opaque_id, resources: res, cert_uri }) = store::members::hosted(c, handle)? else {
                return self.delegated_member(c, handle);
            };
            // A member moving to its own CA is hosted and a child at once (moves.rs).
            let delegated = self.child_status(c, &handle)?.map(|(_, s)| s);
            Ok(MemberInfo {
                publication_point: self.config.pp_uri(&handle),
                handle,
                opaque_id,
                resources: (&res).into(),
                ca_certificate: cert_uri,
                kind: if delegated.is_some() { "moving" } else { "hosted" }.into(),
                delegated,
            })
        })
    }

    /// A member that runs its own CA (children.rs).
    fn delegated_member(&self, c: &impl Sql, handle: &str) -> Result<MemberInfo> {
        let (res, status) = self.child_status(c, handle)?.ok_or_else(|| CaError::NotFound(format!("member '{handle}'")))?;
        let opaque_id = store::members::child_opaque_id(c, handle)?;
        let current = status.certificates.first();
        Ok(MemberInfo {
            handle: handle.to_string(),
            opaque_id,
            resources: (&res).into(),
            ca_certificate: current.map(|c| c.uri.clone()).unwrap_or_default(),
            publication_point: current.map(|c| c.publication_point.clone()).unwrap_or_default(),
            kind: "delegated".into(),
            delegated: Some(status),
        })
    }

    pub fn members(&self) -> Result<Vec<MemberInfo>> {
        let handles = self.read(store::members::handles)?;
        handles.iter().map(|h| self.member(h)).collect()
    }

    /// Set a member's allocations: its certificate is re-issued under the same
    /// name (REPO-3) and ROAs/ASPAs no longer covered are withdrawn.
    pub fn set_member_resources(&self, handle: &str, resources: &ResourceSet) -> Result<Option<ResourceChange>> {
        self.change(Event::new("member.resources", Some(handle), json!({ "resources": resources.to_string() })), |w| {
            set_resources(w, handle, resources)
        })
    }

    /// Remove a member: its certificate is revoked, everything it published withdrawn.
    pub fn remove_member(&self, handle: &str) -> Result<()> {
        self.change(Event::new("member.remove", Some(handle), json!({})), |w| remove_member(w, handle))?;
        // A key that cannot be destroyed now (a token fault) is tried again by the schedule.
        if let Err(e) = self.destroy_retired_keys() {
            tracing::warn!("the removed member's keys wait to be destroyed: {e}");
        }
        Ok(())
    }

    /// Apply a delegated-extended file: new holders become members, changed
    /// allocations are re-certified, holders no longer listed are removed.
    pub fn import_delegated(&self, text: &str) -> Result<ImportReport> {
        let holders = delegated::parse(text).map_err(|e| CaError::invalid("bad_delegated_file", e.to_string()))?;
        let (existing, rir) = self.read(|c| Ok((store::members::by_opaque_id(c)?, store::members::rir_resources(c)?)))?;
        // Refuse a file the RIR cannot certify before generating any key.
        let rir = rir.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))?;
        if let Some((id, h)) = holders.iter().find(|(_, h)| !rir.contains(&h.resources)) {
            let extra = h.resources.difference(&rir);
            return Err(CaError::invalid("not_held", format!("holder {id}: {extra} is outside the RIR's resources")));
        }
        let new_count = holders.keys().filter(|k| !existing.contains_key(*k)).count();
        self.fill_key_pool(new_count * 2)?;
        let file =
            json!({ "sha256": rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(text.as_bytes())), "holders": holders.len() });
        self.change(Event::new("members.import", None, file), |w| {
            let rir = w.ca_of_kind(CaKind::Rir)?.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))?;
            let mut report = ImportReport::default();
            for (id, h) in &holders {
                if !rir.resources.contains(&h.resources) {
                    let extra = h.resources.difference(&rir.resources);
                    return Err(CaError::invalid("not_held", format!("holder {id}: {extra} is outside the RIR's resources")));
                }
                match existing.get(id) {
                    None => {
                        let handle = handle_for(id);
                        add_member(w, &handle, &h.resources, Some(id))?;
                        report.added.push(handle);
                    }
                    Some(handle) => match set_resources(w, handle, &h.resources)? {
                        Some(c) => report.changed.push(c),
                        None => report.unchanged += 1,
                    },
                }
            }
            for (id, handle) in &existing {
                if !holders.contains_key(id) {
                    remove_member(w, handle)?;
                    report.removed.push(handle.clone());
                }
            }
            Ok(report)
        })
        .inspect(|r| {
            if !r.removed.is_empty() {
                if let Err(e) = self.destroy_retired_keys() {
                    tracing::warn!("removed members' keys wait to be destroyed: {e}");
                }
            }
        })
    }
}

/// A handle from an opaque-id: itself when it is a valid handle.
fn handle_for(opaque_id: &str) -> String {
    if check_handle(opaque_id).is_ok() {
        opaque_id.to_string()
    } else {
        let clean: String = opaque_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(60).collect();
        format!("m-{clean}")
    }
}

pub(crate) fn add_member(w: &mut Work<'_>, handle: &str, resources: &ResourceSet, opaque_id: Option<&str>) -> Result<()> {
    if store::children::exists(&w.tx, handle)? {
        return Err(CaError::Conflict(format!("member '{handle}' already exists")));
    }
    certify_member(w, handle, resources, opaque_id)
}

/// A delegated member moving back (moves.rs): hosted again beside its own CA for a moment.
pub(crate) fn add_member_moving_back(w: &mut Work<'_>, handle: &str, resources: &ResourceSet, opaque_id: Option<&str>) -> Result<()> {
    certify_member(w, handle, resources, opaque_id)
}

fn certify_member(w: &mut Work<'_>, handle: &str, resources: &ResourceSet, opaque_id: Option<&str>) -> Result<()> {
    check_handle(handle)?;
    let rir = w.ca_of_kind(CaKind::Rir)?.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))?;
    if handle == w.cfg.ta_handle || handle == w.cfg.rir_handle {
        return Err(CaError::invalid("bad_handle", format!("'{handle}' is reserved")));
    }
    if w.ca_by_handle(handle).is_ok() {
        return Err(CaError::Conflict(format!("member '{handle}' already exists")));
    }
    if resources.is_empty() {
        return Err(CaError::invalid("no_resources", format!("member '{handle}' has no resources")));
    }
    if !rir.resources.contains(resources) {
        return Err(CaError::invalid("not_held", format!("{} is outside the RIR's resources", resources.difference(&rir.resources))));
    }
    let key = w.create_key()?;
    let public = w.signer.public_key(&key)?;
    let cert = w.ca_cert_builder(Some(&rir), handle, public, resources, w.cfg.ca_validity_days)?.sign(w.signer, &rir.key)?;
    let uri = format!("{}{}", rir.pp_uri(w.cfg), FileType::Certificate.file_name(&key.file_stem()));
    let id =
        w.insert_ca(NewCa { handle, kind: CaKind::Member, parent: Some(rir.id), key, resources, cert: &cert, cert_uri: &uri, opaque_id })?;
    w.put_object(Some(rir.id), &uri, cert.to_der().to_vec())?;
    w.mark_dirty(id);
    Ok(())
}

pub(crate) fn set_resources(w: &mut Work<'_>, handle: &str, resources: &ResourceSet) -> Result<Option<ResourceChange>> {
    if store::children::exists(&w.tx, handle)? {
        let change = crate::children::set_entitlement(w, handle, resources)?;
        // A member moving to its own CA is hosted here too until the move completes.
        if w.ca_by_handle(handle).is_err() {
            return Ok(change);
        }
    }
    let ca = w.ca_by_handle(handle)?;
    if ca.kind != CaKind::Member {
        return Err(CaError::NotFound(format!("member '{handle}'")));
    }
    if ca.resources == *resources {
        return Ok(None);
    }
    if resources.is_empty() {
        return Err(CaError::invalid("no_resources", format!("member '{handle}' would have no resources; remove it instead")));
    }
    let rir = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    if !rir.resources.contains(resources) {
        return Err(CaError::invalid("not_held", format!("{} is outside the RIR's resources", resources.difference(&rir.resources))));
    }
    // Withdraw what the new resources no longer cover.
    let objects = roa_objects(&w.tx, ca.id)?;
    let (stay, mut gone): (Vec<RoaSpec>, Vec<RoaSpec>) =
        authorizations(&objects).into_iter().partition(|r| resources.contains_prefix(&r.prefix));
    gone.sort();
    let mut withdrawn: Vec<String> = gone.iter().map(|r| format!("ROA {r}")).collect();
    if !withdrawn.is_empty() {
        sync_roas(w, &ca, &objects, &stay.into_iter().collect())?;
    }
    for c in store::aspas::customers(&w.tx, ca.id)? {
        if !resources.asn.contains_asn(Asn(c)) {
            withdraw_aspa(w, &ca, c)?;
            withdrawn.push(format!("ASPA AS{c}"));
        }
    }
    for rc in store::router_certs::of_ca(&w.tx, ca.id)? {
        if !resources.asn.contains_asn(Asn(rc.asn)) {
            crate::router_certs::withdraw(w, &ca, &rc)?;
            withdrawn.push(format!("router certificate AS{} key {}", rc.asn, rc.key.key_id().hex()));
        }
    }
    reissue_ca_cert(w, &ca, resources)?;
    Ok(Some(ResourceChange {
        handle: handle.to_string(),
        added: resources.difference(&ca.resources).to_string(),
        removed: ca.resources.difference(resources).to_string(),
        withdrawn,
    }))
}

/// Re-issue a CA's certificate for the same key under the same name (REPO-3,
/// CERT-16); the certificate it replaces is revoked. A TA re-signs itself (TA-9).
pub(crate) fn reissue_ca_cert(w: &mut Work<'_>, ca: &CaRecord, resources: &ResourceSet) -> Result<()> {
    let (cert, parent_id) = match ca.parent_id {
        Some(pid) => {
            let parent = w.ca_by_id(pid)?;
            w.revoke(parent.id, &ca.cert.serial, ca.cert.not_after)?;
            let days = w.cfg.ca_validity_days;
            (
                w.ca_cert_builder(Some(&parent), &ca.handle, ca.cert.public_key.clone(), resources, days)?.sign(w.signer, &parent.key)?,
                Some(parent.id),
            )
        }
        None => {
            let days = w.cfg.ta_validity_days;
            (w.ca_cert_builder(None, &ca.handle, ca.cert.public_key.clone(), resources, days)?.sign(w.signer, &ca.key)?, None)
        }
    };
    w.put_object(parent_id, &ca.cert_uri, cert.to_der().to_vec())?;
    store::members::set_resources(&w.tx, ca.id, resources, cert.to_der())?;
    // A next key being staged holds the same resources (RFC 6489 section 2).
    if let (Some(next), Some(pid)) = (crate::keyroll::pending_view(w, ca)?, parent_id) {
        let parent = w.ca_by_id(pid)?;
        w.revoke(pid, &next.cert.serial, next.cert.not_after)?;
        let days = w.cfg.ca_validity_days;
        let cert =
            w.ca_cert_builder(Some(&parent), &ca.handle, next.cert.public_key.clone(), resources, days)?.sign(w.signer, &parent.key)?;
        w.put_object(Some(pid), &next.cert_uri, cert.to_der().to_vec())?;
        store::keyrolls::set_cert(&w.tx, ca.id, cert.to_der())?;
    }
    w.mark_dirty(ca.id);
    Ok(())
}

pub(crate) fn remove_member(w: &mut Work<'_>, handle: &str) -> Result<()> {
    store::moves::forget(&w.tx, handle)?;
    if store::children::exists(&w.tx, handle)? {
        crate::children::remove_child(w, handle)?;
        if w.ca_by_handle(handle).is_err() {
            return Ok(());
        }
    }
    remove_hosted(w, handle)
}

/// A hosted member's CA: revoked, everything it published withdrawn, its key retired.
pub(crate) fn remove_hosted(w: &mut Work<'_>, handle: &str) -> Result<()> {
    let ca = w.ca_by_handle(handle)?;
    if ca.kind != CaKind::Member {
        return Err(CaError::NotFound(format!("member '{handle}'")));
    }
    crate::keyroll::abandon(w, &ca)?;
    let rir = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    w.revoke(rir.id, &ca.cert.serial, ca.cert.not_after)?;
    w.remove_object(&ca.cert_uri)?;
    for u in store::objects::uris_of(&w.tx, ca.id)? {
        w.remove_object(&u)?;
    }
    crate::keyroll::retire(w, handle, &ca.key)?;
    store::members::delete(&w.tx, ca.id)?;
    Ok(())
}
