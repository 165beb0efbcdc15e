//! The last validated copy of every publication point (RFC 9286 §6.6, MFT-14,
//! PIT-9), kept apart from what fetching brings in: `CACHE/valid/HOST/MODULE/path`.
//! A point's manifest and listed files are promoted together once they validate
//! and pass the manifest-number check (MFT-16); when a later fetch fails, the
//! tree validates this copy again instead.

use crate::error::CacheError;
use crate::store::{DirStore, Dirs, Store};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct ValidCache {
    store: DirStore,
    /// A hash of every URI the run relied on, and the directories it changed
    /// (for `sweep`). Hashes keep this small on a large repository; a
    /// collision can only leave an unused file behind, never remove one.
    used: Mutex<HashSet<u64>>,
    changed: Mutex<BTreeSet<PathBuf>>,
}

impl ValidCache {
    pub fn new(cache_dir: &Path) -> Self {
        ValidCache { store: DirStore::new(cache_dir.join("valid")), used: Default::default(), changed: Default::default() }
    }

    pub fn store(&self) -> &DirStore {
        &self.store
    }

    /// Record that the run relies on these URIs (fresh or from this cache).
    pub fn used(&self, uris: impl IntoIterator<Item = String>) {
        let hashes: Vec<u64> = uris.into_iter().map(|u| uri_hash(&u)).collect();
        self.used.lock().unwrap_or_else(|e| e.into_inner()).extend(hashes);
    }

    /// Promote a validated point: each listed file, then the manifest last.
    /// Files come from `source` by hard link where it keeps them on disk
    /// (fetch updates replace files by rename, never in place), else are written.
    /// Callers skip this when the cached manifest is the same.
    pub fn keep(&self, mft_uri: &str, mft_der: &[u8], files: &[(String, &[u8])], source: &dyn Store) -> Result<(), CacheError> {
        let mut dirs = Dirs::default();
        for (uri, data) in files.iter().map(|(u, d)| (u.as_str(), *d)).chain([(mft_uri, mft_der)]) {
            let dst = self.store.path_of(uri).ok_or_else(|| CacheError::UnsafeUri(uri.to_string()))?;
            if let Some(made) = dirs.make_for(&dst).map_err(|e| io_err(&dst, e))? {
                self.changed.lock().unwrap_or_else(|e| e.into_inner()).insert(made.to_path_buf());
            }
            // A file new to the cache is linked in place at once; one that
            // exists is replaced by rename, so it is never missing.
            let src = source.file_path(uri);
            if src.as_ref().is_some_and(|src| std::fs::hard_link(src, &dst).is_ok()) {
                continue;
            }
            // A temporary name of its own: points sharing a directory (two
            // instances of a CA during a key roll, MFT-18) are kept in parallel.
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = dst.with_file_name(format!(".incoming-{}-{n}", std::process::id()));
            let _ = std::fs::remove_file(&tmp);
            let linked = src.is_some_and(|src| std::fs::hard_link(src, &tmp).is_ok());
            if !linked {
                std::fs::write(&tmp, data).map_err(|e| io_err(&tmp, e))?;
            }
            std::fs::rename(&tmp, &dst).map_err(|e| io_err(&dst, e))?;
        }
        Ok(())
    }

    /// Remove, from the directories this run changed, files no point relies on
    /// any more. Points sharing a directory (MFT-18) keep each other's files.
    pub fn sweep(&self) {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let changed = std::mem::take(&mut *self.changed.lock().unwrap_or_else(|e| e.into_inner()));
        let root = self.store.root();
        for dir in changed {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                if !e.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let Ok(rel) = e.path().strip_prefix(root).map(Path::to_path_buf) else { continue };
                let uri = format!("rsync://{}", rel.to_string_lossy());
                if !used.contains(&uri_hash(&uri)) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
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
