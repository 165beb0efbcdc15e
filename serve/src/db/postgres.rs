//! The shared backend: a PostgreSQL server that several nodes reach. Writers
//! of one store are serialised by a transaction-scoped advisory lock (what
//! SQLite's IMMEDIATE gives on one machine); reads see one snapshot.

use super::{DbError, DbResult, Mode, Row, ToValue, Value};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, GenericClient, IsolationLevel, Statement, Transaction};
use std::collections::HashMap;

/// Give up on a server that does not answer a connection in this time.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A connection and the statements it has prepared.
pub struct PgConn {
    /// Taken when the connection is dropped (see `Drop`).
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// The advisory lock that serialises this store's writers.
    lock_key: i64,
    /// Checked before a write commits, when nodes share the store (see `lease`).
    pub(super) fence: Option<std::sync::Arc<super::Fence>>,
}

/// A transaction and its connection's statements.
pub struct PgTx<'a> {
    /// Taken by `commit`, or rolled back when dropped (see `Drop`).
    tx: Option<Transaction<'a>>,
    statements: &'a mut HashMap<String, Statement>,
    /// A write's fence, checked at commit.
    fence: Option<std::sync::Arc<super::Fence>>,
}

/// The server's own words for an error (the driver's `Display` says only
/// "db error"), or the driver's with its causes (a TLS handshake's reason).
pub(super) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => match d.detail() {
            Some(detail) => format!("PostgreSQL: {} ({detail})", d.message()),
            None => format!("PostgreSQL: {}", d.message()),
        },
        None => {
            let mut s = format!("PostgreSQL: {e}");
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                s.push_str(&format!(": {c}"));
                cause = c.source();
            }
            s
        }
    }
}

pub(super) fn connect(url: &str, store: &str) -> DbResult<PgConn> {
    let (url, tls) = super::pg_tls::split(url)?;
    let mut cfg: postgres::Config = url.parse()?;
    let (mode, connector) = super::pg_tls::connector(&tls)?;
    cfg.ssl_mode(mode);
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(CONNECT_TIMEOUT);
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name(&format!("rpkit {store}"));
    }
    let mut client = blocking(|| cfg.connect(connector))?;
    // Each store in a schema of its own: the CA and the publication server
    // may share one database (both have an `objects` table).
    blocking(|| client.batch_execute(&format!("SET search_path TO {}", namespace(store))))?;
    Ok(PgConn { client: Some(client), statements: HashMap::new(), lock_key: lock_key(store), fence: None })
}

/// The schema holding `store`'s tables.
fn namespace(store: &str) -> String {
    let name: String = store.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("rpkit_{name}")
}

/// A stable 63-bit key per store name (FNV-1a), for advisory locks.
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (h >> 1) as i64
}

impl PgConn {
    pub fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect(OPEN)
    }

    /// Apply the migrations not yet run, all in one transaction under a lock
    /// (two nodes starting at once migrate once).
    pub(super) fn migrate(&mut self, store: &str, steps: &[&str]) -> DbResult<()> {
        blocking(|| self.migrate_now(store, steps))
    }

    fn migrate_now(&mut self, store: &str, steps: &[&str]) -> DbResult<()> {
        let mut tx = self.client.as_mut().expect(OPEN).transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key("rpkit migrations")])?;
        // "already exists, skipping" is no news on every start.
        tx.batch_execute("SET LOCAL client_min_messages = warning")?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", namespace(store)))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS rpkit_schema (store TEXT PRIMARY KEY, version BIGINT NOT NULL)")?;
        // The active node's lease (see `lease`), in every shared store.
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS rpkit_lease \
             (store TEXT PRIMARY KEY, holder TEXT NOT NULL, token BIGINT NOT NULL, expires TIMESTAMPTZ NOT NULL)",
        )?;
        let done: i64 = tx.query_opt("SELECT version FROM rpkit_schema WHERE store = $1", &[&store])?.map_or(0, |r| r.get(0));
        for sql in steps.iter().skip(done as usize) {
            tx.batch_execute(sql)?;
        }
        tx.execute(
            "INSERT INTO rpkit_schema (store, version) VALUES ($1, $2) ON CONFLICT (store) DO UPDATE SET version = excluded.version",
            &[&store, &(steps.len().max(done as usize) as i64)],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(super) fn version(&mut self, store: &str) -> DbResult<usize> {
        let v: Option<i64> =
            blocking(|| self.client.as_mut().expect(OPEN).query_opt("SELECT version FROM rpkit_schema WHERE store = $1", &[&store]))?
                .map(|r| r.get(0));
        Ok(v.unwrap_or(0) as usize)
    }

    pub(super) fn begin(&mut self, mode: Mode) -> DbResult<PgTx<'_>> {
        blocking(|| self.begin_now(mode))
    }

    fn begin_now(&mut self, mode: Mode) -> DbResult<PgTx<'_>> {
        let level = match mode {
            Mode::Read => IsolationLevel::RepeatableRead,
            Mode::Write => IsolationLevel::ReadCommitted,
        };
        let mut tx = self.client.as_mut().expect(OPEN).build_transaction().isolation_level(level).read_only(mode == Mode::Read).start()?;
        if mode == Mode::Write {
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&self.lock_key])?;
        }
        let fence = if mode == Mode::Write { self.fence.clone() } else { None };
        Ok(PgTx { tx: Some(tx), statements: &mut self.statements, fence })
    }

    /// `BEGIN` by hand: the reads that follow share one snapshot until `unpin_read`.
    pub(super) fn pin_read(&mut self) -> DbResult<()> {
        Ok(blocking(|| self.client.as_mut().expect(OPEN).batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))?)
    }

    pub(super) fn unpin_read(&mut self) -> DbResult<()> {
        Ok(blocking(|| self.client.as_mut().expect(OPEN).batch_execute("COMMIT"))?)
    }

    pub(super) fn batch(&mut self, sql: &str) -> DbResult<()> {
        Ok(blocking(|| self.client.as_mut().expect(OPEN).batch_execute(sql))?)
    }

    pub(super) fn execute(&mut self, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64> {
        blocking(|| execute(self.client.as_mut().expect(OPEN), &mut self.statements, sql, args))
    }

    pub(super) fn query_opt(&mut self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<Row>> {
        blocking(|| query_opt(self.client.as_mut().expect(OPEN), &mut self.statements, sql, args))
    }

    pub(super) fn for_each<E: From<DbError>>(
        &mut self,
        sql: &str,
        args: &[&dyn ToValue],
        f: &mut impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        blocking(|| for_each(self.client.as_mut().expect(OPEN), &mut self.statements, sql, args, f))
    }
}

impl PgTx<'_> {
    pub(super) fn commit(mut self) -> DbResult<()> {
        let mut tx = self.tx.take().expect(OPEN);
        let fence = self.fence.take();
        blocking(|| {
            if let Some(f) = fence {
                // The lease row stays locked until the commit: a takeover waits for it.
                if tx.query_opt(super::lease::CHECK, &[&f.store, &f.node, &f.held()])?.is_none() {
                    drop(tx);
                    return Err(super::lease::fenced(&f));
                }
            }
            Ok(tx.commit()?)
        })
    }

    pub(super) fn batch(&mut self, sql: &str) -> DbResult<()> {
        Ok(blocking(|| self.tx.as_mut().expect(OPEN).batch_execute(sql))?)
    }

    pub(super) fn execute(&mut self, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64> {
        blocking(|| execute(self.tx.as_mut().expect(OPEN), self.statements, sql, args))
    }

    pub(super) fn query_opt(&mut self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<Row>> {
        blocking(|| query_opt(self.tx.as_mut().expect(OPEN), self.statements, sql, args))
    }

    pub(super) fn for_each<E: From<DbError>>(
        &mut self,
        sql: &str,
        args: &[&dyn ToValue],
        f: &mut impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        blocking(|| for_each(self.tx.as_mut().expect(OPEN), self.statements, sql, args, f))
    }
}

const OPEN: &str = "open until dropped";

// Closing a connection and rolling back a transaction block too.
impl Drop for PgConn {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            blocking(|| drop(c));
        }
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.tx.take() {
            blocking(|| drop(t));
        }
    }
}

/// The driver blocks on a runtime of its own, which a thread driving async
/// tasks may not do: on such a thread (a handler of the servers'
/// multi-threaded runtime) the call first leaves the worker's role.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// `sql` prepared once per connection (statements outlive transactions).
fn statement(c: &mut impl GenericClient, cache: &mut HashMap<String, Statement>, sql: &str) -> DbResult<Statement> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let s = c.prepare(&placeholders(sql))?;
    cache.insert(sql.to_string(), s.clone());
    Ok(s)
}

fn execute(c: &mut impl GenericClient, cache: &mut HashMap<String, Statement>, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64> {
    let st = statement(c, cache, sql)?;
    let a = bind(args);
    let refs: Vec<&(dyn ToSql + Sync)> = a.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    if !st.columns().is_empty() {
        return Ok(c.query(&st, &refs)?.len() as u64);
    }
    Ok(c.execute(&st, &refs)?)
}

fn query_opt(
    c: &mut impl GenericClient,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
    args: &[&dyn ToValue],
) -> DbResult<Option<Row>> {
    let st = statement(c, cache, sql)?;
    let a = bind(args);
    let mut rows = c.query_raw(&st, a.iter())?;
    let first = rows.next()?.map(|r| row(&r)).transpose()?;
    // Drain the rest so the connection is ready for the next statement (an
    // exhausted iterator must not be asked again: it reports a closed connection).
    if first.is_some() {
        while rows.next()?.is_some() {}
    }
    Ok(first)
}

fn for_each<E: From<DbError>>(
    c: &mut impl GenericClient,
    cache: &mut HashMap<String, Statement>,
    sql: &str,
    args: &[&dyn ToValue],
    f: &mut impl FnMut(Row) -> Result<(), E>,
) -> Result<(), E> {
    let st = statement(c, cache, sql)?;
    let a = bind(args);
    let mut rows = c.query_raw(&st, a.iter()).map_err(DbError::from)?;
    while let Some(r) = rows.next().map_err(DbError::from)? {
        f(row(&r)?)?;
    }
    Ok(())
}

/// `?N` (the SQL the stores write) becomes `$N`, outside quoted text.
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

#[derive(Debug)]
struct Arg(Value);

impl ToSql for Arg {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => Err(format!("an integer given for a {ty} column").into()),
            },
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn bind(args: &[&dyn ToValue]) -> Vec<Arg> {
    args.iter().map(|a| Arg(a.to_value())).collect()
}

fn row(r: &postgres::Row) -> DbResult<Row> {
    let mut v = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let ty = c.type_();
        v.push(match *ty {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map_or(Value::Null, |x| Value::Int(x.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map_or(Value::Null, |x| Value::Int(x.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map_or(Value::Null, |x| Value::Int(x.into())),
            Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Value::Null, Value::Blob),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => r.try_get::<_, Option<String>>(i)?.map_or(Value::Null, Value::Text),
            _ => return Err(DbError::Other(format!("column {} has type {ty}, which no store reads", c.name()))),
        });
    }
    Ok(Row(v))
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_outside_quotes_are_numbered_for_postgresql() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?2"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $2"
        );
    }
}
