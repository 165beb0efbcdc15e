//! The `ta_keyroll` table: the TA's key roll under way (RFC 9691), at most
//! one: its old and new TA instances, phase and times.

use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// The TA instances of a roll: (old, new, phase, started, activate_at).
pub type Roll = (i64, i64, String, i64, i64);

/// The roll under way.
pub fn get(c: &impl Sql) -> Result<Option<Roll>> {
    Ok(c.row_opt("SELECT old_id, new_id, phase, started, activate_at FROM ta_keyroll", args![], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })?)
}

/// Whether a roll is under way.
pub fn under_way(c: &impl Sql) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM ta_keyroll)", args![])?)
}

/// A roll from TA `old_id` to `new_id`, staged until `activate_at`.
pub fn start(c: &impl Sql, old_id: i64, new_id: i64, started: i64, activate_at: i64) -> Result<()> {
    c.execute(
        "INSERT INTO ta_keyroll (old_id, new_id, started, activate_at, phase) VALUES (?1, ?2, ?3, ?4, 'staging')",
        args![old_id, new_id, started, activate_at],
    )?;
    Ok(())
}

/// The successor took over.
pub fn activate(c: &impl Sql) -> Result<()> {
    c.execute("UPDATE ta_keyroll SET phase = 'active'", args![])?;
    Ok(())
}

/// The roll is over.
pub fn delete(c: &impl Sql) -> Result<()> {
    c.execute("DELETE FROM ta_keyroll", args![])?;
    Ok(())
}

/// Whether a staged roll is due at `now`.
pub fn due(c: &impl Sql, now: i64) -> Result<bool> {
    Ok(c.value("SELECT EXISTS (SELECT 1 FROM ta_keyroll WHERE phase = 'staging' AND activate_at <= ?1)", args![now])?)
}

/// A roll as its status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollStatus {
    pub phase: String,
    pub started: i64,
    pub activate_at: i64,
    /// The old and new TA's keys (hex).
    pub old_key: String,
    pub new_key: String,
    /// The new TA's certificate URI.
    pub new_uri: String,
}

/// The roll under way, for its status.
pub fn status(c: &impl Sql) -> Result<Option<RollStatus>> {
    Ok(c.row_opt(
        "SELECT k.phase, k.started, k.activate_at, o.key_id, n.key_id, n.cert_uri
                 FROM ta_keyroll k JOIN cas o ON o.id = k.old_id JOIN cas n ON n.id = k.new_id",
        args![],
        |r| {
            Ok(RollStatus {
                phase: r.get(0)?,
                started: r.get(1)?,
                activate_at: r.get(2)?,
                old_key: r.get(3)?,
                new_key: r.get(4)?,
                new_uri: r.get(5)?,
            })
        },
    )?)
}
