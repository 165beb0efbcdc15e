//! RFC 6492 as a child: this CA's top CA (an NIR's, or a member's that runs
//! its own) takes its certificate from a parent reached over HTTP (an RIR's
//! rpkit, Krill) instead of a local trust anchor. Set up by the parent's RFC
//! 8183 parent_response; then each sync lists the entitlement, asks for what
//! the top CA's keys lack (a new key, more or fewer resources, a renewal),
//! revokes what a finished key roll left (RFC 6489), and applies the answer
//! as one change: a shrunk entitlement shrinks the members below, whose ROAs
//! no longer covered are withdrawn and reported. Syncs run periodically with
//! jitter, sooner after a failure; an unreachable parent leaves everything
//! published as it was.

use crate::contract::{ParentStatus, ParentSync, ResourceChange};
use crate::error::{CaError, Result};
use crate::history::{self, Event};
use crate::service::Ca;
use crate::store::{self, settings};
use crate::work::{stored_key, CaKind, Work};
use rpkit_objects::cert::Cert;
use rpkit_objects::crypto::KeyId;
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::pkcs10::CaCertRequest;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::rfc8183::ParentResponse;
use rpkit_objects::signed_message::{SignedMessage, SKEW_SECS};
use rpkit_objects::up_down::{Class, ErrorCode, IssueRequest, KeyRef, Limit, Message, Payload, CONTENT_TYPE};
use rpkit_serve::db::Sql;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

/// How long one exchange with the parent may take.
const HTTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// The shortest wait after a failed sync; it doubles up to the sync interval.
const RETRY_SECS: i64 = 30;

/// When the next sync is due (in memory: a restart syncs at once).
#[derive(Default)]
pub struct Schedule {
    next: AtomicI64,
    failures: AtomicU32,
    asked: AtomicBool,
}

impl Schedule {
    /// Sync at the next occasion (a key roll waits for the parent).
    pub fn wake(&self) {
        self.asked.store(true, Ordering::SeqCst);
    }

    fn due(&self, now: i64) -> bool {
        self.asked.load(Ordering::SeqCst) || now >= self.next.load(Ordering::SeqCst)
    }

    fn done(&self, now: i64, interval: i64, ok: bool) {
        self.asked.store(false, Ordering::SeqCst);
        let wait = if ok {
            self.failures.store(0, Ordering::SeqCst);
            // Up to a fifth more, so that many children do not all come at once.
            interval + (rand::random::<u64>() % (interval as u64 / 5 + 1)) as i64
        } else {
            let n = self.failures.fetch_add(1, Ordering::SeqCst).min(16);
            (RETRY_SECS << n).min(interval)
        };
        self.next.store(now + wait, Ordering::SeqCst);
    }
}

fn parent_of(c: &impl Sql) -> Result<ParentResponse> {
    let xml =
        settings::get(c, "updown_parent")?.ok_or_else(|| CaError::NotFound("an RFC 6492 parent (run `rpkit ca parent add`)".into()))?;
    ParentResponse::decode(xml.as_bytes()).map_err(|e| CaError::Conflict(format!("stored parent_response: {e}")))
}

fn parent_err(e: impl std::fmt::Display) -> CaError {
    CaError::Parent(e.to_string())
}

impl Ca {
    /// Take an RFC 8183 parent_response: the top CA is that parent's child.
    pub fn set_updown_parent(&self, parent: &ParentResponse) -> Result<()> {
        if !parent.service_uri.starts_with("https://") && !parent.service_uri.starts_with("http://") {
            return Err(CaError::invalid("bad_parent", format!("service_uri {:?} is not an http(s) URI", parent.service_uri)));
        }
        if self.config.ta_offline {
            return Err(CaError::Conflict("this CA's parent is an offline trust anchor".into()));
        }
        let own_ta = self.read(store::cas::has_ta)?;
        if own_ta {
            return Err(CaError::Conflict("this CA has a trust anchor of its own".into()));
        }
        let event = Event::new(
            "parent.add",
            None,
            json!({ "parent": parent.parent_handle, "child": parent.child_handle, "service_uri": parent.service_uri, "identity": parent.id_cert.ski.hex() }),
        );
        self.write(|tx, now| {
            settings::put(tx, "updown_parent", &parent.encode())?;
            settings::forget_parent_signing_time(tx)?;
            history::append(tx, now, &history::current_actor(), &event, Vec::new(), "applied")?;
            Ok(())
        })?;
        self.parent_schedule.wake();
        Ok(())
    }

    /// The parent, and how the last syncs went.
    pub fn parent_status(&self) -> Result<ParentStatus> {
        self.read(|c| {
            let p = parent_of(c)?;
            let rir = crate::work::rir_record(c).ok();
            let at =
                |k: &str| -> Result<Option<String>> { Ok(settings::get(c, k)?.and_then(|v| v.parse().ok()).map(|t| Time(t).rfc3339())) };
            Ok(ParentStatus {
                parent_handle: p.parent_handle,
                child_handle: p.child_handle,
                service_uri: p.service_uri,
                last_contact: at("parent_last_contact")?,
                last_success: at("parent_last_success")?,
                last_error: settings::get(c, "parent_last_error")?,
                resources: rir.as_ref().map(|r| (&r.resources).into()),
                certificate_not_after: rir.map(|r| r.cert.not_after.rfc3339()),
            })
        })
    }

    /// A sync if one is due (the server's loop asks every second): on the
    /// schedule, or at once while a key roll waits for the parent.
    pub fn parent_sync_due(&self) -> Option<Result<ParentSync>> {
        if !self.config.updown_parent {
            return None;
        }
        let now = self.now().0;
        let waiting = self.read(store::keyrolls::rir_waits_for_parent).unwrap_or(false);
        if waiting && self.parent_schedule.failures.load(Ordering::SeqCst) == 0 {
            self.parent_schedule.wake();
        }
        self.parent_schedule.due(now).then(|| self.sync_parent())
    }

    /// One sync with the parent; its outcome is kept for `parent_status`.
    pub fn sync_parent(&self) -> Result<ParentSync> {
        let _schedule = history::acting_as(history::Actor::Schedule);
        let r = self.sync_once();
        let now = self.now().0;
        let interval = self.config.updown_sync_secs.max(1) as i64;
        self.parent_schedule.done(now, interval, r.is_ok());
        let outcome = match &r {
            Ok(_) => ("parent_last_success", String::new()),
            Err(e) => ("parent_last_error", e.to_string()),
        };
        if let Err(e) = &r {
            tracing::warn!("sync with the parent failed (retried): {e}");
        }
        self.write(|tx, _| {
            if outcome.0 == "parent_last_success" {
                settings::put(tx, "parent_last_success", &now.to_string())?;
                settings::forget_parent_error(tx)?;
            } else {
                settings::put(tx, "parent_last_error", &outcome.1)?;
            }
            Ok(())
        })?;
        r
    }

    fn sync_once(&self) -> Result<ParentSync> {
        let parent = self.read(parent_of)?;
        let mut http = reqwest::blocking::Client::builder().timeout(HTTP_TIMEOUT);
        for path in &self.config.tls_roots {
            let pem = std::fs::read(path).map_err(|e| parent_err(format!("{path}: {e}")))?;
            let root = reqwest::Certificate::from_pem(&pem).map_err(|e| parent_err(format!("{path}: {e}")))?;
            http = http.add_root_certificate(root);
        }
        let http = http.build().map_err(parent_err)?;
        let rir_key = self.rir_key()?;
        let next = self.read(|c| {
            // A pending next key wants a certificate; a retiring old key wants none.
            Ok(match store::keyrolls::rir_roll(c)? {
                Some((k, phase, _)) if phase != "retiring" => Some(stored_key("rir", &k)?),
                _ => None,
            })
        })?;
        let classes = match self.exchange(&http, &parent, Payload::List)? {
            Payload::ListResponse(c) => c,
            other => return Err(parent_err(format!("a {} in answer to a list", other.type_name()))),
        };
        let class = match classes.as_slice() {
            [] => {
                return Ok(ParentSync { entitled: None, ..ParentSync::default() });
            }
            [c] => c.clone(),
            more => return Err(parent_err(format!("the parent offers {} resource classes; this CA takes one", more.len()))),
        };
        let issuer = Cert::decode(&class.issuer).map_err(|e| parent_err(format!("the issuer certificate: {e}")))?;
        let mut certs: Vec<(String, Cert)> = Vec::new();
        for c in &class.certificates {
            let cert = Cert::decode(&c.der).map_err(|e| parent_err(format!("{}: {e}", c.cert_url)))?;
            cert.verify_signature(&issuer.public_key).map_err(|e| parent_err(format!("{}: not signed by the issuer: {e}", c.cert_url)))?;
            certs.push((c.cert_url.clone(), cert));
        }
        let renew_at = self.now().add_secs(self.config.renew_before_days * 86400);
        let wanted: Vec<KeyId> = std::iter::once(rir_key).chain(next).collect();
        for key in &wanted {
            let (repo, mft) = self.top_sia(key);
            let current = certs.iter().find(|(_, c)| c.ski == *key).map(|(_, c)| c);
            let fine = current.is_some_and(|c| {
                c.resources.explicit_set() == class.resources
                    && c.sia.rsync_repository() == Some(repo.as_str())
                    && c.sia.rsync_manifest() == Some(mft.as_str())
                    && (c.not_after >= renew_at || class.not_after <= c.not_after)
            });
            if fine {
                continue;
            }
            let csr = CaCertRequest::build(self.signer(), key, &repo, &mft, self.config.rrdp_notify.as_deref())?;
            let req = IssueRequest { class_name: class.class_name.clone(), limit: Limit::default(), csr };
            let answer = match self.exchange(&http, &parent, Payload::Issue(req))? {
                Payload::IssueResponse(c) => c,
                other => return Err(parent_err(format!("a {} in answer to an issue", other.type_name()))),
            };
            let issued = answer.certificates.first().ok_or_else(|| parent_err("an issue_response without a certificate"))?;
            let cert = Cert::decode(&issued.der).map_err(|e| parent_err(format!("{}: {e}", issued.cert_url)))?;
            cert.verify_signature(&issuer.public_key)
                .map_err(|e| parent_err(format!("{}: not signed by the issuer: {e}", issued.cert_url)))?;
            if cert.ski != *key {
                return Err(parent_err(format!("the parent certified key {}, not {}", cert.ski.hex(), key.hex())));
            }
            certs.retain(|(_, c)| c.ski != *key);
            certs.push((issued.cert_url.clone(), cert));
        }
        // A key this CA no longer uses (a finished roll's old key, RFC 6489 §2.3): revoked.
        let stale: Vec<KeyId> = certs.iter().map(|(_, c)| c.ski).filter(|k| !wanted.contains(k)).collect();
        for ski in stale {
            let revoke = Payload::Revoke(KeyRef { class_name: class.class_name.clone(), ski });
            match self.exchange(&http, &parent, revoke) {
                Ok(Payload::RevokeResponse(_)) => {}
                Err(CaError::Parent(e)) if e.contains(&format!("status {}", ErrorCode::RevokeNoSuchKey.code())) => {}
                Ok(other) => return Err(parent_err(format!("a {} in answer to a revoke", other.type_name()))),
                Err(e) => return Err(e),
            }
            certs.retain(|(_, c)| c.ski != ski);
        }
        let event = Event::new("parent.sync", None, json!({ "entitled": class.resources.to_string(), "keys": certs.len() }));
        self.change(event, |w| apply(w, &class, &certs, rir_key))
    }

    /// The SIA the top CA asks for, for `key`: its publication point here.
    fn top_sia(&self, key: &KeyId) -> (String, String) {
        let repo = self.config.pp_uri(&self.config.rir_handle);
        let mft = format!("{repo}{}", FileType::Manifest.file_name(&key.file_stem()));
        (repo, mft)
    }

    /// One message to the parent and its verified answer; an error_response is an error.
    fn exchange(&self, http: &reqwest::blocking::Client, parent: &ParentResponse, payload: Payload) -> Result<Payload> {
        let identity =
            self.identity.get().ok_or_else(|| CaError::NotFound("this CA's identity (it is loaded by `rpkit ca serve`)".into()))?;
        let what = payload.type_name();
        let msg = Message { sender: parent.child_handle.clone(), recipient: parent.parent_handle.clone(), payload };
        let cms = identity.sign(msg.encode().as_bytes(), self.now())?;
        let at = &parent.service_uri;
        let resp = http.post(at).header("Content-Type", CONTENT_TYPE).body(cms).send().map_err(|e| parent_err(format!("{at}: {e}")))?;
        let status = resp.status();
        let mut body = Vec::new();
        use std::io::Read;
        resp.take(crate::up_down::MAX_BODY_BYTES as u64 + 1).read_to_end(&mut body).map_err(|e| parent_err(format!("{at}: {e}")))?;
        if body.len() > crate::up_down::MAX_BODY_BYTES {
            return Err(parent_err(format!("{at}: an answer over {} octets", crate::up_down::MAX_BODY_BYTES)));
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]).trim().to_string();
            return Err(parent_err(format!("{at}: HTTP {status} to a {what}: {text}")));
        }
        let now = self.now();
        let answer = SignedMessage::decode(&body).map_err(|e| parent_err(format!("{at}: the answer's CMS: {e}")))?;
        answer.verify(&parent.id_cert, now).map_err(|e| parent_err(format!("{at}: the answer is not signed by the parent: {e}")))?;
        let signed = answer.signing_time.unwrap_or(now);
        let last: Option<i64> = self.read(|c| Ok(settings::get(c, "parent_last_signing_time")?.and_then(|v| v.parse().ok())))?;
        if last.is_some_and(|l| signed.0 + SKEW_SECS < l) {
            return Err(parent_err(format!("{at}: a replayed answer (signed at {})", signed.rfc3339())));
        }
        let m = Message::decode(answer.content()).map_err(|e| parent_err(format!("{at}: {e}")))?;
        if m.recipient != parent.child_handle {
            return Err(parent_err(format!("{at}: an answer for {:?}, not {:?}", m.recipient, parent.child_handle)));
        }
        self.write(|tx, now| {
            settings::put(tx, "parent_last_contact", &now.0.to_string())?;
            settings::put(tx, "parent_last_signing_time", &signed.0.max(last.unwrap_or(0)).to_string())
        })?;
        match m.payload {
            Payload::Error(e) => Err(parent_err(format!("{at}: refused the {what}: status {e}"))),
            p => Ok(p),
        }
    }
}

/// The parent's answer applied in one change: the top CA made or updated,
/// a key roll moved on, and a shrunk entitlement passed down.
fn apply(w: &mut Work<'_>, class: &Class, certs: &[(String, Cert)], rir_key: KeyId) -> Result<ParentSync> {
    let cert_for = |k: &KeyId| certs.iter().find(|(_, c)| c.ski == *k).cloned();
    let (uri, cert) = cert_for(&rir_key).ok_or_else(|| parent_err(format!("no certificate for the top CA's key {}", rir_key.hex())))?;
    let res = cert.resources.explicit_set();
    let mut report = ParentSync { entitled: Some((&class.resources).into()), ..ParentSync::default() };
    match w.ca_of_kind(CaKind::Rir)? {
        None => {
            w.insert_rir(None, rir_key, &cert, &uri)?;
            report.certified = true;
        }
        Some(rir) => {
            if rir.cert.to_der() != cert.to_der() {
                let before = rir.resources.clone();
                store::cas::set_cert_from_parent(&w.tx, rir.id, cert.to_der(), &uri, &res)?;
                w.mark_dirty(rir.id);
                report.certified = true;
                let rir = w.ca_by_id(rir.id)?;
                if uri != rir.cert_uri {
                    crate::keyroll::recertify_children(w, &rir)?;
                }
                if !res.contains(&before) {
                    pass_down(w, &res, &mut report)?;
                }
            }
            let rir = w.ca_by_id(rir.id)?;
            report.keyroll = crate::keyroll::parent_answered(w, &rir, &cert_for)?;
        }
    }
    if !report.shrunk.is_empty() || !report.uncovered.is_empty() {
        tracing::warn!("the parent shrank this CA's resources: {:?} {:?}", report.shrunk, report.uncovered);
    }
    Ok(report)
}

/// Members (hosted and delegated) holding what the top CA no longer holds
/// keep only what it still does; their ROAs and ASPAs outside are withdrawn.
fn pass_down(w: &mut Work<'_>, held: &ResourceSet, report: &mut ParentSync) -> Result<()> {
    for (handle, res) in store::members::all_resources(&w.tx)? {
        let res: ResourceSet = res.parse().map_err(|e| CaError::Conflict(format!("member '{handle}': stored resources: {e}")))?;
        if held.contains(&res) {
            continue;
        }
        let kept = res.intersection(held);
        if kept.is_empty() {
            report.uncovered.push(format!("member '{handle}' holds nothing the parent still certifies"));
            continue;
        }
        let change: Option<ResourceChange> = crate::members::set_resources(w, &handle, &kept)?;
        report.shrunk.extend(change);
    }
    Ok(())
}
