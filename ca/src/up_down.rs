//! RFC 6492 as a parent: one message POSTed by a delegated child in, one
//! signed answer out (UPDOWN-1..7). Every refusal is an `error_response`
//! signed like any answer, and changes nothing. The child is known by the
//! URI it posts to and must sign with the identity it onboarded with
//! (children.rs); a message not newer than its last, or seen before, is a
//! replay (UPDOWN-2). Each child has a budget of messages a minute.

use crate::children::{self, Child, ChildCert, CLASS_NAME};
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::service::Ca;
use crate::store;
use crate::work::CaKind;
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::pkcs10::CaCertRequest;
use rpkit_objects::signed_message::{SignedMessage, SKEW_SECS};
use rpkit_objects::up_down::{Class, ErrorCode, ErrorResponse, IssueRequest, IssuedCert, KeyRef, Message, Payload};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// One issue request waiting for its group (`issue_batched`).
pub struct IssueJob {
    child: Child,
    key: rpkit_objects::crypto::PublicKey,
    sia: (String, String, Option<String>),
    limit: rpkit_objects::up_down::Limit,
    /// Set by the request that issued the group this one was in.
    done: Mutex<Option<Result<ChildCert>>>,
}

impl IssueJob {
    fn request(&self) -> serde_json::Value {
        json!({ "child": self.child.handle, "key": self.key.key_id().hex(), "sia": self.sia.0 })
    }
}

/// How long an issue waits for others to join its group while they keep
/// coming, and at most (`issue_batched`).
const GROUP_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);
const GROUP_WAIT: std::time::Duration = std::time::Duration::from_millis(25);

/// Largest request body taken: a message and its CMS wrapper.
pub const MAX_BODY_BYTES: usize = rpkit_objects::limits::MAX_UPDOWN_MESSAGE + 64 * 1024;

/// Per child: messages in the current minute, and counts for `/metrics`.
#[derive(Default)]
pub struct Traffic {
    by_child: Mutex<HashMap<String, ChildTraffic>>,
}

#[derive(Clone, Default)]
pub struct ChildTraffic {
    minute: i64,
    in_minute: u32,
    pub answered: u64,
    pub refused: u64,
}

impl Traffic {
    /// Count a message of a known child; false when it is over its budget.
    fn admit(&self, handle: &str, now: Time, per_minute: u32) -> bool {
        let mut m = self.by_child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let t = m.entry(handle.to_string()).or_default();
        if t.minute != now.0 / 60 {
            t.minute = now.0 / 60;
            t.in_minute = 0;
        }
        t.in_minute += 1;
        per_minute == 0 || t.in_minute <= per_minute
    }

    fn count(&self, handle: &str, refused: bool) {
        let mut m = self.by_child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Only known children have an entry (made by `admit`): unknown senders cannot grow the map.
        if let Some(t) = m.get_mut(handle) {
            if refused {
                t.refused += 1;
            } else {
                t.answered += 1;
            }
        }
    }

    /// Messages answered and refused per child since the start.
    pub fn snapshot(&self) -> Vec<(String, ChildTraffic)> {
        let m = self.by_child.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut v: Vec<_> = m.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

fn refuse(code: ErrorCode, why: impl Into<String>) -> ErrorResponse {
    ErrorResponse::new(code, why)
}

impl Ca {
    /// Answer one up-down message that child `handle` posted: always a
    /// signed message (an `error_response` when refused). Fails only when
    /// this CA cannot sign at all.
    pub fn up_down(&self, handle: &str, body: &[u8]) -> Result<Vec<u8>> {
        let payload = match self.answer(handle, body) {
            Ok(p) => {
                self.updown_traffic.count(handle, false);
                p
            }
            Err(e) => {
                tracing::warn!("up-down: refused a message for child '{handle}': {e}");
                self.updown_traffic.count(handle, true);
                Payload::Error(e)
            }
        };
        self.sign_answer(handle, payload)
    }

    /// A signed refusal of a message not even read (one over the size limit).
    pub fn up_down_refused(&self, handle: &str, why: String) -> Result<Vec<u8>> {
        tracing::warn!("up-down: refused a message for child '{handle}': {why}");
        self.updown_traffic.count(handle, true);
        self.sign_answer(handle, Payload::Error(refuse(ErrorCode::Internal, why)))
    }

    fn sign_answer(&self, handle: &str, payload: Payload) -> Result<Vec<u8>> {
        let identity =
            self.identity.get().ok_or_else(|| CaError::NotFound("this CA's identity (it is loaded by `rpkit ca serve`)".into()))?;
        let msg = Message { sender: self.config.rir_handle.clone(), recipient: handle.to_string(), payload };
        Ok(identity.sign(msg.encode().as_bytes(), self.now())?)
    }

    fn answer(&self, handle: &str, body: &[u8]) -> std::result::Result<Payload, ErrorResponse> {
        let internal = |e: CaError| refuse(ErrorCode::Internal, e.to_string());
        let now = self.now();
        if body.len() > MAX_BODY_BYTES {
            return Err(refuse(ErrorCode::Internal, format!("a message of {} octets (at most {MAX_BODY_BYTES})", body.len())));
        }
        let child = self
            .read(|c| store::children::get(c, handle))
            .map_err(internal)?
            .ok_or_else(|| refuse(ErrorCode::Internal, format!("no child '{handle}' here")))?;
        if !self.updown_traffic.admit(handle, now, self.config.updown_rate_per_minute) {
            let n = self.config.updown_rate_per_minute;
            return Err(refuse(ErrorCode::AlreadyProcessing, format!("more than {n} messages a minute: try again later")));
        }
        // UPDOWN-2: signed by the child's identity, newer than its last message, not seen before.
        let cms = SignedMessage::decode(body).map_err(|e| refuse(ErrorCode::Internal, format!("CMS: {e}")))?;
        cms.verify(&child.id_cert, now).map_err(|e| refuse(ErrorCode::Internal, format!("not signed by the child's identity: {e}")))?;
        let signed_at = cms.signing_time.ok_or_else(|| refuse(ErrorCode::Internal, "CMS: no signing-time attribute"))?;
        if signed_at.0 > now.0 + SKEW_SECS {
            return Err(refuse(ErrorCode::Internal, format!("signed in the future ({})", signed_at.rfc3339())));
        }
        if let Some(last) = child.last_signing_time.filter(|l| signed_at.0 < *l) {
            return Err(refuse(
                ErrorCode::Internal,
                format!("replayed: signed at {}, before the last message ({})", signed_at.rfc3339(), Time(last).rfc3339()),
            ));
        }
        let digest = sha256(body).to_vec();
        let seen = self.read(|c| store::children::message_seen(c, handle, &digest)).map_err(internal)?;
        if seen {
            return Err(refuse(ErrorCode::Internal, "replayed: this message was received before"));
        }
        let msg = Message::decode_coded(cms.content()).map_err(|e| refuse(e.code, e.to_string()))?;
        if msg.sender != handle {
            return Err(refuse(ErrorCode::Internal, format!("sender {:?} is not child '{handle}'", msg.sender)));
        }
        if msg.recipient != self.config.rir_handle {
            return Err(refuse(ErrorCode::Internal, format!("recipient {:?} is not '{}'", msg.recipient, self.config.rir_handle)));
        }
        self.write(|tx, now| {
            store::children::contact(tx, handle, now.0, signed_at.0, msg.payload.type_name())?;
            store::children::add_message(tx, handle, &digest, signed_at.0)?;
            // Older digests are not needed: their signing-time is before the last message's.
            store::children::forget_messages_before(tx, handle, signed_at.0 - 2 * SKEW_SECS)
        })
        .map_err(internal)?;
        match msg.payload {
            Payload::List => self.list(&child).map(Payload::ListResponse).map_err(internal),
            Payload::Issue(req) => self.issue(&child, &req),
            Payload::Revoke(k) => self.revoke(&child, &k),
            other => Err(refuse(ErrorCode::UnknownRequestType, format!("a child does not send {}", other.type_name()))),
        }
    }

    /// The child's class (UPDOWN-3): none while it is suspended or entitled to nothing.
    fn list(&self, child: &Child) -> Result<Vec<Class>> {
        Ok(self.class(child)?.into_iter().collect())
    }

    fn class(&self, child: &Child) -> Result<Option<Class>> {
        self.read(|c| {
            let rir = crate::work::rir_record(c)?;
            let entitled = children::entitlement(child, &rir);
            if child.suspended || entitled.is_empty() {
                return Ok(None);
            }
            let held = store::children::certs(c, &child.handle)?;
            // The end a certificate issued now would have; while the child's
            // current one is not due for renewal, that one's (so that a child
            // comparing the two, as Krill does, does not ask again and again).
            let now = self.now();
            let renew_at = now.add_secs(self.config.renew_before_days * 86400).0;
            let fresh = now.add_secs(self.config.ca_validity_days * 86400).0.min(rir.cert.not_after.0);
            let not_after = held.iter().map(|c| c.not_after).filter(|t| *t >= renew_at).max().unwrap_or(fresh);
            let certificates = held.into_iter().map(|cc| IssuedCert { cert_url: cc.uri, limit: cc.limit, der: cc.der }).collect();
            Ok(Some(Class {
                class_name: CLASS_NAME.into(),
                cert_url: rir.cert_uri.clone(),
                resources: entitled,
                not_after: Time(not_after),
                suggested_sia_head: None,
                certificates,
                issuer: rir.cert.to_der().to_vec(),
            }))
        })
    }

    /// UPDOWN-4: certify the requested key; a request the current certificate
    /// already answers gets that certificate again.
    fn issue(&self, child: &Child, req: &IssueRequest) -> std::result::Result<Payload, ErrorResponse> {
        let internal = |e: CaError| refuse(ErrorCode::Internal, e.to_string());
        if req.class_name != CLASS_NAME || child.suspended {
            return Err(refuse(ErrorCode::NoSuchClass, format!("no class {:?} for '{}'", req.class_name, child.handle)));
        }
        let csr = CaCertRequest::decode(&req.csr).map_err(|e| refuse(ErrorCode::BadRequest, e.to_string()))?;
        let class = self.class(child).map_err(internal)?;
        let Some(class) = class else {
            return Err(refuse(ErrorCode::NoResources, format!("'{}' is entitled to nothing", child.handle)));
        };
        let beyond = req.limit.beyond(&class.resources);
        if !beyond.is_empty() {
            return Err(refuse(ErrorCode::NoResources, format!("{beyond} is not allocated to '{}'", child.handle)));
        }
        let key_id = csr.public_key.key_id().hex();
        let sia = (
            csr.sia.rsync_repository().unwrap_or_default().to_string(),
            csr.sia.rsync_manifest().unwrap_or_default().to_string(),
            csr.sia.notify().map(str::to_string),
        );
        let (used_elsewhere, held) = self
            .read(|c| {
                let other = store::children::key_used_elsewhere(c, &key_id, &child.handle)?;
                Ok((other, store::children::certs(c, &child.handle)?))
            })
            .map_err(internal)?;
        if used_elsewhere {
            return Err(refuse(ErrorCode::KeyInUse, format!("key {key_id} is used by another CA")));
        }
        let renew_at = self.now().add_secs(self.config.renew_before_days * 86400).0;
        let wanted = req.limit.apply(&class.resources);
        if let Some(c) = held.iter().find(|c| c.key_id == key_id) {
            if c.resources == wanted && c.sia == sia && c.limit == req.limit && c.not_after >= renew_at {
                let mut class = class;
                class.certificates = vec![IssuedCert { cert_url: c.uri.clone(), limit: c.limit.clone(), der: c.der.clone() }];
                return Ok(Payload::IssueResponse(class));
            }
        } else if held.len() >= self.config.updown_max_keys {
            let n = self.config.updown_max_keys;
            return Err(refuse(
                ErrorCode::Internal,
                format!("'{}' holds {n} certificates already (at most {n}): revoke one first", child.handle),
            ));
        }
        let job =
            Arc::new(IssueJob { child: child.clone(), key: csr.public_key.clone(), sia, limit: req.limit.clone(), done: Mutex::new(None) });
        let issued = self.issue_batched(job).map_err(internal)?;
        let mut class = class;
        class.certificates = vec![IssuedCert { cert_url: issued.uri, limit: issued.limit, der: issued.der }];
        Ok(Payload::IssueResponse(class))
    }

    /// Issue certificates in groups: requests that arrive while a change is
    /// under way are issued together in the next one, so that many children
    /// asking at once cost one re-signed manifest and CRL per group, not each.
    /// A group that fails is retried one request at a time, so that one
    /// request's fault is its own.
    fn issue_batched(&self, job: Arc<IssueJob>) -> Result<ChildCert> {
        self.updown_queue.lock().unwrap_or_else(PoisonError::into_inner).push(job.clone());
        let _leader = self.updown_leader.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(done) = job.done.lock().unwrap_or_else(PoisonError::into_inner).take() {
            return done;
        }
        // Let requests already on their way join: wait while the queue grows (a few ms at most).
        let queued = || self.updown_queue.lock().unwrap_or_else(PoisonError::into_inner).len();
        let started = std::time::Instant::now();
        loop {
            let n = queued();
            std::thread::sleep(GROUP_PAUSE);
            if queued() == n || started.elapsed() >= GROUP_WAIT {
                break;
            }
        }
        let jobs: Vec<Arc<IssueJob>> = std::mem::take(&mut *self.updown_queue.lock().unwrap_or_else(PoisonError::into_inner));
        let run = |jobs: &[Arc<IssueJob>]| -> Result<Vec<ChildCert>> {
            let event = match jobs {
                [j] => Event::new("child.issue", Some(&j.child.handle), j.request()),
                _ => Event::new("child.issue", None, json!({ "children": jobs.iter().map(|j| j.request()).collect::<Vec<_>>() })),
            };
            self.change(event, |w| {
                if w.ca_of_kind(CaKind::Rir)?.is_none() {
                    return Err(CaError::NotFound("RIR CA".into()));
                }
                let mut out = Vec::new();
                for j in jobs {
                    let c = children::issue(w, &j.child, &j.key, j.sia.clone(), &j.limit)?;
                    if jobs.len() > 1 {
                        w.note(Event::new("child.issue", Some(&j.child.handle), j.request()), c.uri.clone());
                    }
                    out.push(c);
                }
                Ok(out)
            })
        };
        let results: Vec<Result<ChildCert>> = match run(&jobs) {
            Ok(certs) => certs.into_iter().map(Ok).collect(),
            Err(_) if jobs.len() > 1 => jobs.iter().map(|j| run(std::slice::from_ref(j)).map(|mut v| v.remove(0))).collect(),
            Err(e) => vec![Err(e)],
        };
        let mut mine = None;
        for (j, r) in jobs.iter().zip(results) {
            if Arc::ptr_eq(j, &job) {
                mine = Some(r);
            } else {
                *j.done.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
            }
        }
        mine.unwrap_or_else(|| Err(CaError::Conflict("an issue request was lost from its group".into())))
    }

    /// UPDOWN-5: revoke and withdraw the certificate of one key.
    fn revoke(&self, child: &Child, k: &KeyRef) -> std::result::Result<Payload, ErrorResponse> {
        let internal = |e: CaError| refuse(ErrorCode::Internal, e.to_string());
        if k.class_name != CLASS_NAME {
            return Err(refuse(ErrorCode::RevokeNoSuchClass, format!("no class {:?}", k.class_name)));
        }
        let key_id = k.ski.hex();
        let held = self.read(|c| store::children::certs(c, &child.handle)).map_err(internal)?;
        let cert = held.into_iter().find(|c| c.key_id == key_id);
        let cert =
            cert.ok_or_else(|| refuse(ErrorCode::RevokeNoSuchKey, format!("'{}' holds no certificate for key {key_id}", child.handle)))?;
        let event = Event::new("child.revoke", Some(&child.handle), json!({ "key": key_id }));
        self.change(event, |w| children::revoke(w, &child.handle, &cert)).map_err(internal)?;
        Ok(Payload::RevokeResponse(k.clone()))
    }
}
