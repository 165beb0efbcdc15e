//! `rpkit ca parent ...`: this CA's parent. `add` takes the RFC 8183
//! parent_response of an offline trust anchor (reached by signed files,
//! `offline_ta.rs`) or of an RFC 6492 parent (an RIR's rpkit, Krill), whose
//! child this CA's top CA becomes; `status` and `sync` go through the API.

use super::offline_ta::read;
use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use crate::permissions;
use crate::signer::SignerArgs;
use rpkit_ca::contract::{ParentStatus, ParentSync};
use rpkit_objects::rfc8183::ParentResponse;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum ParentCmd {
    /// Take a parent's RFC 8183 parent_response: an offline TA's (this CA's
    /// trust anchor, reached by signed files) or an RFC 6492 parent's (this
    /// CA's top CA becomes its child).
    Add(ParentAddArgs),
    /// The RFC 6492 parent and how syncs with it go.
    Status(ApiArgs),
    /// Sync with the RFC 6492 parent now.
    Sync(ApiArgs),
}

#[derive(clap::Args)]
pub struct ParentAddArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    /// The parent_response file (`rpkit ta init --offline`, `rpkit members add-child`, Krill's `children add`).
    file: PathBuf,
    /// A new CA's repository (an offline TA's: the same as its `ta init --offline`
    /// was given). Below an RFC 6492 parent they come from the repository_response
    /// of `rpkit ca repository` when there is one.
    #[command(flatten)]
    uris: super::ca::RepositoryUris,
    /// A TLS root (PEM) to trust for an https parent besides the public ones (repeatable).
    #[arg(long = "parent-root-cert")]
    parent_root_certs: Vec<PathBuf>,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: SignerArgs,
}

pub fn run(cmd: ParentCmd) -> Result<ExitCode> {
    let a = match cmd {
        ParentCmd::Add(a) => a,
        ParentCmd::Status(api) => {
            let s: ParentStatus = Client::new(&api)?.get("/api/v1/parent")?;
            super::print_json(&s)?;
            return Ok(ExitCode::SUCCESS);
        }
        ParentCmd::Sync(api) => {
            let r: ParentSync = Client::new(&api)?.send_json(reqwest::Method::POST, "/api/v1/parent/sync", &(), None)?;
            super::print_json(&r)?;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let parent = ParentResponse::decode(&read(&a.file)?).map_err(|e| CliError::Object { what: a.file.display().to_string(), source: e })?;
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    let offline = parent.service_uri == rpkit_ca::offline_ta::SERVICE_URI;
    let cfg_path = a.data.join("ca.json");
    let mut cfg = match super::ca::read_config(&a.data) {
        Ok(c) => c,
        Err(_) => {
            let mut c = a.uris.config();
            let rp = super::ca::response_path(&a.data);
            if !offline && rp.exists() {
                // Where the repository lets this CA publish.
                let repo = super::ca::read_repository_response(&rp)?.1;
                c.rsync_base = repo.sia_base;
                c.rrdp_notify = repo.rrdp_notification_uri;
                c.ta_https_uri = None;
            }
            c
        }
    };
    a.signer.apply(&mut cfg.signer)?;
    cfg.ta_offline = offline;
    cfg.updown_parent = !offline;
    cfg.rir_handle = parent.child_handle.clone();
    for p in &a.parent_root_certs {
        let abs = std::fs::canonicalize(p).map_err(|e| CliError::io(p, e))?;
        cfg.tls_roots.push(abs.display().to_string());
    }
    let text = serde_json::to_string_pretty(&cfg).map_err(CliError::internal)?;
    std::fs::write(&cfg_path, text).map_err(|e| CliError::io(&cfg_path, e))?;
    let ca = super::ca::open(&a.data)?;
    let token = super::ca::admin_token(&a.data)?;
    if offline {
        ca.set_offline_parent(&parent)?;
        println!("the offline TA '{}' is this CA's trust anchor (child '{}')", parent.parent_handle, parent.child_handle);
        println!("next: `rpkit ca serve`, then `rpkit ca ta-request -o request.der` and carry it to the TA");
    } else {
        ca.set_updown_parent(&parent)?;
        println!("'{}' at {} is this CA's parent; its top CA is child '{}'", parent.parent_handle, parent.service_uri, parent.child_handle);
        println!("publishing below {}", cfg.rsync_base);
        println!("next: `rpkit ca serve`: it asks the parent for its certificate and syncs every {} s", cfg.updown_sync_secs);
    }
    println!("admin token: {token} (also in {})", a.data.join("admin-token").display());
    Ok(ExitCode::SUCCESS)
}
