//! Who may read the servers' data directories: where each one keeps its
//! secrets (databases holding private keys, key files, tokens), and the
//! operator's switch `--permissions strict|warn`. The modes themselves and
//! their checks are `rpkit_serve::data_dir`.

use rpkit_serve::data_dir::{DataDir, Strictness, PASSAGE_DIR, PRIVATE_DIR};
use std::path::Path;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Refuse to start, naming each file and the `chmod` that fixes it.
    #[default]
    Strict,
    /// Start, with a warning per file.
    Warn,
}

#[derive(clap::Args, Clone, Copy, Debug)]
pub struct PermissionArgs {
    /// What to do when other users can read a secret in the data directory
    /// (a database holding keys, a key or token file): `strict` refuses to
    /// start; `warn` only warns, for operators who control access otherwise.
    #[arg(long = "permissions", env = "RPKIT_PERMISSIONS", value_enum, default_value_t = Mode::Strict)]
    pub permissions: Mode,
}

/// The CA's data directory (`rpkit ta init`, `rpkit ca serve` ...): private
/// throughout; the TAL and `ca.json` in it are not secrets.
pub fn ca(data: &Path) -> DataDir {
    DataDir::new(data, PRIVATE_DIR)
        .database("ca.sqlite")
        .secret("admin-token")
        .dir("bpki", PRIVATE_DIR)
        .secret("bpki/id.key")
        .secret("bpki/id-ee.key")
}

/// The publication server's data directory: it leads to the public `rrdp/`
/// and `rsync/` trees, so others may pass through it; its database holds the
/// server's RFC 8181 identity key.
pub fn publication(data: &Path) -> DataDir {
    DataDir::new(data, PASSAGE_DIR).database("publication.sqlite").secret("admin-token")
}

/// `rpkit up`'s DATA: it leads to `publication/` and the validator's cache;
/// `ca/` and `publication/` are checked as their own servers check them.
pub fn up(data: &Path) -> DataDir {
    DataDir::new(data, PASSAGE_DIR).secret("up.json").secret("demo-member.json").dir("tls", PRIVATE_DIR).secret("tls/key.pem")
}

/// Open (creating if needed) a data directory under the operator's switch;
/// what was tightened or left open is said on stderr.
pub fn open(dir: &DataDir, args: PermissionArgs) -> crate::error::Result<()> {
    let strictness = match args.permissions {
        Mode::Strict => Strictness::Refuse,
        Mode::Warn => Strictness::Warn,
    };
    let opened = dir.open(strictness)?;
    for t in &opened.tightened {
        eprintln!("rpkit: {}: mode {:04o} tightened to {:04o} (written by an earlier version)", t.path.display(), t.mode, t.fixed_mode());
    }
    for t in &opened.warned {
        eprintln!("rpkit: warning: {t}");
    }
    Ok(())
}
