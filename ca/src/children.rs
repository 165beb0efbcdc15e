//! Delegated members: children that run their own CA (Krill, rpkit, an NIR)
//! below the RIR CA and reach it over RFC 6492 (`up_down.rs`). Here: their
//! registry (RFC 8183 onboarding), their entitlements as the allocations
//! change (UPDOWN-7), the certificates the RIR CA issued them, suspension.

use crate::contract::{ChildCertInfo, ChildStatus, ResourceChange};
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::service::{serial_i64, Ca};
use crate::store;
use crate::work::{CaKind, CaRecord, Work};
use rpkit_objects::bpki::IdCert;
use rpkit_objects::cert::SiaSpec;
use rpkit_objects::crypto::PublicKey;
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::rfc8183::{ChildRequest, ParentResponse};
use rpkit_objects::up_down::Limit;
use rpkit_serve::db::Sql;
use serde_json::json;

pub(crate) use crate::store::children::{Child, ChildCert};

/// The one resource class a child has below the RIR CA.
pub const CLASS_NAME: &str = "default";

/// What a child may be certified for: its allocations within the RIR's.
pub(crate) fn entitlement(child: &Child, rir: &CaRecord) -> ResourceSet {
    child.resources.intersection(&rir.resources)
}

fn rir(w: &Work<'_>) -> Result<CaRecord> {
    w.ca_of_kind(CaKind::Rir)?.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))
}

/// Certify `key` for `child` (UPDOWN-4): the entitlement within `limit`, the
/// SIA the child asked for, until the RIR CA's own certificate ends at the
/// latest (CAOPS-2). A certificate the key held before is replaced (and
/// revoked, unless the RIR CA's key that issued it is gone: `revoke_old`).
pub(crate) fn issue(
    w: &mut Work<'_>,
    child: &Child,
    key: &PublicKey,
    sia: (String, String, Option<String>),
    limit: &Limit,
) -> Result<ChildCert> {
    issue_with(w, child, key, sia, limit, true)
}

fn issue_with(
    w: &mut Work<'_>,
    child: &Child,
    key: &PublicKey,
    sia: (String, String, Option<String>),
    limit: &Limit,
    revoke_old: bool,
) -> Result<ChildCert> {
    let rir = rir(w)?;
    let resources = limit.apply(&entitlement(child, &rir));
    let key_id = key.key_id().hex();
    if let Some(old) = store::children::certs(&w.tx, &child.handle)?.into_iter().find(|c| c.key_id == key_id).filter(|_| revoke_old) {
        let cert = old.cert()?;
        w.revoke(rir.id, &cert.serial, cert.not_after)?;
    }
    let mut b = w.ca_cert_builder(Some(&rir), &child.handle, key.clone(), &resources, w.cfg.ca_validity_days)?;
    b.not_after = Time(b.not_after.0.min(rir.cert.not_after.0));
    b.sia = SiaSpec::Ca { repository: sia.0.clone(), manifest: sia.1.clone(), notify: sia.2.clone() };
    let cert = b.sign(w.signer, &rir.key)?;
    let uri = format!("{}{}", rir.pp_uri(w.cfg), FileType::Certificate.file_name(&key.key_id().file_stem()));
    w.put_object(Some(rir.id), &uri, cert.to_der().to_vec())?;
    let issued = ChildCert { key_id, uri, not_after: cert.not_after.0, resources, limit: limit.clone(), sia, der: cert.to_der().to_vec() };
    store::children::put_cert(&w.tx, &child.handle, &issued, serial_i64(&cert.serial))?;
    w.mark_dirty(rir.id);
    Ok(issued)
}

/// Revoke and withdraw the certificate of one key (UPDOWN-5).
pub(crate) fn revoke(w: &mut Work<'_>, handle: &str, c: &ChildCert) -> Result<()> {
    let rir = rir(w)?;
    let cert = c.cert()?;
    w.revoke(rir.id, &cert.serial, cert.not_after)?;
    w.remove_object(&c.uri)?;
    store::children::delete_cert(&w.tx, handle, &c.key_id)?;
    w.mark_dirty(rir.id);
    Ok(())
}

/// A child's allocations changed (UPDOWN-7): a certificate holding what the
/// child is no longer entitled to is re-issued shrunk at once; more resources
/// wait for the child to ask (its next `list` offers them).
pub(crate) fn set_entitlement(w: &mut Work<'_>, handle: &str, resources: &ResourceSet) -> Result<Option<ResourceChange>> {
    let mut child = store::children::get(&w.tx, handle)?.ok_or_else(|| CaError::NotFound(format!("member '{handle}'")))?;
    if child.resources == *resources {
        return Ok(None);
    }
    if resources.is_empty() {
        return Err(CaError::invalid("no_resources", format!("member '{handle}' would have no resources; remove it instead")));
    }
    let rir = rir(w)?;
    if !rir.resources.contains(resources) {
        return Err(CaError::invalid("not_held", format!("{} is outside the RIR's resources", resources.difference(&rir.resources))));
    }
    let before = child.resources.clone();
    store::children::set_resources(&w.tx, handle, resources)?;
    child.resources = resources.clone();
    let mut withdrawn = Vec::new();
    let entitled = entitlement(&child, &rir);
    for c in store::children::certs(&w.tx, handle)? {
        if !entitled.contains(&c.resources) {
            let key = c.cert()?.public_key;
            let shrunk = issue(w, &child, &key, c.sia.clone(), &c.limit)?;
            withdrawn.push(format!("child certificate {} shrunk by {}", c.key_id, c.resources.difference(&shrunk.resources)));
        }
    }
    Ok(Some(ResourceChange {
        handle: handle.to_string(),
        added: resources.difference(&before).to_string(),
        removed: before.difference(resources).to_string(),
        withdrawn,
    }))
}

/// A removed child: every certificate it holds is revoked and withdrawn.
pub(crate) fn remove_child(w: &mut Work<'_>, handle: &str) -> Result<()> {
    for c in store::children::certs(&w.tx, handle)? {
        revoke(w, handle, &c)?;
    }
    store::children::delete(&w.tx, handle)
}

/// After the RIR CA's key or certificate changed (`renew_at` None), or for
/// certificates ending before `renew_at` that can be extended (CAOPS-2):
/// each is issued again by the RIR CA's current key, for the same key,
/// entitlement and SIA.
pub(crate) fn recertify(w: &mut Work<'_>, renew_at: Option<i64>) -> Result<usize> {
    let rir_end = rir(w)?.cert.not_after.0;
    let mut n = 0;
    for h in store::children::certified(&w.tx)? {
        let Some(child) = store::children::get(&w.tx, &h)? else { continue };
        for c in store::children::certs(&w.tx, &h)? {
            if renew_at.is_some_and(|at| c.not_after >= at || c.not_after >= rir_end) {
                continue;
            }
            let key = c.cert()?.public_key;
            issue_with(w, &child, &key, c.sia.clone(), &c.limit, renew_at.is_some())?;
            n += 1;
        }
    }
    Ok(n)
}

impl Ca {
    /// Onboard a delegated member (RFC 8183 §5.2.1-§5.2.2): `handle` becomes
    /// the child of `request`'s identity, entitled to `resources` (a new
    /// handle) or to its allocations (a known child, whose identity is
    /// replaced; a hosted member, which moves with no gap: `delegate_member`).
    /// The answer names `service_uri`, where it sends its messages.
    pub fn add_child(
        &self,
        handle: &str,
        request: &ChildRequest,
        resources: Option<&ResourceSet>,
        service_uri: &str,
    ) -> Result<ParentResponse> {
        crate::members::check_handle(handle)?;
        // A hosted member (from an import, say) keeps its allocations and moves with no gap (moves.rs).
        let hosted = self.read(|c| store::members::hosted_resources(c, handle))?;
        if let Some(held) = hosted {
            if resources.is_some_and(|r| r.to_string() != held) {
                return Err(CaError::invalid(
                    "resources_differ",
                    format!("member '{handle}' holds {held}: change them with `rpkit members set-resources`, then onboard it"),
                ));
            }
            return self.delegate_member(handle, request, service_uri);
        }
        let identity =
            self.identity.get().ok_or_else(|| CaError::NotFound("this CA's identity (it is loaded by `rpkit ca serve`)".into()))?;
        let event = Event::new(
            "child.add",
            Some(handle),
            json!({ "resources": resources.map(ToString::to_string), "identity": request.id_cert.ski.hex(), "child_handle": request.child_handle }),
        );
        self.change(event, |w| {
            w.always_recorded = true;
            if handle == w.cfg.ta_handle || handle == w.cfg.rir_handle {
                return Err(CaError::invalid("bad_handle", format!("'{handle}' is reserved")));
            }
            let rir = rir(w)?;
            match store::children::get(&w.tx, handle)? {
                Some(existing) => {
                    store::children::set_identity(&w.tx, handle, request.id_cert.to_der())?;
                    if let Some(r) = resources.filter(|r| **r != existing.resources) {
                        set_entitlement(w, handle, r)?;
                    }
                }
                None => {
                    let r = resources.ok_or_else(|| {
                        CaError::invalid("no_resources", format!("'{handle}' is a new member: give its resources (--resources)"))
                    })?;
                    if r.is_empty() {
                        return Err(CaError::invalid("no_resources", format!("member '{handle}' has no resources")));
                    }
                    if !rir.resources.contains(r) {
                        return Err(CaError::invalid(
                            "not_held",
                            format!("{} is outside the RIR's resources", r.difference(&rir.resources)),
                        ));
                    }
                    store::children::insert(&w.tx, handle, r, request.id_cert.to_der(), w.now.0)?;
                }
            }
            Ok(())
        })?;
        Ok(self.parent_response(handle, request, service_uri, &identity.cert))
    }

    /// The RFC 8183 §5.2.2 answer to `request`: `handle` talks to this CA at `service_uri`.
    pub(crate) fn parent_response(&self, handle: &str, request: &ChildRequest, service_uri: &str, id_cert: &IdCert) -> ParentResponse {
        ParentResponse {
            tag: request.tag.clone(),
            service_uri: service_uri.to_string(),
            child_handle: handle.to_string(),
            parent_handle: self.config.rir_handle.clone(),
            id_cert: id_cert.clone(),
        }
    }

    /// Suspend a delegated member: its certificates are revoked and withdrawn,
    /// and it is offered nothing until it is unsuspended (then its next `list`
    /// offers its entitlement again).
    pub fn suspend_child(&self, handle: &str, suspend: bool) -> Result<()> {
        let name = if suspend { "child.suspend" } else { "child.unsuspend" };
        self.change(Event::new(name, Some(handle), json!({})), |w| {
            let c = store::children::get(&w.tx, handle)?.ok_or_else(|| CaError::NotFound(format!("delegated member '{handle}'")))?;
            if c.suspended == suspend {
                return Ok(());
            }
            w.always_recorded = true;
            if suspend {
                for cert in store::children::certs(&w.tx, handle)? {
                    revoke(w, handle, &cert)?;
                }
            }
            store::children::set_suspended(&w.tx, handle, suspend)?;
            Ok(())
        })
    }

    /// A delegated member's state for the operator.
    pub(crate) fn child_status(&self, c: &impl Sql, handle: &str) -> Result<Option<(ResourceSet, ChildStatus)>> {
        let Some((resources, suspended, last_contact, last_message, created)) = store::children::status(c, handle)? else {
            return Ok(None);
        };
        let certificates = store::children::certs(c, handle)?
            .into_iter()
            .map(|cc| ChildCertInfo {
                key: cc.key_id.clone(),
                uri: cc.uri.clone(),
                not_after: Time(cc.not_after).rfc3339(),
                resources: (&cc.resources).into(),
                publication_point: cc.sia.0.clone(),
            })
            .collect();
        let moving = store::moves::of(c, handle)?;
        let status = ChildStatus {
            suspended,
            since: Time(created).rfc3339(),
            last_contact: last_contact.map(|t| Time(t).rfc3339()),
            last_message,
            certificates,
            moving_since: moving.as_ref().map(|m| Time(m.0).rfc3339()),
            waiting_for: moving.and_then(|m| m.1),
        };
        Ok(Some((resources, status)))
    }

    /// Per delegated member, for `/metrics`: last contact, when its earliest
    /// certificate ends (0: none), whether it is suspended.
    pub fn children_metrics(&self) -> Result<Vec<(String, i64, i64, bool)>> {
        self.read(store::children::metrics)
    }
}
