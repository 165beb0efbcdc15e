//! The rsync tree for rsyncd (RFC 6481 layout, REPO-6): every update writes a
//! complete new tree beside the old ones, hard-linking unchanged files, sets
//! file mtimes from the objects (CMS-13) and a constant one on directories, then
//! switches the `current` symlink atomically. rsyncd's module points into
//! `current/<module>`, so a client sees the old tree or the new one, never a mix.
//!
//! `rsync://HOST/MODULE/path` lives at `DIR/current/MODULE/path`.

use rpkit_objects::der::Time;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Directories' mtime: constant, so unchanged trees look unchanged to rsync.
const DIR_MTIME: u64 = 1_000_000_000;

pub struct RsyncTree {
    pub dir: PathBuf,
    /// Superseded trees stay this long for clients still reading them (REPO-6: about 2 hours).
    pub keep_secs: u64,
}

fn to_system(t: Time) -> SystemTime {
    if t.0 >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(t.0 as u64)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

/// The path of an rsync URI below a tree; `None` if it could leave it.
pub fn rel_path(uri: &str) -> Option<PathBuf> {
    let (_host, path) = rpkit_objects::uri::rsync_safe(uri)?.split_once('/')?;
    Some(PathBuf::from(path))
}

impl RsyncTree {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RsyncTree { dir: dir.into(), keep_secs: 2 * 3600 }
    }

    pub fn current(&self) -> PathBuf {
        self.dir.join("current")
    }

    fn index_path(&self, tree: &str) -> PathBuf {
        self.dir.join(format!("{tree}.index"))
    }

    /// Hash per URI of the tree `current` points at.
    fn current_index(&self) -> (Option<String>, HashMap<String, String>) {
        let Ok(target) = std::fs::read_link(self.current()) else { return (None, HashMap::new()) };
        let name = target.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let idx = std::fs::read_to_string(self.index_path(&name)).unwrap_or_default();
        let map = idx.lines().filter_map(|l| l.split_once(' ')).map(|(h, u)| (u.to_string(), h.to_string())).collect();
        (Some(name), map)
    }

    /// Write a new tree holding exactly `objects` (URI, SHA-256, DER) and switch to it.
    pub fn update<'a>(&self, objects: impl IntoIterator<Item = (&'a str, [u8; 32], &'a [u8])>) -> io::Result<PathBuf> {
        let objects: Vec<(&str, [u8; 32], &[u8])> = objects.into_iter().collect();
        let by_uri: HashMap<&str, &[u8]> = objects.iter().map(|(u, _, d)| (*u, *d)).collect();
        self.update_with(objects.iter().map(|(u, h, _)| (*u, *h)), |uri| {
            by_uri.get(uri).map(|d| d.to_vec()).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, uri.to_string()))
        })
    }

    /// As `update`, reading an object's bytes (`fetch`) only when it is not in
    /// the current tree with the same hash (unchanged files are hard-linked).
    pub fn update_with<'a>(
        &self,
        objects: impl IntoIterator<Item = (&'a str, [u8; 32])>,
        fetch: impl FnMut(&str) -> io::Result<Vec<u8>>,
    ) -> io::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir)?;
        let (old_name, old) = self.current_index();
        let stamp = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let name = format!("tree-{}-{:09}", stamp.as_secs(), stamp.subsec_nanos());
        let root = self.dir.join(&name);
        std::fs::create_dir(&root)?;
        match self.write_tree(&root, &name, old_name.as_deref(), &old, objects, fetch) {
            Ok(()) => {}
            Err(e) => {
                // Never leave a half-written tree behind.
                let _ = std::fs::remove_dir_all(&root);
                return Err(e);
            }
        }
        // Atomic switch: a new symlink renamed over the old one.
        let tmp = self.dir.join("current.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&name, &tmp)?;
        std::fs::rename(&tmp, self.current())?;
        self.remove_old_trees(&name)?;
        Ok(root)
    }

    fn write_tree<'a>(
        &self,
        root: &Path,
        name: &str,
        old_name: Option<&str>,
        old: &HashMap<String, String>,
        objects: impl IntoIterator<Item = (&'a str, [u8; 32])>,
        mut fetch: impl FnMut(&str) -> io::Result<Vec<u8>>,
    ) -> io::Result<()> {
        let mut index = String::new();
        let mut dirs = std::collections::BTreeSet::new();
        for (uri, hash) in objects {
            let rel = rel_path(uri).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("refusing URI {uri}")))?;
            let path = root.join(&rel);
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p)?;
                let mut d = p.to_path_buf();
                while d.starts_with(root) && d != root {
                    dirs.insert(d.clone());
                    d.pop();
                }
            }
            let h = rpkit_objects::hex::lower(&hash);
            let linked = match (old_name, old.get(uri)) {
                (Some(o), Some(oh)) if *oh == h => std::fs::hard_link(self.dir.join(o).join(&rel), &path).is_ok(),
                _ => false,
            };
            if !linked {
                let der = fetch(uri)?;
                std::fs::write(&path, &der)?;
                if let Some(t) = rpkit_objects::object::file_time(&der) {
                    std::fs::File::options().write(true).open(&path)?.set_modified(to_system(t))?;
                }
            }
            index.push_str(&format!("{h} {uri}\n"));
        }
        for d in dirs.iter().rev() {
            set_dir_mtime(d)?;
        }
        set_dir_mtime(root)?;
        std::fs::write(self.index_path(name), index)
    }

    /// Remove superseded trees older than `keep_secs`.
    fn remove_old_trees(&self, current: &str) -> io::Result<()> {
        let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
        for e in std::fs::read_dir(&self.dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            let Some(secs) = name.strip_prefix("tree-").and_then(|r| r.split('-').next()).and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            if name == current || name.ends_with(".index") || now.saturating_sub(secs) < self.keep_secs {
                continue;
            }
            std::fs::remove_dir_all(e.path())?;
            let _ = std::fs::remove_file(self.index_path(&name));
        }
        Ok(())
    }
}

fn set_dir_mtime(d: &Path) -> io::Result<()> {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(DIR_MTIME);
    std::fs::File::open(d)?.set_modified(t)
}
