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
                return Step::Acquired;
            }
            Ok(None) => {
                let holder = self.db.value_opt::<String>("SELECT holder FROM rpkit_lease WHERE store = ?1", args![f.store.as_str()]);
                f.set(0, None, holder.ok().flatten().unwrap_or_default());
            }
            Err(e) => {
                tracing::debug!("taking the lease: {e}");
                f.set(0, None, String::new());
            }
        }
        if was > 0 {
            Step::Lost
        } else {
            Step::Standby
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

/// A node's part in a store shared with others: the lease, stepped on a
/// connection of its own, and its fence, read without waiting for a step.
pub struct Node {
    lease: Mutex<Lease>,
    fence: Arc<Fence>,
}

impl Node {
    pub fn new(lease: Lease) -> Node {
        let fence = lease.fence();
        Node { lease: Mutex::new(lease), fence }
    }

    pub fn fence(&self) -> &Arc<Fence> {
        &self.fence
    }

    pub fn step(&self) -> Step {
        self.lease.lock().unwrap_or_else(PoisonError::into_inner).step()
    }

    /// Give the lease up (a clean stop).
    pub fn release(&self) {
        self.lease.lock().unwrap_or_else(PoisonError::into_inner).release();
    }

    pub fn is_active(&self) -> bool {
        self.fence.is_active()
    }

    /// This node's role; `taking_over`: it holds the lease but does not serve yet.
    pub fn role(&self, taking_over: bool) -> Role {
        let node = self.fence.node.clone();
        match self.fence.token() {
            Some(token) if taking_over => Role::TakingOver { node, token },
            Some(token) => Role::Active { node, token },
            None => Role::Standby { node, active: self.fence.holder() },
        }
    }
}

/// A node's part, as `/health` and `/metrics` tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Holds the lease with this fencing token.
    Active { node: String, token: i64 },
    /// Holds the lease, and prepares before it serves (503 until then).
    TakingOver { node: String, token: i64 },
    /// Another node (`active`, "" if none is known) holds it.
    Standby { node: String, active: String },
}

impl Role {
    /// The holder a standby names: "none yet" when it knows none.
    pub fn active_node(active: &str) -> &str {
        if active.is_empty() {
            "none yet"
        } else {
            active
        }
    }

    /// The `role: ...` line of `/health`.
    pub fn health_line(&self) -> String {
        match self {
            Role::Active { node, token } => format!("role: active (node {node}, lease token {token})\n"),
            Role::TakingOver { node, token } => format!("role: taking-over (node {node}, lease token {token}; preparing to serve)\n"),
            Role::Standby { node, active } => format!("role: standby (node {node}; active node: {})\n", Self::active_node(active)),
        }
    }

    /// `node_active` and `lease_token` for `/metrics`.
    pub fn metrics(&self, m: &mut crate::metrics::Metrics) {
        let (active, token) = match self {
            Role::Active { token, .. } => (1, *token),
            Role::TakingOver { token, .. } => (0, *token),
            Role::Standby { .. } => (0, 0),
        };
        m.one("node_active", "gauge", "1 while this node holds the lease of the shared database (takes changes, runs schedules).", active);
        m.one("lease_token", "gauge", "The fencing token of this node's lease (0 on a standby).", token);
    }
}

/// The HTTP header carrying a CA node's fencing token to its publication
/// server (RFC 8181 messages); a server that does not know it ignores it.
pub const FENCE_HEADER: &str = "Rpkit-Fence";

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
