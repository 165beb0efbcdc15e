//! `rpkit router-cert add|list|remove`: a member's BGPsec router certificates
//! (RFC 8209) through the CA API.

use super::aspa::asn;
use crate::client::{ApiArgs, Client};
use crate::error::{CliError, Result};
use rpkit_ca::contract::{NewRouterCert, RouterCertInfo};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Certify a router's key: `rpkit router-cert add --asn AS64496 --csr router.csr`
    /// (a PKCS#10 request for an ECDSA P-256 key, PEM or DER).
    Add {
        #[arg(long)]
        asn: String,
        #[arg(long)]
        csr: std::path::PathBuf,
    },
    /// List the member's router certificates.
    List {
        #[arg(long, value_enum, default_value = "table")]
        format: super::roa::Format,
    },
    /// Revoke and withdraw the certificate of a router key for an AS.
    Remove {
        #[arg(long)]
        asn: String,
        /// The router key's identifier (hex, as `list` shows it).
        key_id: String,
    },
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

fn print(r: &RouterCertInfo) {
    println!("AS{:<10} {}  {}  until {}", r.asn, r.key_id, r.subject, r.not_after);
}

pub fn run(a: Args) -> Result<ExitCode> {
    let c = Client::new(&a.api)?;
    let member = c.member(a.member.as_deref())?;
    let path = format!("/api/v1/members/{member}/router-certs");
    match a.cmd {
        Cmd::Add { asn: as_text, csr } => {
            let bytes = std::fs::read(&csr).map_err(|e| CliError::io(&csr, e))?;
            // PEM goes as it is; DER in base64.
            let csr = match std::str::from_utf8(&bytes) {
                Ok(text) if text.contains("-----BEGIN") => text.to_string(),
                _ => base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes),
            };
            let r: RouterCertInfo = c.send_json(reqwest::Method::POST, &path, &NewRouterCert { asn: asn(&as_text)?, csr }, None)?;
            print(&r);
        }
        Cmd::List { format } => {
            let v: Vec<RouterCertInfo> = c.get(&path)?;
            if format == super::roa::Format::Json {
                super::print_json(&v)?;
                return Ok(ExitCode::SUCCESS);
            }
            v.iter().for_each(print);
        }
        Cmd::Remove { asn: as_text, key_id } => {
            let n = asn(&as_text)?;
            c.delete(&format!("{path}/{n}/{}", key_id.to_ascii_uppercase()))?;
            println!("removed the router certificate of AS{n} for key {key_id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
