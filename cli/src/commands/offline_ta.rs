//! The offline trust anchor's commands. On the TA's machine (never online):
//! `rpkit ta init --offline --child-request FILE` and `rpkit ta sign`. On the
//! online CA: `rpkit ca child-request` and `rpkit ca parent add` (set-up,
//! RFC 8183; `parent.rs`), then `rpkit ca ta-request`, `rpkit ca ta-response` and
//! `rpkit ca ta-status` through the API (admin token).

use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use crate::permissions;
use crate::signer::SignerArgs;
use rpkit_ca::contract::{TaFile, TaImport, TaStatus};
use rpkit_ca::rfc8181_client;
use rpkit_ca::CaConfig;
use rpkit_objects::rfc8183::ChildRequest;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn b64(d: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, d)
}

pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| CliError::io(path, e))
}

/// The RFC 8183 identity of a data directory (made on first use).
fn identity(data: &Path, config: &CaConfig) -> Result<rpkit_objects::bpki::Identity> {
    Ok(rfc8181_client::load_identity(&data.join("bpki"), crate::signer::token(&config.signer)?)?)
}

// --- The TA's machine ------------------------------------------------------------

#[derive(clap::Args)]
pub struct SignArgs {
    /// The offline TA's data directory.
    #[arg(long, env = "RPKIT_DATA")]
    data: PathBuf,
    /// The online CA's request file.
    #[arg(long)]
    request: PathBuf,
    /// Where the signed answer goes (carried back to the online CA).
    #[arg(long)]
    response: PathBuf,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: SignerArgs,
}

/// `rpkit ta sign`: answer a request; a refused one changes nothing.
pub fn sign(a: SignArgs) -> Result<ExitCode> {
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    let cfg = super::ca::read_config(&a.data)?;
    let mut settings = cfg.signer.clone();
    a.signer.apply(&mut settings)?;
    let id = identity(&a.data, &CaConfig { signer: settings, ..cfg })?;
    let request = read(&a.request)?;
    let ca = super::ca::open(&a.data)?;
    let response = ca.ta_sign(&request, &id)?;
    super::validate::write_atomically(&a.response, &response)?;
    let next = ca.ta_status()?.next_update.unwrap_or_default();
    println!("answered {}: {} ({} octets)", a.request.display(), a.response.display(), response.len());
    println!("the TA's manifest and CRL run out at {next}");
    Ok(ExitCode::SUCCESS)
}

/// `rpkit ta init --offline`: the TA alone, for the child of `child_request`;
/// writes the TAL and the RFC 8183 parent_response into the data directory.
pub fn init(data: &Path, resources: &rpkit_objects::resources::ResourceSet, child_request: &Path) -> Result<()> {
    let child = ChildRequest::decode(&read(child_request)?)
        .map_err(|e| CliError::Object { what: child_request.display().to_string(), source: e })?;
    let cfg = super::ca::read_config(data)?;
    let id = identity(data, &cfg)?;
    let ca = super::ca::open(data)?;
    let (tal, response) = ca.init_offline_ta(resources, &child, &id)?;
    let tal_path = data.join("ta.tal");
    std::fs::write(&tal_path, tal.encode()).map_err(|e| CliError::io(&tal_path, e))?;
    let pr = data.join("parent-response.xml");
    std::fs::write(&pr, response.encode()).map_err(|e| CliError::io(&pr, e))?;
    println!("offline trust anchor created for child '{}'", child.child_handle);
    println!("TAL:             {}", tal_path.display());
    println!("parent_response: {} (carry it to the online CA: `rpkit ca parent add`)", pr.display());
    Ok(())
}

// --- The online CA ---------------------------------------------------------------

#[derive(clap::Args)]
pub struct ChildRequestArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    /// The child handle asked for (the RIR CA's).
    #[arg(long, default_value = "rir")]
    handle: String,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: SignerArgs,
}

/// `rpkit ca child-request`: the RFC 8183 child_request of this CA's identity.
pub fn child_request(a: ChildRequestArgs) -> Result<ExitCode> {
    if !rpkit_objects::rfc8183::valid_handle(&a.handle) {
        return Err(CliError::input(format!("'{}' is not a valid handle", a.handle)));
    }
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    let mut cfg = super::ca::read_config(&a.data).unwrap_or_default();
    a.signer.apply(&mut cfg.signer)?;
    let id = identity(&a.data, &cfg)?;
    print!("{}", ChildRequest { tag: None, child_handle: a.handle, id_cert: id.cert.clone() }.encode());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct TaRequestArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Where the signed request goes.
    #[arg(long, short)]
    output: PathBuf,
}

/// `rpkit ca ta-request`: a signed request for the offline TA.
pub fn ta_request(a: TaRequestArgs) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    let f: TaFile = c.send_json(reqwest::Method::POST, "/api/v1/ta/request", &(), None)?;
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, f.file.trim()).map_err(CliError::internal)?;
    super::validate::write_atomically(&a.output, &bytes)?;
    println!("request written to {}: carry it to the TA (`rpkit ta sign`)", a.output.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct TaResponseArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The TA's signed answer.
    file: PathBuf,
}

/// `rpkit ca ta-response FILE`: import and publish the TA's answer.
pub fn ta_response(a: TaResponseArgs) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    let body = TaFile { file: b64(&read(&a.file)?) };
    let r: TaImport = c.send_json(reqwest::Method::POST, "/api/v1/ta/response", &body, None)?;
    super::print_json(&r)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct TaStatusArgs {
    #[command(flatten)]
    api: ApiArgs,
}

/// `rpkit ca ta-status`: when the TA's objects run out and signing is due.
pub fn ta_status(a: TaStatusArgs) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    let s: TaStatus = c.get("/api/v1/ta/status")?;
    super::print_json(&s)?;
    Ok(ExitCode::SUCCESS)
}
