//! `rpkit validity --tal FILE... AS<N> PREFIX`: the RFC 6811 state of one route
//! with the VRPs that decided it; `--input FILE` (or `-`) checks `PREFIX AS<N>`
//! lines in batch, one `PREFIX AS<N> STATE` line each.

use super::validate::Source;
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
}

pub fn run(a: Args) -> Result<ExitCode, String> {
    // Routes are checked before the (long) validation run.
    let mut routes = Vec::new();
    match &a.input {
        Some(path) => {
            let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?))
            };
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| e.to_string())?;
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.as_slice() {
                    [] => continue,
                    [w, ..] if w.starts_with('#') => continue,
                    [x, y] => routes.push(parse_route(x, y).map_err(|e| format!("line {}: {e}", i + 1))?),
                    _ => return Err(format!("line {}: want PREFIX AS<N>, found {line:?}", i + 1)),
                }
            }
        }
        None => match a.route.as_slice() {
            [x, y] => routes.push(parse_route(x, y)?),
            _ => return Err("give a route as AS<N> PREFIX, or --input FILE".into()),
        },
    }
    let result = rpkit_validator::run::run(&a.source.config(), Time::now())?;
    let index = Index::new(&result.report.vrps);
    let mut out = Vec::new();
    for (prefix, asn) in &routes {
        let v = index.validate(prefix, *asn);
        if a.json {
            out.push(route_json(&prefix.to_string(), *asn, &v));
        } else if a.input.is_some() {
            println!("{prefix} AS{asn} {}", v.state.as_str());
        } else {
            println!("{prefix} AS{asn}: {}{}", v.state.as_str(), v.reason().map(|r| format!(" ({r})")).unwrap_or_default());
            for (label, list) in [("matched", &v.matched), ("unmatched AS", &v.unmatched_as), ("unmatched length", &v.unmatched_length)] {
                for x in list.iter() {
                    println!("  {label}: {}-{} AS{} ({})", x.prefix, x.max_length, x.asn, x.ta);
                }
            }
        }
    }
    if a.json {
        let doc = json!({ "validated_routes": out });
        println!("{}", serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?);
    }
    Ok(ExitCode::SUCCESS)
}
