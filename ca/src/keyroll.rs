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
use crate::work::{stored_key, CaKind, CaRecord, Work};
use rpkit_objects::cert::Cert;
use rpkit_objects::crypto::{KeyId, SignError, Signer};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_serve::args;
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
    let row: Option<(String, Vec<u8>, String)> =
        w.tx.row_opt("SELECT key_id, cert, cert_uri FROM keyrolls WHERE ca_id = ?1", args![ca.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let Some((key, cert, cert_uri)) = row else { return Ok(None) };
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
    let busy: Option<(String, String)> =
        w.tx.row_opt("SELECT key_id, phase FROM keyrolls WHERE ca_id = ?1", args![ca.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if let Some((key, phase)) = busy {
        let hint = if phase == "retiring" { "the offline TA has yet to revoke the old key" } else { "`--activate` ends its staging now" };
        return Err(CaError::Conflict(format!("a key roll of '{}' is under way (key {key}, {phase}); {hint}", ca.handle)));
    }
    let ta_roll: bool = w.tx.value("SELECT EXISTS (SELECT 1 FROM ta_keyroll)", args![])?;
    if ta_roll && ca.kind == CaKind::Rir {
        return Err(CaError::Conflict("a TA key roll is under way: the RIR CA's key rolls after it".into()));
    }
    if offline_parent(w, ca) {
        // The offline TA certifies the next key in its next answer; staging starts then.
        let key = w.create_key()?;
        w.tx.execute(
            "INSERT INTO keyrolls (ca_id, key_id, cert, cert_uri, reason, started, activate_at) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6)",
            args![ca.id, key.hex(), Vec::<u8>::new(), reason.as_str(), w.now.0, i64::MAX],
        )?;
        return Ok(());
    }
    let parent = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    let key = w.create_key()?;
    let public = w.signer.public_key(&key)?;
    let cert = w.ca_cert_builder(Some(&parent), &ca.handle, public, &ca.resources, w.cfg.ca_validity_days)?.sign(w.signer, &parent.key)?;
    let uri = format!("{}{}", parent.pp_uri(w.cfg), FileType::Certificate.file_name(&key.file_stem()));
    w.tx.execute(
        "INSERT INTO keyrolls (ca_id, key_id, cert, cert_uri, reason, started, activate_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![ca.id, key.hex(), cert.to_der(), uri, reason.as_str(), w.now.0, w.now.0 + w.cfg.keyroll_staging_seconds],
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
    let aspas = crate::store::aspas::of_ca(&w.tx, old.id)?;
    let routers = router_certs::router_certs_of(&w.tx, old.id)?;
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
    let old_numbers: (i64, i64, Option<i64>, Option<i64>, Option<i64>) = w.tx.row(
        "SELECT manifest_number, crl_number, mft_ee_serial, mft_this_update, mft_next_update FROM cas WHERE id = ?1",
        args![old.id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    // The CA is its next key from here, with that key's manifest and CRL numbers.
    w.tx.execute(
        "UPDATE cas SET key_id = k.key_id, cert = k.cert, cert_uri = k.cert_uri, manifest_number = k.manifest_number,
            crl_number = k.crl_number, mft_ee_serial = k.mft_ee_serial, mft_this_update = k.mft_this_update,
            mft_next_update = k.mft_next_update, key_since = ?2
         FROM (SELECT * FROM keyrolls WHERE ca_id = ?1) AS k WHERE cas.id = ?1",
        args![old.id, w.now.0],
    )?;
    w.tx.execute("DELETE FROM keyrolls WHERE ca_id = ?1", args![old.id])?;
    w.tx.execute("UPDATE objects SET ca_id = ?1 WHERE uri IN (?2, ?3)", args![old.id, next.crl_uri(cfg), next.mft_uri(cfg)])?;
    if offline {
        // RFC 6489 section 2.3: the old key goes on publishing its CRL and a
        // manifest listing only that, until the parent has revoked it.
        w.tx.execute("UPDATE revocations SET key_id = ?2 WHERE ca_id = ?1 AND key_id IS NULL", args![old.id, old.key.hex()])?;
        w.tx.execute("UPDATE objects SET ca_id = NULL WHERE uri IN (?1, ?2)", args![old.crl_uri(cfg), old.mft_uri(cfg)])?;
        let (mft_num, crl_num, mft_serial, mft_this, mft_next) = old_numbers;
        w.tx.execute(
            "INSERT INTO keyrolls (ca_id, key_id, cert, cert_uri, reason, started, activate_at, manifest_number, crl_number,
                mft_ee_serial, mft_this_update, mft_next_update, phase)
             VALUES (?1, ?2, ?3, ?4, 'retiring', ?5, ?5, ?6, ?7, ?8, ?9, ?10, 'retiring')",
            args![old.id, old.key.hex(), old.cert.to_der(), old.cert_uri, w.now.0, mft_num, crl_num, mft_serial, mft_this, mft_next],
        )?;
    } else {
        w.tx.execute("DELETE FROM revocations WHERE ca_id = ?1 AND (key_id = ?2 OR key_id IS NULL)", args![old.id, old.key.hex()])?;
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
    let row: Option<(String, String, Vec<u8>)> =
        w.tx.row_opt("SELECT key_id, phase, cert FROM keyrolls WHERE ca_id = ?1", args![rir.id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let Some((hex, phase, cert)) = row else { return Ok(None) };
    let key = stored_key(&rir.handle, &hex)?;
    match (phase.as_str(), cert_for(&key)) {
        ("pending", Some((uri, c))) if cert != c.to_der() => {
            let until = w.now.0 + w.cfg.keyroll_staging_seconds;
            w.tx.execute(
                "UPDATE keyrolls SET cert = ?2, cert_uri = ?3, activate_at = ?4 WHERE ca_id = ?1",
                args![rir.id, c.to_der(), uri, until],
            )?;
            w.republish_pending(rir)?;
            Ok(Some(format!("next key {hex} certified: staged until {}", Time(until).rfc3339())))
        }
        ("retiring", None) => {
            let old = pending_view(w, rir)?.ok_or_else(|| CaError::Conflict("a retiring key without a certificate".into()))?;
            w.remove_object(&old.crl_uri(w.cfg))?;
            w.remove_object(&old.mft_uri(w.cfg))?;
            w.tx.execute("DELETE FROM revocations WHERE ca_id = ?1 AND key_id = ?2", args![rir.id, hex])?;
            w.tx.execute("DELETE FROM keyrolls WHERE ca_id = ?1", args![rir.id])?;
            retire(w, &rir.handle, &key)?;
            Ok(Some(format!("old key {hex} revoked by the parent and retired")))
        }
        _ => Ok(None),
    }
}

/// Certify `parent`'s children (and their next keys) again with its current
/// key and certificate URI (AIA).
pub(crate) fn recertify_children(w: &mut Work<'_>, parent: &CaRecord) -> Result<()> {
    let children: Vec<i64> = w.tx.rows("SELECT id FROM cas WHERE parent_id = ?1 ORDER BY id", args![parent.id], |r| r.get(0))?;
    for id in children {
        let child = w.ca_by_id(id)?;
        recertify(w, parent, &child, "cas", "id")?;
        if let Some(next) = pending_view(w, &child)? {
            recertify(w, parent, &next, "keyrolls", "ca_id")?;
        }
    }
    // Delegated children's certificates, too.
    if parent.kind == crate::work::CaKind::Rir {
        crate::children::recertify(w, None)?;
    }
    Ok(())
}

/// `parent`'s new key certifies `child`'s key again: same resources, same URI.
fn recertify(w: &mut Work<'_>, parent: &CaRecord, child: &CaRecord, table: &str, id_col: &str) -> Result<()> {
    let days = w.cfg.ca_validity_days;
    let cert = w
        .ca_cert_builder(Some(parent), &child.handle, child.cert.public_key.clone(), &child.resources, days)?
        .sign(w.signer, &parent.key)?;
    w.put_object(Some(parent.id), &child.cert_uri, cert.to_der().to_vec())?;
    w.tx.execute(&format!("UPDATE {table} SET cert = ?2 WHERE {id_col} = ?1"), args![child.id, cert.to_der()])?;
    Ok(())
}

/// A key no longer used: its private part leaves the database with this
/// change, and the store destroys it once the change is committed.
/// The certificate of CA `ca_id`'s next key, re-issued (its resources changed).
pub(crate) fn set_pending_cert(w: &Work<'_>, ca_id: i64, cert: &[u8]) -> Result<()> {
    w.tx.execute("UPDATE keyrolls SET cert = ?2 WHERE ca_id = ?1", args![ca_id, cert])?;
    Ok(())
}

pub(crate) fn retire(w: &mut Work<'_>, handle: &str, key: &KeyId) -> Result<()> {
    w.tx.execute("DELETE FROM keys WHERE key_id = ?1", args![key.hex()])?;
    w.tx.execute("DELETE FROM token_keys WHERE key_id = ?1", args![key.hex()])?;
    w.tx.execute(
        "INSERT INTO retired_keys (key_id, ca_handle, retired) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![key.hex(), handle, w.now.0],
    )?;
    Ok(())
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
    w.tx.execute("DELETE FROM keyrolls WHERE ca_id = ?1", args![ca.id])?;
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
    let token: bool = c.value("SELECT EXISTS (SELECT 1 FROM token_keys WHERE key_id = ?1)", args![key])?;
    Ok(if token { "hsm" } else { "software" })
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
            let (id, kind, key, since): (i64, String, String, i64) = c
                .row_opt("SELECT id, kind, key_id, COALESCE(key_since, created) FROM cas WHERE handle = ?1", args![handle], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .ok_or_else(|| CaError::NotFound(format!("CA '{handle}'")))?;
            if kind == "ta" {
                return Err(CaError::invalid("ta_key", "the trust anchor's key rolls by RFC 9691 (`rpkit ta keyroll`)"));
            }
            type Row = (String, String, i64, i64, String, bool);
            let pending: Option<Row> = c.row_opt(
                "SELECT key_id, reason, started, activate_at, phase, length(cert) > 0 FROM keyrolls WHERE ca_id = ?1",
                args![id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
            )?;
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
            if let Some((other, reason, started, at, phase, certified)) = pending {
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
        let id: Option<i64> = self.read(|c| Ok(c.value_opt("SELECT id FROM cas WHERE handle = ?1", args![handle])?))?;
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
        let due: Vec<(i64, String)> = self.read(|c| {
            Ok(c.rows(
                "SELECT c.id, c.handle FROM keyrolls k JOIN cas c ON c.id = k.ca_id
                 WHERE k.phase = 'pending' AND length(k.cert) > 0 AND k.activate_at <= ?1 ORDER BY k.activate_at, c.id LIMIT ?2",
                args![now, batch],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })?;
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
        let start_due: Vec<(i64, String, Reason)> = self.read(|c| {
            let v = c.rows(
                "SELECT c.id, c.handle, EXISTS (SELECT 1 FROM keys WHERE key_id = c.key_id) AS soft FROM cas c
                 WHERE c.kind != 'ta' AND NOT EXISTS (SELECT 1 FROM keyrolls k WHERE k.ca_id = c.id)
                   AND ((?1 AND EXISTS (SELECT 1 FROM keys WHERE key_id = c.key_id))
                     OR (?2 > 0 AND COALESCE(c.key_since, c.created) + ?2 <= ?3))
                 ORDER BY soft DESC, c.id LIMIT ?4",
                args![migrate, interval, now, batch],
                |r| {
                    let soft: bool = r.get(2)?;
                    Ok((r.get(0)?, r.get(1)?, if migrate && soft { Reason::Migration } else { Reason::Schedule }))
                },
            )?;
            Ok(v)
        })?;
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
        let ids = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        self.read(|c| {
            Ok(c.value(
                &format!("SELECT (SELECT COUNT(DISTINCT uri) FROM roas WHERE ca_id IN ({ids})) + (SELECT COUNT(*) FROM aspas WHERE ca_id IN ({ids}))"),
                args![])?)
        })
    }

    /// Destroy the keys that committed changes retired (in the HSM too), each
    /// recorded in the history. A key the store no longer has counts as destroyed;
    /// a token fault leaves the rest for the next try.
    pub fn destroy_retired_keys(&self) -> Result<usize> {
        let _one_at_a_time = self.destroying.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let retired: Vec<(String, String)> = self.read(|c| {
            Ok(c.rows("SELECT key_id, ca_handle FROM retired_keys ORDER BY retired, key_id", args![], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })?;
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
                tx.execute("DELETE FROM retired_keys WHERE key_id = ?1", args![&hex])?;
                history::append(tx, now, &history::current_actor(), &event, Vec::new(), "destroyed")?;
                Ok(())
            })?;
            n += 1;
        }
        if n > 0 {
            // Old page images in the write-ahead log may hold a software key's
            // private part: fold the log into the (securely deleted) database.
            self.read(|c| Ok(c.batch("PRAGMA wal_checkpoint(TRUNCATE)")?))?;
        }
        Ok(n)
    }
}
