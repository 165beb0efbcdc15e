//! `rpkit roa list|add|remove|apply`: a member's ROAs through the CA API.

use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use rpkit_ca::contract::{RoaDelta, RoaInfo, RoaReport, RoaSpec};
use std::collections::BTreeSet;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// List the member's ROAs.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Add a ROA: `PREFIX[-MAXLEN] AS<N>`, e.g. `192.0.2.0/24-24 AS64496`.
    Add {
        prefix: String,
        asn: String,
        /// Show what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Remove a ROA: `PREFIX[-MAXLEN] AS<N>`.
    Remove {
        prefix: String,
        asn: String,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Apply a file atomically: lines `PREFIX[-MAXLEN] AS<N>` are the whole desired
    /// set; with `+`/`-` in front they are a delta; `#` starts a comment. JSON
    /// works too: `{"added": [...], "removed": [...]}` or a list (the whole set).
    Apply {
        #[arg(long)]
        file: std::path::PathBuf,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    /// The member (needed with the admin token).
    #[arg(long, global = true)]
    member: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

fn spec(prefix: &str, asn: &str) -> Result<RoaSpec> {
    let text = format!("{prefix} {asn}");
    rpkit_ca::requests::parse_roa(&text).map_err(|e| CliError::input(format!("{}: {}", e.entry, e.reason)))
}

pub fn run(a: Args) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    let member = c.member(a.member.as_deref())?;
    let path = format!("/api/v1/members/{member}/roas");
    match a.cmd {
        Cmd::List { format } => {
            let roas: Vec<RoaInfo> = c.get(&path)?;
            match format {
                Format::Json => super::print_json(&roas)?,
                Format::Table => {
                    println!("{:<44} {:>6}  {:<12} OBJECT", "PREFIX", "MAXLEN", "ASN");
                    for r in roas {
                        println!("{:<44} {:>6}  {:<12} {}", r.prefix, r.max_length, format!("AS{}", r.asn), r.uri);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Add { prefix, asn, dry_run, format } => {
            let s = spec(&prefix, &asn)?;
            if s.max_length > s.prefix.len {
                // RFC 9319 §7 (ROA-10): a maxLength beyond the prefix length invites forged-origin hijacks.
                eprintln!(
                    "warning: maxLength {} is longer than the prefix length {}; prefer one ROA per announced prefix (RFC 9319)",
                    s.max_length, s.prefix.len
                );
            }
            let delta = RoaDelta { added: vec![s], removed: vec![] };
            apply(&c, &member, &delta, dry_run, format, None)
        }
        Cmd::Remove { prefix, asn, dry_run, format } => {
            let delta = RoaDelta { added: vec![], removed: vec![spec(&prefix, &asn)?] };
            apply(&c, &member, &delta, dry_run, format, None)
        }
        Cmd::Apply { file, dry_run, format } => {
            let text = std::fs::read_to_string(&file).map_err(|e| CliError::io(&file, e))?;
            let (current, etag) = c.get_with_etag::<Vec<RoaInfo>>(&path)?;
            let delta = delta_from_file(&text, &current)?;
            apply(&c, &member, &delta, dry_run, format, etag.as_deref())
        }
    }
}

/// A file's delta: explicit `+`/`-` lines or `{added, removed}` as they are; a
/// plain list is the whole desired set, compared with `current`.
fn delta_from_file(text: &str, current: &[RoaInfo]) -> Result<RoaDelta> {
    let t = text.trim_start();
    let want: Vec<RoaSpec> = if t.starts_with('{') {
        return serde_json::from_str::<RoaDelta>(t).map_err(|e| CliError::input(format!("bad JSON delta: {e}")));
    } else if t.starts_with('[') {
        serde_json::from_str(t).map_err(|e| CliError::input(format!("bad JSON ROA list: {e}")))?
    } else {
        let lines = RoaDelta::parse_lines(text)
            .map_err(|errs| CliError::input(errs.iter().map(|e| format!("{}: {}", e.entry, e.reason)).collect::<Vec<_>>().join("\n")))?;
        if text.lines().map(str::trim_start).any(|l| l.starts_with('+') || l.starts_with('-')) {
            return Ok(lines);
        }
        lines.added
    };
    let want: BTreeSet<RoaSpec> = want.into_iter().collect();
    let have: BTreeSet<RoaSpec> = current.iter().filter_map(RoaInfo::authorization).collect();
    Ok(RoaDelta { added: want.difference(&have).copied().collect(), removed: have.difference(&want).copied().collect() })
}

/// Send a delta and print what it did (or would do).
fn apply(c: &Client, member: &str, delta: &RoaDelta, dry_run: bool, format: Format, if_match: Option<&str>) -> Result<ExitCode> {
    let path = format!("/api/v1/members/{member}/roas/delta?dry_run={dry_run}");
    let n = delta.added.len() + delta.removed.len();
    let spinner = crate::progress::Spinner::start(&format!("applying {n} changes"), n < 20);
    let r: RoaReport = c.send_json(reqwest::Method::POST, &path, delta, if_match)?;
    drop(spinner);
    if format == Format::Json {
        super::print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (add, remove) = if dry_run { ("would add", "would remove") } else { ("added", "removed") };
    let mut changed = false;
    for (list, word) in [(&r.added, add), (&r.removed, remove), (&r.unchanged, "unchanged")] {
        for e in list {
            changed |= word != "unchanged";
            println!("{word} {e}");
        }
    }
    if !changed {
        println!("no change");
    }
    Ok(ExitCode::SUCCESS)
}
