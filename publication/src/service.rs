//! The running publication server: one repository, publishers applying change
//! sets through RFC 8181, and a writer that turns what they applied into at most
//! one RRDP serial per interval (plus the rsync tree).

use crate::publishers::{Identity, Publisher};
use crate::repository::{RepoError, Repository};
use crate::rrdp::{RrdpConfig, RrdpWriter};
use crate::rsync_tree::RsyncTree;
use rpkit_objects::der::Time;
use rpkit_objects::rfc8183::{PublisherRequest, RepositoryResponse};
use rpkit_serve::data_dir;
use rpkit_serve::db::lease::{Node, Role, Step};
use rpkit_serve::db::{Lease, Location};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Settings of a publication server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Holds `publication.sqlite`, `rrdp/` and `rsync/`.
    pub data_dir: PathBuf,
    /// https URI where `rrdp/` is served, ending in `/`.
    pub rrdp_base_uri: String,
    /// rsync URI of the repository root (`rsync://HOST/MODULE/`); publishers get a directory below it.
    pub rsync_base_uri: String,
    /// Base of the RFC 8181 service URIs, ending in `/` (`http://HOST:PORT/`).
    pub service_base_uri: String,
    /// At most one RRDP serial per interval (RRDPS-4).
    pub interval: Duration,
    /// Write the rsync tree for rsyncd.
    pub rsync_tree: bool,
    /// Shrink guard: refuse a change set withdrawing more than this share of all objects.
    pub shrink_guard: f64,
    /// Refuse a change set that withdraws objects and leaves fewer than this
    /// (0: no floor); the operator's `allow-shrink` lets the next one through.
    pub min_objects: usize,
    /// Keep snapshots as segment files shared between serials, served as one
    /// file by this server (a serial then costs about hashing its snapshot),
    /// instead of whole files any static web server can serve.
    pub snapshot_segments: bool,
    /// A PostgreSQL server holding the repository state (`postgresql://...`);
    /// `None`: `publication.sqlite` in the data directory.
    pub database_url: Option<String>,
}

impl ServerConfig {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("publication.sqlite")
    }
    /// Where the repository state lives.
    pub fn location(&self) -> Location {
        Location::from_url(self.database_url.as_deref(), Some(&self.db_path()))
    }
    pub fn rrdp_dir(&self) -> PathBuf {
        self.data_dir.join("rrdp")
    }
    pub fn rsync_dir(&self) -> PathBuf {
        self.data_dir.join("rsync")
    }
    pub fn notification_uri(&self) -> String {
        format!("{}notification.xml", self.rrdp_base_uri)
    }
}

/// Shared state of the server.
pub struct PublicationServer {
    pub config: ServerConfig,
    /// The connection publishers apply through.
    pub repo: Mutex<Repository>,
    /// The writer's own connection (reads the snapshot while publishers go on).
    writer_repo: Mutex<Repository>,
    writer: RrdpWriter,
    tree: Option<RsyncTree>,
    pub identity: Identity,
    pub changed: tokio::sync::Notify,
    /// `notification.xml` as last written: the file every RP polls, served from memory.
    notification: std::sync::RwLock<Option<Arc<Notification>>>,
    /// The operator allowed the next change set past the shrink guard.
    pub force_next: std::sync::atomic::AtomicBool,
    /// On a database several servers share: this node's lease (only its
    /// holder takes changes and writes files).
    node: Option<Node>,
    /// The lease token for which this node has written what it lacked (0: none):
    /// below the token it holds, it is still taking over.
    served: std::sync::atomic::AtomicI64,
}

/// The notification file with its validators, computed once per write.
pub struct Notification {
    pub body: Vec<u8>,
    pub etag: String,
    pub modified: std::time::SystemTime,
    /// Whether another notification was served within the same second as this
    /// one: Last-Modified has whole seconds, so a client's If-Modified-Since
    /// of that second may name the older one (RRDPS-10), and gets the file.
    pub second_shared: bool,
}

impl PublicationServer {
    pub fn open(config: ServerConfig) -> Result<Arc<Self>, RepoError> {
        Self::open_node(config, None)
    }

    /// `open`, as one of the servers sharing a PostgreSQL database: with
    /// `lease`, this node takes changes and writes the repository's files
    /// only while it holds it; taking it over, it first writes what it lacks.
    pub fn open_node(config: ServerConfig, lease: Option<Lease>) -> Result<Arc<Self>, RepoError> {
        // The data directory leads to the public trees (rrdp/, rsync/); the
        // database holds the server's RFC 8181 identity key (issue: secrets at rest).
        data_dir::create_dir(&config.data_dir, data_dir::PASSAGE_DIR).map_err(|e| io(&config.data_dir, e))?;
        if !config.location().is_shared() {
            // A state moved into PostgreSQL is not started afresh in SQLite:
            // an empty repository in a new session would withdraw everything.
            let moved = config.data_dir.join("publication.sqlite.moved");
            if moved.exists() && !config.db_path().exists() {
                return Err(RepoError::refused(
                    rpkit_objects::rfc8181::ErrorCode::OtherError,
                    format!(
                        "the state of {} moved to PostgreSQL ({}): start with --database-url",
                        config.data_dir.display(),
                        moved.display()
                    ),
                ));
            }
            data_dir::ensure_secret(&config.db_path()).map_err(|e| io(&config.db_path(), e))?;
        }
        let mut repo = Repository::open_at(&config.location())?;
        repo.guard.max_share = config.shrink_guard;
        repo.guard.floor = config.min_objects;
        let identity = repo.identity()?;
        let node = lease.map(Node::new);
        let active = node.as_ref().is_none_or(|n| matches!(n.step(), Step::Acquired | Step::Renewed));
        // RRDPS-4: files published beyond the database's serial mean the state
        // regressed (restored from a backup): RPs need a new session. (A shared
        // database is never behind one node's files: that node was the standby.)
        let restored = if node.is_none() { published_serial(&config.rrdp_dir()) } else { None };
        if let Some((session, serial)) = restored {
            let (db_session, db_serial) = repo.session()?;
            if session == db_session && serial > db_serial {
                let new = repo.new_session(Time::now().0)?;
                tracing::warn!(old = %session, new = %new, "the database is behind the published serial {serial} (restored?): new RRDP session");
            }
        }
        let mut writer_repo = Repository::open_at(&config.location())?;
        if let Some(n) = &node {
            repo.set_fence(n.fence().clone());
            writer_repo.set_fence(n.fence().clone());
        }
        let mut rrdp = RrdpConfig::new(config.rrdp_dir(), &config.rrdp_base_uri);
        if config.snapshot_segments {
            rrdp.snapshot_layout = crate::rrdp::snapshot::Layout::Segments;
        }
        let writer = RrdpWriter::new(rrdp);
        let tree = config.rsync_tree.then(|| RsyncTree::new(config.rsync_dir()));
        let server = PublicationServer {
            config,
            repo: Mutex::new(repo),
            writer_repo: Mutex::new(writer_repo),
            writer,
            tree,
            identity,
            changed: tokio::sync::Notify::new(),
            notification: std::sync::RwLock::new(None),
            force_next: std::sync::atomic::AtomicBool::new(false),
            node,
            served: std::sync::atomic::AtomicI64::new(0),
        };
        if active {
            server.catch_up()?;
            server.served.store(server.node.as_ref().map_or(0, |n| n.fence().held()), std::sync::atomic::Ordering::SeqCst);
        }
        Ok(Arc::new(server))
    }

    /// Catch up at start or on taking over: the files this node lacks, those
    /// of any serial applied before a crash, and the rsync tree, which a crash
    /// after a serial was cut but before the tree switched leaves one serial behind.
    fn catch_up(&self) -> Result<(), RepoError> {
        let restored = self.writer.restore(&mut self.writer_repo.lock().unwrap_or_else(PoisonError::into_inner))?;
        if restored > 0 {
            tracing::info!("{restored} RRDP files written again from the database");
        }
        if self.write_files()?.is_none() {
            if let Some(tree) = &self.tree {
                write_tree(tree, &self.writer_repo.lock().unwrap_or_else(PoisonError::into_inner))?;
            }
        }
        Ok(())
    }

    /// Whether this node takes changes: always on a database of its own.
    pub fn is_active(&self) -> bool {
        self.node.as_ref().is_none_or(Node::is_active)
    }

    /// This node's role, `None` on a database of its own.
    pub fn role(&self) -> Option<Role> {
        self.node.as_ref().map(|n| n.role(self.taking_over()))
    }

    /// Renew or take the lease (every `lease::RENEW`); on taking it over,
    /// catch up before the first change is taken.
    pub fn lease_step(&self) {
        if self.node.as_ref().is_some_and(|n| n.step() == Step::Acquired) {
            self.try_catch_up();
        }
    }

    /// Holding the lease, and yet to write what this node lacks.
    fn taking_over(&self) -> bool {
        self.node.as_ref().is_some_and(|n| n.fence().held() != self.served.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Catch up if this node still has to (after taking over); else tried again by the writer.
    fn try_catch_up(&self) {
        let Some(token) = self.node.as_ref().map(|n| n.fence().held()).filter(|_| self.taking_over()) else { return };
        match self.catch_up() {
            Ok(()) => self.served.store(token, std::sync::atomic::Ordering::SeqCst),
            Err(e) => {
                tracing::error!("taking over: writing the repository's files failed (tried again): {e}");
                self.changed.notify_one();
            }
        }
    }

    /// Give the lease up on a clean stop.
    pub fn release_lease(&self) {
        if let Some(n) = &self.node {
            n.release();
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Repository> {
        self.repo.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Cut a serial from what was applied and write its files; returns the new serial.
    pub fn write_files(&self) -> Result<Option<u64>, RepoError> {
        let mut wrepo = self.writer_repo.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Time::now().0;
        let first = self.tree.as_ref().is_some_and(|t| !t.current().exists());
        let written = self.writer.update_with(
            &mut wrepo,
            now,
            || self.lock(),
            |r| match &self.tree {
                Some(tree) => write_tree(tree, r),
                None => Ok(()),
            },
        );
        // What is on disk is served, even when a step after the notification failed.
        let path = self.config.rrdp_dir().join("notification.xml");
        let previous = self.notification();
        let cached = std::fs::read(&path).ok().map(|body| {
            let etag = format!("\"{}\"", rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(&body)[..16]));
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
            let second = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let second_shared = previous
                .as_ref()
                .is_some_and(|p| (p.etag != etag && second(p.modified) == second(modified)) || (p.etag == etag && p.second_shared));
            Arc::new(Notification { body, etag, modified, second_shared })
        });
        *self.notification.write().unwrap_or_else(PoisonError::into_inner) = cached;
        let new = written?;
        if new.is_none() && first {
            if let Some(tree) = &self.tree {
                write_tree(tree, &wrepo)?;
            }
        }
        Ok(new)
    }

    /// The current notification file's bytes.
    pub fn notification(&self) -> Option<Arc<Notification>> {
        self.notification.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The writer: after a change, wait out the interval (and at least twice the
    /// time the last write took, so large repositories are not rewritten
    /// back to back), then write. Runs until the task is dropped.
    pub async fn run_writer(self: Arc<Self>) {
        let mut last = Instant::now() - self.config.interval;
        let mut cost = Duration::ZERO;
        loop {
            // Wake for changes, and now and then for retention (grace removals).
            let _ = tokio::time::timeout(Duration::from_secs(60), self.changed.notified()).await;
            let wait = self.config.interval.max(cost * 2);
            let since = last.elapsed();
            if since < wait {
                tokio::time::sleep(wait - since).await;
            }
            if !self.is_active() {
                continue;
            }
            if self.taking_over() {
                let me = self.clone();
                let _ = tokio::task::spawn_blocking(move || me.try_catch_up()).await;
                continue;
            }
            let started = Instant::now();
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.write_files()).await {
                Ok(Ok(Some(serial))) => tracing::info!(serial, ms = started.elapsed().as_millis() as u64, "RRDP serial written"),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    tracing::error!("writing repository files (tried again): {e}");
                    self.changed.notify_one();
                }
                Err(e) => tracing::error!("repository writer failed: {e}"),
            }
            cost = started.elapsed();
            last = Instant::now();
        }
    }

    /// Register a publisher from its RFC 8183 request; `sia_base` overrides the
    /// default directory `<rsync base><handle>/`. Returns the repository response.
    pub fn add_publisher(&self, request: &PublisherRequest, sia_base: Option<&str>) -> Result<RepositoryResponse, RepoError> {
        let base = sia_base.map(str::to_string).unwrap_or_else(|| format!("{}{}/", self.config.rsync_base_uri, request.publisher_handle));
        if !base.starts_with(&self.config.rsync_base_uri) {
            return Err(RepoError::Refused {
                code: rpkit_objects::rfc8181::ErrorCode::PermissionFailure,
                message: format!("{base} is outside the repository {}", self.config.rsync_base_uri),
            });
        }
        let p = Publisher { handle: request.publisher_handle.clone(), id_cert: request.id_cert.clone(), base_uri: base };
        self.lock().add_publisher(&p, Time::now().0)?;
        Ok(self.response_for(&p, request.tag.clone()))
    }

    pub fn response_for(&self, p: &Publisher, tag: Option<String>) -> RepositoryResponse {
        RepositoryResponse {
            tag,
            publisher_handle: p.handle.clone(),
            service_uri: format!("{}rfc8181/{}", self.config.service_base_uri, p.handle),
            sia_base: p.base_uri.clone(),
            rrdp_notification_uri: Some(self.config.notification_uri()),
            id_cert: self.identity.cert.clone(),
        }
    }
}

/// Session and serial of the notification file on disk.
fn published_serial(rrdp_dir: &std::path::Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(rrdp_dir.join("notification.xml")).ok()?;
    let attr = |name: &str| text.split(&format!(" {name}=\"")).nth(1)?.split('"').next().map(str::to_string);
    Some((attr("session_id")?, attr("serial")?.parse().ok()?))
}

fn write_tree(tree: &RsyncTree, r: &Repository) -> Result<(), RepoError> {
    // URIs and hashes only; the bytes of changed objects are read one by one.
    let objects = r.list("rsync://")?;
    let fetch = |uri: &str| {
        r.object(uri)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, uri.to_string()))
    };
    tree.update_with(objects.iter().map(|(u, h)| (u.as_str(), *h)), fetch).map_err(|e| io(&tree.current(), e))?;
    Ok(())
}

fn io(path: &std::path::Path, e: std::io::Error) -> RepoError {
    RepoError::io(path.display().to_string(), e)
}
