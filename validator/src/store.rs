//! Where the validator reads published objects: by rsync URI, from memory, a
//! pack (`pack`: RRDP copies, the validated cache) or the rsync mirror, which
//! keeps every object at `DIR/HOST/MODULE/path`; no URI can name a path
//! outside it (objects::uri, CHECKLIST 7.3).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Largest object read (MFT-20).
pub const MAX_OBJECT: u64 = rpkit_objects::limits::MAX_OBJECT_SIZE as u64;

/// Published objects by rsync URI.
pub trait Store: Sync {
    fn get(&self, uri: &str) -> Option<Vec<u8>>;
    /// Whether `uri` is there but over [`MAX_OBJECT`] (so `get` refused it).
    fn too_large(&self, _uri: &str) -> bool {
        false
    }
    /// Names of the files directly in `dir` (an rsync URI ending in `/`),
    /// at most `MAX_LISTED`, sorted; for audits.
    fn list(&self, _dir: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Most names `Store::list` returns: the most a manifest may list (MFT-20).
pub const MAX_LISTED: usize = rpkit_objects::limits::MAX_MANIFEST_ENTRIES;

impl<S: Store + ?Sized> Store for &S {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        (**self).get(uri)
    }
    fn too_large(&self, uri: &str) -> bool {
        (**self).too_large(uri)
    }
    fn list(&self, dir: &str) -> Vec<String> {
        (**self).list(dir)
    }
}

impl<S: Store + Send + ?Sized> Store for std::sync::Arc<S> {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        (**self).get(uri)
    }
    fn too_large(&self, uri: &str) -> bool {
        (**self).too_large(uri)
    }
    fn list(&self, dir: &str) -> Vec<String> {
        (**self).list(dir)
    }
}

/// Objects in memory (tests, RRDP snapshots).
impl Store for BTreeMap<String, Vec<u8>> {
    fn get(&self, uri: &str) -> Option<Vec<u8>> {
        BTreeMap::get(self, uri).cloned()
    }
    fn list(&self, dir: &str) -> Vec<String> {
        names_in(self, dir)
    }
}

/// The names directly in `dir` (an rsync URI ending in `/`) among a map's
/// keys, at most [`MAX_LISTED`], sorted: `Store::list` of stores indexed by URI.
pub fn names_in<V>(map: &BTreeMap<String, V>, dir: &str) -> Vec<String> {
    map.range(dir.to_string()..)
        .map(|(k, _)| k)
        .take_while(|k| k.starts_with(dir))
        .filter_map(|k| k.get(dir.len()..))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .take(MAX_LISTED)
        .map(str::to_string)
        .collect()
}

/// Makes the directories of files written one after another: each is made
/// once while files keep landing in it (a point's files share one).
#[derive(Default)]
pub struct Dirs(Option<PathBuf>);

impl Dirs {
    /// Make `file`'s directory unless it was the last one made; the
    /// directory when it was made now.
    pub fn make_for<'p>(&mut self, file: &'p Path) -> std::io::Result<Option<&'p Path>> {
        match file.parent() {
            Some(dir) if self.0.as_deref() != Some(dir) => {
                std::fs::create_dir_all(dir)?;
                self.0 = Some(dir.to_path_buf());
                Ok(Some(dir))
            }
            _ => Ok(None),
        }
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
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        let p = self.path_of(uri)?;
        // Regular files only (no symlinks out of the cache: O_NOFOLLOW), bounded
        // in size; one open, then the checks on what it opened.
        let mut f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(p).ok()?;
        let meta = f.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_OBJECT {
            return None;
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut data).ok()?;
        Some(data)
    }
    fn too_large(&self, uri: &str) -> bool {
        self.path_of(uri).and_then(|p| std::fs::symlink_metadata(p).ok()).is_some_and(|m| m.is_file() && m.len() > MAX_OBJECT)
    }
    fn list(&self, dir: &str) -> Vec<String> {
        let Some(path) = self.path_of(dir.strip_suffix('/').unwrap_or(dir)) else { return Vec::new() };
        let Ok(entries) = std::fs::read_dir(path) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| rpkit_objects::uri::rsync_safe(&format!("{dir}{n}")).is_some())
            .take(MAX_LISTED)
            .collect();
        names.sort();
        names
    }
}
