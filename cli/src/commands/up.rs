//! `rpkit up`: the whole system on one machine. It needs the CA, publication and
//! validator parts; until they exist it says so plainly instead of pretending.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Data directory (state, keys, repository).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(_a: Args) -> Result<ExitCode, String> {
    Err("`up` is not available yet: the hosted CA, publication server and validator are still being built \
         (see the status table in README.md); `rpkit inspect FILE` works today"
        .into())
}
