//! The `settings` table: the CA's own key-value state (its parent, the
//! offline TA's identities, the last syncs).

use crate::error::Result;
use rpkit_serve::args;
use rpkit_serve::db::Sql;

/// The value of `key`.
pub fn get(c: &impl Sql, key: &str) -> Result<Option<String>> {
    Ok(c.value_opt("SELECT value FROM settings WHERE key = ?1", args![key])?)
}

/// Set `key` to `value`.
pub fn put(c: &impl Sql, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![key, value],
    )?;
    Ok(())
}

/// The TA instance `id` is the current one (after its key roll).
pub fn set_ta_current(c: &impl Sql, id: i64) -> Result<()> {
    c.execute(
        "INSERT INTO settings (key, value) VALUES ('ta_current', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        args![id.to_string()],
    )?;
    Ok(())
}

/// Forget the RIR CA's key kept before its first certificate.
pub fn forget_rir_key(c: &impl Sql) -> Result<()> {
    c.execute("DELETE FROM settings WHERE key = 'rir_key'", args![])?;
    Ok(())
}

/// Forget the signing time of the parent's last answer.
pub fn forget_parent_signing_time(c: &impl Sql) -> Result<()> {
    c.execute("DELETE FROM settings WHERE key = 'parent_last_signing_time'", args![])?;
    Ok(())
}

/// Forget the last sync's error.
pub fn forget_parent_error(c: &impl Sql) -> Result<()> {
    c.execute("DELETE FROM settings WHERE key = 'parent_last_error'", args![])?;
    Ok(())
}
