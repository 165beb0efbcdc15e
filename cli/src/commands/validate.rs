//! `rpkit validate --tal FILE...`: one validation run, payloads written in the
//! chosen format (to `--output` atomically, else stdout); warnings and a summary
//! on stderr.

use crate::error::{CliError, Result};
use rpkit_objects::der::Time;
use rpkit_validator::fetch::FetchOptions;
use rpkit_validator::output::{render_to, Format};
use rpkit_validator::run::{run as validate, RunConfig};
use rpkit_validator::tree::Options;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What every validator command takes: TALs, cache, fetching.
#[derive(clap::Args, Clone)]
pub struct Source {
    /// A TAL file (RFC 8630); repeat for several trust anchors.
    #[arg(long = "tal")]
    pub tals: Vec<PathBuf>,
    /// The cache: fetched repositories and the last validated copy of each publication point.
    #[arg(long, env = "RPKIT_CACHE", default_value = "rpkit-cache")]
    pub cache: PathBuf,
    /// An extra TLS root (PEM) for RRDP and https TA URIs; repeatable.
    #[arg(long = "rrdp-root-cert")]
    pub rrdp_root_certs: Vec<PathBuf>,
    /// Do not use RRDP (rsync only).
    #[arg(long)]
    pub disable_rrdp: bool,
    /// Do not use rsync (RRDP only).
    #[arg(long)]
    pub disable_rsync: bool,
    /// Fetch nothing: validate the cache as it is.
    #[arg(long)]
    pub offline: bool,
    /// Seconds allowed to one repository's fetch.
    #[arg(long, default_value_t = 900)]
    pub repository_timeout: u64,
    /// Seconds for the whole run: fetching stops at 7/8 of it and the rest is
    /// validated from the cache.
    #[arg(long, default_value_t = 3600)]
    pub run_timeout: u64,
    /// Repositories fetched at once.
    #[arg(long, default_value_t = 32)]
    pub parallel_fetches: usize,
    /// Most repositories contacted in one run.
    #[arg(long, default_value_t = 5000)]
    pub max_repositories: usize,
    /// Deepest CA chain followed below the trust anchor.
    #[arg(long, default_value_t = 32)]
    pub max_depth: usize,
    /// A SLURM file (RFC 8416) of local filters and assertions; repeatable.
    #[arg(long)]
    pub slurm: Vec<PathBuf>,
    /// Seconds a trust anchor's TAK must name the same successor key before
    /// validation moves to it (RFC 9691; kept in the cache).
    #[arg(long, default_value_t = rpkit_validator::tak::ACCEPTANCE_SECS)]
    pub tak_acceptance_secs: i64,
}

impl Source {
    pub fn config(&self) -> RunConfig {
        let fetch = FetchOptions {
            rrdp: !self.disable_rrdp && !self.offline,
            rsync: !self.disable_rsync && !self.offline,
            repository_timeout: Duration::from_secs(self.repository_timeout.max(1)),
            run_timeout: Duration::from_secs(self.run_timeout.max(1)),
            parallel: self.parallel_fetches.max(1),
            max_repositories: self.max_repositories,
            ..FetchOptions::default()
        };
        RunConfig {
            tals: self.tals.clone(),
            cache: self.cache.clone(),
            rrdp_roots: self.rrdp_root_certs.clone(),
            fetch,
            options: Options { max_depth: self.max_depth, tak_acceptance_secs: self.tak_acceptance_secs.max(0), ..Options::default() },
            slurm: self.slurm.clone(),
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// json (rpki-client's), csv (Routinator's), openbgpd or bird.
    #[arg(long, default_value = "json")]
    format: Format,
    /// Write the payloads here (replaced atomically) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// No warnings on stderr, only the summary.
    #[arg(long, short)]
    quiet: bool,
}

/// Write `data` to `path` by a rename, so readers never see half a file.
pub fn write_atomically(path: &std::path::Path, data: &[u8]) -> Result<()> {
    write_atomically_with(path, |w| w.write_all(data))
}

/// As `write_atomically`, with the content streamed by `write`.
pub fn write_atomically_with(path: &std::path::Path, write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> Result<()> {
    rpkit_serve::data_dir::replace_file(path, false, write).map_err(|e| CliError::io(path, e))
}

pub fn run(a: Args) -> Result<ExitCode> {
    let started = Instant::now();
    let now = Time::now();
    let mut cfg = a.source.config();
    let bar = crate::progress::start(&mut cfg.options, a.quiet);
    let result = validate(&cfg, now);
    drop(bar);
    let result = result?;
    let r = &result.report;
    if !a.quiet {
        for w in &r.warnings {
            eprintln!("warning: {}: {} [{}]", w.uri, w.detail, w.rule);
        }
    }
    match &a.output {
        Some(p) => write_atomically_with(p, |w| render_to(r, a.format, now, w))?,
        None => render_to(r, a.format, now, &mut std::io::stdout().lock()).map_err(|e| CliError::io(std::path::Path::new("stdout"), e))?,
    }
    let fetched = result.repositories.iter().filter(|f| f.ok).count();
    eprintln!(
        "validated {} VRPs, {} ASPAs, {} router keys from {} TAL(s); {} repositories fetched ({} failed); {} warnings; {:.1} s",
        r.vrps.len(),
        r.aspas.len(),
        r.router_keys.len(),
        r.tals.len(),
        fetched,
        result.repositories.len() - fetched,
        r.warnings.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
