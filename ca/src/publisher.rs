//! The CA's side of publication, with RFC 8181 semantics: a change set of
//! `publish` (new, or replacing an object of a given hash) and `withdraw` (of an
//! object with a given hash) elements, applied all or nothing.

use rpkit_objects::crypto::sha256;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

pub use rpkit_objects::rfc8181::{Change, ChangeSet};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// RFC 8181 §2.5 error codes: object_already_present, no_object_present, no_object_matching_hash ...
    #[error("publication refused ({code}): {message}")]
    Refused { code: &'static str, message: String },
    #[error("publication server unavailable: {0}")]
    Unavailable(String),
}

/// Where a CA's objects go.
pub trait Publisher: Send + Sync {
    /// Apply a change set atomically.
    fn apply(&self, changes: &ChangeSet) -> Result<(), PublishError>;
    /// Every published URI with the SHA-256 of its object.
    fn list(&self) -> Result<BTreeMap<String, [u8; 32]>, PublishError>;
}

/// An in-process repository: checks hashes as an RFC 8181 server does.
#[derive(Default)]
pub struct MemoryPublisher {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    fail_next: AtomicBool,
}

impl MemoryPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Make the next `apply` fail (failure-injection tests).
    pub fn fail_next(&self) {
        self.fail_next.store(true, Ordering::SeqCst);
    }

    /// A copy of everything published.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn get(&self, uri: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner).get(uri).cloned()
    }
}

impl Publisher for MemoryPublisher {
    fn apply(&self, cs: &ChangeSet) -> Result<(), PublishError> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(PublishError::Unavailable("injected failure".into()));
        }
        let mut objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        // Check everything first: all or nothing.
        for c in &cs.changes {
            let current = objects.get(c.uri()).map(|d| sha256(d));
            match c {
                Change::Publish { replaces: None, uri, .. } if current.is_some() => {
                    return Err(PublishError::Refused { code: "object_already_present", message: uri.clone() })
                }
                Change::Publish { replaces: Some(h), uri, .. } | Change::Withdraw { hash: h, uri } => match current {
                    None => return Err(PublishError::Refused { code: "no_object_present", message: uri.clone() }),
                    Some(cur) if cur != *h => return Err(PublishError::Refused { code: "no_object_matching_hash", message: uri.clone() }),
                    _ => {}
                },
                _ => {}
            }
        }
        for c in &cs.changes {
            match c {
                Change::Publish { uri, der, .. } => {
                    objects.insert(uri.clone(), der.clone());
                }
                Change::Withdraw { uri, .. } => {
                    objects.remove(uri);
                }
            }
        }
        Ok(())
    }

    fn list(&self) -> Result<BTreeMap<String, [u8; 32]>, PublishError> {
        let objects = self.objects.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(objects.iter().map(|(u, d)| (u.clone(), sha256(d))).collect())
    }
}

/// A repository kept as files: `rsync://HOST/MODULE/path` is stored at
/// `DIR/HOST/MODULE/path`. Each object is written to a temporary file and
/// renamed into place. (The publication server writes the real rsync tree.)
pub struct DirPublisher {
    dir: std::path::PathBuf,
}

impl DirPublisher {
    pub fn new(dir: impl Into<std::path::PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(DirPublisher { dir })
    }

    /// The file for an rsync URI; `None` for anything that could leave the directory.
    pub fn path_of(&self, uri: &str) -> Option<std::path::PathBuf> {
        rpkit_objects::uri::rsync_safe(uri).map(|rest| self.dir.join(rest))
    }

    fn walk(&self, dir: &std::path::Path, out: &mut BTreeMap<String, [u8; 32]>) -> std::io::Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                self.walk(&p, out)?;
            } else if p.extension().is_none_or(|x| x != "tmp") {
                if let Ok(rel) = p.strip_prefix(&self.dir) {
                    out.insert(format!("rsync://{}", rel.to_string_lossy()), sha256(&std::fs::read(&p)?));
                }
            }
        }
        Ok(())
    }
}

impl Publisher for DirPublisher {
    fn apply(&self, cs: &ChangeSet) -> Result<(), PublishError> {
        let io = |e: std::io::Error| PublishError::Unavailable(e.to_string());
        let current = self.list()?;
        for c in &cs.changes {
            if self.path_of(c.uri()).is_none() {
                return Err(PublishError::Refused { code: "permission_failure", message: format!("bad URI {}", c.uri()) });
            }
            let cur = current.get(c.uri());
            match c {
                Change::Publish { replaces: None, .. } if cur.is_some() => {
                    return Err(PublishError::Refused { code: "object_already_present", message: c.uri().into() })
                }
                Change::Publish { replaces: Some(h), .. } | Change::Withdraw { hash: h, .. } if cur != Some(h) => {
                    return Err(PublishError::Refused { code: "no_object_matching_hash", message: c.uri().into() })
                }
                _ => {}
            }
        }
        for c in &cs.changes {
            let path = self.path_of(c.uri()).ok_or_else(|| PublishError::Unavailable("bad URI".into()))?;
            match c {
                Change::Publish { der, .. } => {
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent).map_err(io)?;
                    }
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, der).map_err(io)?;
                    std::fs::rename(&tmp, &path).map_err(io)?;
                }
                Change::Withdraw { .. } => std::fs::remove_file(&path).map_err(io)?,
            }
        }
        Ok(())
    }

    fn list(&self) -> Result<BTreeMap<String, [u8; 32]>, PublishError> {
        let mut out = BTreeMap::new();
        self.walk(&self.dir, &mut out).map_err(|e| PublishError::Unavailable(e.to_string()))?;
        Ok(out)
    }
}
