//! Online backups of the state (`rpkit ca backup`, `rpkit publication
//! backup`), taken while the server runs: of SQLite by `VACUUM INTO`, of
//! PostgreSQL as one snapshot copied into a SQLite file of the same schema;
//! and the move of a SQLite store into PostgreSQL (`migrate`).

use crate::error::{CliError, Result};
use std::path::Path;

/// Copy the database `db` to the new file `out`.
pub fn sqlite(db: &Path, out: &Path) -> Result<()> {
    if !db.exists() {
        return Err(CliError::input(format!("{}: no such database", db.display())));
    }
    let target = out.to_str().ok_or_else(|| CliError::input(format!("{}: not a UTF-8 path", out.display())))?;
    let database = |source| CliError::Database { path: db.to_path_buf(), source };
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(database)?;
    conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(database)?;
    // The copy holds the private keys: made 0600 before a byte is in it
    // (VACUUM INTO fills an empty file), and never over an existing file.
    rpkit_serve::data_dir::create_new_secret(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CliError::input(format!("{} exists: a backup never overwrites a file", out.display())),
        _ => CliError::io(out, e),
    })?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [target]) {
        let _ = std::fs::remove_file(out);
        return Err(database(e).during(format!("backing up into {}", out.display())));
    }
    Ok(())
}

/// Copy the store `schema` from the PostgreSQL database at `url` to the new file `out`.
pub fn shared(url: &str, schema: &rpkit_serve::db::Schema, out: &Path) -> Result<()> {
    use rpkit_serve::db::{copy_to_sqlite, Db, Location};
    let loc = Location::from_url(Some(url), None);
    if !loc.is_shared() {
        return Err(CliError::input(format!("{url}: not a postgresql:// URL")));
    }
    rpkit_serve::data_dir::create_new_secret(out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CliError::input(format!("{} exists: a backup never overwrites a file", out.display())),
        _ => CliError::io(out, e),
    })?;
    let copied = Db::open(&loc, schema).and_then(|mut db| copy_to_sqlite(&mut db, schema, out));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(out);
        return Err(CliError::from(e).during(format!("backing up into {}", out.display())));
    }
    Ok(())
}

/// Copy the SQLite store at `db` into the empty PostgreSQL store `schema`
/// at `url`, in one transaction; returns the rows copied.
pub fn migrate(db: &Path, schema: &rpkit_serve::db::Schema, url: &str) -> Result<usize> {
    if !db.is_file() {
        return Err(CliError::input(format!("{}: no such database (nothing to move)", db.display())));
    }
    rpkit_serve::db::copy_to_shared(db, schema, url)
        .map_err(|e| CliError::from(e).during(format!("moving {} into PostgreSQL", db.display())))
}

/// Rename a store's SQLite file (and its WAL files) to `NAME.moved`, so
/// that nothing opens the old state again by mistake.
pub fn set_aside(db: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let from = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        if from.exists() {
            let to = std::path::PathBuf::from(format!("{}.moved{suffix}", db.display()));
            std::fs::rename(&from, &to).map_err(|e| CliError::io(&from, e))?;
        }
    }
    Ok(())
}
