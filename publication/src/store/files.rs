//! The `files` table: the RRDP files written (`kind` is snapshot or delta),
//! by serial, with their path relative to the RRDP directory, hash and size.

use crate::repository::RrdpFile;
use rpkit_serve::args;
use rpkit_serve::db::{DbResult, Sql};

/// Record `f` as the `kind` file of its serial, replacing any recorded.
pub fn record(c: &impl Sql, kind: &str, f: &RrdpFile) -> DbResult<()> {
    c.execute(
        "INSERT INTO files (serial, kind, path, hash, size, written) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (serial, kind) DO UPDATE SET path = excluded.path, hash = excluded.hash, size = excluded.size, written = excluded.written",
        args![f.serial as i64, kind, f.path, f.hash, f.size as i64, f.written],
    )?;
    Ok(())
}

/// The files of `kind`, oldest serial first.
pub fn of_kind(c: &impl Sql, kind: &str) -> DbResult<Vec<RrdpFile>> {
    c.rows("SELECT serial, path, hash, size, written FROM files WHERE kind = ?1 ORDER BY serial", args![kind], |r| {
        Ok(RrdpFile { serial: r.get(0)?, path: r.get(1)?, hash: r.get(2)?, size: r.get(3)?, written: r.get(4)? })
    })
}

/// Forget the `kind` file of `serial`.
pub fn forget(c: &impl Sql, kind: &str, serial: u64) -> DbResult<()> {
    c.execute("DELETE FROM files WHERE kind = ?1 AND serial = ?2", args![kind, serial as i64])?;
    Ok(())
}
