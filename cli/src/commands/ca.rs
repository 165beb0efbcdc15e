//! `rpkit ta init` and `rpkit ca serve`: the RIR operator's CA on a data directory.
//!
//! Layout of `--data DIR` (mode 0700): `ca.sqlite` (state and keys, 0600),
//! `ca.json` (settings), `admin-token` (0600), `ta.tal`; and either
//! `repository-response.xml` with `bpki/` (0700: publishing through an RFC
//! 8181 server) or `repository/` (objects written as files). Every command
//! that writes there first checks who may read it (`crate::permissions`).

use crate::error::{CliError, Result};
use crate::permissions;
use crate::signer::SignerArgs;
use rpkit_ca::api::{self, AppState};
use rpkit_ca::publisher::{DirPublisher, Publisher};
use rpkit_ca::rfc8181_client::{self, Rfc8181Publisher};
use rpkit_ca::{Ca, CaConfig};
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::rfc8183::RepositoryResponse;
use rpkit_serve::db::{Fence, Lease};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct InitArgs {
    /// Data directory.
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Resources of the trust anchor and the RIR CA.
    #[arg(long, default_value = "AS0-AS4294967295, 0.0.0.0/0, ::/0")]
    resources: String,
    #[command(flatten)]
    uris: RepositoryUris,
    /// A trust anchor alone, for a machine that is never online: it answers
    /// the online CA's signed requests (`rpkit ta sign`).
    #[arg(long, requires = "child_request")]
    offline: bool,
    /// With `--offline`: the online CA's RFC 8183 child_request (`rpkit ca child-request`).
    #[arg(long, requires = "offline")]
    child_request: Option<PathBuf>,
    /// With `--offline`: how long the TA's manifest and CRL stay valid; the
    /// online CA warns `ta_warn_days` before they run out.
    #[arg(long, default_value_t = 28, requires = "offline")]
    next_update_days: i64,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: SignerArgs,
}

/// Where a new CA's objects are published, as its certificates and TAL say.
#[derive(clap::Args)]
pub struct RepositoryUris {
    /// Base of the rsync repository.
    #[arg(long, default_value = "rsync://rpki.test/repo/")]
    rsync_base: String,
    /// RRDP notification URI put in CA certificates.
    #[arg(long, default_value = "https://rpki.test/rrdp/notification.xml")]
    rrdp_notify: String,
    /// https URI of the TA certificate for the TAL.
    #[arg(long, default_value = "https://rpki.test/repo/ta.cer")]
    ta_https_uri: String,
}

impl RepositoryUris {
    /// The settings of a new CA publishing there.
    pub fn config(self) -> CaConfig {
        CaConfig {
            rsync_base: self.rsync_base,
            rrdp_notify: Some(self.rrdp_notify),
            ta_https_uri: Some(self.ta_https_uri),
            ..CaConfig::default()
        }
    }
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Address of the REST API.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// Seconds between checks for manifests, CRLs and certificates due for re-issue.
    #[arg(long, default_value_t = 600)]
    reissue_interval: u64,
    /// This node's name among those sharing the PostgreSQL database (in
    /// /health and the lease); default: the host name and process id.
    #[arg(long)]
    node: Option<String>,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: SignerArgs,
}

#[derive(clap::Args)]
pub struct PublisherRequestArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    /// The handle asked for.
    #[arg(long, default_value = "rpkit-ca")]
    handle: String,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
    #[command(flatten)]
    signer: SignerArgs,
}

#[derive(clap::Args)]
pub struct RepositoryArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    /// The repository_response XML file from the publication server.
    response: PathBuf,
    #[command(flatten)]
    perms: permissions::PermissionArgs,
}

pub(super) fn response_path(data: &Path) -> PathBuf {
    data.join("repository-response.xml")
}

/// The publisher of a data directory: the RFC 8181 server when configured,
/// else files under `DIR/repository`.
fn publisher(data: &Path, config: &CaConfig, fence: Option<Arc<Fence>>) -> Result<Arc<dyn Publisher>> {
    let rp = response_path(data);
    if !rp.exists() {
        let dir = data.join("repository");
        return Ok(Arc::new(DirPublisher::new(&dir).map_err(|e| CliError::io(&dir, e))?));
    }
    let response = read_repository_response(&rp)?.1;
    if !config.rsync_base.starts_with(&response.sia_base) {
        return Err(CliError::input(format!(
            "the CA publishes below {} but the repository allows only {} ({})",
            config.rsync_base,
            response.sia_base,
            rp.display()
        )));
    }
    let identity = rfc8181_client::load_identity(&data.join("bpki"), crate::signer::token(&config.signer)?)?;
    let p = Rfc8181Publisher::new(identity, response)?;
    Ok(Arc::new(match fence {
        Some(f) => p.with_fence(f),
        None => p,
    }))
}

/// An RFC 8183 repository_response file: its bytes and what they say.
pub(super) fn read_repository_response(path: &Path) -> Result<(Vec<u8>, RepositoryResponse)> {
    let xml = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
    let response = RepositoryResponse::decode(&xml).map_err(|e| CliError::Object { what: path.display().to_string(), source: e })?;
    Ok((xml, response))
}

fn no_ca(data: &Path) -> CliError {
    CliError::input(format!("{} has no CA yet: run `rpkit ta init --data {}` first", data.display(), data.display()))
}

/// Keep the signer flags in the CA's `ca.json`, so that every later command
/// of this data directory finds its keys.
fn set_signer(data: &Path, flags: &SignerArgs) -> Result<()> {
    let path = data.join("ca.json");
    let mut config = read_config(data)?;
    flags.apply(&mut config.signer)?;
    // Only a key store that opens is kept: a wrong PIN changes nothing.
    rpkit_ca::signer::CaSigner::open(&config.signer).map_err(rpkit_ca::CaError::from)?;
    let text = serde_json::to_string_pretty(&config).map_err(CliError::internal)?;
    std::fs::write(&path, text).map_err(|e| CliError::io(&path, e))
}

/// The settings of a data directory (`ca.json`).
pub fn read_config(data: &Path) -> Result<CaConfig> {
    let cfg_path = data.join("ca.json");
    match std::fs::read_to_string(&cfg_path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| CliError::parse(&cfg_path, e)),
        Err(_) => Err(no_ca(data)),
    }
}

/// Where a CA's state lives: a PostgreSQL database shared by two nodes
/// (`--database-url`, or `RPKIT_DATABASE_URL`), else `ca.sqlite` in DATA.
#[derive(clap::Args, Clone, Default)]
pub struct DatabaseArgs {
    /// Keep the CA's state in PostgreSQL (`postgresql://USER@HOST/DB`); the
    /// data directory remembers it (`DATA/database-url`, 0600) for every later command.
    #[arg(long, env = "RPKIT_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// The database of a data directory: the one given now (then remembered),
/// else the one remembered, else none (SQLite in DATA).
pub fn database_url(data: &Path, given: &DatabaseArgs) -> Result<Option<String>> {
    let kept = data.join("database-url");
    if let Some(url) = &given.database_url {
        if !rpkit_serve::db::Location::from_url(Some(url), None).is_shared() {
            return Err(CliError::input(format!("--database-url {url}: not a postgresql:// URL")));
        }
        if data.join("ca.sqlite").exists() {
            return Err(CliError::input(format!(
                "{} keeps its state in ca.sqlite: a data directory stays on the database it started with",
                data.display()
            )));
        }
        rpkit_serve::data_dir::write_secret(&kept, format!("{url}\n").as_bytes()).map_err(|e| CliError::io(&kept, e))?;
        return Ok(Some(url.clone()));
    }
    match std::fs::read_to_string(&kept) {
        Ok(t) => Ok(Some(t.trim().to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CliError::io(&kept, e)),
    }
}

/// Open the CA of a data directory.
pub fn open(data: &Path) -> Result<Ca> {
    let config = read_config(data)?;
    let publisher = publisher(data, &config, None)?;
    let url = database_url(data, &DatabaseArgs::default())?;
    Ok(Ca::open_with(Some(data), url.as_deref(), config, publisher)?)
}

/// Open the CA of a data directory as a serving node: on a shared database,
/// one of several, active only while it holds the lease (rpkit_ca::node).
fn open_node(data: &Path, node: Option<&str>) -> Result<Ca> {
    let Some(url) = database_url(data, &DatabaseArgs::default())? else { return open(data) };
    let config = read_config(data)?;
    let node = node.map_or_else(rpkit_serve::db::lease::default_node_name, str::to_string);
    let lease = Lease::open(&url, &rpkit_ca::store::SCHEMA, &node).map_err(rpkit_ca::error::CaError::from)?;
    let publisher = publisher(data, &config, Some(lease.fence()))?;
    Ok(Ca::open_node(Some(data), Some(&url), config, publisher, Some(lease))?)
}

pub fn publisher_request(a: PublisherRequestArgs) -> Result<ExitCode> {
    if !rpkit_objects::rfc8183::valid_handle(&a.handle) {
        return Err(CliError::input(format!("'{}' is not a valid handle", a.handle)));
    }
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    // The identity's keys go where the CA's will: its settings, or these flags.
    let mut settings = match std::fs::read_to_string(a.data.join("ca.json")) {
        Ok(t) => serde_json::from_str::<CaConfig>(&t).map_err(|e| CliError::parse(&a.data.join("ca.json"), e))?.signer,
        Err(_) => Default::default(),
    };
    a.signer.apply(&mut settings)?;
    let identity = rfc8181_client::load_identity(&a.data.join("bpki"), crate::signer::token(&settings)?)?;
    print!("{}", rfc8181_client::publisher_request(&identity, &a.handle).encode());
    Ok(ExitCode::SUCCESS)
}

pub fn repository(a: RepositoryArgs) -> Result<ExitCode> {
    let (xml, response) = read_repository_response(&a.response)?;
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    if !a.data.join("bpki").join("id.cer").exists() {
        let why = format!("{} has no publisher identity: run `rpkit ca publisher-request` first", a.data.display());
        return Err(CliError::input(why));
    }
    let path = response_path(&a.data);
    std::fs::write(&path, &xml).map_err(|e| CliError::io(&path, e))?;
    println!("publishing through {} below {}", response.service_uri, response.sia_base);
    Ok(ExitCode::SUCCESS)
}

/// The admin token of a data directory, created on first use.
pub fn admin_token(data: &Path) -> Result<String> {
    let p = data.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&p) {
        return Ok(t.trim().to_string());
    }
    use rand::RngCore;
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = format!("rpkit_admin_{}", rpkit_objects::hex::lower(&raw));
    rpkit_serve::data_dir::write_secret(&p, format!("{token}\n").as_bytes()).map_err(|e| CliError::io(&p, e))?;
    Ok(token)
}

pub fn init(a: InitArgs) -> Result<ExitCode> {
    let resources: ResourceSet = a.resources.parse().map_err(|e| CliError::Object { what: "--resources".into(), source: e })?;
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    let mut config = a.uris.config();
    a.signer.apply(&mut config.signer)?;
    let cfg_path = a.data.join("ca.json");
    if cfg_path.exists() {
        return Err(CliError::input(format!("{} already holds a CA", a.data.display())));
    }
    if a.offline {
        if !(1..=365).contains(&a.next_update_days) {
            return Err(CliError::input("--next-update-days: from 1 to 365"));
        }
        config.next_update_secs = a.next_update_days * 86400;
    }
    database_url(&a.data, &a.database)?;
    let text = serde_json::to_string_pretty(&config).map_err(CliError::internal)?;
    std::fs::write(&cfg_path, text).map_err(|e| CliError::io(&cfg_path, e))?;
    if let Some(child) = &a.child_request {
        super::offline_ta::init(&a.data, &resources, child)?;
        return Ok(ExitCode::SUCCESS);
    }
    let ca = open(&a.data)?;
    let tal = ca.init(&resources)?;
    let tal_path = a.data.join("ta.tal");
    std::fs::write(&tal_path, tal.encode()).map_err(|e| CliError::io(&tal_path, e))?;
    let token = admin_token(&a.data)?;
    println!("trust anchor created");
    println!("TAL:         {}", tal_path.display());
    println!("admin token: {token} (also in {})", a.data.join("admin-token").display());
    Ok(ExitCode::SUCCESS)
}

pub fn serve(a: ServeArgs) -> Result<ExitCode> {
    // Before the directory is checked (and made): a wrong --data makes nothing.
    if !a.data.join("ca.json").exists() {
        return Err(no_ca(&a.data));
    }
    permissions::open(&permissions::ca(&a.data), a.perms)?;
    if a.signer.given() {
        set_signer(&a.data, &a.signer)?;
    }
    database_url(&a.data, &a.database)?;
    let ca = Arc::new(open_node(&a.data, a.node.as_deref())?);
    // The RFC 8183 identity signs the requests to an offline TA and the answers to delegated children.
    let identity = rfc8181_client::load_identity(&a.data.join("bpki"), crate::signer::token(&ca.config.signer)?)?;
    ca.set_identity(identity);
    // Delegated members' repositories, read as a relying party would (members moving to their own CA).
    ca.set_child_view(Arc::new(crate::child_view::ValidatorView::new(a.data.join("child-cache"), &ca.config.tls_roots)));
    let token = admin_token(&a.data)?;
    let rt = tokio::runtime::Runtime::new().map_err(CliError::internal)?;
    rt.block_on(async move {
        let shutdown = crate::shutdown::terminated();
        let listener = tokio::net::TcpListener::bind(&a.listen).await.map_err(CliError::listen(&a.listen))?;
        eprintln!("rpkit CA API on http://{}", listener.local_addr().map_err(CliError::listen(&a.listen))?);
        let state = AppState::new(ca, &token);
        let tick = std::time::Duration::from_secs(a.reissue_interval.max(1));
        api::serve(listener, state, tick, shutdown).await.map_err(CliError::listen(&a.listen))
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    api: crate::client::ApiArgs,
    /// Write the export here (replaced atomically) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// `rpkit ca export`: what the CA intends to publish, for `rpkit audit --expect`.
pub fn export(a: ExportArgs) -> Result<ExitCode> {
    let client = crate::client::Client::new(&a.api)?;
    let e: rpkit_ca::contract::Export = client.get("/api/v1/export")?;
    let text = serde_json::to_string_pretty(&e).map_err(CliError::internal)? + "\n";
    match &a.output {
        Some(p) => super::validate::write_atomically(p, text.as_bytes())?,
        None => print!("{text}"),
    }
    eprintln!("exported {} objects, {} ROA prefixes, {} ASPAs", e.objects.len(), e.roas.len(), e.aspas.len());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct BackupArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    /// The new file (mode 0600: it holds the CA's private keys).
    #[arg(long, short)]
    output: PathBuf,
}

/// `rpkit ca backup`: the CA's state copied consistently, the server running
/// or not: `DATA/ca.sqlite`, or its PostgreSQL database into a SQLite file.
pub fn backup(a: BackupArgs) -> Result<ExitCode> {
    if let Some(url) = database_url(&a.data, &DatabaseArgs::default())? {
        crate::backup::shared(&url, &rpkit_ca::store::SCHEMA, &a.output)?;
        println!("backed up the CA state of {} (in PostgreSQL) to {}", a.data.display(), a.output.display());
        return Ok(ExitCode::SUCCESS);
    }
    crate::backup::sqlite(&a.data.join("ca.sqlite"), &a.output)?;
    println!("backed up {} to {}", a.data.join("ca.sqlite").display(), a.output.display());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    #[arg(long, env = "RPKIT_DATA", default_value = "rpkit-data")]
    data: PathBuf,
    /// The PostgreSQL database (`postgresql://USER@HOST/DB`) whose CA store is empty.
    #[arg(long)]
    to: String,
}

/// `rpkit ca migrate`: DATA/ca.sqlite copied whole into an empty PostgreSQL
/// store in one transaction; then DATA remembers the database and the file
/// is set aside (`ca.sqlite.moved`), so nothing runs on the old copy.
pub fn migrate(a: MigrateArgs) -> Result<ExitCode> {
    let (file, kept) = (a.data.join("ca.sqlite"), a.data.join("database-url"));
    if kept.exists() {
        return Err(CliError::input(format!("{} already keeps its state in PostgreSQL ({})", a.data.display(), kept.display())));
    }
    let rows = crate::backup::migrate(&file, &rpkit_ca::store::SCHEMA, &a.to)?;
    rpkit_serve::data_dir::write_secret(&kept, format!("{}\n", a.to).as_bytes()).map_err(|e| CliError::io(&kept, e))?;
    crate::backup::set_aside(&file)?;
    println!("moved the CA state of {} into PostgreSQL ({rows} rows); {} is now ca.sqlite.moved", a.data.display(), file.display());
    Ok(ExitCode::SUCCESS)
}

/// Which CA `rpkit ca keyroll` rolls.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum KeyrollTarget {
    /// The RIR's online CA (members roll with `rpkit members keyroll HANDLE`).
    Rir,
}

#[derive(clap::Args)]
pub struct KeyrollCmd {
    target: KeyrollTarget,
    #[command(flatten)]
    how: super::members::KeyrollArgs,
    #[command(flatten)]
    api: crate::client::ApiArgs,
}

pub fn keyroll(a: KeyrollCmd) -> Result<ExitCode> {
    let c = crate::client::Client::new(&a.api)?;
    match a.target {
        KeyrollTarget::Rir => super::members::keyroll(&c, "/api/v1/rir/keyroll", &a.how)?,
    }
    Ok(ExitCode::SUCCESS)
}
