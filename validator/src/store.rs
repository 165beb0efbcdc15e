//! Where the validator reads published objects: by rsync URI. The cache keeps
//! every object at `DIR/HOST/MODULE/path`; no URI can name a path outside it
//! (objects::uri, CHECKLIST 7.3).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest object read (rpki-client's limit, MFT-20).
pub const MAX_OBJECT: u64 = 4 * 1024 * 1024;

/// Published objects by rsync URI.
pub trait Store: Sync {
    fn get(&self, uri: &str) -> Option<Vec<u8>>;
    /// The file holding `uri`, for stores on disk (lets the cache hard-link).
    fn file_path(&self, _uri: &str) -> Option<PathBuf> {
        None
    }
}

impl<S: Store + ?Sized> Store for &S {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        (**self).get(uri)
    }
    fn file_path(&self, uri: &str) -> Option<PathBuf> {
        (**self).file_path(uri)
    }
}

/// Objects in memory (tests, RRDP snapshots).
impl Store for BTreeMap<String, Vec<u8>> {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        BTreeMap::get(self, uri).cloned()
    }
}

/// Objects as files under a directory.
pub struct DirStore {
    pub dir: PathBuf,
}

impl DirStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirStore { dir: dir.into() }
    }

    /// The file of an rsync URI; `None` for a URI that could leave the directory.
    pub fn path_of(&self, uri: &str) -> Option<PathBuf> {
        rpkit_objects::uri::rsync_safe(uri).map(|rest| self.dir.join(rest))
    }

    pub fn root(&self) -> &Path {
        &self.dir
    }
}

impl Store for DirStore {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        let p = self.path_of(uri)?;
        let meta = std::fs::symlink_metadata(&p).ok()?;
        // Regular files only (no symlinks out of the cache), bounded in size.
        if !meta.is_file() || meta.len() > MAX_OBJECT {
            return None;
        }
        std::fs::read(p).ok()
    }
    fn file_path(&self, uri: &str) -> Option<PathBuf> {
        self.path_of(uri)
    }
}
