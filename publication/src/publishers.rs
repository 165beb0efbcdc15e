//! RFC 8181 publishers (registered from RFC 8183 `publisher_request`s) and the
//! server's own BPKI identity, both kept beside the repository state.

use crate::repository::{RepoError, Repository};
use crate::store;
use rpkit_objects::bpki::IdCert;
pub use rpkit_objects::bpki::Identity;
use rpkit_objects::rfc8181::{Change, ChangeSet, ErrorCode};

/// A registered publisher.
#[derive(Clone, Debug)]
pub struct Publisher {
    pub handle: String,
    pub id_cert: IdCert,
    /// The rsync URI (ending in `/`) below which it may publish (`sia_base`).
    pub base_uri: String,
}

fn refused(message: String) -> RepoError {
    RepoError::refused(ErrorCode::OtherError, message)
}

impl Repository {
    /// Load the server identity (signs replies), creating it on first use.
    pub fn identity(&self) -> Result<Identity, RepoError> {
        if let Some((key, ee_key, cert)) = store::publishers::identity(&self.db)? {
            return Identity::from_parts(&key, &ee_key, &cert).map_err(|e| refused(format!("stored identity: {e}")));
        }
        let id = Identity::create().map_err(|e| refused(e.to_string()))?;
        let (key, ee_key, cert) = id.to_parts().ok_or_else(|| refused("the server identity's keys are not in software".into()))?;
        store::publishers::set_identity(&self.db, &key, &ee_key, &cert)?;
        Ok(id)
    }

    /// Register (or re-key) a publisher. Its base URI may lie inside another's (see below).
    pub fn add_publisher(&self, p: &Publisher, now: i64) -> Result<(), RepoError> {
        let dir_ok = p.base_uri.strip_suffix('/').and_then(rpkit_objects::uri::rsync_safe).is_some_and(|r| r.contains('/'));
        if !dir_ok {
            return Err(refused(format!("{} is not an rsync directory URI", p.base_uri)));
        }
        // Bases may nest (an RIR's CA owns the whole module, a delegated child a
        // directory in it): each object belongs to the publisher with the
        // longest base above it. A new base may not take over objects that
        // another publisher published there already.
        for other in self.publishers()? {
            if other.handle == p.handle {
                continue;
            }
            if other.base_uri == p.base_uri {
                return Err(RepoError::Refused {
                    code: ErrorCode::PermissionFailure,
                    message: format!("{} is publisher {}'s base", p.base_uri, other.handle),
                });
            }
            if p.base_uri.starts_with(&other.base_uri) {
                if let Some((uri, _)) = self.list(&p.base_uri)?.into_iter().next() {
                    return Err(RepoError::Refused {
                        code: ErrorCode::PermissionFailure,
                        message: format!("{} holds {uri}, published by {}: it cannot become another publisher's", p.base_uri, other.handle),
                    });
                }
            }
        }
        store::publishers::upsert(&self.db, &p.handle, p.id_cert.to_der(), &p.base_uri, now)?;
        Ok(())
    }

    /// The bases of other publishers nested inside `p`'s: not `p`'s to see or change.
    pub fn nested_bases(&self, p: &Publisher) -> Result<Vec<String>, RepoError> {
        Ok(self
            .publishers()?
            .into_iter()
            .filter(|o| o.handle != p.handle && o.base_uri.len() > p.base_uri.len() && o.base_uri.starts_with(&p.base_uri))
            .map(|o| o.base_uri)
            .collect())
    }

    /// The objects `p` owns (RFC 8181 `list`): under its base, outside nested bases.
    pub fn owned(&self, p: &Publisher) -> Result<Vec<(String, [u8; 32])>, RepoError> {
        let nested = self.nested_bases(p)?;
        Ok(self.list(&p.base_uri)?.into_iter().filter(|(u, _)| !nested.iter().any(|n| u.starts_with(n.as_str()))).collect())
    }

    pub fn publisher(&self, handle: &str) -> Result<Option<Publisher>, RepoError> {
        Ok(self.publishers()?.into_iter().find(|p| p.handle == handle))
    }

    pub fn publishers(&self) -> Result<Vec<Publisher>, RepoError> {
        let mut out = Vec::new();
        for (handle, cert, base_uri) in store::publishers::all(&self.db)? {
            let id_cert = IdCert::decode(&cert).map_err(|e| refused(format!("stored certificate of {handle}: {e}")))?;
            out.push(Publisher { handle, id_cert, base_uri });
        }
        Ok(out)
    }

    /// Remove a publisher and withdraw everything it published (an explicit
    /// operator action, so past the shrink guard). Returns the objects withdrawn.
    pub fn remove_publisher(&mut self, handle: &str) -> Result<usize, RepoError> {
        let p = self.publisher(handle)?.ok_or_else(|| refused(format!("no publisher {handle}")))?;
        let changes: Vec<Change> = self.owned(&p)?.into_iter().map(|(uri, hash)| Change::Withdraw { uri, hash }).collect();
        let n = changes.len();
        self.apply(&p.base_uri, &ChangeSet { changes }, true)?;
        store::publishers::delete(&self.db, handle)?;
        Ok(n)
    }
}
