//! Members' ROAs: authorizations checked against the member's resources
//! (ROA-10), applied as all-or-nothing deltas, packed into objects (one prefix
//! per ROA by default, RFC 9455; see `roa_packing`), signed on all cores.

use crate::contract::{Rejection, RoaDelta, RoaInfo, RoaReport, RoaSpec};
use crate::error::{CaError, Result};
use crate::history::Event;
use crate::roa_packing::{repack, Packing, Repack};
use crate::service::{ee_spec, member_id, serial_i64, Ca};
use crate::store;
use crate::work::{CaKind, CaRecord, Work};
use rayon::prelude::*;
use rpkit_objects::crypto::{OneTimeKey, Signer};
use rpkit_objects::file_type::FileType;
use rpkit_objects::limits::MAX_OBJECT_SIZE;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::signed_object::EeSpec;
use rpkit_serve::db::Sql;
use std::collections::{BTreeMap, BTreeSet};

impl Ca {
    // --- ROAs --------------------------------------------------------------------

    pub fn roas(&self, handle: &str) -> Result<Vec<RoaInfo>> {
        let rows = self.read(|c| store::roas::of_ca(c, member_id(c, handle)?))?;
        Ok(rows
            .into_iter()
            .map(|r| RoaInfo {
                prefix: r.spec.prefix.to_string(),
                max_length: r.spec.max_length,
                asn: r.spec.asn.0,
                uri: r.uri,
                not_after: r.not_after.rfc3339(),
            })
            .collect())
    }

    /// A tag of the member's current ROA set, for `If-Match` against lost updates.
    pub fn roas_etag(&self, handle: &str) -> Result<String> {
        self.read(|c| Ok(roa_etag(&authorizations(&roa_objects(c, member_id(c, handle)?)?))))
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
        // Check everything first, without the write lock: a wrong request costs no
        // key generation, and a dry run ends here.
        let (resources, objects) = self.read(|c| {
            let id = member_id(c, handle)?;
            Ok((store::members::resources_of(c, id)?, roa_objects(c, id)?))
        })?;
        let current = authorizations(&objects);
        check(&current)?;
        let plan = plan_roas(&resources, &current, delta)?;
        let repacked = check_objects(repack(&objects, &plan.desired(&current), Packing::from_config(&self.config)))?;
        if dry_run {
            return Ok(plan.report(true));
        }
        // Keys for every new ROA and the manifest, generated on all cores.
        self.fill_key_pool(repacked.issue.len() + 1)?;
        let event = Event::new("roa.apply", Some(handle), serde_json::to_value(delta).unwrap_or_default());
        self.change(event, |w| {
            let ca = w.ca_by_handle(handle)?;
            if ca.kind != CaKind::Member {
                return Err(CaError::NotFound(format!("member '{handle}'")));
            }
            // Again inside the transaction: the state may have changed meanwhile.
            let objects = roa_objects(&w.tx, ca.id)?;
            let current = authorizations(&objects);
            check(&current)?;
            let plan = plan_roas(&ca.resources, &current, delta)?;
            sync_roas(w, &ca, &objects, &plan.desired(&current))?;
            Ok(plan.report(false))
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
    /// The member's authorizations after the change.
    fn desired(&self, current: &[RoaSpec]) -> BTreeSet<RoaSpec> {
        let mut v: BTreeSet<RoaSpec> = current.iter().copied().collect();
        for r in &self.remove {
            v.remove(r);
        }
        v.extend(self.add.iter().copied());
        v
    }

    fn report(&self, dry_run: bool) -> RoaReport {
        let s = |v: &[RoaSpec]| v.iter().map(ToString::to_string).collect();
        RoaReport { added: s(&self.add), removed: s(&self.remove), unchanged: s(&self.unchanged), dry_run }
    }
}

/// ROA objects one member CA may hold. Its manifest lists them all at 83
/// octets an entry (a 44-character name and a SHA-256): 45,000 and 2,000 more
/// entries (ASPAs, the CRL) stay under `MAX_OBJECT_SIZE`, the largest object
/// every validator accepts (MFT-20). Members with many ROAs stay far below
/// it: their ROAs hold many prefixes each (see `roa_packing`).
pub const MAX_ROA_OBJECTS_PER_CA: usize = 45_000;

/// Route origin authorizations one member may hold: twice the 100,000 of the
/// largest member the CA is measured with.
pub const MAX_ROAS_PER_CA: usize = 200_000;

/// Check a delta against the member's resources and current ROAs (ROA-10).
/// Adding what exists is idempotent; removing what does not exist is an error.
fn plan_roas(held: &ResourceSet, current: &[RoaSpec], delta: &RoaDelta) -> Result<RoaPlan> {
    let current: BTreeSet<RoaSpec> = current.iter().copied().collect();
    let removed: BTreeSet<RoaSpec> = delta.removed.iter().copied().collect();
    let mut errors = Vec::new();
    for r in &removed {
        if !current.contains(r) {
            errors.push(Rejection { entry: r.to_string(), code: "not_found".into(), reason: "no such ROA to remove".into() });
        }
    }
    let mut add = BTreeSet::new();
    let mut unchanged = BTreeSet::new();
    for a in &delta.added {
        match crate::requests::check_roa(a, held) {
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
        return Err(CaError::invalid("too_many_roas", format!("{total} ROAs would exceed the limit of {MAX_ROAS_PER_CA} per member")));
    }
    Ok(RoaPlan { add: add.into_iter().collect(), remove, unchanged: unchanged.into_iter().collect() })
}

/// Every authorization the objects hold.
pub(crate) fn authorizations(objects: &BTreeMap<String, Vec<RoaSpec>>) -> Vec<RoaSpec> {
    objects.values().flatten().copied().collect()
}

/// Refuse a change that would leave more ROA objects than a manifest may list.
fn check_objects(r: Repack) -> Result<Repack> {
    let n = r.objects_after();
    if n > MAX_ROA_OBJECTS_PER_CA {
        return Err(CaError::invalid(
            "too_many_roas",
            format!(
                "{n} ROA objects would exceed the limit of {MAX_ROA_OBJECTS_PER_CA} per member: \
                 its manifest would outgrow the {MAX_OBJECT_SIZE} octets validators accept"
            ),
        ));
    }
    Ok(r)
}

/// A member's ROA objects: URI → the authorizations each holds.
pub(crate) fn roa_objects(c: &impl Sql, ca_id: i64) -> Result<BTreeMap<String, Vec<RoaSpec>>> {
    store::roas::objects(c, ca_id)
}

/// Make the member's ROA objects (`objects`, as `roa_objects` read them) hold
/// exactly `desired`, re-issuing only the objects whose content changes (ROA-10).
pub(crate) fn sync_roas(
    w: &mut Work<'_>,
    ca: &CaRecord,
    objects: &BTreeMap<String, Vec<RoaSpec>>,
    desired: &BTreeSet<RoaSpec>,
) -> Result<()> {
    let plan = check_objects(repack(objects, desired, Packing::from_config(w.cfg)))?;
    for uri in &plan.withdraw {
        withdraw_roa_object(w, ca, uri)?;
    }
    issue_roas(w, ca, &plan.issue)
}

/// Revoke a ROA object's EE certificate and withdraw it, with its authorizations.
pub(crate) fn withdraw_roa_object(w: &mut Work<'_>, ca: &CaRecord, uri: &str) -> Result<()> {
    if let Some((serial, not_after)) = store::roas::delete_object(&w.tx, ca.id, uri)? {
        w.revoke(ca.id, &serial, not_after)?;
        w.remove_object(uri)?;
    }
    Ok(())
}

/// Issue one ROA object per group of authorizations (all of one ASN), signing
/// in parallel on all cores.
pub(crate) fn issue_roas(w: &mut Work<'_>, ca: &CaRecord, groups: &[Vec<RoaSpec>]) -> Result<()> {
    let mut jobs: Vec<(&[RoaSpec], Box<dyn OneTimeKey>, EeSpec)> = Vec::with_capacity(groups.len());
    for g in groups.iter().filter(|g| !g.is_empty()) {
        let key = w.signer.one_time_key()?;
        let uri = format!("{}{}", ca.pp_uri(w.cfg), FileType::Roa.file_name(&key.public_key().key_id().file_stem()));
        let ee = ee_spec(w, ca, &uri)?;
        jobs.push((g, key, ee));
    }
    let issuer = w.issuer(ca);
    let now = w.now;
    let built: Vec<(&[RoaSpec], EeSpec, Result<Roa, rpkit_objects::error::BuildError>)> = jobs
        .into_par_iter()
        .map(|(g, key, ee)| {
            let prefixes = g.iter().map(|s| RoaPrefix { prefix: s.prefix, max_length: Some(s.max_length) }).collect();
            let roa = Roa::build(&RoaContent { asn: g[0].asn, prefixes }, &issuer, &ee, key, now);
            (g, ee, roa)
        })
        .collect();
    let mut objects = Vec::with_capacity(built.len());
    for (g, ee, roa) in built {
        let roa = roa?;
        for s in g {
            store::roas::insert(&w.tx, ca.id, s, &ee.object_uri, serial_i64(&ee.serial), ee.not_after)?;
        }
        objects.push((ee.object_uri, roa.signed.to_der().to_vec()));
    }
    for (uri, der) in objects {
        w.put_object(Some(ca.id), &uri, der)?;
    }
    Ok(())
}
