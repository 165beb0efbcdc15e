//! The CA's history: every change that was applied, who asked for it, what was
//! asked and what it published (object URIs and hashes), in the same
//! transaction as the change itself. Entries form an append-only hash chain:
//! each entry's hash covers its content and the previous entry's hash, so
//! `verify` finds the first entry that was altered, removed or reordered,
//! offline, from the database alone. (Anyone who can rewrite the whole
//! database can rewrite the whole chain: keep the head hash elsewhere, such as
//! in the operator's log, to pin it.)

use crate::contract::{HistoryEntry, HistoryObject};
use crate::error::{CaError, Result};
use crate::store;
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::rfc8181::{Change, ChangeSet};
use rpkit_serve::db::Sql;
use serde_json::Value;
use std::cell::RefCell;

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who asked for a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The admin token.
    Admin,
    /// A member's token, by its id (the start of its digest, as the database keeps it).
    Member { handle: String, token_id: String },
    /// The CA's own schedule (re-issues, renewals).
    Schedule,
    /// A command run on the CA's data directory (`rpkit ta init`, `rpkit up`'s set-up).
    Operator,
}

impl Actor {
    pub fn name(&self) -> String {
        match self {
            Actor::Admin => "admin".into(),
            Actor::Member { handle, token_id } => format!("member:{handle} (token {token_id})"),
            Actor::Schedule => "schedule".into(),
            Actor::Operator => "operator".into(),
        }
    }
}

thread_local! {
    static ACTOR: RefCell<Option<Actor>> = const { RefCell::new(None) };
}

/// While the guard lives, changes made on this thread are `actor`'s. The API
/// sets it around each request's blocking work; the schedule around its own.
pub struct ActingAs(Option<Actor>);

pub fn acting_as(actor: Actor) -> ActingAs {
    ActingAs(ACTOR.with(|a| a.borrow_mut().replace(actor)))
}

impl Drop for ActingAs {
    fn drop(&mut self) {
        let previous = self.0.take();
        ACTOR.with(|a| *a.borrow_mut() = previous);
    }
}

/// The actor of changes made on this thread now.
pub fn current_actor() -> Actor {
    ACTOR.with(|a| a.borrow().clone()).unwrap_or(Actor::Operator)
}

/// What a change was asked to do.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: &'static str,
    /// The member it concerns (members see only their own entries).
    pub member: Option<String>,
    pub request: Value,
}

impl Event {
    pub fn new(action: &'static str, member: Option<&str>, request: Value) -> Event {
        Event { action, member: member.map(str::to_string), request }
    }
}

/// The objects a change set publishes and withdraws.
pub fn objects(cs: &ChangeSet) -> Vec<HistoryObject> {
    cs.changes
        .iter()
        .map(|c| match c {
            Change::Publish { uri, der, .. } => {
                HistoryObject { uri: uri.clone(), sha256: Some(rpkit_objects::hex::lower(&sha256(der))), withdrawn: false }
            }
            Change::Withdraw { uri, hash } => {
                HistoryObject { uri: uri.clone(), sha256: Some(rpkit_objects::hex::lower(hash)), withdrawn: true }
            }
        })
        .collect()
}

/// The hash of an entry: SHA-256 over a JSON array of its fields in a fixed
/// order, the previous entry's hash last.
fn entry_hash(e: &HistoryEntry) -> String {
    let fields = serde_json::json!([e.seq, e.time, e.actor, e.member, e.action, e.request, e.published, e.outcome, e.prev_hash]);
    rpkit_objects::hex::lower(&sha256(fields.to_string().as_bytes()))
}

/// Append an entry, in the caller's transaction.
pub fn append(c: &impl Sql, now: Time, actor: &Actor, event: &Event, published: Vec<HistoryObject>, outcome: &str) -> Result<()> {
    let (seq, prev_hash) = match store::history::last(c)? {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let mut e = HistoryEntry {
        seq,
        time: now.rfc3339(),
        actor: actor.name(),
        member: event.member.clone(),
        action: event.action.to_string(),
        request: event.request.clone(),
        published,
        outcome: outcome.to_string(),
        prev_hash,
        hash: String::new(),
    };
    e.hash = entry_hash(&e);
    store::history::insert(c, &e)
}

/// Why the chain does not hold, at the first entry where it breaks.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("entry {seq}: altered (its content does not match its hash)")]
    Altered { seq: u64 },
    #[error("entry {seq}: missing (the entry after {after} is {next})")]
    Removed { seq: u64, after: u64, next: u64 },
    #[error("entry {seq}: out of place (it does not follow entry {after}: its previous hash differs)")]
    Reordered { seq: u64, after: u64 },
    #[error("the history table cannot be read: {0}")]
    Unreadable(String),
}

/// Check the whole chain; when it holds, the number of entries and the last
/// one's hash (the head, which an auditor pins to notice a cut-off tail).
pub fn verify(c: &impl Sql) -> Result<(u64, String), Broken> {
    // The database's own message.
    let unreadable = |e: CaError| Broken::Unreadable(if let CaError::Storage(e) = e { e.to_string() } else { e.to_string() });
    let rows = store::history::all(c).map_err(unreadable)?;
    let (mut last_seq, mut last_hash) = (0u64, GENESIS.to_string());
    for e in rows {
        if e.seq != last_seq + 1 {
            if e.seq > last_seq + 1 {
                return Err(Broken::Removed { seq: last_seq + 1, after: last_seq, next: e.seq });
            }
            return Err(Broken::Reordered { seq: e.seq, after: last_seq });
        }
        if entry_hash(&e) != e.hash {
            return Err(Broken::Altered { seq: e.seq });
        }
        if e.prev_hash != last_hash {
            return Err(Broken::Reordered { seq: e.seq, after: last_seq });
        }
        (last_seq, last_hash) = (e.seq, e.hash);
    }
    Ok((last_seq, last_hash))
}
