//! `rpkit validity --tal FILE... AS<N> PREFIX`: the RFC 6811 state of one route
//! with the VRPs that decided it; `--input FILE` (or `-`) checks `PREFIX AS<N>`
//! lines in batch, one `PREFIX AS<N> STATE` line each. With `--server URL` the
//! answer comes from a running `rpkit validator serve` (its `/api/v1/validity`)
//! instead of a validation run of its own.

use super::validate::Source;
use crate::client::ClientError;
use crate::error::{CliError, Result};
use rpkit_objects::der::Time;
use rpkit_validator::rov::{parse_route, route_json, Index};
use serde_json::json;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// The route: `AS<N> PREFIX` (either order).
    route: Vec<String>,
    /// Routes to check, one `PREFIX AS<N>` per line (`-` for stdin).
    #[arg(long, conflicts_with = "route")]
    input: Option<PathBuf>,
    /// Print Routinator's JSON (`validated_routes`) instead of text.
    #[arg(long)]
    json: bool,
    /// Ask a running validator (`rpkit validator serve --http`, `rpkit up`) instead of validating.
    #[arg(long, conflicts_with = "tals")]
    server: Option<String>,
}

pub fn run(a: Args) -> Result<ExitCode> {
    // Routes are checked before the (long) validation run.
    let mut routes = Vec::new();
    match &a.input {
        Some(path) => {
            let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| CliError::io(path, e))?))
            };
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| CliError::io(path, e))?;
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    [] => continue,
                    [w, ..] if w.starts_with('#') => continue,
                    [x, y] => routes.push(parse_route(x, y).map_err(|e| CliError::input(format!("line {}: {e}", i + 1)))?),
                    _ => return Err(CliError::input(format!("line {}: want PREFIX AS<N>, found {line:?}", i + 1))),
                }
            }
        }
        None => match a.route.as_slice() {
            [x, y] => routes.push(parse_route(x, y).map_err(|e| CliError::input(e.to_string()))?),
            _ => return Err(CliError::input("give a route as AS<N> PREFIX, or --input FILE")),
        },
    }
    let answers = match &a.server {
        Some(url) => ask(url, &routes)?,
        None => {
            let result = rpkit_validator::run::run(&a.source.config(), Time::now())?;
            let index = Index::new(&result.report.vrps);
            routes.iter().map(|(prefix, asn)| route_json(&prefix.to_string(), *asn, &index.validate(prefix, *asn))).collect()
        }
    };
    if a.json {
        let doc = json!({ "validated_routes": answers });
        super::print_json(&doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    for v in &answers {
        let (prefix, asn) = (v["route"]["prefix"].as_str().unwrap_or_default(), v["route"]["origin_asn"].as_str().unwrap_or_default());
        let state = v["validity"]["state"].as_str().unwrap_or_default();
        if a.input.is_some() {
            println!("{prefix} {asn} {state}");
            continue;
        }
        let reason = v["validity"]["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
        println!("{prefix} {asn}: {state}{reason}");
        for (label, key) in [("matched", "matched"), ("unmatched AS", "unmatched_as"), ("unmatched length", "unmatched_length")] {
            for x in v["validity"]["VRPs"][key].as_array().into_iter().flatten() {
                let ta = x["ta"].as_str().map(|t| format!(" ({t})")).unwrap_or_default();
                println!(
                    "  {label}: {}-{} {}{ta}",
                    x["prefix"].as_str().unwrap_or_default(),
                    x["max_length"],
                    x["asn"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The routes' answers from a running validator's `POST /api/v1/validity`.
fn ask(server: &str, routes: &[(rpkit_objects::resources::Prefix, u32)]) -> Result<Vec<serde_json::Value>, ClientError> {
    let url = format!("{}/api/v1/validity", server.trim_end_matches('/'));
    let body = json!({"routes": routes.iter().map(|(p, asn)| json!({"asn": asn, "prefix": p.to_string()})).collect::<Vec<_>>()});
    let resp = reqwest::blocking::Client::new().post(&url).json(&body).send().map_err(|source| ClientError::Unreachable {
        service: "validator",
        base: server.to_string(),
        source,
    })?;
    let status = resp.status().as_u16();
    let text = resp.text().map_err(|source| ClientError::Unreachable { service: "validator", base: server.to_string(), source })?;
    if !(200..300).contains(&status) {
        return Err(ClientError::Status { status, text: format!("{url}: {}", text.trim()) });
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(ClientError::Unexpected)?;
    match v["validated_routes"].as_array() {
        Some(list) if list.len() == routes.len() => Ok(list.clone()),
        _ => Err(ClientError::Incomplete(format!("{url}: the answer has no validated_routes for the {} routes asked", routes.len()))),
    }
}
