//! The hosted CA: every operation an RIR operator or a member performs. Each
//! change is one transaction (`work.rs`) published as one change set before it is
//! committed, so a failure at any step leaves database and repository as they were.

use crate::config::CaConfig;
use crate::delegated;
use crate::error::{CaError, Rejection, Result};
use crate::publisher::{Change, ChangeSet, Publisher};
use crate::requests::{AspaSpec, RoaDelta, RoaSpec};
use crate::work::{CaKind, CaRecord, NewCa, Work};
use rayon::prelude::*;
use rpkit_objects::aspa::{Aspa, AspaContent};
use rpkit_objects::crypto::{KeyPair, OneTimeKey, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::resources::{Asn, ResourceSet};
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_object::EeSpec;
use rpkit_objects::tal::Tal;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// A source of "now" (injectable for tests, PIT-4).
pub type Clock = Arc<dyn Fn() -> Time + Send + Sync>;

pub struct Ca {
    conn: Mutex<Connection>,
    signer: SoftSigner,
    publisher: Arc<dyn Publisher>,
    pub config: CaConfig,
    clock: Clock,
}

/// A member as the API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct MemberInfo {
    pub handle: String,
    pub opaque_id: Option<String>,
    pub resources: ResourceList,
    pub ca_certificate: String,
    pub publication_point: String,
}

/// Resources as lists of strings per kind.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ResourceList {
    pub asn: Vec<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

impl From<&ResourceSet> for ResourceList {
    fn from(r: &ResourceSet) -> Self {
        ResourceList { asn: r.asn.to_strings(), ipv4: r.ipv4.to_strings(), ipv6: r.ipv6.to_strings() }
    }
}

/// A published ROA.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RoaInfo {
    pub prefix: String,
    pub max_length: u8,
    pub asn: u32,
    pub uri: String,
    pub not_after: String,
}

/// What a ROA change did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RoaReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Additions already in place (idempotent).
    pub unchanged: Vec<String>,
    pub dry_run: bool,
}

/// What an import or a resource change did.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ResourceChange>,
    pub unchanged: usize,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ResourceChange {
    pub handle: String,
    pub added: String,
    pub removed: String,
    /// ROAs and ASPAs withdrawn because the member no longer holds their resources.
    pub withdrawn: Vec<String>,
}

/// Valid member handles: also directory names in the repository.
pub fn check_handle(h: &str) -> Result<()> {
    let ok = !h.is_empty() && h.len() <= 64 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(CaError::invalid("bad_handle", format!("'{h}' is not a valid handle (1-64 of A-Z a-z 0-9 - _)")));
    }
    Ok(())
}

impl Ca {
    /// Open the CA with its database in `dir` (created if needed); `None` keeps
    /// everything in memory. Published state is brought in line with the database.
    pub fn open(dir: Option<&Path>, config: CaConfig, publisher: Arc<dyn Publisher>) -> Result<Self> {
        let conn = match dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| CaError::invalid("data_dir", format!("{}: {e}", d.display())))?;
                crate::store::open(&d.join("ca.sqlite"))?
            }
            None => crate::store::open_in_memory()?,
        };
        let signer = SoftSigner::new();
        {
            let mut st = conn.prepare("SELECT pkcs1 FROM keys")?;
            let keys = st.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
            for k in keys {
                signer.insert(KeyPair::from_pkcs1(&k?)?);
            }
        }
        let ca = Ca { conn: Mutex::new(conn), signer, publisher, config, clock: Arc::new(Time::now) };
        ca.sync_publisher()?;
        Ok(ca)
    }

    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    pub fn now(&self) -> Time {
        (self.clock)()
    }

    pub fn signer(&self) -> &SoftSigner {
        &self.signer
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
    fn change<T>(&self, f: impl FnOnce(&mut Work<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut w = Work::new(tx, &self.config, &self.signer, self.now());
        let out = f(&mut w)?;
        let (tx, cs) = w.finish()?;
        if !cs.is_empty() {
            self.publisher.apply(&cs)?;
        }
        if let Err(e) = tx.commit() {
            // Published but not committed: put the repository back.
            let _ = self.sync_publisher_locked(&conn);
            return Err(e.into());
        }
        Ok(out)
    }

    /// Make the publisher hold exactly what the database says is published.
    pub fn sync_publisher(&self) -> Result<usize> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        self.sync_publisher_locked(&conn)
    }

    fn sync_publisher_locked(&self, conn: &Connection) -> Result<usize> {
        let published = self.publisher.list()?;
        let mut want: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        {
            let mut st = conn.prepare("SELECT uri, der FROM objects")?;
            for r in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?)))? {
                let (u, d) = r?;
                want.insert(u, d);
            }
        }
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

    /// Read-only access to the database.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }

    // --- Trust anchor ------------------------------------------------------------

    /// Create the TA (self-signed, holding `resources`) and the RIR's online CA
    /// beneath it with the same resources (TA-8); returns the TAL.
    pub fn init(&self, resources: &ResourceSet) -> Result<Tal> {
        if resources.is_empty() {
            return Err(CaError::invalid("no_resources", "the trust anchor needs resources"));
        }
        self.change(|w| {
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
            let rir_uri = format!("{}{}.cer", ta.pp_uri(cfg), rir_key.file_stem());
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
        let ta = self.read(|c| {
            c.query_row("SELECT cert FROM cas WHERE kind = 'ta'", [], |r| r.get::<_, Vec<u8>>(0)).optional().map_err(CaError::from)
        })?;
        let ta = ta.ok_or_else(|| CaError::NotFound("trust anchor (run `rpkit ta init`)".into()))?;
        let cert = rpkit_objects::cert::Cert::decode(&ta).map_err(|e| CaError::Conflict(e.to_string()))?;
        let mut uris: Vec<String> = self.config.ta_https_uri.iter().cloned().collect();
        uris.push(self.config.ta_cert_uri());
        Ok(Tal { comments: vec!["rpkit trust anchor".into()], uris, key: cert.public_key })
    }

    // --- Members -----------------------------------------------------------------

    /// Add a member with its allocations; its CA is certified by the RIR CA.
    pub fn add_member(&self, handle: &str, resources: &ResourceSet, opaque_id: Option<&str>) -> Result<MemberInfo> {
        check_handle(handle)?;
        self.fill_key_pool(2)?;
        self.change(|w| add_member(w, handle, resources, opaque_id))?;
        self.member(handle)
    }

    pub fn member(&self, handle: &str) -> Result<MemberInfo> {
        self.read(|c| {
            let row: Option<(String, Option<String>, String, String)> = c
                .query_row("SELECT handle, opaque_id, resources, cert_uri FROM cas WHERE handle = ?1 AND kind = 'member'", [handle], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let (handle, opaque_id, res, cert_uri) = row.ok_or_else(|| CaError::NotFound(format!("member '{handle}'")))?;
            let res: ResourceSet = res.parse().map_err(|e| CaError::Conflict(format!("{e}")))?;
            Ok(MemberInfo {
                publication_point: self.config.pp_uri(&handle),
                handle,
                opaque_id,
                resources: (&res).into(),
                ca_certificate: cert_uri,
            })
        })
    }

    pub fn members(&self) -> Result<Vec<MemberInfo>> {
        let handles: Vec<String> = self.read(|c| {
            let mut st = c.prepare("SELECT handle FROM cas WHERE kind = 'member' ORDER BY handle")?;
            let v = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            Ok(v)
        })?;
        handles.iter().map(|h| self.member(h)).collect()
    }

    /// Set a member's allocations: its certificate is re-issued under the same
    /// name (REPO-3) and ROAs/ASPAs no longer covered are withdrawn.
    pub fn set_member_resources(&self, handle: &str, resources: &ResourceSet) -> Result<Option<ResourceChange>> {
        self.change(|w| set_resources(w, handle, resources))
    }

    /// Remove a member: its certificate is revoked, everything it published withdrawn.
    pub fn remove_member(&self, handle: &str) -> Result<()> {
        self.change(|w| remove_member(w, handle))
    }

    /// Apply a delegated-extended file: new holders become members, changed
    /// allocations are re-certified, holders no longer listed are removed.
    pub fn import_delegated(&self, text: &str) -> Result<ImportReport> {
        let holders = delegated::parse(text).map_err(|e| CaError::invalid("bad_delegated_file", e.to_string()))?;
        let existing: BTreeMap<String, String> = self.read(|c| {
            let mut st = c.prepare("SELECT opaque_id, handle FROM cas WHERE kind = 'member' AND opaque_id IS NOT NULL")?;
            let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(v)
        })?;
        let new_count = holders.keys().filter(|k| !existing.contains_key(*k)).count();
        self.fill_key_pool(new_count * 2)?;
        self.change(|w| {
            let rir = w.ca_of_kind(CaKind::Rir)?.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))?;
            let mut report = ImportReport::default();
            for (id, h) in &holders {
                if !rir.resources.contains(&h.resources) {
                    let extra = h.resources.difference(&rir.resources);
                    return Err(CaError::invalid("not_held", format!("holder {id}: {extra} is outside the RIR's resources")));
                }
                match existing.get(id) {
                    None => {
                        let handle = handle_for(id);
                        add_member(w, &handle, &h.resources, Some(id))?;
                        report.added.push(handle);
                    }
                    Some(handle) => match set_resources(w, handle, &h.resources)? {
                        Some(c) => report.changed.push(c),
                        None => report.unchanged += 1,
                    },
                }
            }
            for (id, handle) in &existing {
                if !holders.contains_key(id) {
                    remove_member(w, handle)?;
                    report.removed.push(handle.clone());
                }
            }
            Ok(report)
        })
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
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let id: i64 = conn
            .query_row("SELECT id FROM cas WHERE handle = ?1 AND kind = 'member'", [handle], |r| r.get(0))
            .optional()?
            .ok_or_else(|| CaError::NotFound(format!("member '{handle}'")))?;
        conn.execute("INSERT INTO tokens (hash, ca_id, created) VALUES (?1, ?2, ?3)", params![hash, id, now.0])?;
        Ok(token)
    }

    /// The member a token belongs to.
    pub fn member_for_token(&self, token: &str) -> Result<Option<String>> {
        let hash = token_hash(token);
        self.read(|c| {
            Ok(c.query_row("SELECT c.handle FROM tokens t JOIN cas c ON c.id = t.ca_id WHERE t.hash = ?1", [hash], |r| r.get(0))
                .optional()?)
        })
    }

    // --- ROAs --------------------------------------------------------------------

    pub fn roas(&self, handle: &str) -> Result<Vec<RoaInfo>> {
        self.read(|c| {
            let id = member_id(c, handle)?;
            let mut st =
                c.prepare("SELECT prefix, max_length, asn, uri, not_after FROM roas WHERE ca_id = ?1 ORDER BY prefix, max_length, asn")?;
            let v = st
                .query_map([id], |r| {
                    Ok(RoaInfo {
                        prefix: r.get(0)?,
                        max_length: r.get(1)?,
                        asn: r.get(2)?,
                        uri: r.get(3)?,
                        not_after: Time(r.get(4)?).rfc3339(),
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    /// A tag of the member's current ROA set, for `If-Match` against lost updates.
    pub fn roas_etag(&self, handle: &str) -> Result<String> {
        self.read(|c| Ok(roa_etag(&roas_of(c, member_id(c, handle)?)?)))
    }

    /// Apply additions and removals all or nothing. Every entry is checked first;
    /// if any is wrong, nothing changes and each wrong entry gets its reason.
    /// With `dry_run`, report what would change and change nothing.
    pub fn apply_roas(&self, handle: &str, delta: &RoaDelta, dry_run: bool) -> Result<RoaReport> {
        self.apply_roas_if(handle, delta, dry_run, None)
    }

    /// `apply_roas`, only if the member's ROA set still has the ETag `if_match`
    /// (checked inside the change's transaction, so no update is lost).
    pub fn apply_roas_if(&self, handle: &str, delta: &RoaDelta, dry_run: bool, if_match: Option<&str>) -> Result<RoaReport> {
        let check = |current: &[RoaSpec]| -> Result<()> {
            match if_match {
                Some(want) if want != "*" && want != roa_etag(current) => {
                    Err(CaError::Precondition(format!("the ROAs changed since {want} (now {}); list them again", roa_etag(current))))
                }
                _ => Ok(()),
            }
        };
        if dry_run {
            let (resources, current) = self.read(|c| {
                let id = member_id(c, handle)?;
                let res: String = c.query_row("SELECT resources FROM cas WHERE id = ?1", [id], |r| r.get(0))?;
                let res: ResourceSet = res.parse().map_err(|e| CaError::Conflict(format!("{e}")))?;
                Ok((res, roas_of(c, id)?))
            })?;
            check(&current)?;
            let plan = plan_roas(&resources, &current, delta)?;
            return Ok(plan.report(true));
        }
        self.fill_key_pool(delta.added.len() + 1)?;
        self.change(|w| {
            let ca = w.ca_by_handle(handle)?;
            if ca.kind != CaKind::Member {
                return Err(CaError::NotFound(format!("member '{handle}'")));
            }
            let current = roas_of(&w.tx, ca.id)?;
            check(&current)?;
            let plan = plan_roas(&ca.resources, &current, delta)?;
            for r in &plan.remove {
                withdraw_roa(w, &ca, r)?;
            }
            issue_roas(w, &ca, &plan.add)?;
            Ok(plan.report(false))
        })
    }

    // --- ASPAs -------------------------------------------------------------------

    pub fn aspas(&self, handle: &str) -> Result<Vec<AspaSpec>> {
        self.read(|c| {
            let id = member_id(c, handle)?;
            let mut st = c.prepare("SELECT customer, providers FROM aspas WHERE ca_id = ?1 ORDER BY customer")?;
            let v = st
                .query_map([id], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))?
                .map(|r| r.map(|(customer, p)| AspaSpec { customer, providers: parse_providers(&p) }))
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    /// Create or replace the ASPA of one customer AS (ASPA-8: the old object is
    /// revoked and withdrawn).
    pub fn put_aspa(&self, handle: &str, spec: &AspaSpec) -> Result<()> {
        let content = AspaContent::new(Asn(spec.customer), spec.providers.iter().map(|p| Asn(*p)))
            .map_err(|e| CaError::invalid("bad_aspa", e.detail.to_string()))?;
        self.fill_key_pool(2)?;
        self.change(|w| {
            let ca = w.ca_by_handle(handle)?;
            if !ca.resources.asn.contains_asn(content.customer) {
                return Err(CaError::invalid("not_held", format!("{} is not among the member's AS numbers", content.customer)));
            }
            withdraw_aspa(w, &ca, spec.customer)?;
            issue_aspa(w, &ca, spec)
        })
    }

    pub fn remove_aspa(&self, handle: &str, customer: u32) -> Result<()> {
        self.change(|w| {
            let ca = w.ca_by_handle(handle)?;
            if !withdraw_aspa(w, &ca, customer)? {
                return Err(CaError::NotFound(format!("ASPA for AS{customer}")));
            }
            Ok(())
        })
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
            let ids = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Vec<i64>> {
                let mut st = c.prepare(sql)?;
                let v = st.query_map(p, |r| r.get(0))?.collect::<Result<_, _>>()?;
                Ok(v)
            };
            let stale = ids("SELECT id FROM cas WHERE mft_next_update IS NULL OR mft_next_update - ?1 < ?2", &[&now.0, &margin])?;
            let mut certs = Vec::new();
            let mut st = c.prepare("SELECT id, cert FROM cas")?;
            for r in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))? {
                let (id, der) = r?;
                let cert = rpkit_objects::cert::Cert::decode(&der).map_err(|e| CaError::Conflict(e.to_string()))?;
                if cert.not_after.0 < renew_at {
                    certs.push(id);
                }
            }
            let roas = ids("SELECT id FROM roas WHERE not_after < ?1", &[&renew_at])?;
            let aspas = ids("SELECT rowid FROM aspas WHERE not_after < ?1", &[&renew_at])?;
            Ok((stale, certs, roas, aspas))
        })?;
        if stale.is_empty() && certs.is_empty() && roas.is_empty() && aspas.is_empty() {
            return Ok(0);
        }
        // Every manifest, ROA and ASPA re-issued needs a fresh key: generate them all in parallel first.
        self.fill_key_pool(stale.len() + roas.len() + aspas.len())?;
        self.change(|w| {
            let mut touched: BTreeSet<i64> = stale.iter().copied().collect();
            for id in &certs {
                let ca = w.ca_by_id(*id)?;
                let res = ca.resources.clone();
                reissue_ca_cert(w, &ca, &res)?;
                touched.insert(*id);
            }
            // ROAs: same authorization, new EE key and object; the old one is revoked.
            let mut by_ca: BTreeMap<i64, Vec<RoaSpec>> = BTreeMap::new();
            for id in &roas {
                let (ca_id, prefix, max_length, asn): (i64, String, u8, u32) =
                    w.tx.query_row("SELECT ca_id, prefix, max_length, asn FROM roas WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
                let prefix = prefix.parse().map_err(|e| CaError::Conflict(format!("stored prefix: {e}")))?;
                by_ca.entry(ca_id).or_default().push(RoaSpec { prefix, max_length, asn: Asn(asn) });
            }
            for (ca_id, specs) in by_ca {
                let ca = w.ca_by_id(ca_id)?;
                for s in &specs {
                    withdraw_roa(w, &ca, s)?;
                }
                issue_roas(w, &ca, &specs)?;
                touched.insert(ca_id);
            }
            for rowid in &aspas {
                let (ca_id, customer, providers): (i64, u32, String) =
                    w.tx.query_row("SELECT ca_id, customer, providers FROM aspas WHERE rowid = ?1", [rowid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                let ca = w.ca_by_id(ca_id)?;
                withdraw_aspa(w, &ca, customer)?;
                issue_aspa(w, &ca, &AspaSpec { customer, providers: parse_providers(&providers) })?;
                touched.insert(ca_id);
            }
            for id in &touched {
                w.mark_dirty(*id);
            }
            Ok(touched.len())
        })
    }

    /// Everything published, URI -> DER (the database's view).
    pub fn published(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        self.read(|c| {
            let mut st = c.prepare("SELECT uri, der FROM objects")?;
            let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
            Ok(v)
        })
    }

    /// Numbers of members and of ROAs (metrics).
    pub fn counts(&self) -> Result<(i64, i64)> {
        self.read(|c| {
            let m = c.query_row("SELECT COUNT(*) FROM cas WHERE kind = 'member'", [], |r| r.get(0))?;
            let r = c.query_row("SELECT COUNT(*) FROM roas", [], |r| r.get(0))?;
            Ok((m, r))
        })
    }

    /// Manifest and CRL numbers of a CA (for tests and metrics).
    pub fn numbers(&self, handle: &str) -> Result<(i64, i64)> {
        self.read(|c| {
            Ok(c.query_row("SELECT manifest_number, crl_number FROM cas WHERE handle = ?1", [handle], |r| Ok((r.get(0)?, r.get(1)?)))?)
        })
    }
}

/// A quoted tag of a ROA set (order-independent).
fn roa_etag(roas: &[RoaSpec]) -> String {
    let mut v: Vec<String> = roas.iter().map(ToString::to_string).collect();
    v.sort();
    let digest = rpkit_objects::crypto::sha256(v.join("\n").as_bytes());
    format!("\"{}\"", &rpkit_objects::hex::lower(&digest)[..16])
}

/// What a ROA delta will do, after every entry was checked.
struct RoaPlan {
    add: Vec<RoaSpec>,
    remove: Vec<RoaSpec>,
    unchanged: Vec<RoaSpec>,
}

impl RoaPlan {
    fn report(&self, dry_run: bool) -> RoaReport {
        let s = |v: &[RoaSpec]| v.iter().map(ToString::to_string).collect();
        RoaReport { added: s(&self.add), removed: s(&self.remove), unchanged: s(&self.unchanged), dry_run }
    }
}

/// ROAs one member CA may hold. Its manifest lists them all, and validators
/// refuse manifests of more than 100,000 entries (rpki-client, MFT-20): past
/// that the member's whole publication point would be rejected.
pub const MAX_ROAS_PER_CA: usize = 90_000;

/// Check a delta against the member's resources and current ROAs (ROA-10).
/// Adding what exists is idempotent; removing what does not exist is an error.
fn plan_roas(held: &ResourceSet, current: &[RoaSpec], delta: &RoaDelta) -> Result<RoaPlan> {
    let current: BTreeSet<RoaSpec> = current.iter().copied().collect();
    let removed: BTreeSet<RoaSpec> = delta.removed.iter().copied().collect();
    let mut errors = Vec::new();
    for r in &removed {
        if !current.contains(r) {
            errors.push(Rejection { entry: r.to_string(), code: "not_found", reason: "no such ROA to remove".into() });
        }
    }
    let mut add = BTreeSet::new();
    let mut unchanged = BTreeSet::new();
    for a in &delta.added {
        match a.check(held) {
            Err(e) => errors.push(e),
            // Re-adding what stays (or what is removed and re-added) changes nothing.
            Ok(()) if current.contains(a) => {
                unchanged.insert(*a);
            }
            Ok(()) => {
                add.insert(*a);
            }
        }
    }
    if !errors.is_empty() {
        return Err(CaError::Rejected(errors));
    }
    let remove: Vec<RoaSpec> = removed.iter().filter(|r| !unchanged.contains(*r)).copied().collect();
    let total = current.len() + add.len() - remove.len();
    if total > MAX_ROAS_PER_CA {
        return Err(CaError::invalid(
            "too_many_roas",
            format!("{total} ROAs would exceed the limit of {MAX_ROAS_PER_CA} per member: validators reject manifests of more than 100,000 entries"),
        ));
    }
    Ok(RoaPlan { add: add.into_iter().collect(), remove, unchanged: unchanged.into_iter().collect() })
}

fn token_hash(token: &str) -> String {
    rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(token.as_bytes()))
}

/// A handle from an opaque-id: itself when it is a valid handle.
fn handle_for(opaque_id: &str) -> String {
    if check_handle(opaque_id).is_ok() {
        opaque_id.to_string()
    } else {
        let clean: String = opaque_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(60).collect();
        format!("m-{clean}")
    }
}

fn member_id(c: &Connection, handle: &str) -> Result<i64> {
    c.query_row("SELECT id FROM cas WHERE handle = ?1 AND kind = 'member'", [handle], |r| r.get(0))
        .optional()?
        .ok_or_else(|| CaError::NotFound(format!("member '{handle}'")))
}

fn parse_providers(s: &str) -> Vec<u32> {
    s.split(',').filter_map(|p| p.parse().ok()).collect()
}

fn serial_i64(s: &Serial) -> i64 {
    s.to_u128().and_then(|v| i64::try_from(v).ok()).unwrap_or(i64::MAX)
}

fn ee_spec(w: &Work<'_>, ca: &CaRecord, uri: &str) -> Result<EeSpec> {
    // The EE never outlives the CA certificate.
    let not_after = w.now.add_secs(w.cfg.ee_validity_days * 86400).min(ca.cert.not_after);
    Ok(EeSpec { serial: w.next_serial(ca.id)?, not_before: w.not_before(), not_after, object_uri: uri.to_string() })
}

fn add_member(w: &mut Work<'_>, handle: &str, resources: &ResourceSet, opaque_id: Option<&str>) -> Result<()> {
    check_handle(handle)?;
    let rir = w.ca_of_kind(CaKind::Rir)?.ok_or_else(|| CaError::NotFound("RIR CA (run `rpkit ta init`)".into()))?;
    if handle == w.cfg.ta_handle || handle == w.cfg.rir_handle {
        return Err(CaError::invalid("bad_handle", format!("'{handle}' is reserved")));
    }
    if w.ca_by_handle(handle).is_ok() {
        return Err(CaError::Conflict(format!("member '{handle}' already exists")));
    }
    if resources.is_empty() {
        return Err(CaError::invalid("no_resources", format!("member '{handle}' has no resources")));
    }
    if !rir.resources.contains(resources) {
        return Err(CaError::invalid("not_held", format!("{} is outside the RIR's resources", resources.difference(&rir.resources))));
    }
    let key = w.create_key()?;
    let public = w.signer.public_key(&key)?;
    let cert = w.ca_cert_builder(Some(&rir), handle, public, resources, w.cfg.ca_validity_days)?.sign(w.signer, &rir.key)?;
    let uri = format!("{}{}.cer", rir.pp_uri(w.cfg), key.file_stem());
    let id =
        w.insert_ca(NewCa { handle, kind: CaKind::Member, parent: Some(rir.id), key, resources, cert: &cert, cert_uri: &uri, opaque_id })?;
    w.put_object(Some(rir.id), &uri, cert.to_der().to_vec())?;
    w.mark_dirty(id);
    Ok(())
}

fn set_resources(w: &mut Work<'_>, handle: &str, resources: &ResourceSet) -> Result<Option<ResourceChange>> {
    let ca = w.ca_by_handle(handle)?;
    if ca.kind != CaKind::Member {
        return Err(CaError::NotFound(format!("member '{handle}'")));
    }
    if ca.resources == *resources {
        return Ok(None);
    }
    if resources.is_empty() {
        return Err(CaError::invalid("no_resources", format!("member '{handle}' would have no resources; remove it instead")));
    }
    let rir = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    if !rir.resources.contains(resources) {
        return Err(CaError::invalid("not_held", format!("{} is outside the RIR's resources", resources.difference(&rir.resources))));
    }
    // Withdraw what the new resources no longer cover.
    let mut withdrawn = Vec::new();
    for r in roas_of(&w.tx, ca.id)? {
        if !resources.contains_prefix(&r.prefix) {
            withdraw_roa(w, &ca, &r)?;
            withdrawn.push(format!("ROA {r}"));
        }
    }
    let customers: Vec<u32> = {
        let mut st = w.tx.prepare("SELECT customer FROM aspas WHERE ca_id = ?1")?;
        let v = st.query_map([ca.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        v
    };
    for c in customers {
        if !resources.asn.contains_asn(Asn(c)) {
            withdraw_aspa(w, &ca, c)?;
            withdrawn.push(format!("ASPA AS{c}"));
        }
    }
    reissue_ca_cert(w, &ca, resources)?;
    Ok(Some(ResourceChange {
        handle: handle.to_string(),
        added: resources.difference(&ca.resources).to_string(),
        removed: ca.resources.difference(resources).to_string(),
        withdrawn,
    }))
}

/// Re-issue a CA's certificate for the same key under the same name (REPO-3,
/// CERT-16); the certificate it replaces is revoked. A TA re-signs itself (TA-9).
fn reissue_ca_cert(w: &mut Work<'_>, ca: &CaRecord, resources: &ResourceSet) -> Result<()> {
    let (cert, parent_id) = match ca.parent_id {
        Some(pid) => {
            let parent = w.ca_by_id(pid)?;
            w.revoke(parent.id, &ca.cert.serial, ca.cert.not_after)?;
            let days = w.cfg.ca_validity_days;
            (w.ca_cert_builder(Some(&parent), &ca.handle, ca.cert.public_key.clone(), resources, days)?.sign(w.signer, &parent.key)?, Some(parent.id))
        }
        None => {
            let days = w.cfg.ta_validity_days;
            (w.ca_cert_builder(None, &ca.handle, ca.cert.public_key.clone(), resources, days)?.sign(w.signer, &ca.key)?, None)
        }
    };
    w.put_object(parent_id, &ca.cert_uri, cert.to_der().to_vec())?;
    w.tx.execute("UPDATE cas SET resources = ?2, cert = ?3 WHERE id = ?1", params![ca.id, resources.to_string(), cert.to_der()])?;
    w.mark_dirty(ca.id);
    Ok(())
}

fn remove_member(w: &mut Work<'_>, handle: &str) -> Result<()> {
    let ca = w.ca_by_handle(handle)?;
    if ca.kind != CaKind::Member {
        return Err(CaError::NotFound(format!("member '{handle}'")));
    }
    let rir = w.ca_by_id(ca.parent_id.unwrap_or_default())?;
    w.revoke(rir.id, &ca.cert.serial, ca.cert.not_after)?;
    w.remove_object(&ca.cert_uri)?;
    let uris: Vec<String> = {
        let mut st = w.tx.prepare("SELECT uri FROM objects WHERE ca_id = ?1")?;
        let v = st.query_map([ca.id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        v
    };
    for u in uris {
        w.remove_object(&u)?;
    }
    for table in ["roas", "aspas", "revocations", "tokens"] {
        w.tx.execute(&format!("DELETE FROM {table} WHERE ca_id = ?1"), [ca.id])?;
    }
    w.tx.execute("DELETE FROM cas WHERE id = ?1", [ca.id])?;
    w.tx.execute("DELETE FROM keys WHERE key_id = ?1", [ca.key.hex()])?;
    Ok(())
}

fn roas_of(c: &Connection, ca_id: i64) -> Result<Vec<RoaSpec>> {
    let mut st = c.prepare("SELECT prefix, max_length, asn FROM roas WHERE ca_id = ?1")?;
    let rows = st.query_map([ca_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u8>(1)?, r.get::<_, u32>(2)?)))?;
    let mut v = Vec::new();
    for r in rows {
        let (p, max_length, asn) = r?;
        let prefix = p.parse().map_err(|e| CaError::Conflict(format!("stored prefix {p}: {e}")))?;
        v.push(RoaSpec { prefix, max_length, asn: Asn(asn) });
    }
    Ok(v)
}

fn withdraw_roa(w: &mut Work<'_>, ca: &CaRecord, r: &RoaSpec) -> Result<()> {
    let row: Option<(String, i64, i64)> =
        w.tx.query_row(
            "DELETE FROM roas WHERE ca_id = ?1 AND prefix = ?2 AND max_length = ?3 AND asn = ?4 RETURNING uri, ee_serial, not_after",
            params![ca.id, r.prefix.to_string(), r.max_length, r.asn.0],
            |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)),
        )
        .optional()?;
    if let Some((uri, serial, not_after)) = row {
        w.revoke(ca.id, &Serial::from_u64(serial as u64), Time(not_after))?;
        w.remove_object(&uri)?;
    }
    Ok(())
}

fn withdraw_aspa(w: &mut Work<'_>, ca: &CaRecord, customer: u32) -> Result<bool> {
    let row: Option<(String, i64, i64)> =
        w.tx.query_row(
            "DELETE FROM aspas WHERE ca_id = ?1 AND customer = ?2 RETURNING uri, ee_serial, not_after",
            params![ca.id, customer],
            |x| Ok((x.get(0)?, x.get(1)?, x.get(2)?)),
        )
        .optional()?;
    match row {
        Some((uri, serial, not_after)) => {
            w.revoke(ca.id, &Serial::from_u64(serial as u64), Time(not_after))?;
            w.remove_object(&uri)?;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Issue the ASPA of one customer AS (ASPA-8: one object per customer).
fn issue_aspa(w: &mut Work<'_>, ca: &CaRecord, spec: &AspaSpec) -> Result<()> {
    let content = AspaContent::new(Asn(spec.customer), spec.providers.iter().map(|p| Asn(*p))).map_err(|e| CaError::invalid("bad_aspa", e.detail.to_string()))?;
    let key = w.signer.one_time_key()?;
    let uri = format!("{}{}.asa", ca.pp_uri(w.cfg), key.public_key().key_id().file_stem());
    let ee = ee_spec(w, ca, &uri)?;
    let aspa = Aspa::build(&content, &w.issuer(ca), &ee, key, w.now)?;
    let providers = content.providers.iter().map(|p| p.0.to_string()).collect::<Vec<_>>().join(",");
    w.tx.execute(
        "INSERT INTO aspas (ca_id, customer, providers, uri, ee_serial, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![ca.id, spec.customer, providers, uri, serial_i64(&ee.serial), ee.not_after.0],
    )?;
    w.put_object(Some(ca.id), &uri, aspa.signed.to_der().to_vec())
}

/// Issue one ROA per spec (RFC 9455), signing in parallel on all cores.
fn issue_roas(w: &mut Work<'_>, ca: &CaRecord, specs: &[RoaSpec]) -> Result<()> {
    let mut jobs: Vec<(RoaSpec, Box<dyn OneTimeKey>, EeSpec)> = Vec::with_capacity(specs.len());
    for s in specs {
        let key = w.signer.one_time_key()?;
        let uri = format!("{}{}.roa", ca.pp_uri(w.cfg), key.public_key().key_id().file_stem());
        let ee = ee_spec(w, ca, &uri)?;
        jobs.push((*s, key, ee));
    }
    let issuer = w.issuer(ca);
    let now = w.now;
    let built: Vec<(RoaSpec, EeSpec, Result<Roa, rpkit_objects::error::BuildError>)> = jobs
        .into_par_iter()
        .map(|(s, key, ee)| {
            let content = RoaContent { asn: s.asn, prefixes: vec![RoaPrefix { prefix: s.prefix, max_length: Some(s.max_length) }] };
            let roa = Roa::build(&content, &issuer, &ee, key, now);
            (s, ee, roa)
        })
        .collect();
    for (s, ee, roa) in built {
        let roa = roa?;
        w.tx.execute(
            "INSERT INTO roas (ca_id, asn, prefix, max_length, uri, ee_serial, not_after) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![ca.id, s.asn.0, s.prefix.to_string(), s.max_length, ee.object_uri, serial_i64(&ee.serial), ee.not_after.0],
        )?;
        w.put_object(Some(ca.id), &ee.object_uri, roa.signed.to_der().to_vec())?;
    }
    Ok(())
}
