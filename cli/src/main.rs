//! `rpkit`: one binary for every role (RIR operator, member, router operator, auditor).

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "rpkit", version, about = "RPKI toolkit: hosted CA, publication server, validator and RTR server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an RPKI object (.cer .crl .mft .roa .asa .tal, recognised by content) and print it as JSON.
    Inspect(commands::inspect::Args),
    /// Run the whole system on this machine (CA, publication server, validator).
    Up(commands::up::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Up(a) => commands::up::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rpkit: {e}");
            ExitCode::from(1)
        }
    }
}
