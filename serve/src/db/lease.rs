//! One active node per store on a shared PostgreSQL database: a lease row
//! (`rpkit_lease` in the store's schema) with an expiry on the database's clock
//! and a fencing token that grows with every new holder.
//!
//! The active node renews the lease every `RENEW`; a standby takes it once it
//! has expired. Every write transaction of the active node checks, just before
//! it commits, that its token still holds the lease and keeps the row locked
//! until the commit (`FOR SHARE`): a node that lost the lease while paused
//! cannot commit, and the next holder's takeover waits for a commit in flight.
//! The token also goes with everything the node sends elsewhere (its RFC 8181
//! messages), so receivers can refuse an old holder too.

use super::{Db, DbError, DbResult, Location, Schema, Sql};
use crate::args;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A lease not renewed for this long is free to take.
pub const TTL: Duration = Duration::from_secs(6);
/// `TTL` in SQL.
const EXPIRY: &str = "interval '6 seconds'";
/// How often the holder renews and a standby tries to take over.
pub const RENEW: Duration = Duration::from_secs(1);

/// This node's claim: its name and, while it holds the lease, its token.
#[derive(Debug)]
pub struct Fence {
    pub store: String,
    pub node: String,
    /// 0 while not holding the lease.
    token: AtomicI64,
    /// Until when this node may act on its own renewals (its clock, with a margin).
    until: Mutex<Option<Instant>>,
    /// The holder as last seen (for /health on a standby).
    holder: Mutex<String>,
}

impl Fence {
    fn new(store: &str, node: &str) -> Self {
        Fence {
            store: store.to_string(),
            node: node.to_string(),
            token: AtomicI64::new(0),
            until: Mutex::new(None),
            holder: Mutex::new(String::new()),
        }
    }

    /// The token while this node holds the lease and may act on it.
    pub fn token(&self) -> Option<i64> {
        let until = *self.until.lock().unwrap_or_else(PoisonError::into_inner);
        let t = self.token.load(Ordering::SeqCst);
        (t > 0 && until.is_some_and(|u| Instant::now() < u)).then_some(t)
    }

    pub fn is_active(&self) -> bool {
        self.token().is_some()
    }

    /// The token last held (0: none), for checks the database or a server
    /// makes (the commit check, the publication server's).
    pub fn held(&self) -> i64 {
        self.token.load(Ordering::SeqCst)
    }

    /// The node holding the lease as last seen ("" when none).
    pub fn holder(&self) -> String {
        self.holder.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set(&self, token: i64, until: Option<Instant>, holder: String) {
        self.token.store(token, Ordering::SeqCst);
        *self.until.lock().unwrap_or_else(PoisonError::into_inner) = until;
        *self.holder.lock().unwrap_or_else(PoisonError::into_inner) = holder;
    }
}

/// What a step of the lease loop found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Held before and renewed.
    Renewed,
    /// Taken now (a new token): reload what the last holder changed.
    Acquired,
    /// Held by another node.
    Standby,
    /// Was held and is lost (taken over, or the database is out of reach).
    Lost,
}

/// The lease of one store, on a connection of its own (never queued behind
/// the store's work).
pub struct Lease {
    db: Db,
    fence: Arc<Fence>,
}

impl Lease {
    /// Open the lease of `schema`'s store on the shared database `url` for `node`.
    pub fn open(url: &str, schema: &Schema, node: &str) -> DbResult<Lease> {
        let db = Db::open(&Location::Postgres(url.to_string()), schema)?;
        // A step never hangs behind a long transaction's row lock.
        db.batch("SET lock_timeout = '2s'; SET statement_timeout = '5s'")?;
        db.execute(
            "INSERT INTO rpkit_lease (store, holder, token, expires) VALUES (?1, '', 0, now()) ON CONFLICT (store) DO NOTHING",
            args![schema.name],
        )?;
        Ok(Lease { db, fence: Arc::new(Fence::new(schema.name, node)) })
    }

    pub fn fence(&self) -> Arc<Fence> {
        self.fence.clone()
    }

    /// Renew the lease if held, else take it if it has expired.
    pub fn step(&mut self) -> Step {
        let was = self.fence.held();
        let started = Instant::now();
        let until = Some(started + TTL - RENEW);
        let f = &self.fence;
        if was > 0 {
            let renewed = self.db.execute(
                &format!("UPDATE rpkit_lease SET expires = now() + {EXPIRY} WHERE store = ?1 AND holder = ?2 AND token = ?3"),
                args![f.store.as_str(), f.node.as_str(), was],
            );
            match renewed {
                Ok(1) => {
                    f.set(was, until, f.node.clone());
                    return Step::Renewed;
                }
                Ok(_) => {
                    tracing::warn!(node = %f.node, token = was, "the lease was taken over: this node is the standby now");
                    f.set(0, None, String::new());
                }
                Err(e) => {
                    // Out of reach: act on the lease only until it would expire.
                    tracing::warn!(node = %f.node, "renewing the lease: {e}");
                    if !f.is_active() {
                        f.set(0, None, String::new());
                        return Step::Lost;
                    }
                    return Step::Renewed;
                }
            }
        }
        let taken = self.db.value_opt::<i64>(
            &format!(
                "UPDATE rpkit_lease SET holder = ?2, token = token + 1, expires = now() + {EXPIRY} \
                 WHERE store = ?1 AND expires < now() RETURNING token"
            ),
            args![f.store.as_str(), f.node.as_str()],
        );
        match taken {
            Ok(Some(token)) => {
                tracing::info!(node = %f.node, token, "this node holds the lease: active");
                f.set(token, until, f.node.clone());
                Step::Acquired
            }
            Ok(None) => {
                let holder = self
                    .db
                    .value_opt::<String>("SELECT holder FROM rpkit_lease WHERE store = ?1", args![f.store.as_str()])
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                f.set(0, None, holder);
                if was > 0 {
                    Step::Lost
                } else {
                    Step::Standby
                }
            }
            Err(e) => {
                tracing::debug!("taking the lease: {e}");
                f.set(0, None, String::new());
                if was > 0 {
                    Step::Lost
                } else {
                    Step::Standby
                }
            }
        }
    }

    /// Give the lease up (a clean stop): the standby takes over at once.
    pub fn release(&mut self) {
        let f = &self.fence;
        let t = f.held();
        if t > 0 {
            let _ = self.db.execute(
                "UPDATE rpkit_lease SET expires = now() - interval '1 second' WHERE store = ?1 AND holder = ?2 AND token = ?3",
                args![f.store.as_str(), f.node.as_str(), t],
            );
        }
        f.set(0, None, String::new());
    }
}

/// Run `step` (a node's `lease_step`) every `RENEW` on the blocking pool,
/// for as long as the task runs.
pub async fn keep(step: impl Fn() + Clone + Send + 'static) {
    let mut iv = tokio::time::interval(RENEW);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        iv.tick().await;
        let _ = tokio::task::spawn_blocking(step.clone()).await;
    }
}

/// The commit check of a write transaction: `token` still holds the lease;
/// the row stays locked until the commit.
pub(super) const CHECK: &str = "SELECT 1 FROM rpkit_lease WHERE store = $1 AND holder = $2 AND token = $3 FOR SHARE";

/// The error of a write refused because this node lost the lease.
pub(super) fn fenced(f: &Fence) -> DbError {
    DbError::Fenced(format!("node {} no longer holds the {} lease (token {}): the write was not committed", f.node, f.store, f.held()))
}

/// A name for this node: the host's and the process's.
pub fn default_node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "node".into());
    format!("{host}:{}", std::process::id())
}
