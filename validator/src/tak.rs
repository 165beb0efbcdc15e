//! Following a trust anchor's key roll (RFC 9691, OBJ-3). When the TAK in a
//! TA's publication point names a successor key, the run remembers when it
//! first saw it (in the cache, `tak/<TAL name>.json`); once the same
//! successor has been named for the acceptance time (30 days by default), the
//! run validates from the successor instead: if that tree validates and its
//! TAK names the current key as predecessor, the successor becomes this TAL's
//! key for every later run. A TAL file that changes key resets all of it.

use rpkit_objects::crypto::PublicKey;
use rpkit_objects::tak::TakContent;
use rpkit_objects::tal::Tal;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The acceptance time RFC 9691 suggests to relying parties.
pub const ACCEPTANCE_SECS: i64 = 30 * 86400;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Key {
    /// SubjectPublicKeyInfo, base64.
    key: String,
    uris: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct State {
    /// The key of the TAL file this state is about.
    file_key: String,
    /// The key the TAL moved to, if it did.
    current: Option<Key>,
    /// The successor the current TA's TAK names, and since when (seconds).
    successor: Option<(Key, i64)>,
}

fn b64(k: &PublicKey) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, k.spki())
}

fn to_tal(k: &Key, comments: &[String]) -> Option<Tal> {
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &k.key).ok()?;
    Some(Tal { comments: comments.to_vec(), uris: k.uris.clone(), key: PublicKey::decode(&der).ok()? })
}

/// The TAK state of the TALs of one cache.
pub struct Follow {
    dir: PathBuf,
    acceptance: i64,
}

impl Follow {
    pub fn new(cache: &Path, acceptance_secs: i64) -> Follow {
        Follow { dir: cache.join("tak"), acceptance: acceptance_secs }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn load(&self, name: &str, file: &Tal) -> State {
        let s: Option<State> = std::fs::read(self.path(name)).ok().and_then(|b| serde_json::from_slice(&b).ok());
        match s {
            Some(s) if s.file_key == b64(&file.key) => s,
            _ => State { file_key: b64(&file.key), ..State::default() },
        }
    }

    fn save(&self, name: &str, s: &State) {
        // Best effort: without it the run is the same, only the wait starts again.
        let _ = std::fs::create_dir_all(&self.dir);
        if let Ok(bytes) = serde_json::to_vec_pretty(s) {
            let tmp = self.path(name).with_extension("part");
            if std::fs::write(&tmp, bytes).is_ok() {
                let _ = std::fs::rename(&tmp, self.path(name));
            }
        }
    }

    /// The TAL to validate under `name`: the file's, or the successor it moved to.
    pub fn tal(&self, name: &str, file: &Tal) -> Tal {
        let s = self.load(name, file);
        s.current.as_ref().and_then(|k| to_tal(k, &file.comments)).unwrap_or_else(|| file.clone())
    }

    /// Note what the TAKs of a run from `current` say; the successor to try
    /// in its place once the acceptance time has passed.
    pub fn observe(&self, name: &str, file: &Tal, current: &Tal, taks: &[TakContent], now: i64) -> Option<Tal> {
        let mut s = self.load(name, file);
        let named = taks.iter().filter(|t| t.current.key == current.key).find_map(|t| t.successor.clone());
        let Some(next) = named else {
            if s.successor.take().is_some() {
                self.save(name, &s);
            }
            return None;
        };
        let key = Key { key: b64(&next.key), uris: next.certificate_uris.clone() };
        let since = match &s.successor {
            Some((k, since)) if k.key == key.key => *since,
            _ => now,
        };
        s.successor = Some((key.clone(), since));
        self.save(name, &s);
        (now - since >= self.acceptance).then(|| to_tal(&key, &file.comments)).flatten()
    }

    /// Whether a run from `successor` confirms the roll: its TAK names it
    /// current and `predecessor` before it.
    pub fn confirms(successor: &Tal, predecessor: &Tal, taks: &[TakContent]) -> bool {
        taks.iter().any(|t| t.current.key == successor.key && t.predecessor.as_ref().is_some_and(|p| p.key == predecessor.key))
    }

    /// Move `name` to `successor` for this and every later run.
    pub fn adopt(&self, name: &str, file: &Tal, successor: &Tal) {
        let mut s = self.load(name, file);
        s.current = Some(Key { key: b64(&successor.key), uris: successor.uris.clone() });
        s.successor = None;
        self.save(name, &s);
    }
}
