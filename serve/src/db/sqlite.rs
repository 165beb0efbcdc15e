//! The embedded backend: one SQLite file in WAL mode, one writer at a time.

use super::{DbError, DbResult, Row, ToValue, Value};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;
use std::path::Path;

/// Wait this long for another process's write lock (a backup, the CLI).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub(super) fn open(path: Option<&Path>, secure_delete: bool) -> DbResult<Connection> {
    let c = match path {
        Some(p) => Connection::open(p)?,
        None => Connection::open_in_memory()?,
    };
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    if secure_delete {
        // A deleted row (a destroyed key) is overwritten, not left in a free page.
        c.pragma_update(None, "secure_delete", "ON")?;
    }
    c.busy_timeout(BUSY_TIMEOUT)?;
    Ok(c)
}

/// Apply the migrations not yet run, each in its own transaction.
pub(super) fn migrate(c: &mut Connection, steps: &[&str]) -> DbResult<()> {
    let done: usize = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in steps.iter().enumerate().skip(done) {
        let tx = c.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

struct Arg(Value);

impl rusqlite::ToSql for Arg {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match &self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn bind(args: &[&dyn ToValue]) -> Vec<Arg> {
    args.iter().map(|a| Arg(a.to_value())).collect()
}

fn row(r: &rusqlite::Row<'_>, n: usize) -> DbResult<Row> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Int(i),
            ValueRef::Real(f) => Value::Int(f as i64),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        });
    }
    Ok(Row(v))
}

pub(super) fn execute(t: &Connection, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64> {
    let a = bind(args);
    let mut st = t.prepare_cached(sql)?;
    // A statement with RETURNING yields rows: step through them.
    if st.column_count() > 0 {
        let mut rows = st.query(rusqlite::params_from_iter(a.iter()))?;
        let mut n = 0;
        while rows.next()?.is_some() {
            n += 1;
        }
        return Ok(n);
    }
    Ok(st.execute(rusqlite::params_from_iter(a.iter()))? as u64)
}

pub(super) fn query_opt(t: &Connection, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<Row>> {
    let a = bind(args);
    let mut st = t.prepare_cached(sql)?;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(a.iter()))?;
    match rows.next()? {
        Some(r) => Ok(Some(row(r, n)?)),
        None => Ok(None),
    }
}

pub(super) fn for_each<E: From<DbError>>(
    t: &Connection,
    sql: &str,
    args: &[&dyn ToValue],
    f: &mut impl FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    let a = bind(args);
    let mut st = t.prepare_cached(sql).map_err(DbError::from)?;
    let n = st.column_count();
    let mut rows = st.query(rusqlite::params_from_iter(a.iter())).map_err(DbError::from)?;
    while let Some(r) = rows.next().map_err(DbError::from)? {
        f(row(r, n)?)?;
    }
    Ok(())
}
