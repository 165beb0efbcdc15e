//! Staged CA key rollover (RFC 6489; CHECKLIST section 4) for the RIR CA and
//! member CAs, in three phases, each one transaction:
//!
//! 1. start: a new key; the parent certifies it (same resources, same
//!    publication point); it publishes its own CRL and a manifest listing only
//!    that CRL. Nothing it signs is used yet, so validators see the same VRPs.
//! 2. activate (after `keyroll_staging_seconds`): every object the old key
//!    signed (ROAs, ASPAs, router and child CA certificates) re-issued under the new key,
//!    the old key's certificate revoked by the parent and withdrawn with its
//!    CRL and manifest, all in one change set (one RRDP delta).
//! 3. destroy: after that change is committed, the old key is destroyed in its
//!    store (`retired_keys` keeps it until done, across a crash), so that no
//!    object can be signed by a destroyed key.
//!
//! Triggers: the operator (API, `rpkit members keyroll`, `rpkit ca keyroll rir`),
//! a schedule (`keyroll_interval_days`), and the move from software keys to a
//! PKCS#11 token (a CA whose key is in software while a token is configured).

use crate::aspas::{issue_aspa, withdraw_aspa};
use crate::contract::KeyRollStatus;
use crate::error::{CaError, Result};
use crate::history::{self, Actor, Event};
use crate::roas::{issue_roas, roa_objects, withdraw_roa_object};
use crate::router_certs;
use crate::service::Ca;
use crate::store::{self, keyrolls::NewRoll};
use crate::work::{stored_key, CaKind, CaRecord, Work};
use rpkit_objects::cert::Cert;
use rpkit_objects::crypto::{KeyId, SignError, Signer};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_serve::db::Sql;
use serde_json::json;

/// Why a roll began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Operator,
    Schedule,
    /// The CA's key is in software and a token is configured.
    Migration,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Operator => "operator",
            Reason::Schedule => "schedule",
            Reason::Migration => "migration",
        }
    }
}

/// `ca` as its other key sees it (same handle and publication point): the
/// next key while pending, or the old key while an offline parent has not yet
/// revoked it; `None` when there is none, or it has no certificate yet.
pub(crate) fn pending_view(w: &Work<'_>, ca: &CaRecord) -> Result<Option<CaRecord>> {
    let Some((key, cert, cert_uri)) = store::keyrolls::next_cert(&w.tx, ca.id)? else { return Ok(None) };
    if cert.is_empty() {
        // Waiting for an offline parent's certificate: nothing published yet.
        return Ok(None);
    }
    let cert = Cert::decode(&cert).map_err(|e| CaError::Conflict(format!("CA '{}': stored next certificate: {e}", ca.handle)))?;
    Ok(Some(CaRecord { key: stored_key(&ca.handle, &key)?, cert, cert_uri, ..ca.clone() }))
}

/// Phase 1: certify and publish a next key for `ca` (RFC 6489 section 2.1).
pub(crate) fn start(w: &mut Work<'_>, ca: &CaRecord, reason: Reason) -> Result<()> {
    if ca.kind == CaKind::Ta {
        return Err(CaError::invalid("ta_key", "the trust anchor's key rolls by RFC 9691 (`rpkit ta keyroll`)"));
    }
    if let Some((key, phase)) = store::keyrolls::phase(&w.tx, ca.id)? {
        let hint = if phase == "retiring" { "the offline TA has yet to revoke the old key" } else { "`--activate` ends its staging now" };
        return Err(CaError::Conflict(format!("a key roll of '{}' is under way (key {key}, {phase}); {hint}", ca.handle)));
    }
    if store::ta_keyroll::under_way(&w.tx)? && ca.kind == CaKind::Rir {
        return Err(CaError::Conflict("a TA key roll is under way: the RIR CA's key rolls after it".into()));
    }
    if offline_parent(w, ca) {
        // The offline TA certifies the next key in its next answer; staging starts then.
        let key = w.create_key()?;
        store::keyrolls::await_parent(&w.tx, ca.id, &key.hex(), reason.as_str(), w.now.0)?;
        return Ok(());
    }
    let parent = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    let key = w.create_key()?;
    let public = w.signer.public_key(&key)?;
    let cert = w.ca_cert_builder(Some(&parent), &ca.handle, public, &ca.resources, w.cfg.ca_validity_days)?.sign(w.signer, &parent.key)?;
    let uri = format!("{}{}", parent.pp_uri(w.cfg), FileType::Certificate.file_name(&key.file_stem()));
    store::keyrolls::insert(
        &w.tx,
        &NewRoll {
            ca_id: ca.id,
            key_id: &key.hex(),
            cert: cert.to_der(),
            cert_uri: &uri,
            reason: reason.as_str(),
            started: w.now.0,
            activate_at: w.now.0 + w.cfg.keyroll_staging_seconds,
        },
    )?;
    w.put_object(Some(parent.id), &uri, cert.to_der().to_vec())?;
    w.republish_pending(ca)
}

/// Phase 2: the next key takes over (RFC 6489 sections 2.2 and 2.3).
pub(crate) fn activate(w: &mut Work<'_>, old: &CaRecord) -> Result<()> {
    let next = pending_view(w, old)?.ok_or_else(|| CaError::NotFound(format!("a pending key roll of '{}'", old.handle)))?;
    let cfg = w.cfg;
    // What the old key signed, read before it is withdrawn.
    let roas = roa_objects(&w.tx, old.id)?;
    let aspas = store::aspas::of_ca(&w.tx, old.id)?;
    let routers = store::router_certs::of_ca(&w.tx, old.id)?;
    for rc in &routers {
        router_certs::withdraw(w, old, rc)?;
    }
    for uri in roas.keys() {
        withdraw_roa_object(w, old, uri)?;
    }
    for a in &aspas {
        withdraw_aspa(w, old, a.customer)?;
    }
    let offline = offline_parent(w, old);
    if !offline {
        // The parent revokes and withdraws the old certificate; the old CRL and manifest go.
        let parent = w.ca_by_id(old.parent_id.unwrap_or_default())?;
        w.revoke(parent.id, &old.cert.serial, old.cert.not_after)?;
        w.remove_object(&old.cert_uri)?;
        w.remove_object(&old.crl_uri(cfg))?;
        w.remove_object(&old.mft_uri(cfg))?;
    }
    let old_numbers = store::cas::mft_state(&w.tx, old.id)?;
    // The CA is its next key from here, with that key's manifest and CRL numbers.
    store::keyrolls::promote(&w.tx, old.id, w.now.0)?;
    store::keyrolls::delete(&w.tx, old.id)?;
    store::objects::set_owner(&w.tx, old.id, &next.crl_uri(cfg), &next.mft_uri(cfg))?;
    if offline {
        // RFC 6489 section 2.3: the old key goes on publishing its CRL and a
        // manifest listing only that, until the parent has revoked it.
        store::revocations::name_key(&w.tx, old.id, &old.key.hex())?;
        store::objects::disown(&w.tx, &old.crl_uri(cfg), &old.mft_uri(cfg))?;
        store::keyrolls::insert_retiring(&w.tx, old.id, &old.key.hex(), old.cert.to_der(), &old.cert_uri, w.now.0, &old_numbers)?;
    } else {
        store::revocations::delete_of_current_key(&w.tx, old.id, &old.key.hex())?;
    }
    let ca = w.ca_by_id(old.id)?;
    // Everything re-issued under the new key.
    let groups: Vec<_> = roas.into_values().collect();
    issue_roas(w, &ca, &groups)?;
    for a in &aspas {
        issue_aspa(w, &ca, a)?;
    }
    for rc in &routers {
        router_certs::issue(w, &ca, rc.asn, &rc.key)?;
    }
    recertify_children(w, &ca)?;
    if !offline {
        retire(w, &old.handle, &old.key)?;
    }
    w.mark_dirty(ca.id);
    Ok(())
}

/// Whether `ca`'s parent is not here: an offline TA (its certificates come in
/// files) or an RFC 6492 parent (they come when this CA syncs with it).
fn offline_parent(w: &Work<'_>, ca: &CaRecord) -> bool {
    (w.cfg.ta_offline || w.cfg.updown_parent) && ca.kind == CaKind::Rir
}

/// A certificate an offline parent issued, with its URI, for a key.
pub(crate) type CertFor<'a> = &'a dyn Fn(&KeyId) -> Option<(String, Cert)>;

/// An offline TA's answer for `rir`: a next key it certified starts its
/// staging; an old key it no longer certifies is retired. What happened, if anything.
pub(crate) fn parent_answered(w: &mut Work<'_>, rir: &CaRecord, cert_for: CertFor<'_>) -> Result<Option<String>> {
    let Some((hex, phase, cert)) = store::keyrolls::state(&w.tx, rir.id)? else { return Ok(None) };
    let key = stored_key(&rir.handle, &hex)?;
    match (phase.as_str(), cert_for(&key)) {
        ("pending", Some((uri, c))) if cert != c.to_der() => {
            let until = w.now.0 + w.cfg.keyroll_staging_seconds;
            store::keyrolls::certified(&w.tx, rir.id, c.to_der(), &uri, until)?;
            w.republish_pending(rir)?;
            Ok(Some(format!("next key {hex} certified: staged until {}", Time(until).rfc3339())))
        }
        ("retiring", None) => {
            let old = pending_view(w, rir)?.ok_or_else(|| CaError::Conflict("a retiring key without a certificate".into()))?;
            w.remove_object(&old.crl_uri(w.cfg))?;
            w.remove_object(&old.mft_uri(w.cfg))?;
            store::revocations::delete_of_key(&w.tx, rir.id, &hex)?;
            store::keyrolls::delete(&w.tx, rir.id)?;
            retire(w, &rir.handle, &key)?;
            Ok(Some(format!("old key {hex} revoked by the parent and retired")))
        }
        _ => Ok(None),
    }
}

/// Certify `parent`'s children (and their next keys) again with its current
/// key and certificate URI (AIA).
pub(crate) fn recertify_children(w: &mut Work<'_>, parent: &CaRecord) -> Result<()> {
    for id in store::cas::children_of(&w.tx, parent.id)? {
        let child = w.ca_by_id(id)?;
        recertify(w, parent, &child, false)?;
        if let Some(next) = pending_view(w, &child)? {
            recertify(w, parent, &next, true)?;
        }
    }
    // Delegated children's certificates, too.
    if parent.kind == crate::work::CaKind::Rir {
        crate::children::recertify(w, None)?;
    }
    Ok(())
}

/// `parent`'s new key certifies `child`'s key (its next key when `next`)
/// again: same resources, same URI.
fn recertify(w: &mut Work<'_>, parent: &CaRecord, child: &CaRecord, next: bool) -> Result<()> {
    let days = w.cfg.ca_validity_days;
    let cert = w
        .ca_cert_builder(Some(parent), &child.handle, child.cert.public_key.clone(), &child.resources, days)?
        .sign(w.signer, &parent.key)?;
    w.put_object(Some(parent.id), &child.cert_uri, cert.to_der().to_vec())?;
    if next {
        store::keyrolls::set_cert(&w.tx, child.id, cert.to_der())
    } else {
        store::cas::set_cert(&w.tx, child.id, cert.to_der())
    }
}

/// A key no longer used: its private part leaves the database with this
/// change, and the store destroys it once the change is committed.
pub(crate) fn retire(w: &mut Work<'_>, handle: &str, key: &KeyId) -> Result<()> {
    store::keys::retire(&w.tx, &key.hex(), handle, w.now.0)
}

/// A removed CA's pending roll: the next certificate revoked and withdrawn with
/// the next key's CRL and manifest, the key retired.
pub(crate) fn abandon(w: &mut Work<'_>, ca: &CaRecord) -> Result<()> {
    let Some(next) = pending_view(w, ca)? else { return Ok(()) };
    let parent = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    w.revoke(parent.id, &next.cert.serial, next.cert.not_after)?;
    for uri in [next.cert_uri.clone(), next.crl_uri(w.cfg), next.mft_uri(w.cfg)] {
        w.remove_object(&uri)?;
    }
    store::keyrolls::delete(&w.tx, ca.id)?;
    retire(w, &ca.handle, &next.key)
}

/// A member's own history entry for its part of a batch.
fn note(w: &mut Work<'_>, ca: &CaRecord, action: &'static str, request: serde_json::Value) {
    if ca.kind == CaKind::Member {
        let prefix = ca.pp_uri(w.cfg);
        w.note(Event::new(action, Some(&ca.handle), request), prefix);
    }
}

/// Where a key lives, for the status.
fn store_of(c: &impl Sql, key: &str) -> Result<&'static str> {
    Ok(if store::keys::in_token(c, key)? { "hsm" } else { "software" })
}

fn time(t: i64) -> String {
    Time(t).rfc3339()
}

impl Ca {
    /// The RIR CA's handle.
    pub fn rir_handle(&self) -> &str {
        &self.config.rir_handle
    }

    /// A CA's key and its roll.
    pub fn keyroll_status(&self, handle: &str) -> Result<KeyRollStatus> {
        self.read(|c| {
            let (id, kind, key, since) = store::cas::key_of(c, handle)?.ok_or_else(|| CaError::NotFound(format!("CA '{handle}'")))?;
            if kind == "ta" {
                return Err(CaError::invalid("ta_key", "the trust anchor's key rolls by RFC 9691 (`rpkit ta keyroll`)"));
            }
            let pending = store::keyrolls::status(c, id)?;
            let mut s = KeyRollStatus {
                handle: handle.to_string(),
                phase: "active".into(),
                key_store: store_of(c, &key)?.into(),
                key,
                key_since: time(since),
                next_key: None,
                next_key_store: None,
                reason: None,
                started: None,
                activates_at: None,
            };
            if let Some(store::keyrolls::Roll { key_id: other, reason, started, activate_at: at, phase, certified }) = pending {
                // pending: staged; awaiting_parent: the offline TA has yet to
                // certify it; retiring: the old key, until the offline TA revokes it.
                s.phase = match (phase.as_str(), certified) {
                    ("retiring", _) => "retiring".into(),
                    (_, false) => "awaiting_parent".into(),
                    _ => "pending".into(),
                };
                s.next_key_store = Some(store_of(c, &other)?.into());
                s.next_key = Some(other);
                s.reason = Some(reason);
                s.started = Some(time(started));
                s.activates_at = (certified && phase == "pending").then(|| time(at));
            }
            Ok(s)
        })
    }

    /// Start a roll of `handle`'s key (the RIR CA's or a member's).
    pub fn keyroll_start(&self, handle: &str) -> Result<KeyRollStatus> {
        self.fill_key_pool(1)?;
        let member = (handle != self.config.rir_handle).then_some(handle);
        self.change(Event::new("keyroll.start", member, json!({ "ca": handle, "reason": "operator" })), |w| {
            let ca = w.ca_by_handle(handle)?;
            start(w, &ca, Reason::Operator)
        })?;
        self.keyroll_status(handle)
    }

    /// End a pending roll's staging now: the next key takes over, the old one is destroyed.
    pub fn keyroll_activate(&self, handle: &str) -> Result<KeyRollStatus> {
        let member = (handle != self.config.rir_handle).then_some(handle);
        let id = self.read(|c| store::cas::id(c, handle))?;
        let products = self.products(&id.into_iter().collect::<Vec<_>>())?;
        self.fill_key_pool(products as usize + 1)?;
        self.change(Event::new("keyroll.activate", member, json!({ "ca": handle })), |w| {
            let ca = w.ca_by_handle(handle)?;
            activate(w, &ca)
        })?;
        // The roll is done; a key the store cannot destroy now is tried again by the schedule.
        if let Err(e) = self.destroy_retired_keys() {
            tracing::warn!("the old key of '{handle}' waits to be destroyed: {e}");
        }
        self.keyroll_status(handle)
    }

    /// The schedule's part: destroy retired keys, activate rolls whose staging
    /// is over, and start scheduled and migration rolls, at most
    /// `keyroll_batch` CAs per change. Returns how many CAs changed phase.
    pub fn keyroll_due(&self) -> Result<usize> {
        let _schedule = history::acting_as(Actor::Schedule);
        self.destroy_retired_keys()?;
        if self.ta_keyroll_due()? {
            return Ok(1);
        }
        let now = self.now().0;
        let batch = self.config.keyroll_batch.max(1) as i64;
        let due = self.read(|c| store::keyrolls::due(c, now, batch))?;
        if !due.is_empty() {
            let ids: Vec<i64> = due.iter().map(|(id, _)| *id).collect();
            let products = self.products(&ids)?;
            self.fill_key_pool(products as usize + due.len())?;
            let handles: Vec<&str> = due.iter().map(|(_, h)| h.as_str()).collect();
            self.change(Event::new("keyroll.activate", None, json!({ "cas": handles })), |w| {
                for (id, _) in &due {
                    let ca = w.ca_by_id(*id)?;
                    activate(w, &ca)?;
                    note(w, &ca, "keyroll.activate", json!({ "ca": ca.handle }));
                }
                Ok(())
            })?;
            self.destroy_retired_keys()?;
            return Ok(due.len());
        }
        // Rolls to start: keys in software while a token is configured, then keys past their interval.
        let migrate = self.signer().token().is_some();
        let interval = self.config.keyroll_interval_days * 86400;
        let start_due: Vec<(i64, String, Reason)> = self
            .read(|c| store::keyrolls::to_start(c, migrate, interval, now, batch))?
            .into_iter()
            .map(|(id, handle, soft)| (id, handle, if migrate && soft { Reason::Migration } else { Reason::Schedule }))
            .collect();
        if start_due.is_empty() {
            return Ok(0);
        }
        self.fill_key_pool(start_due.len())?;
        let request: Vec<_> = start_due.iter().map(|(_, h, r)| json!({ "ca": h, "reason": r.as_str() })).collect();
        self.change(Event::new("keyroll.start", None, json!({ "cas": request })), |w| {
            for (id, _, reason) in &start_due {
                let ca = w.ca_by_id(*id)?;
                start(w, &ca, *reason)?;
                note(w, &ca, "keyroll.start", json!({ "ca": ca.handle, "reason": reason.as_str() }));
            }
            Ok(())
        })?;
        Ok(start_due.len())
    }

    /// The ROA and ASPA objects of CAs `ids`: the one-time keys their re-issue needs.
    fn products(&self, ids: &[i64]) -> Result<i64> {
        self.read(|c| store::roas::signed_objects(c, ids))
    }

    /// Destroy the keys that committed changes retired (in the HSM too), each
    /// recorded in the history. A key the store no longer has counts as destroyed;
    /// a token fault leaves the rest for the next try.
    pub fn destroy_retired_keys(&self) -> Result<usize> {
        let _one_at_a_time = self.destroying.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let retired = self.read(store::keys::retired)?;
        let mut n = 0;
        for (hex, handle) in retired {
            let key = stored_key(&handle, &hex)?;
            match self.signer().destroy_key(&key) {
                Ok(()) | Err(SignError::UnknownKey(_)) => {}
                Err(e) => return Err(e.into()),
            }
            let member = (handle != self.config.rir_handle).then_some(handle.as_str());
            let event = Event::new("key.destroy", member, json!({ "ca": handle, "key": hex }));
            self.write(|tx, now| {
                store::keys::destroyed(tx, &hex)?;
                history::append(tx, now, &history::current_actor(), &event, Vec::new(), "destroyed")?;
                Ok(())
            })?;
            n += 1;
        }
        if n > 0 {
            // Old page images in the write-ahead log may hold a software key's
            // private part: fold the log into the (securely deleted) database.
            self.read(store::keys::checkpoint)?;
        }
        Ok(n)
    }
}
