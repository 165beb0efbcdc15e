//! An offline trust anchor. The TA lives in a data directory of its own, on
//! a machine that is never online; the online CA reaches it only by signed
//! files (`ta_exchange.rs`) that an operator carries over:
//!
//! - set-up (RFC 8183): the online CA's `child_request` goes to the TA, whose
//!   `ta init --offline` answers with a `parent_response` holding its identity;
//! - the online CA's request lists the keys its RIR CA wants certified now;
//!   `ta sign` certifies those (renewing near expiry), revokes every other
//!   certificate it gave the child, re-issues its CRL and manifest (valid for
//!   weeks), renews its own certificate when due (TA-9), and answers with its
//!   whole publication set;
//! - the online CA imports the answer as one change and publishes it.
//!
//! Each side refuses a file that is not signed by the other's identity
//! (foreign), does not verify (altered), is past its validity (expired), or
//! whose nonce is not the one expected (replayed); a refused file changes nothing.

use crate::contract::{TaImport, TaStatus};
use crate::error::{CaError, Result};
use crate::history::{self, Event};
use crate::service::Ca;
use crate::store::{self, settings};
use crate::ta_exchange::{self, ExchangeError, TaRequest, TaResponse};
use crate::work::{stored_key, CaKind, CaRecord, NewCa, Work};
use rpkit_objects::bpki::{IdCert, Identity};
use rpkit_objects::cert::Cert;
use rpkit_objects::crypto::{KeyId, PublicKey, Signer};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::manifest::Manifest;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::rfc8183::{ChildRequest, ParentResponse};
use rpkit_objects::serial::Serial;
use rpkit_objects::tal::Tal;
use rpkit_serve::db::Sql;
use serde_json::json;

/// The RFC 8183 service URI of a parent reached by files.
pub const SERVICE_URI: &str = "urn:rpkit:offline-ta";

fn exchange(e: ExchangeError) -> CaError {
    CaError::invalid(e.code(), e.to_string())
}

fn id_cert(c: &impl Sql, key: &str, what: &str) -> Result<IdCert> {
    let b64 = settings::get(c, key)?.ok_or_else(|| CaError::NotFound(what.to_string()))?;
    let der = rpkit_objects::hex::decode(&b64).ok_or_else(|| CaError::Conflict(format!("stored {what}")))?;
    IdCert::decode(&der).map_err(|e| CaError::Conflict(format!("stored {what}: {e}")))
}

// --- The TA's side ---------------------------------------------------------------

impl Ca {
    /// Create a trust anchor alone (no RIR CA: that one is online) for the
    /// child of `child`; returns the TAL and the RFC 8183 parent_response.
    pub fn init_offline_ta(&self, resources: &ResourceSet, child: &ChildRequest, identity: &Identity) -> Result<(Tal, ParentResponse)> {
        if resources.is_empty() {
            return Err(CaError::invalid("no_resources", "the trust anchor needs resources"));
        }
        let request = json!({ "resources": resources.to_string(), "child": child.child_handle });
        self.change(Event::new("ta.init", None, request), |w| {
            if w.ca_of_kind(CaKind::Ta)?.is_some() {
                return Err(CaError::Conflict("the trust anchor already exists".into()));
            }
            let cfg = w.cfg;
            let key = w.create_key()?;
            let public = w.signer.public_key(&key)?;
            let cert = w.ca_cert_builder(None, &cfg.ta_handle, public, resources, cfg.ta_validity_days)?.sign(w.signer, &key)?;
            let uri = cfg.ta_cert_uri();
            let id = w.insert_ca(NewCa {
                handle: &cfg.ta_handle,
                kind: CaKind::Ta,
                parent: None,
                key,
                resources,
                cert: &cert,
                cert_uri: &uri,
                opaque_id: None,
            })?;
            w.put_object(None, &uri, cert.to_der().to_vec())?;
            w.mark_dirty(id);
            settings::put(&w.tx, "ta_child_handle", &child.child_handle)?;
            settings::put(&w.tx, "ta_child_identity", &rpkit_objects::hex::lower(child.id_cert.to_der()))?;
            Ok(())
        })?;
        let response = ParentResponse {
            tag: None,
            service_uri: SERVICE_URI.into(),
            child_handle: child.child_handle.clone(),
            parent_handle: self.config.ta_handle.clone(),
            id_cert: identity.cert.clone(),
        };
        Ok((self.tal()?, response))
    }

    /// Answer a request file from the online CA (`rpkit ta sign`).
    pub fn ta_sign(&self, file: &[u8], identity: &Identity) -> Result<Vec<u8>> {
        let now = self.now();
        let (child_id, child_handle) = self.read(|c| {
            let handle = settings::get(c, "ta_child_handle")?
                .ok_or_else(|| CaError::NotFound("an offline TA here (run `rpkit ta init --offline`)".into()))?;
            Ok((id_cert(c, "ta_child_identity", "the child's identity")?, handle))
        })?;
        let xml = ta_exchange::open(file, &child_id, now).map_err(exchange)?;
        let req = TaRequest::from_xml(&xml).map_err(exchange)?;
        ta_exchange::check_window(req.created, req.valid_until, now).map_err(exchange)?;
        if req.child != child_handle {
            return Err(exchange(ExchangeError::Foreign(format!("it is for child '{}', not '{child_handle}'", req.child))));
        }
        let seen = self.read(|c| store::offline_ta::nonce_seen(c, &req.nonce))?;
        if seen {
            return Err(exchange(ExchangeError::Replayed(req.nonce)));
        }
        // A TA key roll whose staging time is over takes over before the answer.
        self.ta_keyroll_due()?;
        let keys: Vec<String> = req.keys.iter().map(|k| k.key_id().hex()).collect();
        let event = Event::new("ta.sign", None, json!({ "nonce": req.nonce, "child": req.child, "keys": keys }));
        self.change(event, |w| certify_child(w, &req))?;
        let until = Time(req.valid_until.0.max(now.add_secs(self.config.ta_request_validity_days * 86400).0));
        let current = self.tal()?.key.key_id().hex();
        let response = TaResponse { nonce: req.nonce, created: now, valid_until: until, current, objects: self.published()? };
        Ok(ta_exchange::seal(identity, &response.to_xml(), now, until)?)
    }
}

/// The TA's part of `ta_sign`, in its transaction: under each of its keys
/// (two during its own key roll, RFC 9691).
fn certify_child(w: &mut Work<'_>, req: &TaRequest) -> Result<()> {
    let ids = store::cas::ta_ids_in_order(&w.tx)?;
    if ids.is_empty() {
        return Err(CaError::NotFound("the trust anchor".into()));
    }
    for id in ids {
        let ta = w.ca_by_id(id)?;
        certify_under(w, &ta, &req.child, &req.keys)?;
    }
    store::offline_ta::add_nonce(&w.tx, &req.nonce, w.now.0)?;
    Ok(())
}

/// `ta` certifies exactly `keys` for `child` (renewing near expiry), revokes
/// what else it gave, renews itself when due (TA-9) and re-issues its CRL and manifest.
pub(crate) fn certify_under(w: &mut Work<'_>, ta: &CaRecord, child: &str, keys: &[PublicKey]) -> Result<()> {
    let renew_at = w.now.add_secs(w.cfg.renew_before_days * 86400).0;
    let issued = store::offline_ta::child_certs(&w.tx, ta.id)?;
    let wanted: Vec<(String, &PublicKey)> = keys.iter().map(|k| (k.key_id().hex(), k)).collect();
    for (key_id, uri, serial, not_after) in &issued {
        let keep = wanted.iter().any(|(k, _)| k == key_id) && *not_after > renew_at;
        if !keep {
            // Not wanted any more (a finished key roll), or due for renewal.
            w.revoke(ta.id, &Serial::from_u64(*serial as u64), Time(*not_after))?;
            w.remove_object(uri)?;
            store::offline_ta::delete_child_cert(&w.tx, ta.id, key_id)?;
        }
    }
    for (key_id, key) in wanted {
        if store::offline_ta::has_child_cert(&w.tx, ta.id, &key_id)? {
            continue;
        }
        let cert = w.ca_cert_builder(Some(ta), child, (*key).clone(), &ta.resources, w.cfg.ca_validity_days)?.sign(w.signer, &ta.key)?;
        let uri = format!("{}{}", ta.pp_uri(w.cfg), FileType::Certificate.file_name(&key.key_id().file_stem()));
        w.put_object(Some(ta.id), &uri, cert.to_der().to_vec())?;
        store::offline_ta::add_child_cert(&w.tx, ta.id, &key_id, child, &uri, crate::service::serial_i64(&cert.serial), cert.not_after.0)?;
    }
    if ta.cert.not_after.0 < renew_at {
        let res = ta.resources.clone();
        crate::members::reissue_ca_cert(w, ta, &res)?;
    }
    w.mark_dirty(ta.id);
    Ok(())
}

/// The keys an offline TA's child holds certificates for under `ta`, and its handle.
pub(crate) fn child_keys(w: &Work<'_>, ta: &CaRecord) -> Result<(String, Vec<PublicKey>)> {
    let ders = store::offline_ta::child_cert_ders(&w.tx, ta.id)?;
    let keys = ders
        .iter()
        .map(|d| Cert::decode(d).map(|c| c.public_key).map_err(|e| CaError::Conflict(format!("stored child certificate: {e}"))))
        .collect::<Result<_>>()?;
    Ok((settings::get(&w.tx, "ta_child_handle")?.unwrap_or_default(), keys))
}

// --- The online CA's side --------------------------------------------------------

impl Ca {
    /// The identity that signs this CA's files (its RFC 8183 identity).
    pub fn set_identity(&self, identity: Identity) {
        let _ = self.identity.set(identity);
    }

    /// Take the offline TA's RFC 8183 parent_response: its identity signs the
    /// answers this CA will take.
    pub fn set_offline_parent(&self, parent: &ParentResponse) -> Result<()> {
        if parent.service_uri != SERVICE_URI {
            return Err(CaError::invalid("not_offline", format!("service_uri {:?}: not an offline TA's answer", parent.service_uri)));
        }
        let own_ta = self.read(store::cas::has_ta_key)?;
        if own_ta {
            return Err(CaError::Conflict("this CA has a trust anchor of its own".into()));
        }
        let event = Event::new("ta.parent", None, json!({ "parent": parent.parent_handle, "identity": parent.id_cert.ski.hex() }));
        self.write(|tx, now| {
            settings::put(tx, "ta_identity", &rpkit_objects::hex::lower(parent.id_cert.to_der()))?;
            history::append(tx, now, &history::current_actor(), &event, Vec::new(), "applied")?;
            Ok(())
        })
    }

    /// A new request file for the offline TA: the keys the RIR CA wants
    /// certified now. It replaces any request still pending.
    pub fn ta_request(&self) -> Result<Vec<u8>> {
        let identity =
            self.identity.get().ok_or_else(|| CaError::NotFound("this CA's identity (it is loaded by `rpkit ca serve`)".into()))?;
        self.read(|c| id_cert(c, "ta_identity", "an offline TA (run `rpkit ca parent add`)").map(|_| ()))?;
        let rir_key = self.rir_key()?;
        let keys: Vec<PublicKey> = self
            .read(|c| {
                let mut keys = vec![rir_key];
                if let Some(n) = store::keyrolls::rir_pending_key(c)? {
                    keys.push(stored_key("rir", &n)?);
                }
                Ok(keys)
            })?
            .into_iter()
            .map(|k| self.signer().public_key(&k).map_err(CaError::from))
            .collect::<Result<_>>()?;
        let now = self.now();
        let until = now.add_secs(self.config.ta_request_validity_days * 86400);
        let req = TaRequest { nonce: ta_exchange::nonce(), created: now, valid_until: until, child: self.config.rir_handle.clone(), keys };
        let file = ta_exchange::seal(identity, &req.to_xml(), now, until)?;
        let keys: Vec<String> = req.keys.iter().map(|k| k.key_id().hex()).collect();
        let event = Event::new("ta.request", None, json!({ "nonce": req.nonce, "keys": keys, "valid_until": until.rfc3339() }));
        self.write(|tx, now| {
            store::offline_ta::supersede_pending(tx)?;
            store::offline_ta::add_request(tx, &req.nonce, now.0, until.0)?;
            history::append(tx, now, &history::current_actor(), &event, Vec::new(), "applied")?;
            Ok(())
        })?;
        Ok(file)
    }

    /// The RIR CA's current key; made (and kept) before its first certificate.
    pub(crate) fn rir_key(&self) -> Result<KeyId> {
        let stored = self.read(|c| {
            Ok(match store::cas::rir_key(c)? {
                Some(k) => Some(k),
                None => settings::get(c, "rir_key")?,
            })
        })?;
        if let Some(k) = stored {
            return stored_key("rir", &k);
        }
        self.fill_key_pool(1)?;
        let event = Event::new("rir.key", None, json!({}));
        let key = self.change(event, |w| {
            let key = w.create_key()?;
            settings::put(&w.tx, "rir_key", &key.hex())?;
            Ok(key)
        })?;
        Ok(key)
    }

    /// Import the offline TA's answer to the pending request, as one change.
    pub fn ta_import(&self, file: &[u8]) -> Result<TaImport> {
        let now = self.now();
        let ta_id = self.read(|c| id_cert(c, "ta_identity", "an offline TA (run `rpkit ca parent add`)"))?;
        let xml = ta_exchange::open(file, &ta_id, now).map_err(exchange)?;
        let resp = TaResponse::from_xml(&xml).map_err(exchange)?;
        ta_exchange::check_window(resp.created, resp.valid_until, now).map_err(exchange)?;
        let state = self.read(|c| store::offline_ta::request_state(c, &resp.nonce))?;
        match state.as_deref() {
            Some("pending") => {}
            Some("answered") => return Err(exchange(ExchangeError::Replayed(resp.nonce))),
            _ => {
                let want = self.read(store::offline_ta::pending_nonce)?;
                return Err(exchange(match want {
                    Some(want) => ExchangeError::NotPending { got: resp.nonce, want },
                    None => ExchangeError::NothingPending,
                }));
            }
        }
        let rir_key = self.rir_key()?;
        let event = Event::new("ta.import", None, json!({ "nonce": resp.nonce }));
        let report = self.change(event, |w| import(w, &resp, rir_key))?;
        if let Err(e) = self.destroy_retired_keys() {
            tracing::warn!("the RIR CA's old key waits to be destroyed: {e}");
        }
        Ok(report)
    }

    /// The offline TA's state: when its manifest and CRL run out, when the
    /// next signing session is due, the request pending.
    pub fn ta_status(&self) -> Result<TaStatus> {
        let now = self.now();
        self.read(|c| {
            let next_update = ta_next_update(c)?;
            let pending = store::offline_ta::pending(c)?;
            let due = next_update.map(|t| t - self.config.ta_warn_days * 86400);
            Ok(TaStatus {
                offline: self.config.ta_offline,
                next_update: next_update.map(|t| Time(t).rfc3339()),
                signing_due: due.map(|t| Time(t).rfc3339()),
                overdue: due.is_some_and(|d| now.0 >= d),
                expired: next_update.is_some_and(|t| now.0 >= t),
                pending_request: pending.as_ref().map(|p| p.0.clone()),
                pending_valid_until: pending.map(|p| Time(p.1).rfc3339()),
            })
        })
    }

    /// Record once in the history that the TA's next signing session is due.
    pub fn ta_check_due(&self) -> Result<bool> {
        if !self.config.ta_offline {
            return Ok(false);
        }
        let s = self.ta_status()?;
        let (Some(next), true) = (s.next_update.clone(), s.overdue) else { return Ok(false) };
        let warned = self.read(|c| settings::get(c, "ta_due_recorded"))?;
        if warned.as_deref() == Some(next.as_str()) {
            return Ok(false);
        }
        let _schedule = history::acting_as(history::Actor::Schedule);
        let event = Event::new("ta.due", None, json!({ "next_update": next, "signing_due": s.signing_due }));
        self.write(|tx, now| {
            settings::put(tx, "ta_due_recorded", &next)?;
            history::append(tx, now, &history::current_actor(), &event, Vec::new(), "warning")?;
            Ok(())
        })?;
        tracing::warn!("the offline TA's manifest and CRL run out at {next}: its signing session is due");
        Ok(true)
    }
}

/// The nextUpdate of the current TA's manifest as published (seconds).
fn ta_next_update(c: &impl Sql) -> Result<Option<i64>> {
    let der = store::objects::ta_manifest(c)?;
    Ok(der.and_then(|d| Manifest::decode(&d).ok()).map(|m| m.content.next_update.0))
}

/// A TA instance in an answer: its certificate, where it is, its publication point.
struct TaInstance {
    uri: String,
    der: Vec<u8>,
    cert: Cert,
    pp: String,
}

/// The online part of `ta_import`, in its transaction. The answer holds one
/// TA instance, or two during the TA's key roll (RFC 9691): its certificates
/// stand directly below the rsync base, everything else in their publication points.
fn import(w: &mut Work<'_>, resp: &TaResponse, rir_key: KeyId) -> Result<TaImport> {
    let cfg = w.cfg;
    let bad = |m: String| CaError::invalid("ta_malformed", m);
    let mut tas = Vec::new();
    for (uri, der) in resp.objects.iter().filter(|(u, _)| u.strip_prefix(&cfg.rsync_base).is_some_and(|r| !r.contains('/'))) {
        let cert = Cert::decode(der).map_err(|e| bad(format!("{uri}: {e}")))?;
        cert.verify_self_signed().map_err(|e| bad(format!("{uri}: {e}")))?;
        let pp = cert.sia.rsync_repository().map(str::to_string).filter(|p| p.starts_with(&cfg.rsync_base));
        let pp = pp.ok_or_else(|| bad(format!("{uri}: its publication point is not below {}", cfg.rsync_base)))?;
        tas.push(TaInstance { uri: uri.clone(), der: der.clone(), cert, pp });
    }
    let current = tas.iter().position(|t| t.cert.ski.hex() == resp.current);
    let current = current.ok_or_else(|| bad(format!("no TA certificate for the current key {}", resp.current)))?;
    if let Some(u) = resp.objects.keys().find(|u| !tas.iter().any(|t| **u == t.uri || u.starts_with(&t.pp))) {
        return Err(bad(format!("{u} is outside the TA's publication points")));
    }
    // The TA rows, found by key: made from the first answer that has them.
    let mut ids = Vec::new();
    for t in &tas {
        let res = t.cert.resources.explicit_set();
        let id = match store::cas::ta_by_key(&w.tx, &t.cert.ski.hex())? {
            Some(id) => {
                store::cas::set_ta_cert(&w.tx, id, &t.der, &res)?;
                id
            }
            None => {
                let handle = t.pp.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_string();
                w.insert_ca(NewCa {
                    handle: &handle,
                    kind: CaKind::Ta,
                    parent: None,
                    key: t.cert.ski,
                    resources: &res,
                    cert: &t.cert,
                    cert_uri: &t.uri,
                    opaque_id: None,
                })?
            }
        };
        ids.push(id);
    }
    // Exactly the TAs' publication set: what they no longer have is withdrawn.
    let held = store::objects::of_tas(&w.tx)?;
    for uri in held.iter().filter(|u| !resp.objects.contains_key(*u)) {
        w.remove_object(uri)?;
    }
    for (uri, der) in &resp.objects {
        let owner = tas.iter().zip(&ids).find(|(t, _)| uri.starts_with(&t.pp)).map(|(_, id)| *id);
        w.put_object(owner, uri, der.clone())?;
    }
    // Certificates the current TA gave the RIR CA, by key.
    let pp = tas[current].pp.clone();
    let certs: Vec<(String, Cert)> = resp
        .objects
        .iter()
        .filter(|(u, _)| u.ends_with(".cer") && u.starts_with(&pp))
        .map(|(u, d)| Cert::decode(d).map(|c| (u.clone(), c)).map_err(|e| bad(format!("{u}: {e}"))))
        .collect::<Result<_>>()?;
    let cert_for = |k: &KeyId| certs.iter().find(|(_, c)| c.ski == *k).cloned();
    let mut report = TaImport { objects: resp.objects.len(), ..TaImport::default() };
    let (uri, cert) = cert_for(&rir_key).ok_or_else(|| bad(format!("no certificate for the RIR CA's key {}", rir_key.hex())))?;
    let res = cert.resources.explicit_set();
    let ta_id = ids[current];
    match w.ca_of_kind(CaKind::Rir)? {
        None => {
            w.insert_rir(Some(ta_id), rir_key, &cert, &uri)?;
            report.rir_certified = true;
        }
        Some(rir) => {
            if rir.cert.to_der() != cert.to_der() || rir.parent_id != Some(ta_id) {
                store::cas::set_parent_and_resources(&w.tx, rir.id, ta_id, cert.to_der(), &uri, &res)?;
                w.mark_dirty(rir.id);
                report.rir_certified = true;
                if uri != rir.cert_uri {
                    // Below a new TA: the RIR CA's children name its new certificate (AIA).
                    let rir = w.ca_by_id(rir.id)?;
                    crate::keyroll::recertify_children(w, &rir)?;
                }
            }
            let rir = w.ca_by_id(rir.id)?;
            report.keyroll = crate::keyroll::parent_answered(w, &rir, &cert_for)?;
        }
    }
    // A TA instance no longer in the answer (retired after its key roll) goes.
    let gone: Vec<i64> = store::cas::ta_ids(&w.tx)?.into_iter().filter(|id| !ids.contains(id)).collect();
    for id in gone {
        store::revocations::delete_of_ca(&w.tx, id)?;
        store::cas::delete(&w.tx, id)?;
    }
    store::offline_ta::answered(&w.tx, &resp.nonce)?;
    report.next_update = ta_next_update(&w.tx)?.map(|t| Time(t).rfc3339());
    Ok(report)
}
