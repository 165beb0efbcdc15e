//! A CA node among several on one shared database: only the node holding the
//! store's lease (`rpkit_serve::db::lease`) takes changes and runs the
//! schedules; the others serve reads and answer changes with 503. A node that
//! takes the lease over first loads what the last holder added (its keys)
//! and brings the repository in line with the database.

use crate::error::Result;
use crate::service::Ca;
use crate::signer::CaSigner;
use rpkit_objects::crypto::KeyPair;
use rpkit_serve::db::lease::{Role, Step};
use rpkit_serve::db::Db;
use std::sync::atomic::Ordering;
use std::sync::PoisonError;

/// Put the software keys of the database into `signer` (the ones it has stay).
pub(crate) fn load_keys(conn: &Db, signer: &CaSigner) -> Result<usize> {
    let keys = crate::store::keys::software(conn)?;
    for k in &keys {
        signer.insert(KeyPair::from_pkcs1(k)?);
    }
    Ok(keys.len())
}

impl Ca {
    /// Whether this node takes changes: always on a database of its own.
    pub fn is_active(&self) -> bool {
        self.node.as_ref().is_none_or(|n| n.is_active())
    }

    /// This node's role, `None` on a database of its own.
    pub fn role(&self) -> Option<Role> {
        self.node.as_ref().map(|n| n.role(false))
    }

    /// Renew or take the lease (every `lease::RENEW`); on taking it, load
    /// the keys the last holder made and mark the repository for a sync.
    /// Returns whether this node is active.
    pub fn lease_step(&self) -> bool {
        let Some(node) = &self.node else { return true };
        let step = node.step();
        if step == Step::Acquired {
            let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
            match load_keys(&conn, &self.signer) {
                Ok(n) => tracing::info!("active: {n} keys loaded; the repository is brought in line next"),
                Err(e) => tracing::error!("active, but loading the keys failed (changes will fail until it works): {e}"),
            }
            self.out_of_sync.store(true, Ordering::SeqCst);
        }
        matches!(step, Step::Acquired | Step::Renewed)
    }

    /// Give the lease up on a clean stop, so the standby takes over at once.
    pub fn release_lease(&self) {
        if let Some(n) = &self.node {
            n.release();
        }
    }
}
