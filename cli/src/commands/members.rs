//! `rpkit members ...`: the RIR operator's member management through the CA API
//! (admin token).

use crate::client::{ApiArgs, Client};
use serde_json::{json, Value};
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

fn pretty(v: &Value) -> Result<(), String> {
    println!("{}", serde_json::to_string_pretty(v).map_err(|e| e.to_string())?);
    Ok(())
}

pub fn run(a: Args) -> Result<ExitCode, String> {
    let c = Client::new(&a.api)?;
    match a.cmd {
        Cmd::Import { file } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let spinner = crate::progress::Spinner::start(&format!("importing {} (new member CAs need fresh keys)", file.display()), false);
            let report = c.post_text("/api/v1/members/import", text)?;
            drop(spinner);
            pretty(&report)?;
        }
        Cmd::Add { handle, resources, opaque_id } => {
            pretty(&c.send_json(
                reqwest::Method::POST,
                "/api/v1/members",
                &json!({"handle": handle, "resources": resources, "opaque_id": opaque_id}),
                None,
            )?)?;
        }
        Cmd::List { format } => {
            let v: Vec<Value> = c.get("/api/v1/members")?;
            if format == super::roa::Format::Json {
                return pretty(&Value::Array(v)).map(|_| ExitCode::SUCCESS);
            }
            for m in v {
                let r = &m["resources"];
                let all: Vec<String> = ["asn", "ipv4", "ipv6"]
                    .iter()
                    .flat_map(|k| r[k].as_array().cloned().unwrap_or_default())
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
                println!("{:<20} {}", m["handle"].as_str().unwrap_or(""), all.join(", "));
            }
        }
        Cmd::Show { handle } => pretty(&c.get::<Value>(&format!("/api/v1/members/{handle}"))?)?,
        Cmd::SetResources { handle, resources } => {
            pretty(&c.send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/members/{handle}/resources"),
                &json!({"resources": resources}),
                None,
            )?)?;
        }
        Cmd::Remove { handle } => {
            c.delete(&format!("/api/v1/members/{handle}"))?;
            println!("removed member {handle}");
        }
        Cmd::Token(TokenCmd::Create { handle }) => {
            let v = c.send_json(reqwest::Method::POST, &format!("/api/v1/members/{handle}/tokens"), &json!({}), None)?;
            println!("{}", v["token"].as_str().unwrap_or(""));
        }
    }
    Ok(ExitCode::SUCCESS)
}
