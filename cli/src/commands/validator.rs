//! `rpkit validator serve`: the daemon for routers. It validates every
//! `--refresh` seconds and serves the last complete result over RTR
//! (`--rtr`, optionally `--rtr-tls`) and HTTP (`--http`).

use super::validate::Source;
use crate::error::{CliError, Result};
use rpkit_validator::rtr::pdu::Timers;
use rpkit_validator::rtr::server::{serve as rtr_serve, ServerConfig};
use rpkit_validator::serve::{Daemon, DaemonConfig, Shared};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Validate periodically; serve routers over RTR and everyone over HTTP.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    source: Source,
    /// RTR listen address (RFC 8210; repeatable).
    #[arg(long, default_value = "127.0.0.1:3323")]
    rtr: Vec<SocketAddr>,
    /// HTTP listen address: /json /csv /api/v1/validity /metrics /status /health (repeatable).
    #[arg(long, default_value = "127.0.0.1:8323")]
    http: Vec<SocketAddr>,
    /// Seconds between the end of one validation run and the next; also the RTR Refresh timer.
    #[arg(long, default_value_t = 600)]
    refresh: u32,
    /// RTR Retry timer (seconds) sent in End of Data.
    #[arg(long, default_value_t = 600)]
    rtr_retry: u32,
    /// RTR Expire timer (seconds) sent in End of Data; above Refresh and Retry.
    #[arg(long, default_value_t = 7200)]
    rtr_expire: u32,
    /// Older serials answered with a difference rather than a Cache Reset.
    #[arg(long, default_value_t = 10)]
    history: usize,
    /// Routers served at once.
    #[arg(long, default_value_t = 4096)]
    rtr_max_clients: usize,
    /// RTR over TLS listen address (needs --rtr-tls-cert and --rtr-tls-key).
    #[arg(long, requires_all = ["rtr_tls_cert", "rtr_tls_key"])]
    rtr_tls: Option<SocketAddr>,
    /// Certificate chain (PEM) for RTR over TLS.
    #[arg(long)]
    rtr_tls_cert: Option<PathBuf>,
    /// Private key (PEM) for RTR over TLS.
    #[arg(long)]
    rtr_tls_key: Option<PathBuf>,
    /// /health fails when the data is older than this many seconds (default: 3 × refresh + 600).
    #[arg(long)]
    max_age: Option<u64>,
}

pub fn run(c: Cmd) -> Result<ExitCode> {
    match c {
        Cmd::Serve(a) => serve(a),
    }
}

fn serve(a: ServeArgs) -> Result<ExitCode> {
    let timers = Timers { refresh: a.refresh.clamp(1, 86_400), retry: a.rtr_retry, expire: a.rtr_expire };
    timers.check().map_err(|e| CliError::input(format!("RTR timers: {e}")))?;
    let mut run = a.source.config();
    // Refuse a bad TAL or SLURM file now rather than in the first run.
    rpkit_validator::run::read_tals(&run.tals)?;
    if !run.slurm.is_empty() {
        rpkit_validator::slurm::Slurm::load(&run.slurm)?;
    }
    run.options.progress = None;
    let refresh = Duration::from_secs(a.refresh.max(1) as u64);
    let max_age = Duration::from_secs(a.max_age.unwrap_or(3 * a.refresh as u64 + 600));
    let daemon = Arc::new(Daemon::new(DaemonConfig { run, refresh, history: a.history, timers, max_age }));
    let shared = daemon.shared.clone();
    let tls = match (&a.rtr_tls, &a.rtr_tls_cert, &a.rtr_tls_key) {
        (Some(_), Some(cert), Some(key)) => Some(rpkit_serve::tls::server_config(cert, key)?),
        _ => None,
    };
    let rt = tokio::runtime::Runtime::new().map_err(CliError::internal)?;
    rt.block_on(async move {
        let terminated = crate::shutdown::terminated();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let cfg =
            ServerConfig { max_clients: a.rtr_max_clients, stall: Duration::from_secs(3 * a.rtr_retry as u64), ..ServerConfig::default() };
        let mut rtr = Vec::new();
        for addr in &a.rtr {
            rtr.push((bind(addr).await?, None));
        }
        if let (Some(addr), Some(config)) = (&a.rtr_tls, tls) {
            rtr.push((bind(addr).await?, Some(config)));
        }
        let mut http = Vec::new();
        for addr in &a.http {
            http.push(bind(addr).await?);
        }
        for (l, tls) in &rtr {
            eprintln!("RTR{} on {}", if tls.is_some() { " over TLS" } else { "" }, l.local_addr().map_err(CliError::listen("RTR"))?);
        }
        for l in &http {
            eprintln!("HTTP on http://{}", l.local_addr().map_err(CliError::listen("HTTP"))?);
        }
        start_servers(&shared, rtr, http, cfg, &stop_rx);
        // Validation runs on a thread of its own; the servers answer from the last complete result.
        let stop_runs = Arc::new(AtomicBool::new(false));
        let (d, s) = (daemon.clone(), stop_runs.clone());
        std::thread::spawn(move || d.run_loop(&s));
        terminated.await;
        eprintln!("shutting down");
        stop_runs.store(true, Ordering::Relaxed);
        let _ = stop_tx.send(true);
        // Let sessions send Cache Shutdown (RTR-19) before the process ends.
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<(), CliError>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Start the RTR and HTTP servers of a daemon on bound listeners; they stop when
/// `stop` turns true.
pub fn start_servers(
    shared: &Arc<Shared>,
    rtr: Vec<(tokio::net::TcpListener, Option<Arc<rustls::ServerConfig>>)>,
    http: Vec<tokio::net::TcpListener>,
    cfg: ServerConfig,
    stop: &tokio::sync::watch::Receiver<bool>,
) {
    for (l, tls) in rtr {
        tokio::spawn(rtr_serve(l, tls, shared.states.clone(), cfg.clone(), shared.clients.clone(), stop.clone()));
    }
    for l in http {
        tokio::spawn(rpkit_validator::api::serve(l, shared.clone(), stop.clone()));
    }
}

async fn bind(addr: &SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(CliError::listen(addr.to_string()))
}
