//! One database seam for the CA and the publication server: an embedded
//! SQLite file (the default) or a PostgreSQL server that two nodes share.
//!
//! Stores (`ca::store`, `publication::store`) write their queries once, in
//! the SQL both speak (`?N` placeholders, `ON CONFLICT` upserts, `RETURNING`);
//! each backend module holds what differs: its schema migrations, how it
//! connects, locks and binds values. Values are typed at this seam (`Value`):
//! integers are 64-bit, text is UTF-8, blobs are bytes, on both backends.

mod copy;
pub mod lease;
pub mod pg_tls;
mod postgres;
mod sqlite;

pub use lease::{Fence, Lease};
pub use postgres::PgConn;

pub use copy::{copy_to_shared, copy_to_sqlite};
use std::cell::RefCell;
use std::path::Path;
use std::sync::Arc;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres::describe(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A value of the wrong type for what the store asked (a bug or a schema drift).
    #[error("column {column}: expected {want}, found {found}")]
    Type { column: usize, want: &'static str, found: &'static str },
    /// A query expected one row and found none.
    #[error("no row")]
    NoRow,
    /// This node lost its store's lease (see `lease`): nothing was committed.
    #[error("{0}")]
    Fenced(String),
    #[error("{0}")]
    Other(String),
}

impl DbError {
    /// A uniqueness or other constraint refused the write.
    pub fn is_constraint(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::ConstraintViolation,
            DbError::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

pub type DbResult<T> = std::result::Result<T, DbError>;

/// A value bound to a query or read from a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "integer",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

/// What can be bound to a query.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for u8 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
/// Counts and serials above `i64::MAX` do not occur; they would be stored as `i64::MAX`.
impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<const N: usize> ToValue for [u8; N] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// Bind values: `args![a, b]` is a `&[&dyn ToValue]`.
#[macro_export]
macro_rules! args {
    () => { &[] as &[&dyn $crate::db::ToValue] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::db::ToValue),+] as &[&dyn $crate::db::ToValue] };
}

/// What can be read from a column.
pub trait FromValue: Sized {
    const WANT: &'static str;
    fn from_value(v: Value) -> Option<Self>;
}

impl FromValue for Value {
    const WANT: &'static str = "any";
    fn from_value(v: Value) -> Option<Self> {
        Some(v)
    }
}
impl FromValue for i64 {
    const WANT: &'static str = "integer";
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(i),
            _ => None,
        }
    }
}
impl FromValue for u64 {
    const WANT: &'static str = "non-negative integer";
    fn from_value(v: Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| u64::try_from(i).ok())
    }
}
impl FromValue for usize {
    const WANT: &'static str = "non-negative integer";
    fn from_value(v: Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| usize::try_from(i).ok())
    }
}
impl FromValue for u32 {
    const WANT: &'static str = "32-bit integer";
    fn from_value(v: Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| u32::try_from(i).ok())
    }
}
impl FromValue for u8 {
    const WANT: &'static str = "8-bit integer";
    fn from_value(v: Value) -> Option<Self> {
        i64::from_value(v).and_then(|i| u8::try_from(i).ok())
    }
}
impl FromValue for bool {
    const WANT: &'static str = "boolean";
    fn from_value(v: Value) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for String {
    const WANT: &'static str = "text";
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    const WANT: &'static str = "blob";
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }
}
impl<const N: usize> FromValue for [u8; N] {
    const WANT: &'static str = "fixed-size blob";
    fn from_value(v: Value) -> Option<Self> {
        Vec::<u8>::from_value(v).and_then(|b| b.try_into().ok())
    }
}
impl<T: FromValue> FromValue for Option<T> {
    const WANT: &'static str = T::WANT;
    fn from_value(v: Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Clone, Debug, Default)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> DbResult<T> {
        let v = self.0.get(i).cloned().ok_or(DbError::Type { column: i, want: T::WANT, found: "no column" })?;
        let found = v.kind();
        T::from_value(v).ok_or(DbError::Type { column: i, want: T::WANT, found })
    }

    /// Column `i` as borrowed bytes (no copy), for blobs streamed by `for_each`.
    pub fn blob(&self, i: usize) -> DbResult<&[u8]> {
        match self.0.get(i) {
            Some(Value::Blob(b)) => Ok(b),
            v => Err(DbError::Type { column: i, want: "blob", found: v.map_or("no column", Value::kind) }),
        }
    }
}

/// Which database: a file (or memory) for SQLite, a URL for PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Sqlite(Option<std::path::PathBuf>),
    Postgres(String),
}

impl Location {
    /// `postgresql://` or `postgres://` URLs name a server; anything else is SQLite at `file`.
    pub fn from_url(url: Option<&str>, file: Option<&Path>) -> Self {
        match url {
            Some(u) if u.starts_with("postgresql://") || u.starts_with("postgres://") => Location::Postgres(u.to_string()),
            _ => Location::Sqlite(file.map(Path::to_path_buf)),
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

/// A store's schema: its migrations per backend, in order. The count applied
/// is kept in the database (SQLite's `user_version`, a table on PostgreSQL).
pub struct Schema {
    /// Its name in the PostgreSQL version table (several stores may share a database).
    pub name: &'static str,
    pub sqlite: &'static [&'static str],
    pub postgres: &'static [&'static str],
    /// Overwrite deleted rows on SQLite (a store holding private keys).
    pub secure_delete: bool,
}

/// The queries every handle runs: an open database (each statement its own
/// transaction, or inside a pinned read) and a transaction.
pub trait Sql {
    /// Run a statement; the rows it changed (or returned).
    fn execute(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64>;

    /// Run statements with no arguments (`;`-separated).
    fn batch(&self, sql: &str) -> DbResult<()>;

    /// The first row, if any.
    fn query_opt(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<Row>>;

    /// Visit rows one at a time (a snapshot of 500,000 objects is not loaded at once).
    fn for_each<E: From<DbError>>(&self, sql: &str, args: &[&dyn ToValue], f: impl FnMut(Row) -> Result<(), E>) -> Result<(), E>;

    /// Every row of a query.
    fn query(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Vec<Row>> {
        let mut out = Vec::new();
        self.for_each(sql, args, |r| {
            out.push(r);
            Ok::<(), DbError>(())
        })?;
        Ok(out)
    }

    /// The one row a query must return.
    fn query_one(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Row> {
        self.query_opt(sql, args)?.ok_or(DbError::NoRow)
    }

    /// Column 0 of the one row.
    fn value<T: FromValue>(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<T> {
        self.query_one(sql, args)?.get(0)
    }

    /// Column 0 of the first row, if any.
    fn value_opt<T: FromValue>(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<T>> {
        self.query_opt(sql, args)?.map(|r| r.get(0)).transpose()
    }

    /// The one row a query must return, read by `f`.
    fn row<T>(&self, sql: &str, args: &[&dyn ToValue], f: impl FnOnce(&Row) -> DbResult<T>) -> DbResult<T> {
        f(&self.query_one(sql, args)?)
    }

    /// The first row, if any, read by `f`.
    fn row_opt<T>(&self, sql: &str, args: &[&dyn ToValue], f: impl FnOnce(&Row) -> DbResult<T>) -> DbResult<Option<T>> {
        self.query_opt(sql, args)?.map(|r| f(&r)).transpose()
    }

    /// Every row, each read by `f`.
    fn rows<T>(&self, sql: &str, args: &[&dyn ToValue], mut f: impl FnMut(&Row) -> DbResult<T>) -> DbResult<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(sql, args, |r| {
            out.push(f(&r)?);
            Ok::<(), DbError>(())
        })?;
        Ok(out)
    }
}

/// An open database.
pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<PgConn>>),
}

/// How a transaction starts: a write takes the store's write lock at once
/// (SQLite's IMMEDIATE; an advisory lock on PostgreSQL); a read sees one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Read,
    Write,
}

impl Db {
    /// Open `at` and bring `schema` up to date.
    pub fn open(at: &Location, schema: &Schema) -> DbResult<Db> {
        Ok(match at {
            Location::Sqlite(path) => {
                let mut c = sqlite::open(path.as_deref(), schema.secure_delete)?;
                sqlite::migrate(&mut c, schema.sqlite)?;
                Db::Sqlite(c)
            }
            Location::Postgres(url) => {
                let mut c = postgres::connect(url, schema.name)?;
                c.migrate(schema.name, schema.postgres)?;
                Db::Postgres(Box::new(RefCell::new(c)))
            }
        })
    }

    /// The migrations applied.
    pub fn schema_version(&self, schema: &Schema) -> DbResult<usize> {
        match self {
            Db::Sqlite(c) => Ok(c.query_row("PRAGMA user_version", [], |r| r.get(0))?),
            Db::Postgres(c) => c.borrow_mut().version(schema.name),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// Start a transaction.
    pub fn begin(&mut self, mode: Mode) -> DbResult<Tx<'_>> {
        Ok(match self {
            Db::Sqlite(c) => {
                let b = match mode {
                    Mode::Read => rusqlite::TransactionBehavior::Deferred,
                    Mode::Write => rusqlite::TransactionBehavior::Immediate,
                };
                Tx::Sqlite(c.transaction_with_behavior(b)?)
            }
            Db::Postgres(c) => Tx::Postgres(RefCell::new(c.get_mut().begin(mode)?)),
        })
    }

    /// Run `f` in a transaction, committed if it returns `Ok`.
    pub fn with<T, E: From<DbError>>(&mut self, mode: Mode, f: impl FnOnce(&Tx<'_>) -> Result<T, E>) -> Result<T, E> {
        let tx = self.begin(mode)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Pin one snapshot for the reads that follow, until `unpin_read`
    /// (a writer reading many things that must agree).
    pub fn pin_read(&self) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch("BEGIN DEFERRED; SELECT 1 FROM sqlite_schema LIMIT 1;")?),
            Db::Postgres(c) => c.borrow_mut().pin_read(),
        }
    }

    pub fn unpin_read(&self) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch("COMMIT")?),
            Db::Postgres(c) => c.borrow_mut().unpin_read(),
        }
    }

    /// The SQLite connection, for what only SQLite has (online backup).
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match self {
            Db::Sqlite(c) => Some(c),
            Db::Postgres(_) => None,
        }
    }

    /// Check `fence` before every write transaction commits (see `lease`).
    /// Only a shared database has a lease; on SQLite this does nothing.
    pub fn set_fence(&mut self, fence: Arc<Fence>) {
        if let Db::Postgres(c) = self {
            c.get_mut().fence = Some(fence);
        }
    }

    /// The PostgreSQL connection, for what only PostgreSQL has (leases).
    pub fn postgres(&mut self) -> Option<&mut PgConn> {
        match self {
            Db::Sqlite(_) => None,
            Db::Postgres(c) => Some(c.get_mut()),
        }
    }
}

impl Sql for Db {
    fn execute(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64> {
        match self {
            Db::Sqlite(c) => sqlite::execute(c, sql, args),
            Db::Postgres(c) => c.borrow_mut().execute(sql, args),
        }
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => c.borrow_mut().batch(sql),
        }
    }

    fn query_opt(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<Row>> {
        match self {
            Db::Sqlite(c) => sqlite::query_opt(c, sql, args),
            Db::Postgres(c) => c.borrow_mut().query_opt(sql, args),
        }
    }

    fn for_each<E: From<DbError>>(&self, sql: &str, args: &[&dyn ToValue], mut f: impl FnMut(Row) -> Result<(), E>) -> Result<(), E> {
        match self {
            Db::Sqlite(c) => sqlite::for_each(c, sql, args, &mut f),
            Db::Postgres(c) => c.borrow_mut().for_each(sql, args, &mut f),
        }
    }
}

/// A transaction in progress; dropped without `commit`, it rolls back.
pub enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(RefCell<postgres::PgTx<'a>>),
}

impl Tx<'_> {
    pub fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(t) => Ok(t.commit()?),
            Tx::Postgres(t) => t.into_inner().commit(),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
    }
}

impl Sql for Tx<'_> {
    fn execute(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<u64> {
        match self {
            Tx::Sqlite(t) => sqlite::execute(t, sql, args),
            Tx::Postgres(t) => t.borrow_mut().execute(sql, args),
        }
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        match self {
            Tx::Sqlite(t) => Ok(t.execute_batch(sql)?),
            Tx::Postgres(t) => t.borrow_mut().batch(sql),
        }
    }

    fn query_opt(&self, sql: &str, args: &[&dyn ToValue]) -> DbResult<Option<Row>> {
        match self {
            Tx::Sqlite(t) => sqlite::query_opt(t, sql, args),
            Tx::Postgres(t) => t.borrow_mut().query_opt(sql, args),
        }
    }

    fn for_each<E: From<DbError>>(&self, sql: &str, args: &[&dyn ToValue], mut f: impl FnMut(Row) -> Result<(), E>) -> Result<(), E> {
        match self {
            Tx::Sqlite(t) => sqlite::for_each(t, sql, args, &mut f),
            Tx::Postgres(t) => t.borrow_mut().for_each(sql, args, &mut f),
        }
    }
}
