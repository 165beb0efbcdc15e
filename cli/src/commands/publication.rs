//! `rpkit publication ...`: the publication server (RFC 8181 for publishers,
//! RRDP over HTTPS, the rsync tree for rsyncd) and its publishers.
//!
//! Layout of `--data DIR` (mode 0711: others may reach the public trees in
//! it, not list it): `publication.sqlite` (objects, change log, publishers,
//! identity; 0600), `admin-token` (0600), and the public `rrdp/` (the RRDP
//! files) and `rsync/current/` (the rsync tree).

use crate::client::ClientError;
use crate::error::{CliError, Result};
use rpkit_publication::http::PublisherView;
use rpkit_publication::service::{PublicationServer, ServerConfig};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Run the server: RFC 8181 and the operator API on --listen, RRDP over HTTPS on --rrdp-listen.
    Serve(ServeArgs),
    /// Register a publisher from its RFC 8183 publisher_request; prints the repository_response.
    AddPublisher(AddArgs),
    /// List publishers.
    Publishers(PublishersArgs),
    /// Remove a publisher and withdraw everything it published.
    RemovePublisher(RemoveArgs),
    /// Print an rsyncd.conf serving the rsync tree.
    RsyncdConf(RsyncdArgs),
    /// Write a consistent copy of the server's database while it runs (a restore starts a new RRDP session).
    Backup(BackupArgs),
    /// Move the state from DATA/publication.sqlite into an empty PostgreSQL
    /// database (server stopped); then serve with `--database-url`.
    Migrate(MigrateArgs),
    /// Let the next change set past the shrink guard, once.
    AllowShrink(ApiArgs),
    /// Register a publisher `bench` and publish random objects through RFC 8181 (benchmarks).
    #[command(hide = true)]
    BenchFill(BenchFillArgs),
}

#[derive(clap::Args)]
pub struct BackupArgs {
    #[arg(long, env = "RPKIT_PUBLICATION_DATA", default_value = "rpkit-publication")]
    data: PathBuf,
    /// The state is in PostgreSQL: copy it (one consistent snapshot) into a
    /// SQLite file that `rpkit publication serve` can use as it is.
    #[arg(long, env = "RPKIT_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The new file.
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    #[arg(long, env = "RPKIT_PUBLICATION_DATA", default_value = "rpkit-publication")]
    data: PathBuf,
    /// The PostgreSQL database (`postgresql://USER@HOST/DB`) whose publication store is empty.
    #[arg(long)]
    to: String,
}

#[derive(clap::Args)]
pub struct BenchFillArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[arg(long, default_value_t = 5000)]
    objects: usize,
    #[arg(long, default_value_t = 2000)]
    size: usize,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    #[arg(long, env = "RPKIT_PUBLICATION_DATA", default_value = "rpkit-publication")]
    data: PathBuf,
    /// RFC 8181 endpoint and operator API (plain HTTP: keep it on an internal address).
    #[arg(long, default_value = "127.0.0.1:8181")]
    listen: String,
    /// Base of the RFC 8181 service URIs handed to publishers.
    #[arg(long)]
    service_uri: Option<String>,
    /// HTTPS address for RRDP; needs --tls-cert and --tls-key.
    #[arg(long)]
    rrdp_listen: Option<String>,
    /// PEM certificate chain, leaf first.
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the leaf.
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Public https URI of the RRDP directory.
    #[arg(long, default_value = "https://rpki.test/rrdp/")]
    rrdp_base_uri: String,
    /// rsync URI of the repository root; publishers get `<this><handle>/`.
    #[arg(long, default_value = "rsync://rpki.test/repo/")]
    rsync_base_uri: String,
    /// Milliseconds between RRDP serials at most (changes in between are one delta).
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Do not write the rsync tree.
    #[arg(long)]
    no_rsync: bool,
    /// Refuse a change set that withdraws more than this percentage of all objects
    /// (`rpkit publication allow-shrink` lets the next one through).
    #[arg(long, default_value_t = 10.0)]
    shrink_guard_percent: f64,
    /// Refuse a change set that withdraws objects and leaves fewer than this
    /// many in the repository (0: no floor; `allow-shrink` lets the next one through).
    #[arg(long, default_value_t = 0)]
    min_objects: usize,
    /// Keep each RRDP snapshot as segment files that consecutive serials
    /// share, served as one file by this server's HTTP listeners (put nginx
    /// or a CDN in front as a reverse proxy): a serial then writes only what
    /// changed. Without it snapshots are whole files a static server can serve.
    #[arg(long)]
    snapshot_segments: bool,
    /// Keep the repository state in PostgreSQL (`postgresql://USER@HOST/DB`)
    /// instead of `publication.sqlite` in the data directory. Servers sharing
    /// it elect one active node; the others answer 503 until they take over.
    #[arg(long, env = "RPKIT_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// This node's name among the servers sharing the database (in /health
    /// and the lease); default: the host name and process id.
    #[arg(long, requires = "database_url")]
    node: Option<String>,
    #[command(flatten)]
    perms: crate::permissions::PermissionArgs,
}

#[derive(clap::Args, Clone)]
pub struct ApiArgs {
    /// Publication server API.
    #[arg(long, env = "RPKIT_PUBLICATION_SERVER", default_value = "http://127.0.0.1:8181")]
    server: String,
    /// The server's admin token (in its data directory).
    #[arg(long, env = "RPKIT_PUBLICATION_TOKEN", hide_env_values = true)]
    token: String,
}

#[derive(clap::Args)]
pub struct PublishersArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// table or json.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

#[derive(clap::Args)]
pub struct AddArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The publisher_request XML file.
    request: PathBuf,
    /// Publish below this rsync URI instead of `<rsync base><handle>/`.
    #[arg(long)]
    sia_base: Option<String>,
}

#[derive(clap::Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    api: ApiArgs,
    handle: String,
}

#[derive(clap::Args)]
pub struct RsyncdArgs {
    #[arg(long, env = "RPKIT_PUBLICATION_DATA", default_value = "rpkit-publication")]
    data: PathBuf,
    #[arg(long, default_value = "rsync://rpki.test/repo/")]
    rsync_base_uri: String,
    #[arg(long, default_value_t = 873)]
    port: u16,
}

pub fn run(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Serve(a) => serve(a),
        Cmd::AddPublisher(a) => {
            let xml = std::fs::read(&a.request).map_err(|e| CliError::io(&a.request, e))?;
            let mut url = format!("{}/api/v1/publishers", a.api.server.trim_end_matches('/'));
            if let Some(b) = &a.sia_base {
                url.push_str(&format!("?sia_base={}", form_escape(b)));
            }
            print!("{}", call(&a.api, reqwest::Method::POST, &url, Some(xml))?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Publishers(a) => {
            let url = format!("{}/api/v1/publishers", a.api.server.trim_end_matches('/'));
            let text = call(&a.api, reqwest::Method::GET, &url, None)?;
            let v: Vec<PublisherView> = serde_json::from_str(&text).map_err(ClientError::Unexpected)?;
            if a.format == "json" {
                super::print_json(&v)?;
                return Ok(ExitCode::SUCCESS);
            }
            println!("{:<24} {:>8}  base URI", "handle", "objects");
            for p in v {
                println!("{:<24} {:>8}  {}", p.handle, p.objects, p.base_uri);
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::RemovePublisher(a) => {
            let url = format!("{}/api/v1/publishers/{}", a.api.server.trim_end_matches('/'), a.handle);
            println!("{}", call(&a.api, reqwest::Method::DELETE, &url, None)?.trim());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::BenchFill(a) => bench_fill(a),
        Cmd::Backup(a) => {
            let db = a.data.join("publication.sqlite");
            match a.database_url.as_deref() {
                Some(url) => {
                    crate::backup::shared(url, &rpkit_publication::repository::SCHEMA, &a.output)?;
                    println!("backed up the publication state in PostgreSQL to {}", a.output.display());
                }
                None => {
                    crate::backup::sqlite(&db, &a.output)?;
                    println!("backed up {} to {}", db.display(), a.output.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Migrate(a) => {
            let db = a.data.join("publication.sqlite");
            let rows = crate::backup::migrate(&db, &rpkit_publication::repository::SCHEMA, &a.to)?;
            crate::backup::set_aside(&db)?;
            println!(
                "moved the publication state of {} into PostgreSQL ({rows} rows): serve it with --database-url; \
                 the RRDP session and serial go on",
                a.data.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::AllowShrink(a) => {
            let url = format!("{}/api/v1/shrink-guard/allow-next", a.server.trim_end_matches('/'));
            call(&a, reqwest::Method::POST, &url, None)?;
            println!("the next change set may withdraw any share of the objects, below the floor too");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::RsyncdConf(a) => {
            print!("{}", rsyncd_conf(&a.data, &a.rsync_base_uri, a.port)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn form_escape(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// One call to the publication server's admin API: the answer's text.
fn call(a: &ApiArgs, method: reqwest::Method, url: &str, body: Option<Vec<u8>>) -> Result<String, ClientError> {
    let http = reqwest::blocking::Client::new();
    let mut rb = http.request(method, url).bearer_auth(&a.token);
    if let Some(b) = body {
        rb = rb.header("Content-Type", "application/xml").body(b);
    }
    let unreachable = |source| ClientError::Unreachable { service: "publication server", base: a.server.clone(), source };
    let resp = rb.send().map_err(unreachable)?;
    let status = resp.status().as_u16();
    let text = resp.text().map_err(unreachable)?;
    if !(200..300).contains(&status) {
        return Err(ClientError::Status { status, text: text.trim().to_string() });
    }
    Ok(text)
}

/// rsyncd configuration for the tree: one read-only module named after the
/// rsync base URI's module, rooted in the tree `current` points at.
pub fn rsyncd_conf(data: &std::path::Path, rsync_base_uri: &str, port: u16) -> Result<String> {
    let module = rsync_base_uri
        .strip_prefix("rsync://")
        .and_then(|r| r.split('/').nth(1))
        .filter(|m| !m.is_empty())
        .ok_or_else(|| CliError::input(format!("{rsync_base_uri} is not rsync://HOST/MODULE/")))?;
    let data = std::path::absolute(data).map_err(|e| CliError::io(data, e))?;
    let path = data.join("rsync").join("current").join(module);
    Ok(format!(
        "# rsyncd configuration for the rpkit repository tree\nport = {port}\nuse chroot = no\nmax connections = 200\ntimeout = 300\nlog file = /dev/stderr\n\n[{module}]\n    path = {}\n    comment = RPKI repository\n    read only = yes\n    list = yes\n    munge symlinks = no\n",
        path.display()
    ))
}

/// The admin token of a data directory, created on first use.
fn admin_token(data: &std::path::Path) -> Result<String> {
    super::ca::admin_token(data)
}

fn serve(a: ServeArgs) -> Result<ExitCode> {
    crate::permissions::open(&crate::permissions::publication(&a.data), a.perms)?;
    for (what, uri, scheme) in [("--rrdp-base-uri", &a.rrdp_base_uri, "https://"), ("--rsync-base-uri", &a.rsync_base_uri, "rsync://")] {
        if !uri.starts_with(scheme) || !uri.ends_with('/') {
            return Err(CliError::input(format!("{what} must be a {scheme}... URI ending in '/': {uri}")));
        }
    }
    let token = admin_token(&a.data)?;
    let tls = match (&a.rrdp_listen, &a.tls_cert, &a.tls_key) {
        (Some(l), Some(c), Some(k)) => Some((l.clone(), rpkit_serve::tls::server_config(c, k)?)),
        (Some(_), _, _) => return Err(CliError::input("--rrdp-listen needs --tls-cert and --tls-key (RRDP is served over HTTPS only)")),
        _ => None,
    };
    let rt = tokio::runtime::Runtime::new().map_err(CliError::internal)?;
    rt.block_on(async move {
        let shutdown = crate::shutdown::terminated();
        let api = tokio::net::TcpListener::bind(&a.listen).await.map_err(CliError::listen(&a.listen))?;
        let api_addr = api.local_addr().map_err(CliError::listen(&a.listen))?;
        let service_base_uri = a.service_uri.clone().unwrap_or_else(|| format!("http://{api_addr}/"));
        let config = ServerConfig {
            data_dir: a.data.clone(),
            rrdp_base_uri: a.rrdp_base_uri.clone(),
            rsync_base_uri: a.rsync_base_uri.clone(),
            service_base_uri,
            interval: std::time::Duration::from_millis(a.interval_ms.max(1)),
            rsync_tree: !a.no_rsync,
            shrink_guard: (a.shrink_guard_percent / 100.0).clamp(0.0, 1.0),
            min_objects: a.min_objects,
            snapshot_segments: a.snapshot_segments,
            database_url: a.database_url.clone(),
        };
        let node = a.node.clone().unwrap_or_else(rpkit_serve::db::lease::default_node_name);
        let server = tokio::task::spawn_blocking(move || {
            let lease = match &config.database_url {
                Some(url) => Some(
                    rpkit_serve::db::Lease::open(url, &rpkit_publication::repository::SCHEMA, &node)
                        .map_err(rpkit_publication::repository::RepoError::from)?,
                ),
                None => None,
            };
            PublicationServer::open_node(config, lease)
        })
        .await
        .map_err(CliError::internal)??;
        let tls = match tls {
            Some((addr, cfg)) => {
                let l = tokio::net::TcpListener::bind(&addr).await.map_err(CliError::listen(&addr))?;
                eprintln!("RRDP on https://{} ({})", l.local_addr().map_err(CliError::listen(&addr))?, a.rrdp_base_uri);
                Some((l, cfg))
            }
            None => None,
        };
        eprintln!("publication server API and RFC 8181 on http://{api_addr}");
        rpkit_publication::http::serve(server, &token, api, tls, shutdown).await.map_err(CliError::listen(&a.listen))
    })?;
    Ok(ExitCode::SUCCESS)
}

fn bench_fill(a: BenchFillArgs) -> Result<ExitCode> {
    use rpkit_objects::rfc8181::{Query, QueryPdu, Reply};
    use rpkit_objects::rfc8183::{PublisherRequest, RepositoryResponse};
    let id = rpkit_objects::bpki::Identity::create().map_err(CliError::internal)?;
    let req = PublisherRequest { tag: None, publisher_handle: "bench".into(), id_cert: id.cert.clone() };
    let url = format!("{}/api/v1/publishers", a.api.server.trim_end_matches('/'));
    let answer = call(&a.api, reqwest::Method::POST, &url, Some(req.encode().into_bytes()))?;
    let resp = RepositoryResponse::decode(answer.as_bytes()).map_err(|e| CliError::Object { what: url.clone(), source: e })?;
    let http = reqwest::blocking::Client::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for start in (0..a.objects).step_by(1000) {
        let pdus = (start..(start + 1000).min(a.objects))
            .map(|i| {
                let der = (0..a.size)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    })
                    .collect();
                QueryPdu::Publish { tag: None, uri: format!("{}o{i}.roa", resp.sia_base), der, hash: None }
            })
            .collect();
        let cms = id.sign(Query::Pdus(pdus).encode().as_bytes(), rpkit_objects::der::Time::now()).map_err(CliError::internal)?;
        let body = http
            .post(&resp.service_uri)
            .header("Content-Type", "application/rpki-publication")
            .body(cms)
            .send()
            .and_then(|r| r.bytes())
            .map_err(|source| ClientError::Unreachable { service: "publication server", base: resp.service_uri.clone(), source })?;
        let reply = |e| CliError::Object { what: resp.service_uri.clone(), source: e };
        let msg = rpkit_objects::signed_message::SignedMessage::decode(&body).map_err(reply)?;
        match Reply::decode(msg.content()).map_err(reply)? {
            Reply::Success => {}
            other => return Err(CliError::Refused(format!("publishing failed: {other:?}"))),
        }
    }
    println!("published {} objects", a.objects);
    Ok(ExitCode::SUCCESS)
}
