//! Online backups of the SQLite state (`rpkit ca backup`, `rpkit publication
//! backup`): `VACUUM INTO` writes a consistent copy while the server runs.

use std::path::Path;

/// Copy the database `db` to the new file `out`.
pub fn sqlite(db: &Path, out: &Path) -> Result<(), String> {
    if !db.exists() {
        return Err(format!("{}: no such database", db.display()));
    }
    let target = out.to_str().ok_or_else(|| format!("{}: not a UTF-8 path", out.display()))?;
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    // The copy holds the private keys: made 0600 before a byte is in it
    // (VACUUM INTO fills an empty file), and never over an existing file.
    rpkit_serve::data_dir::create_new_secret(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} exists: a backup never overwrites a file", out.display()),
        _ => format!("{}: {e}", out.display()),
    })?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(out);
        return Err(format!("backing up {}: {e}", db.display()));
    }
    Ok(())
}
