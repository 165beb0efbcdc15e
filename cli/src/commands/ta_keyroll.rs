//! `rpkit ta keyroll [--activate|--retire|--status]`: the trust anchor's key
//! roll (RFC 9691): through the CA API (admin token), or with `--data TADIR` on
//! an offline TA's own machine (each step reaches the online CA with the next
//! signing session).

use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use rpkit_ca::contract::{TaKeyRollRequest, TaKeyRollStatus};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
#[group(id = "ta_roll", multiple = false)]
pub struct How {
    /// The successor takes over now (else at the end of the staging time).
    #[arg(long)]
    activate: bool,
    /// Withdraw the old TA's tree and destroy its key (relying parties moved).
    #[arg(long)]
    retire: bool,
    /// Print the phase and the current TAL; change nothing.
    #[arg(long)]
    status: bool,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    how: How,
    /// Write the current TAL here too.
    #[arg(long)]
    tal: Option<PathBuf>,
    /// An offline TA's data directory (on its own machine): no API.
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    api: ApiArgs,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let s: TaKeyRollStatus = match &a.data {
        Some(data) => {
            let ca = super::ca::open(data)?;
            match (a.how.status, a.how.activate, a.how.retire) {
                (true, _, _) => ca.ta_keyroll_status()?,
                (_, true, _) => ca.ta_keyroll_activate()?,
                (_, _, true) => ca.ta_keyroll_retire()?,
                _ => ca.ta_keyroll_start()?,
            }
        }
        None => {
            let c = Client::new(&a.api)?;
            if a.how.status {
                c.get("/api/v1/ta/keyroll")?
            } else {
                let body = TaKeyRollRequest { activate: a.how.activate, retire: a.how.retire };
                c.send_json(reqwest::Method::POST, "/api/v1/ta/keyroll", &body, None)?
            }
        }
    };
    println!("trust anchor {}: key {} at {}", s.phase, s.key, s.uris.join(" "));
    if let (Some(next), Some(at)) = (&s.successor, &s.activates_at) {
        println!("successor {next} at {}, announced in TAK objects, takes over at {at}", s.successor_uris.join(" "));
    }
    if let Some(old) = &s.predecessor {
        println!("the old key {old} still publishes for relying parties on the old TAL: `--retire` withdraws it");
    }
    if let Some(p) = &a.tal {
        std::fs::write(p, &s.tal).map_err(|e| CliError::io(p, e))?;
        println!("TAL: {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
