//! A server's data directory and the secrets at rest in it (databases holding
//! private keys, key files, tokens). Whatever the umask, secrets are created
//! for their owner only and the directories holding them closed to others;
//! at every start the modes are checked, as OpenSSH checks its key files: a
//! secret other users could read is refused, naming the file and the `chmod`
//! that fixes it, unless the operator asked for warnings only.
//!
//! A directory written by an earlier version has no [`MARKER`]: its modes are
//! tightened once, on the first start that finds it so.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A file holding a secret: read and written by its owner only.
pub const SECRET_FILE: u32 = 0o600;
/// A directory holding only private things.
pub const PRIVATE_DIR: u32 = 0o700;
/// A directory that also leads to public trees (RRDP, rsync) which web and
/// rsync servers running as other users must reach: others may pass through
/// it to a path they know, but not list it. The secrets in it are 0600.
pub const PASSAGE_DIR: u32 = 0o711;
/// Present in a data directory whose modes this version has set; its absence
/// means an earlier version wrote the directory.
pub const MARKER: &str = ".permissions";
const MARKER_TEXT: &str = "rpkit keeps the secrets in this directory private (files 0600, directories 0700 or 0711)\n\
and refuses to start when other users can read them (--permissions warn only warns).\n";

/// What a server does with a secret that other users can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// Refuse to start (the default).
    #[default]
    Refuse,
    /// Start, with a warning naming each file: for operators who control
    /// access otherwise (ACLs, a dedicated machine).
    Warn,
}

/// A path whose mode allows more than it should.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooOpen {
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// The most it may allow.
    pub allowed: u32,
}

impl TooOpen {
    /// The mode it should have: what it has, less what it may not.
    pub fn fixed_mode(&self) -> u32 {
        self.mode & self.allowed
    }
}

impl fmt::Display for TooOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        write!(f, "{p} has mode {:04o}, open to other users (fix: chmod {:o} {p})", self.mode, self.fixed_mode())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{} holds secrets that other users can reach:\n  {}\n(start with --permissions warn to only warn, if access is controlled otherwise)",
        dir.display(), found.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  "))]
    TooOpen { dir: PathBuf, found: Vec<TooOpen> },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// What happened when a data directory was opened.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// The directory was made now.
    pub created: bool,
    /// Paths tightened because an earlier version left them open.
    pub tightened: Vec<TooOpen>,
    /// Paths left open under [`Strictness::Warn`].
    pub warned: Vec<TooOpen>,
}

#[derive(Debug, Clone)]
enum Kind {
    Secret,
    Dir(u32),
}

/// The layout of a data directory: its own mode, its secret files and its
/// subdirectories with theirs (paths relative to the root). Files not named
/// here are not checked: the public trees and settings.
#[derive(Debug, Clone)]
pub struct DataDir {
    pub root: PathBuf,
    mode: u32,
    entries: Vec<(PathBuf, Kind)>,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>, mode: u32) -> DataDir {
        DataDir { root: root.into(), mode, entries: Vec::new() }
    }

    /// A file holding a secret.
    pub fn secret(mut self, rel: impl Into<PathBuf>) -> DataDir {
        self.entries.push((rel.into(), Kind::Secret));
        self
    }

    /// An SQLite database holding secrets, with its WAL and shared-memory files.
    pub fn database(self, rel: &str) -> DataDir {
        self.secret(rel).secret(format!("{rel}-wal")).secret(format!("{rel}-shm")).secret(format!("{rel}-journal"))
    }

    /// A subdirectory with its mode.
    pub fn dir(mut self, rel: impl Into<PathBuf>, mode: u32) -> DataDir {
        self.entries.push((rel.into(), Kind::Dir(mode)));
        self
    }

    /// Every path present whose mode allows more than it should.
    pub fn too_open(&self) -> Result<Vec<TooOpen>, Error> {
        let mut found = Vec::new();
        let all = std::iter::once((self.root.clone(), self.mode)).chain(self.entries.iter().map(|(rel, k)| {
            (
                self.root.join(rel),
                match k {
                    Kind::Secret => SECRET_FILE,
                    Kind::Dir(m) => *m,
                },
            )
        }));
        for (path, allowed) in all {
            match fs::metadata(&path) {
                Ok(m) => {
                    let mode = m.permissions().mode() & 0o7777;
                    if mode & 0o777 & !allowed != 0 {
                        found.push(TooOpen { path, mode, allowed });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::Io { path, source: e }),
            }
        }
        Ok(found)
    }

    /// Create the directory if needed, then make sure no secret in it is open
    /// to other users: tighten what an earlier version left open (no
    /// [`MARKER`] yet), and otherwise refuse, or warn, per `strictness`.
    pub fn open(&self, strictness: Strictness) -> Result<Opened, Error> {
        let mut out = Opened::default();
        let marker = self.root.join(MARKER);
        if !self.root.exists() {
            create_dir(&self.root, self.mode).map_err(io_err(&self.root))?;
            write_secret(&marker, MARKER_TEXT.as_bytes()).map_err(io_err(&marker))?;
            out.created = true;
        }
        for (rel, kind) in &self.entries {
            if let Kind::Dir(mode) = kind {
                let p = self.root.join(rel);
                if !p.exists() {
                    create_dir(&p, *mode).map_err(io_err(&p))?;
                }
            }
        }
        let found = self.too_open()?;
        if !marker.exists() && strictness == Strictness::Refuse {
            for t in &found {
                fs::set_permissions(&t.path, fs::Permissions::from_mode(t.fixed_mode())).map_err(io_err(&t.path))?;
            }
            write_secret(&marker, MARKER_TEXT.as_bytes()).map_err(io_err(&marker))?;
            out.tightened = found;
            return Ok(out);
        }
        if found.is_empty() {
            return Ok(out);
        }
        match strictness {
            Strictness::Refuse => Err(Error::TooOpen { dir: self.root.clone(), found }),
            Strictness::Warn => {
                out.warned = found;
                Ok(out)
            }
        }
    }
}

/// Create `dir` with exactly `mode` (its missing parents with the usual modes).
pub fn create_dir(dir: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Open `path` for writing as a secret: mode 0600 from its first byte on.
/// `new` refuses an existing file; otherwise one is truncated (and keeps its
/// mode through open(2), so the mode is set again).
fn open_secret(path: &Path, new: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).mode(SECRET_FILE);
    if new {
        o.create_new(true);
    } else {
        o.create(true).truncate(true);
    }
    let f = o.open(path)?;
    f.set_permissions(fs::Permissions::from_mode(SECRET_FILE))?;
    Ok(f)
}

/// Make sure the secret file `path` exists, created empty with mode 0600 if
/// it did not (before SQLite opens a database there: SQLite gives its WAL and
/// shared-memory files the database file's mode).
pub fn ensure_secret(path: &Path) -> io::Result<()> {
    match open_secret(path, true) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
    }
}

/// Create the new file `path` as a secret; fails if it exists.
pub fn create_new_secret(path: &Path) -> io::Result<File> {
    open_secret(path, true)
}

/// Replace `path` atomically with what `write` writes: a temporary file
/// beside it, synced, renamed, so readers never see half a file. A `secret`
/// is 0600 from its first byte; any other file gets the usual modes.
pub fn replace_file(path: &Path, secret: bool, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let mut f = if secret { open_secret(&tmp, false)? } else { File::create(&tmp)? };
    write(&mut f)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
}

/// Replace `path` atomically with `data`, as a secret.
pub fn write_secret(path: &Path, data: &[u8]) -> io::Result<()> {
    replace_file(path, true, |w| w.write_all(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rpkit-data-dir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    fn chmod(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    fn layout(root: &Path) -> DataDir {
        DataDir::new(root, PRIVATE_DIR).database("x.sqlite").secret("token").dir("keys", PRIVATE_DIR).secret("keys/a.key")
    }

    #[test]
    fn a_new_directory_is_created_private_with_its_marker() {
        let d = scratch("new").join("deeper/data");
        let o = layout(&d).open(Strictness::Refuse).unwrap();
        assert!(o.created && o.tightened.is_empty() && o.warned.is_empty(), "{o:?}");
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("keys")), 0o700);
        assert_eq!(mode(&d.join(MARKER)), 0o600);
        // Parents the operator named are made with the usual modes, not ours.
        assert_ne!(mode(d.parent().unwrap()) & 0o005, 0);
        let _ = fs::remove_dir_all(scratch("new"));
    }

    #[test]
    fn secrets_are_0600_whatever_was_there() {
        let d = scratch("secrets");
        fs::create_dir_all(&d).unwrap();
        let p = d.join("s");
        fs::write(&p, b"old").unwrap();
        chmod(&p, 0o666);
        write_secret(&p, b"new").unwrap();
        assert_eq!((mode(&p), fs::read(&p).unwrap()), (0o600, b"new".to_vec()));
        let q = d.join("db");
        ensure_secret(&q).unwrap();
        assert_eq!(mode(&q), 0o600);
        fs::write(&q, b"kept").unwrap();
        ensure_secret(&q).unwrap();
        assert_eq!(fs::read(&q).unwrap(), b"kept", "an existing database is never truncated");
        assert!(create_new_secret(&q).is_err(), "a backup never overwrites");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn an_earlier_versions_directory_is_tightened_once_then_refused_naming_the_file() {
        let d = scratch("earlier");
        fs::create_dir_all(d.join("keys")).unwrap();
        for (f, m) in [("x.sqlite", 0o644), ("x.sqlite-wal", 0o644), ("token", 0o640), ("keys/a.key", 0o600), ("public.tal", 0o644)] {
            fs::write(d.join(f), b"-").unwrap();
            chmod(&d.join(f), m);
        }
        chmod(&d, 0o755);
        chmod(&d.join("keys"), 0o775);
        let l = layout(&d);
        let o = l.open(Strictness::Refuse).unwrap();
        let mut fixed: Vec<_> =
            o.tightened.iter().map(|t| (t.path.strip_prefix(&d).unwrap().to_path_buf(), t.mode, t.fixed_mode())).collect();
        fixed.sort();
        let want = [
            ("", 0o755, 0o700),
            ("keys", 0o775, 0o700),
            ("token", 0o640, 0o600),
            ("x.sqlite", 0o644, 0o600),
            ("x.sqlite-wal", 0o644, 0o600),
        ];
        assert_eq!(fixed, want.iter().map(|(p, a, b)| (PathBuf::from(p), *a, *b)).collect::<Vec<_>>());
        for (f, m) in [("", 0o700), ("keys", 0o700), ("x.sqlite", 0o600), ("x.sqlite-wal", 0o600), ("token", 0o600), ("public.tal", 0o644)]
        {
            assert_eq!(mode(&d.join(f)), m, "{f}");
        }
        // From now on, a secret opened up is refused and named, with its fix.
        chmod(&d.join("x.sqlite"), 0o644);
        let e = l.open(Strictness::Refuse).unwrap_err();
        let text = e.to_string();
        let db = d.join("x.sqlite");
        assert!(text.contains(&format!("{} has mode 0644", db.display())), "{text}");
        assert!(text.contains(&format!("chmod 600 {}", db.display())), "{text}");
        assert_eq!(mode(&db), 0o644, "a refusal changes nothing");
        // Warn only: the server starts and the file is left as it is.
        let o = l.open(Strictness::Warn).unwrap();
        assert_eq!(o.warned, vec![TooOpen { path: db.clone(), mode: 0o644, allowed: 0o600 }]);
        assert_eq!(mode(&db), 0o644);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_passage_directory_may_be_traversed_but_not_listed() {
        let d = scratch("passage");
        let l = DataDir::new(&d, PASSAGE_DIR).secret("token");
        l.open(Strictness::Refuse).unwrap();
        assert_eq!(mode(&d), 0o711);
        chmod(&d, 0o751);
        assert!(l.open(Strictness::Refuse).unwrap_err().to_string().contains("fix: chmod 711 "));
        chmod(&d, 0o701);
        assert!(l.open(Strictness::Refuse).is_ok(), "less than allowed is fine");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn warn_mode_never_changes_an_earlier_versions_modes() {
        let d = scratch("warn");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("token"), b"t").unwrap();
        chmod(&d.join("token"), 0o644);
        let o = DataDir::new(&d, PRIVATE_DIR).secret("token").open(Strictness::Warn).unwrap();
        assert_eq!(o.warned.len(), 1 + usize::from(mode(&d) & 0o077 != 0));
        assert_eq!(mode(&d.join("token")), 0o644);
        assert!(!d.join(MARKER).exists());
        let _ = fs::remove_dir_all(&d);
    }
}
