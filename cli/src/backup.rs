//! Online backups of the SQLite state (`rpkit ca backup`, `rpkit publication
//! backup`): `VACUUM INTO` writes a consistent copy while the server runs.

use std::path::Path;

/// Copy the database `db` to the new file `out`.
pub fn sqlite(db: &Path, out: &Path) -> Result<(), String> {
    if !db.exists() {
        return Err(format!("{}: no such database", db.display()));
    }
    if out.exists() {
        return Err(format!("{} exists: a backup never overwrites a file", out.display()));
    }
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(|e| e.to_string())?;
    let target = out.to_str().ok_or_else(|| format!("{}: not a UTF-8 path", out.display()))?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(|e| format!("backing up {}: {e}", db.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // The CA's database holds its private keys.
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600)).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}
