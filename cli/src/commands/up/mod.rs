//! `rpkit up`: the whole system on one machine, in one process. A demo RIR (TA,
//! RIR CA, members from a bundled delegated-extended file) publishes through
//! RFC 8181 to the publication server, which serves RRDP over HTTPS with a
//! locally made TLS root and writes the rsync tree; the validator daemon fetches
//! it from the TAL, trusting that root, and serves RTR and HTTP.
//!
//! Layout of DATA (mode 0711): `rpkit.toml` (settings), `tls/` (0700),
//! `publication/` (as `rpkit publication serve --data`), `ca/` (as `rpkit ca
//! serve --data`), `validator/` (the validator's cache, public),
//! `demo-member.json` (the demo member's token, 0600) and, while running,
//! `up.json` (DESIGN.md's contract; 0600, it holds the token too).

pub mod config;
mod tls;

use super::ca::{admin_token, open as open_ca};
use super::validator::start_servers;
use crate::error::{CliError, Context, Result};
use crate::permissions;
use config::UpConfig;
use rpkit_ca::api::{self, AppState};
use rpkit_ca::contract::RoaDelta;
use rpkit_ca::rfc8181_client;
use rpkit_ca::signer::SignerSettings;
use rpkit_ca::{Ca, CaConfig};
use rpkit_publication::service::{PublicationServer, ServerConfig};
use rpkit_serve::data_dir;
use rpkit_validator::fetch::FetchOptions;
use rpkit_validator::rtr::pdu::Timers;
use rpkit_validator::run::RunConfig;
use rpkit_validator::serve::{Daemon, DaemonConfig};
use rpkit_validator::tree::Options;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The demo RIR's members (documentation address space and AS numbers).
const DEMO_DELEGATED: &str = include_str!("demo-delegated.txt");
/// ROAs the demo members start with, so the validator has payloads at once.
const DEMO_ROAS: &[(&str, &str)] = &[
    ("demo-isp", "192.0.2.0/24-24 AS64496"),
    ("demo-transit", "203.0.113.0/24-24 AS64500"),
    ("demo-transit", "3fff::/24-48 AS64500"),
    ("demo-cloud", "100.64.0.0/24-24 AS65536"),
];
/// What the trust anchor and the RIR CA hold.
const ALL_RESOURCES: &str = "AS0-AS4294967295, 0.0.0.0/0, ::/0";
/// The CA's publisher handle at the publication server.
const PUBLISHER: &str = "rpkit-ca";

#[derive(clap::Args)]
pub struct Args {
    /// Data directory (default: $XDG_DATA_HOME/rpkit/up or ~/.local/share/rpkit/up).
    #[arg(long, env = "RPKIT_UP_DATA")]
    data: Option<PathBuf>,
    /// Override a setting of DATA/rpkit.toml: `section.key=value` (repeatable; `rpkit config` lists them).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print nothing but errors (DATA/up.json is still written).
    #[arg(long, short)]
    quiet: bool,
    /// Print shell `export` lines for the system running on DATA (RPKIT_SERVER,
    /// RPKIT_TOKEN, RPKIT_TAL, ...) and exit: `eval "$(rpkit up --env)"`.
    #[arg(long)]
    env: bool,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: crate::signer::SignerArgs,
    /// The CA's and the publication server's state in PostgreSQL (each in a
    /// schema of its own) instead of SQLite files in DATA; DATA remembers it.
    #[command(flatten)]
    database: super::ca::DatabaseArgs,
}

/// Paths inside DATA.
struct Layout {
    data: PathBuf,
    ca: PathBuf,
    publication: PathBuf,
    cache: PathBuf,
    member: PathBuf,
    up_json: PathBuf,
    /// The shared database, if the state is not in SQLite files.
    database_url: Option<String>,
}

impl Layout {
    fn new(data: PathBuf) -> Layout {
        Layout {
            ca: data.join("ca"),
            publication: data.join("publication"),
            cache: data.join("validator"),
            member: data.join("demo-member.json"),
            up_json: data.join("up.json"),
            database_url: None,
            data,
        }
    }
}

/// The demo member whose token is printed.
#[derive(serde::Serialize, serde::Deserialize)]
struct DemoMember {
    handle: String,
    token: String,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let data = a.data.unwrap_or_else(config::default_data_dir);
    let data = std::path::absolute(&data).map_err(|e| CliError::io(&data, e))?;
    if a.env {
        print!("{}", exports(&data)?);
        return Ok(ExitCode::SUCCESS);
    }
    // Secrets at rest: DATA and the CA's and publication server's directories.
    permissions::open(&permissions::up(&data), a.perms)?;
    permissions::open(&permissions::ca(&data.join("ca")), a.perms)?;
    permissions::open(&permissions::publication(&data.join("publication")), a.perms)?;
    let mut cfg = config::load(&data, &a.sets)?;
    a.signer.apply(&mut cfg.signer)?;
    if !config::path(&data).exists() {
        std::fs::write(config::path(&data), config::template()).map_err(|e| CliError::io(&config::path(&data), e))?;
    }
    cfg.rrdp_port()?;
    let mut layout = Layout::new(data);
    if a.database.database_url.is_some() {
        std::fs::create_dir_all(&layout.data).map_err(|e| CliError::io(&layout.data, e))?;
        rpkit_serve::data_dir::create_dir(&layout.ca, rpkit_serve::data_dir::PRIVATE_DIR).map_err(|e| CliError::io(&layout.ca, e))?;
    }
    layout.database_url = super::ca::database_url(&layout.ca, &a.database)?;
    let tls = tls::ensure(&layout.data.join("tls"), &cfg.host)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CliError::internal)?;
    // The CA holds a blocking HTTP client: its last reference goes outside the runtime.
    let mut keep: Option<Arc<Ca>> = None;
    let spinner = crate::progress::Spinner::start("starting the publication server", a.quiet);
    let result = rt.block_on(up(&cfg, &layout, &tls, a.quiet, &spinner, &mut keep));
    drop(rt);
    drop(keep);
    result.map(|()| ExitCode::SUCCESS)
}

async fn listen(setting: &str, addr: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(CliError::listen(format!("{setting} = {addr}")))
}

async fn up(
    cfg: &UpConfig,
    layout: &Layout,
    tls: &tls::Files,
    quiet: bool,
    spinner: &crate::progress::Spinner,
    keep: &mut Option<Arc<Ca>>,
) -> Result<()> {
    let t0 = Instant::now();
    // Bind everything first: a port in use fails now, naming its setting.
    let pub_api = listen("publication.listen", &cfg.publication.listen).await?;
    let rrdp = listen("publication.rrdp_listen", &cfg.publication.rrdp_listen).await?;
    let ca_api = listen("ca.listen", &cfg.ca.listen).await?;
    let rtr = listen("validator.rtr", &cfg.validator.rtr).await?;
    let http = listen("validator.http", &cfg.validator.http).await?;
    let addr = |l: &tokio::net::TcpListener| l.local_addr().map_err(CliError::listen("a bound listener"));
    let (pub_addr, ca_addr, rtr_addr, http_addr) = (addr(&pub_api)?, addr(&ca_api)?, addr(&rtr)?, addr(&http)?);

    // The publication server.
    let base = cfg.https_base()?;
    let server_cfg = ServerConfig {
        data_dir: layout.publication.clone(),
        rrdp_base_uri: format!("{base}rrdp/"),
        rsync_base_uri: cfg.rsync_base(),
        service_base_uri: format!("http://{pub_addr}/"),
        interval: Duration::from_millis(cfg.publication.interval_ms.max(1)),
        rsync_tree: true,
        shrink_guard: 0.5,
        min_objects: 0,
        snapshot_segments: false,
        database_url: layout.database_url.clone(),
    };
    let notification = server_cfg.notification_uri();
    let server = tokio::task::spawn_blocking(move || PublicationServer::open(server_cfg))
        .await
        .map_err(CliError::internal)?
        .during(|| "publication server".into())?;
    // The server's router keeps the token for the life of the process.
    let pub_token: &'static str = Box::leak(admin_token(&layout.publication)?.into_boxed_str());
    let tls_config = rpkit_serve::tls::server_config(&tls.chain, &tls.key)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let publication = tokio::spawn(rpkit_publication::http::serve(
        server.clone(),
        pub_token,
        pub_api,
        Some((rrdp, tls_config)),
        stopped(stop_rx.clone()),
    ));

    // The CA: registered at the publication server, TA and demo members on first start.
    spinner.set("setting up the CA (trust anchor, RIR CA, demo members: fresh keys on first start)");
    let (s, c, l) = (server.clone(), cfg.clone(), Layout::new(layout.data.clone()));
    let (ca, member) = tokio::task::spawn_blocking(move || setup_ca(&c, &l, &s)).await.map_err(CliError::internal)??;
    *keep = Some(ca.clone());
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.write_files()).await.map_err(CliError::internal)??;
    let state = AppState::new(ca.clone(), &admin_token(&layout.ca)?);
    let tick = Duration::from_secs(cfg.ca.reissue_interval_secs.max(1));
    let ca_task = tokio::spawn(api::serve(ca_api, state, tick, stopped(stop_rx.clone())));

    // The validator daemon, trusting only the local TLS root.
    let tal = layout.ca.join("ta.tal");
    let refresh = cfg.validator.refresh_secs.clamp(1, 86_400);
    let timers = Timers { refresh, retry: refresh.max(5), expire: 600.max(3 * refresh) };
    timers.check().map_err(|e| CliError::input(format!("validator.refresh_secs: {e}")))?;
    let run = RunConfig {
        tals: vec![tal.clone()],
        cache: layout.cache.clone(),
        rrdp_roots: vec![tls.ca.clone()],
        fetch: FetchOptions { rsync: false, repository_timeout: Duration::from_secs(60), ..FetchOptions::default() },
        // The local TA's own key roll (`rpkit ta keyroll`) is followed at once.
        options: Options { tak_acceptance_secs: 0, ..Options::default() },
        slurm: vec![],
    };
    let refresh = Duration::from_secs(refresh as u64);
    let daemon = Arc::new(Daemon::new(DaemonConfig { run, refresh, history: 10, timers, max_age: 3 * refresh + Duration::from_secs(600) }));
    let rtr_cfg = rpkit_validator::rtr::server::ServerConfig::default();
    start_servers(&daemon.shared, vec![(rtr, None)], vec![http], rtr_cfg, &stop_rx);
    let stop_runs = Arc::new(AtomicBool::new(false));
    let (d, s) = (daemon.clone(), stop_runs.clone());
    let runs = std::thread::spawn(move || d.run_loop(&s));

    // Ready once the validator has completed a run.
    spinner.set("waiting for the validator's first run");
    let mut signal = Box::pin(crate::shutdown::terminated());
    let ready = loop {
        if daemon.shared.current().is_some() {
            break true;
        }
        if t0.elapsed() > Duration::from_secs(120) {
            let last = daemon.shared.status.lock().map(|s| s.last.as_ref().and_then(|l| l.error.clone())).ok().flatten();
            stop_runs.store(true, Ordering::Relaxed);
            let _ = stop_tx.send(true);
            let why = last.map(|e| format!(": {e}")).unwrap_or_default();
            return Err(CliError::Refused(format!("the validator has no result after 2 minutes{why}")));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = &mut signal => break false,
        }
    };
    if ready {
        let info = ca.member(&member.handle)?;
        let doc = json!({
            "tal": tal,
            "tls_ca": tls.ca,
            "ca_api": format!("http://{ca_addr}"),
            "member": {"handle": member.handle, "token": member.token, "resources": info.resources},
            "rrdp_notification": notification,
            "rsync_base": cfg.rsync_base(),
            "rsync_dir": layout.publication.join("rsync/current"),
            "rtr": rtr_addr.to_string(),
            "validator_http": format!("http://{http_addr}"),
            "admin_token_file": layout.ca.join("admin-token"),
            "publication_api": format!("http://{pub_addr}"),
            "publication_token_file": layout.publication.join("admin-token"),
        });
        let text = serde_json::to_string_pretty(&doc).map_err(CliError::internal)? + "\n";
        data_dir::write_secret(&layout.up_json, text.as_bytes()).map_err(|e| CliError::io(&layout.up_json, e))?;
        if !quiet {
            spinner.finish();
            print!("{}", banner(&doc, layout, &info.resources, t0.elapsed()));
        }
        (&mut signal).await;
    }

    // Stop: routers get Cache Shutdown, the publication server writes what it holds.
    let _ = std::fs::remove_file(&layout.up_json);
    if !quiet {
        eprintln!("stopping");
    }
    stop_runs.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), publication).await;
    let _ = tokio::time::timeout(Duration::from_secs(30), ca_task).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = tokio::task::spawn_blocking(move || runs.join()).await;
    if !quiet {
        eprintln!("stopped; `rpkit up --data {}` resumes", layout.data.display());
    }
    Ok(())
}

/// `export` lines for the system running on `data`, read from its up.json.
fn exports(data: &Path) -> Result<String> {
    let path = data.join("up.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|_| CliError::input(format!("no `rpkit up` is running on {} (no {})", data.display(), path.display())))?;
    let j: serde_json::Value = serde_json::from_str(&text).map_err(|e| CliError::parse(&path, e))?;
    let s = |k: &str| j[k].as_str().unwrap_or_default().to_string();
    let read = |k: &str| std::fs::read_to_string(s(k)).map(|t| t.trim().to_string()).unwrap_or_default();
    let (rtr_host, rtr_port) = s("rtr").rsplit_once(':').map(|(h, p)| (h.to_string(), p.to_string())).unwrap_or_default();
    let vars = [
        ("RPKIT_UP_DATA", data.display().to_string()),
        ("RPKIT_SERVER", s("ca_api")),
        ("RPKIT_TOKEN", j["member"]["token"].as_str().unwrap_or_default().to_string()),
        ("RPKIT_MEMBER", j["member"]["handle"].as_str().unwrap_or_default().to_string()),
        ("RPKIT_ADMIN_TOKEN", read("admin_token_file")),
        ("RPKIT_TAL", s("tal")),
        ("RPKIT_TLS_CA", s("tls_ca")),
        ("RPKIT_VALIDATOR", s("validator_http")),
        ("RPKIT_RTR_HOST", rtr_host),
        ("RPKIT_RTR_PORT", rtr_port),
        ("RPKIT_RRDP_NOTIFICATION", s("rrdp_notification")),
        ("RPKIT_RSYNC_DIR", s("rsync_dir")),
        ("RPKIT_PUBLICATION_SERVER", s("publication_api")),
        ("RPKIT_PUBLICATION_TOKEN", read("publication_token_file")),
    ];
    Ok(vars.iter().map(|(k, v)| format!("export {k}='{}'\n", v.replace('\'', "'\\''"))).collect())
}

/// Register the CA at the publication server, create the TA and import the demo
/// RIR's members, each step once; on later starts check that the URIs still fit.
fn setup_ca(cfg: &UpConfig, layout: &Layout, server: &PublicationServer) -> Result<(Arc<Ca>, DemoMember)> {
    let base = cfg.https_base()?;
    let notify = format!("{base}rrdp/notification.xml");
    let cfg_path = layout.ca.join("ca.json");
    let io = |p: &Path, e: std::io::Error| CliError::io(p, e);
    let mut ca_config: CaConfig = if cfg_path.exists() {
        let text = std::fs::read_to_string(&cfg_path).map_err(|e| io(&cfg_path, e))?;
        let stored: CaConfig = serde_json::from_str(&text).map_err(|e| CliError::parse(&cfg_path, e))?;
        if stored.rrdp_notify.as_deref() != Some(notify.as_str()) || stored.rsync_base != cfg.rsync_base() {
            return Err(CliError::input(format!(
                "{} was set up with RRDP at {} and rsync at {}; the settings now give {notify} and {} \
                 (host, publication.rrdp_listen): set them back, or use a new --data",
                layout.data.display(),
                stored.rrdp_notify.unwrap_or_default(),
                stored.rsync_base,
                cfg.rsync_base()
            )));
        }
        stored
    } else {
        let identity = rfc8181_client::load_identity(&layout.ca.join("bpki"), crate::signer::token(&cfg.signer)?)?;
        let known = server.lock().publisher(PUBLISHER)?;
        let response = match known {
            Some(p) => server.response_for(&p, None),
            None => server
                .add_publisher(&rfc8181_client::publisher_request(&identity, PUBLISHER), Some(&cfg.rsync_base()))
                .during(|| "registering the CA at the publication server".into())?,
        };
        let rp = layout.ca.join("repository-response.xml");
        std::fs::write(&rp, response.encode()).map_err(|e| io(&rp, e))?;
        CaConfig {
            rsync_base: cfg.rsync_base(),
            rrdp_notify: Some(notify),
            ta_https_uri: Some(format!("{base}repo/ta.cer")),
            ..CaConfig::default()
        }
    };
    ca_config.key_pool_target = cfg.ca.key_pool;
    ca_config.keyroll_staging_seconds = cfg.ca.keyroll_staging_seconds;
    ca_config.keyroll_interval_days = cfg.ca.keyroll_interval_days;
    // The settings' key store; a CA set up with an HSM keeps it when they name none.
    if cfg.signer != SignerSettings::default() && cfg.signer != ca_config.signer {
        // Only a key store that opens is kept: a wrong PIN changes nothing.
        rpkit_ca::signer::CaSigner::open(&cfg.signer).map_err(rpkit_ca::CaError::from)?;
        ca_config.signer = cfg.signer.clone();
    }
    ca_config.key_pool_batch = ca_config.key_pool_batch.min(cfg.ca.key_pool.max(1));
    let text = serde_json::to_string_pretty(&ca_config).map_err(CliError::internal)?;
    std::fs::write(&cfg_path, text).map_err(|e| io(&cfg_path, e))?;
    let ca = Arc::new(open_ca(&layout.ca)?);
    // The RFC 8183 identity answers delegated children (RFC 6492).
    ca.set_identity(rfc8181_client::load_identity(&layout.ca.join("bpki"), crate::signer::token(&ca.config.signer)?)?);
    ca.set_child_view(Arc::new(crate::child_view::ValidatorView::new(layout.ca.join("child-cache"), &ca.config.tls_roots)));
    let tal_path = layout.ca.join("ta.tal");
    if !tal_path.exists() {
        let tal = match ca.tal() {
            Ok(t) => t,
            Err(_) => {
                let all = ALL_RESOURCES.parse().map_err(CliError::internal)?;
                ca.init(&all).during(|| "creating the trust anchor".into())?
            }
        };
        std::fs::write(&tal_path, tal.encode()).map_err(|e| io(&tal_path, e))?;
    }
    admin_token(&layout.ca)?;
    if !layout.member.exists() {
        let text = match &cfg.demo.delegated {
            Some(p) => std::fs::read_to_string(p).map_err(|e| CliError::io(p, e).during("demo.delegated"))?,
            None => DEMO_DELEGATED.to_string(),
        };
        ca.import_delegated(&text).during(|| "importing the demo members".into())?;
        if cfg.demo.delegated.is_none() {
            for (handle, roa) in DEMO_ROAS {
                let delta = RoaDelta { added: vec![roa.parse().map_err(CliError::internal)?], removed: vec![] };
                ca.apply_roas(handle, &delta, false).during(|| format!("demo ROA {roa} of {handle}"))?;
            }
        }
        let handle = cfg.demo.member.clone();
        ca.member(&handle).during(|| format!("demo.member = {handle:?}"))?;
        let token = ca.create_token(&handle)?;
        let text = serde_json::to_string_pretty(&DemoMember { handle, token }).map_err(CliError::internal)?;
        data_dir::write_secret(&layout.member, text.as_bytes()).map_err(|e| io(&layout.member, e))?;
    }
    let text = std::fs::read_to_string(&layout.member).map_err(|e| io(&layout.member, e))?;
    let member: DemoMember = serde_json::from_str(&text).map_err(|e| CliError::parse(&layout.member, e))?;
    Ok((ca, member))
}

/// What `rpkit up` prints when ready: where everything is, and three commands to try.
fn banner(doc: &serde_json::Value, layout: &Layout, resources: &rpkit_ca::contract::ResourceList, took: Duration) -> String {
    let s = |k: &str| doc[k].as_str().unwrap_or_default().to_string();
    let (ca_api, http, rtr) = (s("ca_api"), s("validator_http"), s("rtr"));
    let (handle, token) = (doc["member"]["handle"].as_str().unwrap_or_default(), doc["member"]["token"].as_str().unwrap_or_default());
    let (prefix, max_length, asn) = suggestion(resources);
    let (rtr_host, rtr_port) = rtr.rsplit_once(':').unwrap_or((&rtr, ""));
    let held: Vec<&str> = resources.ipv4.iter().chain(&resources.ipv6).chain(&resources.asn).map(String::as_str).collect();
    format!(
        "rpkit is up ({:.1} s), data in {}\n\n\
         \x20 TAL                 {}\n\
         \x20 TLS root            {}\n\
         \x20 CA API              {ca_api}  (admin token in {})\n\
         \x20 demo member         {handle}: {}\n\
         \x20 member token        {token}\n\
         \x20 RRDP notification   {}\n\
         \x20 rsync tree          {}  ({})\n\
         \x20 RTR                 {rtr}\n\
         \x20 validator HTTP      {http}  (/json /api/v1/validity /metrics /status)\n\n\
         Try:\n\
         \x20 rpkit roa add {prefix}-{max_length} {asn} --server {ca_api} --token {token}\n\
         \x20 rpkit validity --server {http} {asn} {prefix}\n\
         \x20 rtrclient tcp {rtr_host} {rtr_port}\n\n\
         The same in {} for scripts. Ctrl-C stops everything; `rpkit up --data {}` resumes.\n",
        took.as_secs_f64(),
        layout.data.display(),
        s("tal"),
        s("tls_ca"),
        layout.ca.join("admin-token").display(),
        held.join(", "),
        s("rrdp_notification"),
        s("rsync_dir"),
        s("rsync_base"),
        layout.up_json.display(),
        layout.data.display(),
    )
}

/// A ROA to suggest: the member's last IPv4 (else IPv6) prefix, from its first AS.
fn suggestion(r: &rpkit_ca::contract::ResourceList) -> (String, String, String) {
    let prefix = r.ipv4.iter().rev().chain(r.ipv6.iter().rev()).find(|p| p.contains('/')).cloned().unwrap_or_else(|| "192.0.2.0/24".into());
    let len = prefix.rsplit('/').next().unwrap_or_default().to_string();
    let asn = r.asn.first().map(|a| a.split('-').next().unwrap_or_default().to_string()).unwrap_or_else(|| "AS64496".into());
    (prefix, len, asn)
}
