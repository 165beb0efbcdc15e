//! Whole-store copies between the backends: a PostgreSQL store into a new
//! SQLite file (a backup), and a SQLite store into an empty PostgreSQL one
//! (the move from one machine to two). Each reads one snapshot and writes
//! in one transaction: the copy is whole or absent.

use super::{sqlite, Db, DbError, DbResult, Location, Mode, Schema, Sql, ToValue};
use crate::args;
use std::path::Path;

/// The tables of the SQLite store `c` (every store table; the schema
/// version is kept outside them) and their columns, in order.
fn tables(c: &rusqlite::Connection) -> DbResult<Vec<(String, Vec<String>)>> {
    let names: Vec<String> = {
        let mut st = c.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?;
        let names = st.query_map([], |r| r.get(0))?;
        names.collect::<rusqlite::Result<_>>()?
    };
    let mut out = Vec::new();
    for t in names {
        let mut st = c.prepare(&format!("SELECT name FROM pragma_table_info('{t}') ORDER BY cid"))?;
        let cols = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
        out.push((t, cols));
    }
    Ok(out)
}

fn insert_sql(table: &str, cols: &[String]) -> String {
    let marks = (1..=cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    format!("INSERT INTO {table} ({}) VALUES ({marks})", cols.join(", "))
}

/// A consistent copy of `schema`'s tables from a shared database into the new
/// SQLite file `out`, which the embedded backend opens as it is (a backup of a
/// PostgreSQL store). From SQLite itself, `VACUUM INTO` is the better copy.
pub fn copy_to_sqlite(from: &mut Db, schema: &Schema, out: &Path) -> DbResult<usize> {
    let to = Db::open(&Location::Sqlite(Some(out.to_path_buf())), schema)?;
    let Db::Sqlite(dest) = &to else { unreachable!("opened as SQLite") };
    let tables = tables(dest)?;
    let tx = from.begin(Mode::Read)?;
    let copy = dest.unchecked_transaction()?;
    let mut rows = 0;
    for (t, cols) in &tables {
        let insert = insert_sql(t, cols);
        copy.execute(&format!("DELETE FROM {t}"), [])?;
        tx.for_each(&format!("SELECT {} FROM {t}", cols.join(", ")), args![], |r| {
            let values: Vec<&dyn ToValue> = r.0.iter().map(|v| v as &dyn ToValue).collect();
            sqlite::execute(&copy, &insert, &values)?;
            rows += 1;
            Ok::<(), DbError>(())
        })?;
    }
    copy.commit()?;
    tx.commit()?;
    Ok(rows)
}

/// Copy the SQLite store at `from` (brought up to date first) into the
/// PostgreSQL database at `url`, whose store `schema` must hold nothing yet;
/// identity columns then continue after the ids copied. Refused, with the
/// table named, when the target holds rows. Returns the rows copied.
pub fn copy_to_shared(from: &Path, schema: &Schema, url: &str) -> DbResult<usize> {
    let loc = Location::from_url(Some(url), None);
    if !loc.is_shared() {
        return Err(DbError::Other(format!("{url}: not a postgresql:// URL")));
    }
    if !from.is_file() {
        return Err(DbError::Other(format!("{}: no such database", from.display())));
    }
    let mut source = Db::open(&Location::Sqlite(Some(from.to_path_buf())), schema)?;
    let mut target = Db::open(&loc, schema)?;
    let tables = match &source {
        Db::Sqlite(c) => tables(c)?,
        Db::Postgres(_) => unreachable!("opened as SQLite"),
    };
    let read = source.begin(Mode::Read)?;
    let write = target.begin(Mode::Write)?;
    for (t, _) in &tables {
        if write.value::<bool>(&format!("SELECT EXISTS (SELECT 1 FROM {t})"), args![])? {
            return Err(DbError::Other(format!(
                "{url} already holds {} state (table {t} has rows): a copy goes only into an empty store",
                schema.name
            )));
        }
    }
    let mut rows = 0;
    for (t, cols) in &tables {
        let insert = insert_sql(t, cols);
        read.for_each(&format!("SELECT {} FROM {t}", cols.join(", ")), args![], |r| {
            let values: Vec<&dyn ToValue> = r.0.iter().map(|v| v as &dyn ToValue).collect();
            write.execute(&insert, &values)?;
            rows += 1;
            Ok::<(), DbError>(())
        })?;
    }
    // Ids given explicitly leave an identity's sequence behind: move it on.
    let identities: Vec<(String, String)> = write.rows(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (t, c) in identities {
        write.batch(&format!("SELECT setval(pg_get_serial_sequence('{t}', '{c}'), COALESCE((SELECT MAX({c}) FROM {t}), 0) + 1, false)"))?;
    }
    write.commit()?;
    read.commit()?;
    Ok(rows)
}
