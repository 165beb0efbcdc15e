//! Top-down validation from a trust anchor (RFC 6487 §7, RFC 9286 §6): each CA's
//! publication point is read through its manifest; a point whose manifest, CRL
//! or listed files fail is rejected as a whole (MFT-13) with a warning naming
//! the reason; objects that fail on their own are skipped with a warning.
//! Child CAs are validated in parallel (rayon).

use crate::audit::{kind_of, CaRecord, Kind, PointStatus, Problem, Status};
use crate::cache::ValidCache;
use crate::error::FetchError;
use crate::point;
use crate::report::{AspaPayload, Counts, Report, RouterKey, Vrp, Warning};
use crate::store::Store;
use rayon::prelude::*;
use rpkit_objects::aspa::Aspa;
use rpkit_objects::cert::{Cert, CertKind};
use rpkit_objects::crl::Crl;
use rpkit_objects::crypto::KeyId;
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::roa::Roa;
use rpkit_objects::route_origin::RouteOrigin;
use rpkit_objects::tak::Tak;
use rpkit_objects::tal::Tal;
use rpkit_objects::valid_ca::{Context, ValidCa};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Brings publication points in and says where to read them.
pub trait Fetcher: Sync {
    /// The TA certificate from the TAL's URIs (TA-5): (URI, bytes).
    fn ta_cert(&self, uris: &[String]) -> Option<(String, Vec<u8>)>;
    /// Make `ca_repository` (rsync) current, via `notify` (RRDP) when given,
    /// and return the store holding it, or why it could not be fetched.
    fn publication_point<'s>(&'s self, ca_repository: &str, notify: Option<&str>) -> Result<Box<dyn Store + 's>, FetchError>;
    /// Problems met while fetching, once each.
    fn take_warnings(&self) -> Vec<Warning> {
        Vec::new()
    }
}

/// A fetcher for a store that already holds everything (tests, audits of a copy).
pub struct NoFetch<'a>(pub &'a dyn Store);

impl Fetcher for NoFetch<'_> {
    fn ta_cert(&self, uris: &[String]) -> Option<(String, Vec<u8>)> {
        uris.iter().filter(|u| u.starts_with("rsync://")).find_map(|u| self.0.get(u).map(|d| (u.clone(), d)))
    }
    fn publication_point<'s>(&'s self, _: &str, _: Option<&str>) -> Result<Box<dyn Store + 's>, FetchError> {
        Ok(Box::new(self.0))
    }
}

/// Settings of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Deepest CA chain followed (PATH-2).
    pub max_depth: usize,
    /// Keep a record of every object and CA in the report (`rpkit audit`).
    pub audit: bool,
    /// Publication points found and done, for a progress bar.
    pub progress: Option<Arc<Progress>>,
    /// How long a TA's TAK must name the same successor key before the run
    /// moves to it (RFC 9691; `tak.rs`).
    pub tak_acceptance_secs: i64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_depth: rpkit_objects::limits::MAX_CA_DEPTH,
            audit: false,
            progress: None,
            tak_acceptance_secs: crate::tak::ACCEPTANCE_SECS,
        }
    }
}

/// How far a run has got: publication points found so far and validated so far.
#[derive(Debug, Default)]
pub struct Progress {
    pub found: AtomicUsize,
    pub done: AtomicUsize,
}

struct Ctx<'a> {
    fetcher: &'a dyn Fetcher,
    cache: Option<&'a ValidCache>,
    now: Time,
    ta: Arc<str>,
    opts: Options,
}

/// A CA being validated, with what its chain allows.
struct CaNode {
    cert: ValidCa,
    uri: String,
    /// The issuer's certificate URI ("" for the TA).
    parent: String,
    /// Effective resources (RES-6 resolved).
    held: ResourceSet,
    /// Earliest notAfter along the chain.
    expires: Time,
    depth: usize,
    /// SKIs of the chain from the TA, for loops (PATH-2).
    path: Vec<KeyId>,
}

/// Validate the tree of one TAL; `name` labels its payloads. With `cache`,
/// points that validate are kept and failed ones fall back to it (MFT-14).
pub fn validate_tal(tal: &Tal, name: &str, fetcher: &dyn Fetcher, cache: Option<&ValidCache>, now: Time, opts: &Options) -> Report {
    let mut report = Report { tals: vec![name.to_string()], ..Report::default() };
    let warn = |report: &mut Report, uri: &str, rule: &'static str, detail: String| {
        report.warnings.push(Warning { uri: uri.to_string(), rule, detail })
    };
    let Some((uri, der)) = fetcher.ta_cert(&tal.uris) else {
        report.warnings.extend(fetcher.take_warnings());
        warn(&mut report, name, "TA-5", "no URI of the TAL yields the TA certificate".into());
        return report;
    };
    let ta = match Cert::decode(&der) {
        Ok(c) => c,
        Err(e) => {
            report.record(opts.audit, "", &uri, Kind::TaCertificate, &der, None, Some((e.rule, &e.detail)), Status::Invalid);
            warn(&mut report, &uri, e.rule, e.detail.to_string());
            return report;
        }
    };
    let problem = if ta.kind != CertKind::Ta {
        Some(("TA-4", "the TA certificate is not a self-signed CA certificate".to_string()))
    } else if ta.public_key != tal.key {
        Some(("TA-3", "the TA certificate's key differs from the TAL's".to_string()))
    } else if let Err(e) = ta.verify_self_signed() {
        Some((e.rule, e.detail.to_string()))
    } else if !ta.is_current(now) {
        Some(("CERT-6", format!("the TA certificate is not valid now ({} .. {})", ta.not_before.rfc3339(), ta.not_after.rfc3339())))
    } else {
        None
    };
    if let Some((rule, detail)) = problem {
        report.record(opts.audit, "", &uri, Kind::TaCertificate, &der, Some(ta.not_after), Some((rule, &detail)), Status::Invalid);
        warn(&mut report, &uri, rule, detail);
        return report;
    }
    report.counts.certificates += 1;
    let ctx = Ctx { fetcher, cache, now, ta: name.into(), opts: opts.clone() };
    report.record(opts.audit, "", &uri, Kind::TaCertificate, &der, Some(ta.not_after), None, Status::Valid);
    if let Some(p) = &opts.progress {
        p.found.fetch_add(1, Ordering::Relaxed);
    }
    let node = CaNode {
        held: ta.resources.explicit_set(),
        expires: ta.not_after,
        depth: 0,
        path: vec![ta.ski],
        uri,
        parent: String::new(),
        cert: ValidCa::of(ta),
    };
    let mut r = walk(&ctx, node);
    r.tals = report.tals;
    r.warnings.extend(report.warnings);
    r.objects.extend(report.objects);
    r.warnings.extend(fetcher.take_warnings());
    r.counts.add(&report.counts);
    r.finish();
    r
}

/// Validate the tree below a CA certificate the caller already trusts (a
/// parent checking what its delegated child published): as `validate_tal`
/// does below the TA, `cert` standing in for it with its explicit resources.
pub fn validate_below(cert: Cert, uri: &str, name: &str, fetcher: &dyn Fetcher, now: Time, opts: &Options) -> Report {
    let ctx = Ctx { fetcher, cache: None, now, ta: name.into(), opts: opts.clone() };
    let node = CaNode {
        held: cert.resources.explicit_set(),
        expires: cert.not_after,
        depth: 1,
        path: vec![cert.ski],
        uri: uri.to_string(),
        parent: String::new(),
        cert: ValidCa::of(cert),
    };
    let mut r = walk(&ctx, node);
    r.tals = vec![name.to_string()];
    r.warnings.extend(fetcher.take_warnings());
    r.finish();
    r
}

fn walk(ctx: &Ctx<'_>, node: CaNode) -> Report {
    let (mut report, children) = publication_point(ctx, &node);
    if let Some(p) = &ctx.opts.progress {
        p.found.fetch_add(children.len(), Ordering::Relaxed);
        p.done.fetch_add(1, Ordering::Relaxed);
    }
    let sub: Vec<Report> = children.into_par_iter().map(|c| walk(ctx, c)).collect();
    for s in sub {
        report.absorb(s);
    }
    report
}

/// A failed publication point (MFT-13): a warning, nothing else.
fn failed(ctx: &Ctx<'_>, node: &CaNode, dir: &str, mft_uri: &str, uri: &str, rule: &'static str, detail: String) -> (Report, Vec<CaNode>) {
    let counts = Counts { failed_manifests: 1, ..Counts::default() };
    let mut r = Report { warnings: vec![Warning { uri: uri.to_string(), rule, detail }], counts, ..Report::default() };
    if ctx.opts.audit {
        r.cas.push(ca_record(node, dir, mft_uri, PointStatus::Failed, None, &r.warnings));
    }
    (r, Vec::new())
}

/// The checks every signed object's CMS and EE certificate pass under `ca`.
/// Validate one CA's publication point; returns its payloads and its child CAs.
fn publication_point(ctx: &Ctx<'_>, node: &CaNode) -> (Report, Vec<CaNode>) {
    let ca = &node.cert;
    let now = ctx.now;
    let audit = ctx.opts.audit;
    let (Some(dir), Some(mft_uri)) = (ca.sia.rsync_repository(), ca.sia.rsync_manifest()) else {
        return failed(ctx, node, "", "", &node.uri, "CERT-17", "the CA certificate has no rsync caRepository or rpkiManifest".into());
    };
    let dir = if dir.ends_with('/') { dir.to_string() } else { format!("{dir}/") };
    if !mft_uri.starts_with(&dir) {
        return failed(
            ctx,
            node,
            &dir,
            mft_uri,
            &node.uri,
            "CERT-17",
            "the rpkiManifest is not inside the caRepository (RFC 6487 §4.8.8.1)".into(),
        );
    }
    let mut notes = Vec::new();
    let store = ctx.fetcher.publication_point(&dir, ca.sia.notify());
    let fresh = match &store {
        Err(e) => {
            Err(point::Failure { uri: dir.clone(), rule: "MFT-14", detail: format!("the publication point could not be fetched: {e}") })
        }
        Ok(store) => point::load(&**store, ca, &dir, mft_uri, now).and_then(|p| {
            if let Some(cache) = ctx.cache {
                let cached = cache.store().get(mft_uri);
                if let Some(cached) = &cached {
                    point::moves_forward(&p, cached)?;
                }
                if cached.as_deref() != Some(p.mft_der.as_slice()) {
                    let files: Vec<(String, &[u8])> = p.files.iter().map(|(n, d)| (format!("{dir}{n}"), d.as_slice())).collect();
                    if let Err(e) = cache.keep(mft_uri, &p.mft_der, &files) {
                        tracing::warn!("cannot keep {mft_uri} in the cache: {e}");
                    }
                }
            }
            Ok(p)
        }),
    };
    let mut status = PointStatus::Valid;
    let point = match (fresh, ctx.cache) {
        (Ok(p), _) => p,
        (Err(point::Failure { uri, rule, detail }), None) => {
            let (mut r, c) = failed(ctx, node, &dir, mft_uri, &uri, rule, detail);
            if let Ok(store) = &store {
                rejected_files(&mut r, audit, &**store, node, &dir);
            }
            return (r, c);
        }
        (Err(point::Failure { uri, rule, detail }), Some(cache)) => match point::load(cache.store(), ca, &dir, mft_uri, now) {
            Ok(p) => {
                status = PointStatus::Cached;
                notes.push(Warning { uri, rule, detail });
                notes.push(Warning {
                    uri: mft_uri.to_string(),
                    rule: "MFT-14",
                    detail: "using the last validated copy of this publication point (RFC 9286 §6.6)".into(),
                });
                p
            }
            Err(_) => {
                let (mut r, c) = failed(ctx, node, &dir, mft_uri, &uri, rule, detail);
                if let Ok(store) = &store {
                    rejected_files(&mut r, audit, &**store, node, &dir);
                }
                let note = Warning {
                    uri: mft_uri.to_string(),
                    rule: "MFT-14",
                    detail: "no valid cached copy of this publication point either".into(),
                };
                for c in &mut r.cas {
                    c.problems.push(Problem { rule: note.rule, detail: format!("{}: {}", note.uri, note.detail) });
                }
                r.warnings.push(note);
                return (r, c);
            }
        },
    };
    if let Some(cache) = ctx.cache {
        cache.used(point.files.keys().map(|n| format!("{dir}{n}")).chain([mft_uri.to_string()]));
    }
    let point::Point { mft, crl, files, mft_der, .. } = point;

    let mut report = Report { counts: Counts { manifests: 1, crls: 1, ..Counts::default() }, warnings: notes, ..Report::default() };
    if audit {
        report.cas.push(ca_record(node, &dir, mft_uri, status, Some(mft.content.next_update), &report.warnings));
        report.record(true, &node.uri, mft_uri, Kind::Manifest, &mft_der, Some(mft.content.next_update), None, Status::Valid);
        if let (Ok(store), PointStatus::Valid) = (&store, status) {
            for name in store.list(&dir) {
                if !files.contains_key(&name) && format!("{dir}{name}") != mft_uri {
                    let uri = format!("{dir}{name}");
                    let der = store.get(&uri).unwrap_or_default();
                    let why = Some(("MFT-15", "not on the manifest, so not used (RFC 9286 §6.1)"));
                    report.record(true, &node.uri, &uri, kind_of(&name), &der, None, why, Status::Unlisted);
                }
            }
        }
    }
    let expires = node.expires.min(mft.content.next_update).min(crl.next_update);
    let cx = Context { ca, held: &node.held, crl: &crl, now };
    let mut children = Vec::new();
    let warn = |report: &mut Report, uri: &str, der: &[u8], rule: &'static str, detail: String| {
        report.record(audit, &node.uri, uri, kind_of(uri), der, None, Some((rule, &detail)), Status::Invalid);
        report.warnings.push(Warning { uri: uri.to_string(), rule, detail })
    };
    // Consumed one by one, so each file's bytes go as soon as it is checked.
    for (name, der) in files {
        let der = der.as_slice();
        let uri = format!("{dir}{name}");
        match FileType::of_name(&name) {
            Some(FileType::Certificate) => match child_cert(ctx, node, &crl, &uri, der) {
                Ok(Child::Ca(c)) => {
                    report.counts.certificates += 1;
                    report.record(audit, &node.uri, &uri, Kind::CaCertificate, der, Some(c.cert.not_after), None, Status::Valid);
                    children.push(*c);
                }
                Ok(Child::Router(keys, not_after)) => {
                    report.counts.router_certificates += 1;
                    report.record(audit, &node.uri, &uri, Kind::RouterCertificate, der, Some(not_after), None, Status::Valid);
                    report.router_keys.extend(keys.into_iter().map(|mut k| {
                        k.ta = ctx.ta.clone();
                        k.expires = k.expires.min(expires);
                        k
                    }));
                }
                Err((rule, detail)) => {
                    report.counts.invalid_certificates += 1;
                    warn(&mut report, &uri, der, rule, detail);
                }
            },
            Some(FileType::Roa) => {
                report.counts.roas += 1;
                let checked = Roa::decode(der).and_then(|roa| roa.signed.check(&uri, &cx).map(|()| roa));
                match checked {
                    Ok(roa) => {
                        report.record(audit, &node.uri, &uri, Kind::Roa, der, Some(roa.signed.ee.not_after), None, Status::Valid);
                        let exp = expires.min(roa.signed.ee.not_after);
                        for p in &roa.content.prefixes {
                            report.vrps.push(Vrp {
                                origin: RouteOrigin { prefix: p.prefix, max_length: p.max_len(), asn: roa.content.asn },
                                ta: ctx.ta.clone(),
                                expires: exp,
                            });
                        }
                    }
                    Err(e) => {
                        report.counts.invalid_roas += 1;
                        warn(&mut report, &uri, der, e.rule, e.detail.into_owned());
                    }
                }
            }
            Some(FileType::Aspa) => {
                report.counts.aspas += 1;
                let checked = Aspa::decode(der).and_then(|a| a.signed.check(&uri, &cx).map(|()| a));
                match checked {
                    Ok(a) => {
                        report.record(audit, &node.uri, &uri, Kind::Aspa, der, Some(a.signed.ee.not_after), None, Status::Valid);
                        report.aspas.push(AspaPayload {
                            customer: a.content.customer.0,
                            providers: a.content.providers.iter().map(|p| p.0).collect(),
                            ta: ctx.ta.clone(),
                            expires: expires.min(a.signed.ee.not_after),
                        })
                    }
                    Err(e) => {
                        report.counts.invalid_aspas += 1;
                        warn(&mut report, &uri, der, e.rule, e.detail.into_owned());
                    }
                }
            }
            // A TA's TAK (RFC 9691, OBJ-3): its successor key, if any, is followed by `tak.rs`.
            Some(FileType::TrustAnchorKey) if node.depth == 0 => {
                let checked = Tak::decode(der).and_then(|t| t.signed.check(&uri, &cx).map(|()| t));
                match checked {
                    Ok(t) if t.content.current.key == node.cert.public_key => {
                        report.record(audit, &node.uri, &uri, Kind::Other, der, Some(t.signed.ee.not_after), None, Status::Valid);
                        report.taks.push((ctx.ta.to_string(), t.content));
                    }
                    Ok(_) => warn(&mut report, &uri, der, "OBJ-3", "the TAK's current key is not its TA's".into()),
                    Err(e) => warn(&mut report, &uri, der, e.rule, e.detail.into_owned()),
                }
            }
            // The CRL is checked by point::load.
            Some(FileType::Crl) => report.record(audit, &node.uri, &uri, Kind::Crl, der, Some(crl.next_update), None, Status::Valid),
            // Other types are hash-checked and otherwise ignored (MFT-19).
            _ => report.record(audit, &node.uri, &uri, Kind::Other, der, None, None, Status::Valid),
        }
    }
    (report, children)
}

/// An audit's record of a CA and its point.
fn ca_record(node: &CaNode, dir: &str, mft_uri: &str, status: PointStatus, next_update: Option<Time>, notes: &[Warning]) -> CaRecord {
    CaRecord {
        uri: node.uri.clone(),
        parent: node.parent.clone(),
        repository: dir.to_string(),
        manifest: mft_uri.to_string(),
        status,
        depth: node.depth,
        expires: Some(node.cert.not_after),
        next_update,
        problems: notes.iter().map(|w| Problem { rule: w.rule, detail: format!("{}: {}", w.uri, w.detail) }).collect(),
    }
}

/// In an audit, every file of a rejected point: the one at fault invalid, the others rejected with it.
fn rejected_files(report: &mut Report, audit: bool, store: &dyn Store, node: &CaNode, dir: &str) {
    let Some(w) = report.warnings.last().cloned().filter(|_| audit) else { return };
    for name in store.list(dir) {
        let uri = format!("{dir}{name}");
        let der = store.get(&uri).unwrap_or_default();
        let (status, detail) = if uri == w.uri {
            (Status::Invalid, w.detail.clone())
        } else {
            (Status::Rejected, format!("its publication point was rejected: {}: {}", w.uri, w.detail))
        };
        report.record(true, &node.uri, &uri, kind_of(&name), &der, None, Some((w.rule, &detail)), status);
    }
}

enum Child {
    Ca(Box<CaNode>),
    /// The keys and the certificate's notAfter.
    Router(Vec<RouterKey>, Time),
}

/// A certificate on a CA's manifest: a child CA or a BGPsec router certificate.
fn child_cert(ctx: &Ctx<'_>, node: &CaNode, crl: &Crl, uri: &str, der: &[u8]) -> Result<Child, (&'static str, String)> {
    let ca = &node.cert;
    let c = Cert::decode(der).map_err(|e| (e.rule, e.detail.to_string()))?;
    let cx = Context { ca, held: &node.held, crl, now: ctx.now };
    let held = c.check_issued(&cx).map_err(|e| (e.rule, e.detail.into_owned()))?;
    match c.kind {
        CertKind::Ca => {
            if node.depth + 1 > ctx.opts.max_depth {
                return Err(("PATH-2", format!("deeper than {} CAs below the trust anchor", ctx.opts.max_depth)));
            }
            if node.path.contains(&c.ski) {
                return Err(("PATH-2", "the certificate's key already appears on its own chain (a loop)".into()));
            }
            let mut path = node.path.clone();
            path.push(c.ski);
            Ok(Child::Ca(Box::new(CaNode {
                expires: node.expires.min(c.not_after),
                depth: node.depth + 1,
                path,
                uri: uri.to_string(),
                parent: node.uri.clone(),
                held,
                cert: ValidCa::of(c),
            })))
        }
        CertKind::Router => {
            let spki: Arc<[u8]> = c.public_key.spki().into();
            let mut keys = Vec::new();
            // One key per AS (ranges capped: a router certificate names a few ASes).
            for &(lo, hi) in held.asn.set.ranges() {
                for asn in lo..=hi.min(lo.saturating_add(1000)) {
                    keys.push(RouterKey { asn, ski: c.ski, spki: spki.clone(), ta: "".into(), expires: c.not_after });
                }
            }
            Ok(Child::Router(keys, c.not_after))
        }
        other => Err(("CERT-21", format!("a {other:?} certificate cannot be published as a .cer"))),
    }
}
