//! The last validated copy of every publication point (RFC 9286 §6.6, MFT-14,
//! PIT-9), kept apart from what fetching brings in: a pack (`pack`) in
//! `CACHE/valid/`. A point's manifest and listed files are promoted together
//! once they validate and pass the manifest-number check (MFT-16); when a
//! later fetch fails, the tree validates this copy again instead. What a run
//! promoted becomes the cache when the run ends ([`ValidCache::sweep`]): a run
//! that stops midway leaves the copy of the run before.

use crate::error::CacheError;
use crate::pack::Pack;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct ValidCache {
    pack: Pack,
    dir: PathBuf,
    /// A hash of every URI the run relied on, and the directories (rsync
    /// URIs ending in `/`) it changed (for `sweep`). Hashes keep this small
    /// on a large repository; a collision can only leave an unused object
    /// behind, never remove one.
    used: Mutex<HashSet<u64>>,
    changed: Mutex<BTreeSet<String>>,
}

impl ValidCache {
    /// The cache of `cache_dir`: empty when there is none, or when its index
    /// does not read (the run's fetches fill it again).
    pub fn new(cache_dir: &Path) -> std::io::Result<Self> {
        let dir = cache_dir.join("valid");
        remove_file_layout(&dir);
        let pack = match Pack::open(&dir, "valid") {
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData || e.kind() == std::io::ErrorKind::UnexpectedEof => {
                tracing::warn!("the validated cache in {} cannot be read ({e}): starting it afresh", dir.display());
                Pack::empty(&dir, "valid")?
            }
            other => other?,
        };
        Ok(ValidCache { pack, dir, used: Default::default(), changed: Default::default() })
    }

    pub fn store(&self) -> &Pack {
        &self.pack
    }

    /// Record that the run relies on these URIs (fresh or from this cache).
    pub fn used(&self, uris: impl IntoIterator<Item = String>) {
        let hashes: Vec<u64> = uris.into_iter().map(|u| uri_hash(&u)).collect();
        self.used.lock().unwrap_or_else(|e| e.into_inner()).extend(hashes);
    }

    /// Promote a validated point: its listed files and manifest, in one
    /// append. Callers skip this when the cached manifest is the same.
    pub fn keep(&self, mft_uri: &str, mft_der: &[u8], files: &[(String, &[u8])]) -> Result<(), CacheError> {
        let objects: Vec<(&str, &[u8])> = files.iter().map(|(u, d)| (u.as_str(), *d)).chain([(mft_uri, mft_der)]).collect();
        let mut dirs = BTreeSet::new();
        for (uri, _) in &objects {
            if rpkit_objects::uri::rsync_safe(uri).is_none() {
                return Err(CacheError::UnsafeUri(uri.to_string()));
            }
            if let Some(i) = uri.rfind('/') {
                dirs.insert(uri[..=i].to_string());
            }
        }
        self.pack.put_all(objects).map_err(|e| io_err(&self.dir, e))?;
        self.changed.lock().unwrap_or_else(|e| e.into_inner()).extend(dirs);
        Ok(())
    }

    /// End the run: remove, from the directories this run changed, objects no
    /// point relies on any more (points sharing a directory, MFT-18, keep each
    /// other's), then make what the run kept the cache.
    pub fn sweep(&self) {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let changed = std::mem::take(&mut *self.changed.lock().unwrap_or_else(|e| e.into_inner()));
        for dir in changed {
            for uri in self.pack.uris_under(&dir) {
                if !uri[dir.len()..].contains('/') && !used.contains(&uri_hash(&uri)) {
                    self.pack.remove(&uri);
                }
            }
        }
        if let Err(e) = self.pack.save() {
            tracing::warn!("cannot save the validated cache in {}: {e}", self.dir.display());
        }
    }
}

/// Before packs the cache kept a file per object under `valid/HOST/...`:
/// those directories go (the pack refills from the next fetch).
fn remove_file_layout(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn io_err(path: &Path, source: std::io::Error) -> CacheError {
    CacheError::Io { path: path.to_path_buf(), source }
}

fn uri_hash(uri: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(uri)
}
