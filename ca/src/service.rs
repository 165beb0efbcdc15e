//! The hosted CA: every operation an RIR operator or a member performs. Each
//! change is one transaction (`work.rs`) published as one change set before it is
//! committed, so a failure at any step leaves database and repository as they were.

use crate::aspas::{issue_aspa, withdraw_aspa};
use crate::config::CaConfig;
use crate::contract::AspaSpec;
use crate::error::{CaError, Result};
use crate::history::{self, Event};
use crate::members::reissue_ca_cert;
use crate::publisher::{Change, ChangeSet, Publisher};
use crate::roas::{issue_roas, withdraw_roa_object};
use crate::signer::CaSigner;
use crate::store;
use crate::work::{CaKind, CaRecord, NewCa, Work};
use rpkit_objects::crypto::{KeyPair, SignError, Signer};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_object::EeSpec;
use rpkit_objects::tal::Tal;
use rpkit_serve::data_dir;
use rpkit_serve::db::{Db, Location, Mode, Sql, Tx};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A source of "now" (injectable for tests, PIT-4).
pub type Clock = Arc<dyn Fn() -> Time + Send + Sync>;

pub struct Ca {
    pub(crate) conn: Mutex<Db>,
    pub(crate) signer: CaSigner,
    publisher: Arc<dyn Publisher>,
    pub config: CaConfig,
    clock: Clock,
    /// The publisher may hold something other than the database says: a change
    /// set failed (perhaps after the server applied it) or a sync did. Set, the
    /// next change (or `resync`) first brings the repository back in line.
    pub(crate) out_of_sync: AtomicBool,
    /// Held while retired keys are destroyed (the schedule and a request may both try).
    pub(crate) destroying: Mutex<()>,
    /// The RFC 8183 identity that signs this CA's files to an offline TA.
    pub(crate) identity: std::sync::OnceLock<rpkit_objects::bpki::Identity>,
    /// Delegated children's up-down messages: budgets and counts (up_down.rs).
    pub updown_traffic: crate::up_down::Traffic,
    /// Children's issue requests waiting for their group, and the one issuing a group.
    pub(crate) updown_queue: Mutex<Vec<Arc<crate::up_down::IssueJob>>>,
    pub(crate) updown_leader: Mutex<()>,
    /// When to sync with an RFC 6492 parent (parent.rs).
    pub(crate) parent_schedule: crate::parent::Schedule,
    /// What delegated children published, as a validator sees it (moves.rs).
    pub(crate) child_view: std::sync::OnceLock<Arc<dyn crate::moves::ChildView>>,
    /// On a database two nodes share: this node's lease (node.rs).
    pub(crate) node: Option<rpkit_serve::db::lease::Node>,
}

impl Ca {
    /// Open the CA with its database in `dir` (created if needed); `None` keeps
    /// everything in memory. Published state is brought in line with the database.
    pub fn open(dir: Option<&Path>, config: CaConfig, publisher: Arc<dyn Publisher>) -> Result<Self> {
        Self::open_with(dir, None, config, publisher)
    }

    /// `open`, the state in the PostgreSQL database at `database_url` when
    /// one is given (the data directory keeps what is not shared).
    pub fn open_with(dir: Option<&Path>, database_url: Option<&str>, config: CaConfig, publisher: Arc<dyn Publisher>) -> Result<Self> {
        Self::open_node(dir, database_url, config, publisher, None)
    }

    /// `open_with`, as one of the nodes sharing the database: with `lease`,
    /// this node writes only while it holds it (node.rs).
    pub fn open_node(
        dir: Option<&Path>,
        database_url: Option<&str>,
        config: CaConfig,
        publisher: Arc<dyn Publisher>,
        lease: Option<rpkit_serve::db::Lease>,
    ) -> Result<Self> {
        let io = |p: &Path, e: std::io::Error| CaError::invalid("data_dir", format!("{}: {e}", p.display()));
        if let Some(d) = dir {
            data_dir::create_dir(d, data_dir::PRIVATE_DIR).map_err(|e| io(d, e))?;
        }
        let at = Location::from_url(database_url, dir.map(|d| d.join("ca.sqlite")).as_deref());
        if let Location::Sqlite(Some(db)) = &at {
            // The database holds every private key of the CA: for its owner only.
            data_dir::ensure_secret(db).map_err(|e| io(db, e))?;
        }
        let mut conn = crate::store::open(&at)?;
        if let Some(l) = &lease {
            conn.set_fence(l.fence());
        }
        let signer = CaSigner::open(&config.signer)?;
        {
            crate::node::load_keys(&conn, &signer)?;
            // Keys in a token need that token.
            let label = store::keys::token_label(&conn)?;
            if let (Some(label), None) = (&label, signer.token()) {
                let why =
                    format!("the CA's keys are in the PKCS#11 token {label:?}: give --pkcs11-module, --pkcs11-token and --pkcs11-pin-file");
                return Err(CaError::Sign(SignError::Token(why)));
            }
        }
        let ca = Ca {
            conn: Mutex::new(conn),
            signer,
            publisher,
            config,
            clock: Arc::new(Time::now),
            out_of_sync: AtomicBool::new(false),
            destroying: Mutex::new(()),
            identity: std::sync::OnceLock::new(),
            updown_traffic: Default::default(),
            updown_queue: Mutex::new(Vec::new()),
            updown_leader: Mutex::new(()),
            parent_schedule: Default::default(),
            child_view: std::sync::OnceLock::new(),
            node: lease.map(rpkit_serve::db::lease::Node::new),
        };
        // A standby leaves the repository to the active node; it syncs once it takes over.
        if ca.node.is_some() && !ca.lease_step() {
            ca.out_of_sync.store(true, Ordering::SeqCst);
            return Ok(ca);
        }
        // An unreachable repository does not keep the CA from starting; changes
        // wait until it is back in line.
        if let Err(e) = ca.sync_publisher() {
            tracing::warn!("the repository is not in line with the database yet: {e}");
            ca.out_of_sync.store(true, Ordering::SeqCst);
        }
        Ok(ca)
    }

    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    pub fn now(&self) -> Time {
        (self.clock)()
    }

    pub fn signer(&self) -> &CaSigner {
        &self.signer
    }

    /// Take the one-time keys the last clean stop kept into this process's pool.
    /// They are deleted from the database before use, so that a crash can lose
    /// them but never hand one out twice (CMS-14).
    pub fn claim_key_pool(&self) -> Result<usize> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.begin(Mode::Write)?;
        let pooled = store::keys::take_pool(&tx)?;
        tx.commit()?;
        let keys = pooled.iter().map(|k| KeyPair::from_pkcs1(k)).collect::<std::result::Result<Vec<_>, _>>()?;
        let n = keys.len();
        self.signer.add_to_pool(keys);
        Ok(n)
    }

    /// Keep the pooled one-time keys for the next start (a clean stop only:
    /// they are taken out of this process's pool).
    pub fn save_key_pool(&self) -> Result<usize> {
        let keys = self.signer.take_pool();
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.begin(Mode::Write)?;
        store::keys::put_pool(&tx, &keys.iter().map(|k| k.to_pkcs1()).collect::<Vec<_>>())?;
        tx.commit()?;
        Ok(keys.len())
    }

    /// Generate keys ahead of need, on all cores.
    pub fn fill_key_pool(&self, target: usize) -> Result<()> {
        let have = self.signer.pool_size();
        if target > have {
            self.signer.fill_pool(target - have)?;
        }
        Ok(())
    }

    /// Run one change: `f` edits, then CRLs and manifests are re-issued, the
    /// change set published, and only then the transaction committed.
    /// A change that publishes something is recorded in the history, in the
    /// same transaction, as `event` by the thread's current actor.
    pub(crate) fn change<T>(&self, event: Event, f: impl FnOnce(&mut Work<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if self.out_of_sync.load(Ordering::SeqCst) {
            self.sync_publisher_locked(&conn)?;
            self.out_of_sync.store(false, Ordering::SeqCst);
        }
        let tx = conn.begin(Mode::Write)?;
        let mut w = Work::new(tx, &self.config, &self.signer, self.now());
        let out = f(&mut w)?;
        let (tx, cs, notes, always_recorded) = w.finish()?;
        if cs.is_empty() && always_recorded {
            history::append(&tx, self.now(), &history::current_actor(), &event, Vec::new(), "applied")?;
        }
        if !cs.is_empty() {
            let (now, actor) = (self.now(), history::current_actor());
            history::append(&tx, now, &actor, &event, history::objects(&cs), "applied")?;
            for (note, prefix) in notes {
                let mine = history::objects(&cs).into_iter().filter(|o| o.uri.starts_with(&prefix)).collect();
                history::append(&tx, now, &actor, &note, mine, "applied")?;
            }
            if let Err(e) = self.publisher.apply(&cs) {
                // The server may have applied it and then failed to answer: the
                // transaction rolls back, and the repository follows before anything else.
                self.out_of_sync.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        if let Err(e) = tx.commit() {
            // Published but not committed: put the repository back.
            if self.sync_publisher_locked(&conn).is_err() {
                self.out_of_sync.store(true, Ordering::SeqCst);
            }
            return Err(e.into());
        }
        Ok(out)
    }

    /// Whether the repository may differ from the database (see `resync`).
    pub fn out_of_sync(&self) -> bool {
        self.out_of_sync.load(Ordering::SeqCst)
    }

    /// Bring the repository back in line when it may differ; the number of
    /// changes sent, or `None` when nothing was needed.
    pub fn resync(&self) -> Result<Option<usize>> {
        if !self.out_of_sync() {
            return Ok(None);
        }
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let n = self.sync_publisher_locked(&conn)?;
        self.out_of_sync.store(false, Ordering::SeqCst);
        Ok(Some(n))
    }

    /// Make the publisher hold exactly what the database says is published.
    pub fn sync_publisher(&self) -> Result<usize> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        self.sync_publisher_locked(&conn)
    }

    fn sync_publisher_locked(&self, conn: &Db) -> Result<usize> {
        let published = self.publisher.list()?;
        let want = store::objects::all(conn)?;
        let mut cs = ChangeSet::default();
        for (uri, der) in &want {
            let h = rpkit_objects::crypto::sha256(der);
            match published.get(uri) {
                Some(p) if *p == h => {}
                other => cs.changes.push(Change::Publish { uri: uri.clone(), der: der.clone(), replaces: other.copied() }),
            }
        }
        for (uri, hash) in &published {
            let ours = uri.starts_with(&self.config.rsync_base);
            if ours && !want.contains_key(uri) {
                cs.changes.push(Change::Withdraw { uri: uri.clone(), hash: *hash });
            }
        }
        let n = cs.changes.len();
        if n > 0 {
            self.publisher.apply(&cs)?;
        }
        Ok(n)
    }

    /// A write that publishes nothing (the history of a key's destruction), in
    /// one transaction.
    pub(crate) fn write<T>(&self, f: impl FnOnce(&Tx<'_>, Time) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.begin(Mode::Write)?;
        let out = f(&tx, self.now())?;
        tx.commit()?;
        Ok(out)
    }

    /// Read-only access to the database.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Db) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    // --- Trust anchor ------------------------------------------------------------

    /// Create the TA (self-signed, holding `resources`) and the RIR's online CA
    /// beneath it with the same resources (TA-8); returns the TAL.
    pub fn init(&self, resources: &ResourceSet) -> Result<Tal> {
        if self.config.ta_offline {
            return Err(CaError::Conflict("the trust anchor is offline: its certificate comes with its first answer".into()));
        }
        if self.config.updown_parent {
            return Err(CaError::Conflict("this CA's top CA is certified by its RFC 6492 parent: there is no trust anchor here".into()));
        }
        if resources.is_empty() {
            return Err(CaError::invalid("no_resources", "the trust anchor needs resources"));
        }
        self.change(Event::new("ta.init", None, serde_json::json!({ "resources": resources.to_string() })), |w| {
            if w.ca_of_kind(CaKind::Ta)?.is_some() {
                return Err(CaError::Conflict("the trust anchor already exists".into()));
            }
            let cfg = w.cfg;
            let ta_key = w.create_key()?;
            let ta_pub = w.signer.public_key(&ta_key)?;
            let b = w.ca_cert_builder(None, &cfg.ta_handle, ta_pub, resources, cfg.ta_validity_days)?;
            let ta_cert = b.sign(w.signer, &ta_key)?;
            let ta_uri = cfg.ta_cert_uri();
            let ta_id = w.insert_ca(NewCa {
                handle: &cfg.ta_handle,
                kind: CaKind::Ta,
                parent: None,
                key: ta_key,
                resources,
                cert: &ta_cert,
                cert_uri: &ta_uri,
                opaque_id: None,
            })?;
            w.put_object(None, &ta_uri, ta_cert.to_der().to_vec())?;
            let ta = w.ca_by_id(ta_id)?;
            let rir_key = w.create_key()?;
            let rir_pub = w.signer.public_key(&rir_key)?;
            let rir_cert =
                w.ca_cert_builder(Some(&ta), &cfg.rir_handle, rir_pub, resources, cfg.ca_validity_days)?.sign(w.signer, &ta_key)?;
            let rir_uri = format!("{}{}", ta.pp_uri(cfg), FileType::Certificate.file_name(&rir_key.file_stem()));
            let rir_id = w.insert_ca(NewCa {
                handle: &cfg.rir_handle,
                kind: CaKind::Rir,
                parent: Some(ta_id),
                key: rir_key,
                resources,
                cert: &rir_cert,
                cert_uri: &rir_uri,
                opaque_id: None,
            })?;
            w.put_object(Some(ta_id), &rir_uri, rir_cert.to_der().to_vec())?;
            w.mark_dirty(rir_id);
            Ok(())
        })?;
        self.tal()
    }

    /// The TAL: https URI first when configured, then rsync (TA-5).
    pub fn tal(&self) -> Result<Tal> {
        // The current TA: the RIR CA's parent (after a TA key roll, the successor).
        let ta = self.read(store::cas::ta_cert)?;
        let (ta, uri) = ta.ok_or_else(|| CaError::NotFound("trust anchor (run `rpkit ta init`)".into()))?;
        let cert = rpkit_objects::cert::Cert::decode(&ta).map_err(|e| CaError::Conflict(e.to_string()))?;
        Ok(Tal { comments: vec!["rpkit trust anchor".into()], uris: self.config.ta_uris(&uri), key: cert.public_key })
    }

    // --- Tokens ------------------------------------------------------------------

    /// Create a bearer token for a member; only its hash is stored.
    pub fn create_token(&self, handle: &str) -> Result<String> {
        use rand::RngCore;
        let mut raw = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = format!("rpkit_{}", rpkit_objects::hex::lower(&raw));
        let hash = token_hash(&token);
        let now = self.now();
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.begin(Mode::Write)?;
        let id = member_id(&tx, handle)?;
        store::members::add_token(&tx, &hash, id, now.0)?;
        let event = Event::new("token.create", Some(handle), serde_json::json!({ "token_id": token_id(&hash) }));
        history::append(&tx, now, &history::current_actor(), &event, vec![], "applied")?;
        tx.commit()?;
        Ok(token)
    }

    /// The member a token belongs to.
    pub fn member_for_token(&self, token: &str) -> Result<Option<String>> {
        let hash = token_hash(token);
        self.read(|c| store::members::of_token(c, &hash))
    }

    // --- History ----------------------------------------------------------------

    /// The history's entries, of one member and from a time on if given.
    pub fn history(&self, member: Option<&str>, since: Option<&str>) -> Result<Vec<crate::contract::HistoryEntry>> {
        self.read(|c| store::history::entries(c, member, since))
    }

    // --- Schedule ----------------------------------------------------------------

    /// Re-issue manifests and CRLs within the margin of nextUpdate, and renew
    /// certificates, ROAs and ASPAs nearing expiry. Returns how many CAs were
    /// re-published.
    pub fn reissue_due(&self) -> Result<usize> {
        let now = self.now();
        let renew_at = now.add_secs(self.config.renew_before_days * 86400).0;
        let margin = self.config.reissue_margin_secs;
        let (stale, certs, roas, aspas) = self.read(|c| {
            // An offline TA signs its own objects, and renews the RIR CA's certificate, when it answers.
            let offline = self.config.ta_offline;
            // A remote parent renews the top CA's certificate when the CA syncs with it.
            let remote = offline || self.config.updown_parent;
            let stale = store::cas::stale_manifests(c, now.0, margin, offline)?;
            let mut certs = Vec::new();
            for (id, der) in store::cas::certs(c, remote)? {
                let cert = rpkit_objects::cert::Cert::decode(&der).map_err(|e| CaError::Conflict(e.to_string()))?;
                if cert.not_after.0 < renew_at {
                    certs.push(id);
                }
            }
            let roas = store::roas::expiring(c, renew_at)?;
            let aspas = store::aspas::expiring(c, renew_at)?;
            let routers = store::cas::router_holders_expiring(c, renew_at)?;
            // Delegated children's certificates that a renewal would extend.
            let rir_end = crate::work::rir_record(c).map(|r| r.cert.not_after.0).unwrap_or(0);
            let children = store::cas::child_certs_expiring(c, renew_at, rir_end)?;
            Ok((stale, certs, roas, (aspas, routers, children)))
        })?;
        let (aspas, routers, children) = aspas;
        if stale.is_empty() && certs.is_empty() && roas.is_empty() && aspas.is_empty() && routers.is_empty() && children == 0 {
            return Ok(0);
        }
        // Every manifest, ROA and ASPA re-issued needs a fresh key: generate them all in parallel first.
        self.fill_key_pool(stale.len() + roas.len() + aspas.len())?;
        let due = serde_json::json!({ "manifests_and_crls": stale.len(), "certificates": certs.len(), "roas": roas.len(),
            "aspas": aspas.len(), "router_certificate_holders": routers.len(), "child_certificates": children });
        let _schedule = history::acting_as(history::Actor::Schedule);
        self.change(Event::new("schedule.reissue", None, due), |w| {
            let mut touched: BTreeSet<i64> = stale.iter().copied().collect();
            for id in &certs {
                let ca = w.ca_by_id(*id)?;
                let res = ca.resources.clone();
                reissue_ca_cert(w, &ca, &res)?;
                touched.insert(*id);
            }
            // ROA objects: same authorizations, new EE key and object; the old one
            // is revoked. A CA's objects are signed together, on all cores.
            let mut by_ca: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
            for (ca_id, uri) in &roas {
                by_ca.entry(*ca_id).or_default().push(uri);
            }
            for (ca_id, uris) in by_ca {
                let ca = w.ca_by_id(ca_id)?;
                let mut groups = Vec::with_capacity(uris.len());
                for uri in uris {
                    // Read before the lock: a change since may have replaced it.
                    let group = store::roas::object(&w.tx, ca.id, uri)?;
                    if !group.is_empty() {
                        withdraw_roa_object(w, &ca, uri)?;
                        groups.push(group);
                    }
                }
                issue_roas(w, &ca, &groups)?;
                touched.insert(ca_id);
            }
            for &(ca_id, customer) in &aspas {
                let providers = store::aspas::providers(&w.tx, ca_id, customer)?;
                let ca = w.ca_by_id(ca_id)?;
                withdraw_aspa(w, &ca, customer)?;
                issue_aspa(w, &ca, &AspaSpec { customer, providers })?;
                touched.insert(ca_id);
            }
            for ca_id in &routers {
                let ca = w.ca_by_id(*ca_id)?;
                let due: Vec<_> = store::router_certs::of_ca(&w.tx, ca.id)?.into_iter().filter(|rc| rc.not_after < renew_at).collect();
                crate::router_certs::reissue(w, &ca, &ca, &due)?;
                touched.insert(*ca_id);
            }
            if children > 0 {
                crate::children::recertify(w, Some(renew_at))?;
            }
            for id in &touched {
                w.mark_dirty(*id);
            }
            Ok(touched.len())
        })
    }

    /// Everything published, URI -> DER (the database's view).
    pub fn published(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        self.read(store::objects::all)
    }

    /// Numbers of members and of ROAs (metrics).
    pub fn counts(&self) -> Result<(i64, i64)> {
        self.read(|c| Ok((store::members::count(c)? as i64, store::roas::count(c)? as i64)))
    }

    /// Manifest and CRL numbers of a CA (for tests and metrics).
    pub fn numbers(&self, handle: &str) -> Result<(i64, i64)> {
        self.read(|c| store::cas::numbers(c, handle))
    }
}

pub(crate) fn token_hash(token: &str) -> String {
    rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(token.as_bytes()))
}

/// A token's id in the history: the start of its digest, as the database keeps it.
pub(crate) fn token_id(hash: &str) -> String {
    hash.chars().take(12).collect()
}

pub(crate) fn member_id(c: &impl Sql, handle: &str) -> Result<i64> {
    store::members::id(c, handle)?.ok_or_else(|| CaError::NotFound(format!("member '{handle}'")))
}

pub(crate) fn serial_i64(s: &Serial) -> i64 {
    s.to_u128().and_then(|v| i64::try_from(v).ok()).unwrap_or(i64::MAX)
}

pub(crate) fn ee_spec(w: &Work<'_>, ca: &CaRecord, uri: &str) -> Result<EeSpec> {
    // The EE never outlives the CA certificate.
    let not_after = w.now.add_secs(w.cfg.ee_validity_days * 86400).min(ca.cert.not_after);
    Ok(EeSpec { serial: w.next_serial(ca.id)?, not_before: w.not_before(), not_after, object_uri: uri.to_string() })
}
