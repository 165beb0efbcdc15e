//! `rpkit aspa list|set|remove`: a member's ASPAs through the CA API.

use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use rpkit_ca::contract::{AspaSpec, Providers};
use rpkit_objects::resources::Asn;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// List the member's ASPAs.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: super::roa::Format,
    },
    /// Create or replace the ASPA of a customer AS: `rpkit aspa set AS64496 AS64500 AS64501`.
    Set { customer: String, providers: Vec<String> },
    /// Remove the ASPA of a customer AS.
    Remove { customer: String },
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    api: ApiArgs,
    #[arg(long, global = true)]
    member: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

/// `AS64496` or `64496`, with the rule it breaks otherwise.
pub(crate) fn asn(s: &str) -> Result<u32> {
    s.parse::<Asn>().map(|a| a.0).map_err(|e| CliError::Object { what: "AS number".into(), source: e })
}

pub fn run(a: Args) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    let member = c.member(a.member.as_deref())?;
    match a.cmd {
        Cmd::List { format } => {
            let v: Vec<AspaSpec> = c.get(&format!("/api/v1/members/{member}/aspas"))?;
            if format == super::roa::Format::Json {
                super::print_json(&v)?;
                return Ok(ExitCode::SUCCESS);
            }
            for x in v {
                let provs: Vec<String> = x.providers.iter().map(|p| format!("AS{p}")).collect();
                println!("AS{} => {}", x.customer, provs.join(", "));
            }
        }
        Cmd::Set { customer, providers } => {
            let providers: Vec<u32> = providers.iter().map(|p| asn(p)).collect::<Result<_, _>>()?;
            let _: AspaSpec = c.send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/members/{member}/aspas/{}", asn(&customer)?),
                &Providers { providers },
                None,
            )?;
            println!("set ASPA for {customer}");
        }
        Cmd::Remove { customer } => {
            c.delete(&format!("/api/v1/members/{member}/aspas/{}", asn(&customer)?))?;
            println!("removed ASPA for {customer}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
