//! Fetching over rsync (RFC 5781, RFC 6481 §3) with the rsync binary, bounded
//! (RSYNC-2): I/O and connect timeouts, `--max-size`, a deadline after which
//! the process is killed; URIs checked before use and passed after `--` with
//! no shell and no remote-shell option (RSYNC-3, PIT-30). Symbolic links are
//! not copied (no `-l`), and the store reads regular files only (RSYNC-4).

use crate::error::FetchError;
use rpkit_objects::limits;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where rsync's copy of `rsync://HOST/MODULE/...` lives: `CACHE/rsync/HOST/MODULE/...`.
pub fn mirror_root(cache: &Path) -> PathBuf {
    cache.join("rsync")
}

/// Fetch `uri` (a module or directory ending in `/`, or one file) into the mirror.
pub fn fetch(cache: &Path, uri: &str, deadline: Instant, io_timeout: Duration) -> Result<(), FetchError> {
    let rest = rpkit_objects::uri::rsync_safe(uri.strip_suffix('/').unwrap_or(uri))
        .ok_or_else(|| FetchError::UnsafeUri { uri: uri.to_string() })?;
    let dir = uri.ends_with('/');
    let target = mirror_root(cache).join(rest);
    let parent = if dir { target.clone() } else { target.parent().map(Path::to_path_buf).unwrap_or_default() };
    std::fs::create_dir_all(&parent).map_err(|source| FetchError::Io { path: parent.clone(), source })?;
    let mut cmd = Command::new("rsync");
    cmd.env_remove("RSYNC_RSH").env_remove("RSYNC_PROXY").env_remove("RSYNC_CONNECT_PROG");
    cmd.args(["-rt", "--delete", "--no-motd"]);
    cmd.arg(format!("--max-size={}", limits::MAX_OBJECT_SIZE));
    cmd.arg(format!("--contimeout={}", limits::CONNECT_TIMEOUT.as_secs()));
    cmd.arg(format!("--timeout={}", io_timeout.as_secs().max(1)));
    cmd.arg("--");
    cmd.arg(uri);
    cmd.arg(if dir { format!("{}/", target.display()) } else { target.display().to_string() });
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let process = |source| FetchError::RsyncProcess { uri: uri.to_string(), source };
    let mut child = cmd.spawn().map_err(process)?;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = std::io::Read::read_to_string(&mut std::io::Read::take(&mut e, 64 * 1024), &mut s);
        }
        s
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(FetchError::RsyncTimeLimit { uri: uri.to_string() });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(process(e)),
        }
    };
    let err = reader.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        Err(FetchError::RsyncExit { uri: uri.to_string(), status, last })
    }
}
