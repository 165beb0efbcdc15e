//! `rpkit inspect FILE`: decode any RPKI object and print it as JSON. A malformed
//! object exits 1 with one line naming the rule it breaks.

use crate::error::{CliError, Result};
use rpkit_objects::object::Object;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The object file.
    file: PathBuf,
    /// One line of JSON instead of pretty-printed output.
    #[arg(long)]
    compact: bool,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let bytes = std::fs::read(&a.file).map_err(|e| CliError::io(&a.file, e))?;
    let obj = Object::decode(&bytes).map_err(|e| CliError::Object { what: a.file.display().to_string(), source: e })?;
    let mut v = rpkit_objects::json::object(&obj);
    if let Some(m) = v.as_object_mut() {
        m.insert("file".into(), a.file.display().to_string().into());
    }
    let text = if a.compact { serde_json::to_string(&v) } else { serde_json::to_string_pretty(&v) };
    println!("{}", text.map_err(CliError::internal)?);
    Ok(ExitCode::SUCCESS)
}
