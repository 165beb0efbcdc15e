//! The trust anchor's key roll (RFC 9691; CHECKLIST ROLL-3, OBJ-3). A TA key
//! is in every relying party's TAL, so it cannot roll like a CA key: the
//! successor is announced in signed TAK objects first.
//!
//! 1. start (`staging`): a new TA key with its own self-signed certificate and
//!    publication point (`<ta handle>-<key>`), certifying the RIR CA's key too.
//!    The old TA publishes a TAK naming itself as current and the new key as
//!    successor; the new TA one naming itself current and the old predecessor.
//! 2. after `ta_keyroll_staging_seconds` (30 days; `--activate` at once), the
//!    successor takes over (`active`): the RIR CA hangs below the new TA, the
//!    CA's TAL is the new one. Relying parties that follow TAKs have moved by
//!    then; the old TA goes on publishing for those that do not.
//! 3. `--retire`: the old TA's tree is withdrawn and its key destroyed.

use crate::contract::TaKeyRollStatus;
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::keyroll::retire;
use crate::service::{ee_spec, Ca};
use crate::store;
use crate::work::{CaKind, CaRecord, NewCa, Work};
use rpkit_objects::cert::Cert;
use rpkit_objects::crypto::Signer;
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::tak::{TaKey, Tak, TakContent};
use rpkit_serve::db::DbError;
use serde_json::json;

/// What a TAL for `ta` says.
fn ta_key(w: &Work<'_>, ta: &CaRecord) -> TaKey {
    TaKey { comments: vec!["rpkit trust anchor".into()], certificate_uris: w.cfg.ta_uris(&ta.cert_uri), key: ta.cert.public_key.clone() }
}

/// (Re-)publish `ta`'s TAK (RFC 9691 section 4); the one it replaces is revoked.
fn publish_tak(w: &mut Work<'_>, ta: &CaRecord, predecessor: Option<&CaRecord>, successor: Option<&CaRecord>) -> Result<()> {
    let uri = format!("{}{}", ta.pp_uri(w.cfg), FileType::TrustAnchorKey.file_name(&ta.key.file_stem()));
    let old = store::objects::der(&w.tx, &uri)?;
    if let Some(t) = old.and_then(|d| Tak::decode(&d).ok()) {
        w.revoke(ta.id, &t.signed.ee.serial, t.signed.ee.not_after)?;
    }
    let content =
        TakContent { current: ta_key(w, ta), predecessor: predecessor.map(|p| ta_key(w, p)), successor: successor.map(|s| ta_key(w, s)) };
    let key = w.signer.one_time_key()?;
    let ee = ee_spec(w, ta, &uri)?;
    let tak = Tak::build(&content, &w.issuer(ta), &ee, key, w.now)?;
    w.put_object(Some(ta.id), &uri, tak.signed.to_der().to_vec())
}

/// The RIR CA's certificate from `ta` (same key, resources and publication point).
fn certify_rir(w: &mut Work<'_>, ta: &CaRecord, rir: &CaRecord) -> Result<(String, Cert)> {
    let cert = w
        .ca_cert_builder(Some(ta), &rir.handle, rir.cert.public_key.clone(), &rir.resources, w.cfg.ca_validity_days)?
        .sign(w.signer, &ta.key)?;
    let uri = format!("{}{}", ta.pp_uri(w.cfg), FileType::Certificate.file_name(&rir.key.file_stem()));
    w.put_object(Some(ta.id), &uri, cert.to_der().to_vec())?;
    Ok((uri, cert))
}

fn start(w: &mut Work<'_>) -> Result<()> {
    if w.cfg.ta_offline {
        return Err(CaError::invalid(
            "ta_offline",
            "the TA is offline: roll its key on its own machine (`rpkit ta keyroll --data TADIR`), then hold a signing session",
        ));
    }
    if store::ta_keyroll::get(&w.tx)?.is_some() {
        return Err(CaError::Conflict("a TA key roll is under way (`rpkit ta keyroll --status`)".into()));
    }
    let old = w.ca_of_kind(CaKind::Ta)?.ok_or_else(|| CaError::NotFound("trust anchor (run `rpkit ta init`)".into()))?;
    // The RIR CA here, or (an offline TA's own side) the keys its child holds certificates for.
    let rir = w.ca_of_kind(CaKind::Rir)?;
    if let Some(rir) = &rir {
        if store::keyrolls::exists(&w.tx, rir.id)? {
            return Err(CaError::Conflict("the RIR CA's own key roll is under way: finish it first".into()));
        }
    }
    let key = w.create_key()?;
    let public = w.signer.public_key(&key)?;
    let stem = key.file_stem();
    let handle = format!("{}-{}", w.cfg.ta_handle, &stem[..8]).replace('_', "-");
    let cert = w.ca_cert_builder(None, &handle, public, &old.resources, w.cfg.ta_validity_days)?.sign(w.signer, &key)?;
    let uri = format!("{}{handle}.cer", w.cfg.rsync_base);
    let id = w.insert_ca(NewCa {
        handle: &handle,
        kind: CaKind::Ta,
        parent: None,
        key,
        resources: &old.resources,
        cert: &cert,
        cert_uri: &uri,
        opaque_id: None,
    })?;
    w.put_object(None, &uri, cert.to_der().to_vec())?;
    let new = w.ca_by_id(id)?;
    match &rir {
        Some(rir) => {
            certify_rir(w, &new, rir)?;
        }
        None => {
            let (child, keys) = crate::offline_ta::child_keys(w, &old)?;
            crate::offline_ta::certify_under(w, &new, &child, &keys)?;
        }
    }
    publish_tak(w, &old, None, Some(&new))?;
    publish_tak(w, &new, Some(&old), None)?;
    store::ta_keyroll::start(&w.tx, old.id, new.id, w.now.0, w.now.0 + w.cfg.ta_keyroll_staging_seconds)?;
    w.mark_dirty(old.id);
    w.mark_dirty(new.id);
    Ok(())
}

fn activate(w: &mut Work<'_>) -> Result<()> {
    let Some((_, new_id, phase, _, _)) = store::ta_keyroll::get(&w.tx)? else {
        return Err(CaError::NotFound("a TA key roll under way".into()));
    };
    if phase != "staging" {
        return Err(CaError::Conflict("the successor took over already; `--retire` withdraws the old TA".into()));
    }
    let new = w.ca_by_id(new_id)?;
    store::settings::set_ta_current(&w.tx, new.id)?;
    store::ta_keyroll::activate(&w.tx)?;
    // An offline TA's own side has no RIR CA: the online CA follows with the next answer.
    let Some(rir) = w.ca_of_kind(CaKind::Rir)? else {
        w.mark_dirty(new.id);
        return Ok(());
    };
    let uri = format!("{}{}", new.pp_uri(w.cfg), FileType::Certificate.file_name(&rir.key.file_stem()));
    let der = store::objects::der(&w.tx, &uri)?.ok_or(DbError::NoRow)?;
    // The RIR CA below the new TA; its children name its new certificate (AIA).
    store::cas::set_parent(&w.tx, rir.id, new.id, &der, &uri)?;
    let rir = w.ca_by_id(rir.id)?;
    crate::keyroll::recertify_children(w, &rir)?;
    w.mark_dirty(rir.id);
    Ok(())
}

fn retire_old(w: &mut Work<'_>) -> Result<()> {
    let Some((old_id, new_id, phase, _, _)) = store::ta_keyroll::get(&w.tx)? else {
        return Err(CaError::NotFound("a TA key roll under way".into()));
    };
    if phase != "active" {
        return Err(CaError::Conflict("the successor has not taken over yet (`--activate`)".into()));
    }
    let old = w.ca_by_id(old_id)?;
    let uris = store::objects::uris_of(&w.tx, old.id)?;
    for u in uris.iter().chain([&old.cert_uri]) {
        w.remove_object(u)?;
    }
    store::revocations::delete_of_ca(&w.tx, old.id)?;
    store::offline_ta::delete_child_certs(&w.tx, old.id)?;
    store::ta_keyroll::delete(&w.tx)?;
    store::cas::delete(&w.tx, old.id)?;
    retire(w, &old.handle, &old.key)?;
    // The TA's TAK names its key alone from now on.
    let new = w.ca_by_id(new_id)?;
    publish_tak(w, &new, None, None)?;
    Ok(())
}

impl Ca {
    /// The TA's key and its roll.
    pub fn ta_keyroll_status(&self) -> Result<TaKeyRollStatus> {
        let tal = self.tal()?;
        let row = self.read(store::ta_keyroll::status)?;
        let mut s = TaKeyRollStatus {
            phase: "none".into(),
            key: tal.key.key_id().hex(),
            uris: tal.uris.clone(),
            tal: tal.encode(),
            ..TaKeyRollStatus::default()
        };
        if let Some(store::ta_keyroll::RollStatus { phase, started, activate_at: at, old_key, new_key, new_uri }) = row {
            s.started = Some(Time(started).rfc3339());
            if phase == "staging" {
                s.successor = Some(new_key);
                s.successor_uris = self.config.ta_uris(&new_uri);
                s.activates_at = Some(Time(at).rfc3339());
            } else {
                s.predecessor = Some(old_key);
            }
            s.phase = phase;
        }
        Ok(s)
    }

    /// Start a TA key roll: the successor announced in TAK objects.
    pub fn ta_keyroll_start(&self) -> Result<TaKeyRollStatus> {
        self.fill_key_pool(3)?;
        self.change(Event::new("ta.keyroll.start", None, json!({})), start)?;
        self.ta_keyroll_status()
    }

    /// The successor takes over now (else at the end of the staging time).
    pub fn ta_keyroll_activate(&self) -> Result<TaKeyRollStatus> {
        self.fill_key_pool(2)?;
        self.change(Event::new("ta.keyroll.activate", None, json!({})), activate)?;
        self.ta_keyroll_status()
    }

    /// Withdraw the old TA's tree and destroy its key.
    pub fn ta_keyroll_retire(&self) -> Result<TaKeyRollStatus> {
        self.fill_key_pool(2)?;
        self.change(Event::new("ta.keyroll.retire", None, json!({})), retire_old)?;
        if let Err(e) = self.destroy_retired_keys() {
            tracing::warn!("the old TA key waits to be destroyed: {e}");
        }
        self.ta_keyroll_status()
    }

    /// The schedule's part: a TA roll whose staging time is over takes over.
    pub(crate) fn ta_keyroll_due(&self) -> Result<bool> {
        let now = self.now().0;
        let due = self.read(|c| store::ta_keyroll::due(c, now))?;
        if due {
            self.fill_key_pool(2)?;
            self.change(Event::new("ta.keyroll.activate", None, json!({ "staging": "over" })), activate)?;
        }
        Ok(due)
    }
}
