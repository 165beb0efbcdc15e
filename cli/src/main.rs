//! `rpkit`: one binary for every role (RIR operator, member, router operator, auditor).

mod backup;
mod child_view;
mod client;
mod commands;
mod error;
mod permissions;
mod progress;
mod shutdown;
mod signer;

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
    /// Print the effective settings of `rpkit up` (DATA/rpkit.toml, RPKIT_* variables, --set).
    Config(commands::up::config::Args),
    /// Trust anchor: `rpkit ta init` creates the TA, the RIR CA and the TAL.
    #[command(subcommand)]
    Ta(TaCmd),
    /// The hosted CA: `rpkit ca serve` runs its REST API and schedule.
    #[command(subcommand)]
    Ca(CaCmd),
    /// The publication server: RFC 8181, RRDP over HTTPS, the rsync tree.
    #[command(subcommand)]
    Publication(commands::publication::Cmd),
    /// Members and their allocations (RIR operator, admin token).
    Members(commands::members::Args),
    /// A member's ROAs.
    Roa(commands::roa::Args),
    /// A member's ASPAs.
    Aspa(commands::aspa::Args),
    /// A member's BGPsec router certificates (RFC 8209): `rpkit router-cert add --asn AS64496 --csr FILE`.
    #[command(name = "router-cert")]
    RouterCert(commands::router_cert::Args),
    /// Relying party: fetch and validate from TALs, write VRPs, ASPAs and router keys.
    Validate(commands::validate::Args),
    /// Route origin validation (RFC 6811) of one route or a list, with the deciding VRPs.
    Validity(commands::validity::Args),
    /// Auditor's report: every object with its status, reasons, chain and expiry; a summary per CA.
    Audit(commands::audit::Args),
    /// The validator daemon: `rpkit validator serve` feeds routers over RTR and serves HTTP.
    #[command(subcommand)]
    Validator(commands::validator::Cmd),
}

#[derive(Subcommand)]
enum TaCmd {
    /// Create the trust anchor, the RIR's online CA and the TAL in a data
    /// directory; with `--offline`, the trust anchor alone for a machine that is never online.
    Init(commands::ca::InitArgs),
    /// On the offline TA's machine: answer the online CA's signed request.
    Sign(commands::offline_ta::SignArgs),
    /// Roll the trust anchor's key by RFC 9691 (TAK objects) through the API (admin token).
    Keyroll(commands::ta_keyroll::Args),
}

#[derive(Subcommand)]
enum CaCmd {
    /// Serve the CA's REST API and run its re-issue schedule.
    Serve(commands::ca::ServeArgs),
    /// Print the RFC 8183 publisher_request for this CA (its identity is created on first use).
    PublisherRequest(commands::ca::PublisherRequestArgs),
    /// Publish through an RFC 8181 server: store its RFC 8183 repository_response.
    Repository(commands::ca::RepositoryArgs),
    /// Write a consistent copy of the CA's database (state and keys) while it runs.
    Backup(commands::ca::BackupArgs),
    /// Move the CA's state from DATA/ca.sqlite into an empty PostgreSQL database
    /// (CA stopped): later commands and starts on DATA use the database.
    Migrate(commands::ca::MigrateArgs),
    /// The CA's history of changes (API); `verify --data DIR` checks its hash chain offline.
    History(commands::history::Args),
    /// Export what the CA publishes and the ROAs/ASPAs behind it (admin token), for `rpkit audit --expect`.
    Export(commands::ca::ExportArgs),
    /// Roll a CA key through the API (admin token): `rpkit ca keyroll rir [--activate|--status]`.
    Keyroll(commands::ca::KeyrollCmd),
    /// Print the RFC 8183 child_request of this CA (for an offline TA's `rpkit ta init --offline`,
    /// or an RFC 6492 parent's `rpkit members add-child`).
    ChildRequest(commands::offline_ta::ChildRequestArgs),
    /// This CA's parent: `rpkit ca parent add FILE` takes an offline TA's or an RFC 6492 parent's parent_response.
    #[command(subcommand)]
    Parent(commands::parent::ParentCmd),
    /// Write a signed request for the offline TA (admin token).
    TaRequest(commands::offline_ta::TaRequestArgs),
    /// Import and publish the offline TA's signed answer (admin token).
    TaResponse(commands::offline_ta::TaResponseArgs),
    /// When the offline TA's manifest and CRL run out, and its signing session is due.
    TaStatus(commands::offline_ta::TaStatusArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `up` prints its own summary; its servers' routine logs would bury it.
    let default_level = if matches!(cli.command, Command::Up(_)) { "warn" } else { "info" };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_level.into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Up(a) => commands::up::run(a),
        Command::Config(a) => commands::up::config::run(a),
        Command::Ta(TaCmd::Init(a)) => commands::ca::init(a),
        Command::Ta(TaCmd::Sign(a)) => commands::offline_ta::sign(a),
        Command::Ta(TaCmd::Keyroll(a)) => commands::ta_keyroll::run(a),
        Command::Ca(CaCmd::Serve(a)) => commands::ca::serve(a),
        Command::Ca(CaCmd::PublisherRequest(a)) => commands::ca::publisher_request(a),
        Command::Ca(CaCmd::Repository(a)) => commands::ca::repository(a),
        Command::Ca(CaCmd::Export(a)) => commands::ca::export(a),
        Command::Ca(CaCmd::Backup(a)) => commands::ca::backup(a),
        Command::Ca(CaCmd::Migrate(a)) => commands::ca::migrate(a),
        Command::Ca(CaCmd::History(a)) => commands::history::run(a),
        Command::Ca(CaCmd::Keyroll(a)) => commands::ca::keyroll(a),
        Command::Ca(CaCmd::ChildRequest(a)) => commands::offline_ta::child_request(a),
        Command::Ca(CaCmd::Parent(c)) => commands::parent::run(c),
        Command::Ca(CaCmd::TaRequest(a)) => commands::offline_ta::ta_request(a),
        Command::Ca(CaCmd::TaResponse(a)) => commands::offline_ta::ta_response(a),
        Command::Ca(CaCmd::TaStatus(a)) => commands::offline_ta::ta_status(a),
        Command::Publication(c) => commands::publication::run(c),
        Command::Members(a) => commands::members::run(a),
        Command::Roa(a) => commands::roa::run(a),
        Command::Aspa(a) => commands::aspa::run(a),
        Command::RouterCert(a) => commands::router_cert::run(a),
        Command::Validate(a) => commands::validate::run(a),
        Command::Validity(a) => commands::validity::run(a),
        Command::Audit(a) => commands::audit::run(a),
        Command::Validator(c) => commands::validator::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rpkit: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    /// clap's own checks of every command's arguments (names, groups, conflicts),
    /// which otherwise run only when that command is used.
    #[test]
    fn every_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
