//! The `history` table: the CA's hash-chained history entries, by sequence
//! number (`crate::history`).

use crate::contract::HistoryEntry;
use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::{DbResult, Row, Sql};
use serde_json::Value;

fn row(r: &Row) -> DbResult<HistoryEntry> {
    let json = |i: usize| -> DbResult<String> { r.get(i) };
    Ok(HistoryEntry {
        seq: r.get(0)?,
        time: r.get(1)?,
        actor: r.get(2)?,
        member: r.get(3)?,
        action: r.get(4)?,
        request: serde_json::from_str(&json(5)?).unwrap_or(Value::Null),
        published: serde_json::from_str(&json(6)?).unwrap_or_default(),
        outcome: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

/// The last entry's sequence number and hash.
pub fn last(c: &impl Sql) -> Result<Option<(u64, String)>> {
    Ok(c.row_opt("SELECT seq, hash FROM history ORDER BY seq DESC LIMIT 1", args![], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Append entry `e`.
pub fn insert(c: &impl Sql, e: &HistoryEntry) -> Result<()> {
    let request = serde_json::to_string(&e.request).unwrap_or_default();
    let published = serde_json::to_string(&e.published).unwrap_or_default();
    c.execute(
        "INSERT INTO history (seq, time, actor, member, action, request, published, outcome, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        args![e.seq, e.time, e.actor, e.member, e.action, request, published, e.outcome, e.prev_hash, e.hash],
    )?;
    Ok(())
}

/// Entries in order, optionally of one member and from a time on (RFC 3339 or seconds).
pub fn entries(c: &impl Sql, member: Option<&str>, since: Option<&str>) -> Result<Vec<HistoryEntry>> {
    Ok(c.rows(
        "SELECT seq, time, actor, member, action, request, published, outcome, prev_hash, hash FROM history
         WHERE (CAST(?1 AS TEXT) IS NULL OR member = ?1) AND (CAST(?2 AS TEXT) IS NULL OR time >= ?2) ORDER BY seq",
        args![member, since],
        row,
    )?)
}

/// Every entry, in order.
pub fn all(c: &impl Sql) -> Result<Vec<HistoryEntry>> {
    Ok(c.rows(
        "SELECT seq, time, actor, member, action, request, published, outcome, prev_hash, hash FROM history ORDER BY seq",
        args![],
        row,
    )?)
}
