//! `rpkit members ...`: the RIR operator's member management through the CA API
//! (admin token).

use super::print_json;
use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use rpkit_ca::contract::{
    ChildAdded, DelegateRequest, DelegateStarted, ImportReport, KeyRollRequest, KeyRollStatus, MemberInfo, MoveStatus, NewChild, NewMember,
    ResourceChange, SetResources, TokenCreated,
};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Apply a delegated-extended statistics file: add, re-certify and remove members.
    Import {
        /// The file (`registry|cc|type|start|value|date|status|opaque-id`).
        file: std::path::PathBuf,
    },
    /// Add a member: `rpkit members add isp-a "AS64500, 192.0.2.0/24"`.
    Add {
        handle: String,
        resources: String,
        #[arg(long)]
        opaque_id: Option<String>,
    },
    /// List members.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: super::roa::Format,
    },
    /// Show a member.
    Show { handle: String },
    /// Set a member's resources (the CA certificate is re-issued).
    SetResources { handle: String, resources: String },
    /// Remove a member (its CA is revoked, its objects withdrawn).
    Remove { handle: String },
    /// Member bearer tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Onboard a member that runs its own CA as a child (RFC 8183, then RFC
    /// 6492): prints the parent_response for it to take.
    AddChild {
        handle: String,
        /// The child's RFC 8183 child_request.
        #[arg(long)]
        request: std::path::PathBuf,
        /// Its resources (`AS64500, 192.0.2.0/24`); a known member keeps its allocations.
        #[arg(long)]
        resources: Option<String>,
    },
    /// Move a hosted member to its own CA: prints the parent_response for it; the
    /// hosted CA stays until the member's CA publishes the same ROAs and ASPAs.
    Delegate {
        handle: String,
        /// The member's RFC 8183 child_request.
        #[arg(long, required_unless_present = "complete", conflicts_with = "complete")]
        request: Option<std::path::PathBuf>,
        /// Retire the hosted CA now: you confirm the member's CA publishes its authorizations.
        #[arg(long)]
        complete: bool,
    },
    /// Move a delegated member back to a hosted CA: what its CA published is
    /// re-created here before that CA's certificate is revoked.
    Host { handle: String },
    /// Suspend a delegated member: its certificates are revoked, it is offered nothing.
    Suspend { handle: String },
    /// Lift a suspension: the member's next `list` offers its entitlement again.
    Unsuspend { handle: String },
    /// Roll a member CA's key (RFC 6489): the next key is staged, then takes over.
    Keyroll {
        handle: String,
        #[command(flatten)]
        how: KeyrollArgs,
    },
}

/// What `keyroll` does: start a roll (default), end its staging, or show it.
#[derive(clap::Args)]
#[group(multiple = false)]
pub struct KeyrollArgs {
    /// End a pending roll's staging now: the next key takes over, the old one is destroyed.
    #[arg(long)]
    pub activate: bool,
    /// Print the key and the roll's phase; change nothing.
    #[arg(long)]
    pub status: bool,
}

/// Start, activate or show the roll of the CA at `path` (`.../keyroll`).
pub fn keyroll(c: &Client, path: &str, how: &KeyrollArgs) -> Result<()> {
    let s: KeyRollStatus =
        if how.status { c.get(path)? } else { c.send_json(reqwest::Method::POST, path, &KeyRollRequest { activate: how.activate }, None)? };
    println!("{} {}: key {} ({}, since {})", s.handle, s.phase, s.key, s.key_store, s.key_since);
    if let (Some(next), Some(at)) = (&s.next_key, &s.activates_at) {
        let store = s.next_key_store.as_deref().unwrap_or("");
        let reason = s.reason.as_deref().unwrap_or("");
        println!("next key {next} ({store}), staged for {reason}, takes over at {at}");
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum TokenCmd {
    /// Create a token for a member and print it (it is shown only once).
    Create { handle: String },
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    cmd: Cmd,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    match a.cmd {
        Cmd::Import { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| CliError::io(&file, e))?;
            let spinner = crate::progress::Spinner::start(&format!("importing {} (new member CAs need fresh keys)", file.display()), false);
            let report: ImportReport = c.post_text("/api/v1/members/import", text)?;
            drop(spinner);
            print_json(&report)?;
        }
        Cmd::Add { handle, resources, opaque_id } => {
            let m: MemberInfo = c.send_json(reqwest::Method::POST, "/api/v1/members", &NewMember { handle, resources, opaque_id }, None)?;
            print_json(&m)?;
        }
        Cmd::List { format } => {
            let v: Vec<MemberInfo> = c.get("/api/v1/members")?;
            if format == super::roa::Format::Json {
                return print_json(&v).map(|_| ExitCode::SUCCESS);
            }
            for m in v {
                let state = match &m.delegated {
                    None => "hosted".to_string(),
                    Some(d) if d.moving_since.is_some() => {
                        format!("moving to its own CA (waiting for {})", d.waiting_for.as_deref().unwrap_or("its certificate"))
                    }
                    Some(d) if d.suspended => "delegated (suspended)".to_string(),
                    Some(d) => format!("delegated, last contact {}", d.last_contact.as_deref().unwrap_or("never")),
                };
                println!("{:<20} {:<44} {}", m.handle, state, m.resources.all().collect::<Vec<_>>().join(", "));
            }
        }
        Cmd::Show { handle } => print_json(&c.get::<MemberInfo>(&format!("/api/v1/members/{handle}"))?)?,
        Cmd::SetResources { handle, resources } => {
            let change: Option<ResourceChange> =
                c.send_json(reqwest::Method::PUT, &format!("/api/v1/members/{handle}/resources"), &SetResources { resources }, None)?;
            print_json(&change)?;
        }
        Cmd::Remove { handle } => {
            c.delete(&format!("/api/v1/members/{handle}"))?;
            println!("removed member {handle}");
        }
        Cmd::AddChild { handle, request, resources } => {
            let request = std::fs::read_to_string(&request).map_err(|e| CliError::io(&request, e))?;
            let r: ChildAdded = c.send_json(reqwest::Method::POST, "/api/v1/children", &NewChild { handle, request, resources }, None)?;
            print!("{}", r.parent_response);
        }
        Cmd::Delegate { handle, request, complete } => {
            let path = format!("/api/v1/members/{handle}/delegate");
            if complete {
                let s: MoveStatus = c.send_json(reqwest::Method::POST, &path, &DelegateRequest { request: None, complete }, None)?;
                print_json(&s)?;
            } else {
                let file = request.unwrap_or_default();
                let xml = std::fs::read_to_string(&file).map_err(|e| CliError::io(&file, e))?;
                let r: DelegateStarted =
                    c.send_json(reqwest::Method::POST, &path, &DelegateRequest { request: Some(xml), complete }, None)?;
                print!("{}", r.parent_response);
            }
        }
        Cmd::Host { handle } => {
            let m: MemberInfo = c.send_json(reqwest::Method::POST, &format!("/api/v1/members/{handle}/host"), &(), None)?;
            print_json(&m)?;
        }
        Cmd::Suspend { handle } => {
            c.send_json::<_, ()>(reqwest::Method::POST, &format!("/api/v1/members/{handle}/suspend"), &(), None)?;
            println!("suspended {handle}: its certificates are revoked");
        }
        Cmd::Unsuspend { handle } => {
            c.send_json::<_, ()>(reqwest::Method::POST, &format!("/api/v1/members/{handle}/unsuspend"), &(), None)?;
            println!("unsuspended {handle}: its next list offers its resources again");
        }
        Cmd::Keyroll { handle, how } => keyroll(&c, &format!("/api/v1/members/{handle}/keyroll"), &how)?,
        Cmd::Token(TokenCmd::Create { handle }) => {
            let t: TokenCreated = c.send_json(reqwest::Method::POST, &format!("/api/v1/members/{handle}/tokens"), &(), None)?;
            println!("{}", t.token);
        }
    }
    Ok(ExitCode::SUCCESS)
}
