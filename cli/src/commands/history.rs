//! `rpkit ca history`: every change the CA applied, who asked and what it
//! published (API, admin or member token); `rpkit ca history verify --data DIR`
//! checks the hash chain offline and exits 1 naming the first broken entry.

use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use rpkit_ca::contract::HistoryEntry;
use rpkit_serve::db::Sql;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// Only this member's entries.
    #[arg(long)]
    member: Option<String>,
    /// Only entries at or after this time (RFC 3339, or a date: 2026-12-01).
    #[arg(long)]
    since: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    format: super::roa::Format,
    #[command(subcommand)]
    verify: Option<Verify>,
}

#[derive(clap::Subcommand)]
enum Verify {
    /// Check the whole chain in the CA's database, offline (the server may run).
    Verify {
        #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
        data: PathBuf,
        /// A head hash noted earlier (printed by every verify): the chain must
        /// still contain it, so entries cut off the end are noticed too.
        #[arg(long)]
        head: Option<String>,
    },
}

fn query(member: &Option<String>, since: &Option<String>) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-_.:".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect::<String>()
    };
    let mut q: Vec<String> = Vec::new();
    if let Some(m) = member {
        q.push(format!("member={}", enc(m)));
    }
    if let Some(s) = since {
        q.push(format!("since={}", enc(s)));
    }
    if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    if let Some(Verify::Verify { data, head }) = a.verify {
        return verify(&data, head.as_deref());
    }
    let c = Client::new(&a.api)?;
    let entries: Vec<HistoryEntry> = c.get(&format!("/api/v1/history{}", query(&a.member, &a.since)))?;
    if a.format == super::roa::Format::Json {
        super::print_json(&entries)?;
        return Ok(ExitCode::SUCCESS);
    }
    for e in &entries {
        let member = e.member.as_deref().map(|m| format!(" [{m}]")).unwrap_or_default();
        println!("{:>6} {} {:<18} {}{member} {}: {} objects", e.seq, e.time, e.action, e.actor, e.outcome, e.published.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(data: &std::path::Path, pinned: Option<&str>) -> Result<ExitCode> {
    // The CA's state: in the PostgreSQL database the data directory names, else ca.sqlite (read only).
    let conn = match super::ca::database_url(data, &Default::default())? {
        Some(url) => rpkit_serve::db::Db::open(&rpkit_serve::db::Location::Postgres(url), &rpkit_ca::store::SCHEMA)
            .map_err(rpkit_ca::error::CaError::from)?,
        None => {
            let db = data.join("ca.sqlite");
            if !db.exists() {
                return Err(CliError::input(format!("{}: no such database", db.display())));
            }
            let database = |source| CliError::Database { path: db.clone(), source };
            let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(database)?;
            conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(database)?;
            rpkit_serve::db::Db::Sqlite(conn)
        }
    };
    match rpkit_ca::history::verify(&conn) {
        Ok((n, head)) => {
            if let Some(p) = pinned {
                let found: bool = conn.value("SELECT count(*) > 0 FROM history WHERE hash = ?1", rpkit_serve::args![p])?;
                if !found {
                    eprintln!(
                        "rpkit: history of {}: the pinned head {p} is not in the chain (it ends at entry {n}): entries were cut off",
                        data.display()
                    );
                    return Ok(ExitCode::from(1));
                }
            }
            println!("history of {}: {n} entries, the chain holds; head {head}", data.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            eprintln!("rpkit: history of {}: {broken}", data.display());
            Ok(ExitCode::from(1))
        }
    }
}
