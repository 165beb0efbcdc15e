//! The auditor's view of a run (`rpkit audit`): every object met with its
//! status, the rule behind each problem, the CA whose point holds it and its
//! expiry; one record per CA publication point; and the differences from what
//! the CA says it publishes (`objects::export`).

use crate::report::Report;
use rpkit_objects::der::Time;
use rpkit_objects::export::Export;
use rpkit_objects::file_type::FileType;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    TaCertificate,
    CaCertificate,
    RouterCertificate,
    /// A `.cer` that did not decode far enough to say which.
    Certificate,
    Manifest,
    Crl,
    Roa,
    Aspa,
    /// Any other file type: hash-checked, otherwise ignored (MFT-19).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Valid,
    Invalid,
    /// In a publication point rejected as a whole (MFT-13): not used.
    Rejected,
    /// In the point's directory but not on its manifest (MFT-15): not used.
    Unlisted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Rejected => "rejected",
            Status::Unlisted => "unlisted",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointStatus {
    Valid,
    /// The fetched point failed; the last validated copy was used (MFT-14).
    Cached,
    Failed,
}

/// A problem with an object or a point: the checklist rule and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub rule: &'static str,
    pub detail: String,
}

fn rfc3339<S: Serializer>(t: &Option<Time>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.rfc3339()),
        None => s.serialize_none(),
    }
}

/// One object as the validator saw it.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectRecord {
    pub uri: String,
    pub kind: Kind,
    pub status: Status,
    /// The CA certificate whose publication point holds the object ("" for the TA certificate).
    pub ca: String,
    /// notAfter of the certificate (of the EE certificate for signed objects), nextUpdate of a manifest or CRL.
    #[serde(serialize_with = "rfc3339")]
    pub expires: Option<Time>,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    pub problems: Vec<Problem>,
}

/// One CA and its publication point.
#[derive(Clone, Debug, Serialize)]
pub struct CaRecord {
    /// Where the CA certificate is published (the TA certificate's TAL URI).
    pub uri: String,
    /// The issuing CA's certificate URI ("" for the trust anchor).
    pub parent: String,
    pub repository: String,
    pub manifest: String,
    pub status: PointStatus,
    pub depth: usize,
    /// The CA certificate's notAfter.
    #[serde(serialize_with = "rfc3339")]
    pub expires: Option<Time>,
    /// The manifest's nextUpdate, when the point validated.
    #[serde(serialize_with = "rfc3339")]
    pub next_update: Option<Time>,
    pub problems: Vec<Problem>,
}

impl Report {
    /// Note an object (audit runs only).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record(
        &mut self,
        on: bool,
        ca: &str,
        uri: &str,
        kind: Kind,
        der: &[u8],
        expires: Option<Time>,
        problem: Option<(&'static str, &str)>,
        status: Status,
    ) {
        if !on {
            return;
        }
        self.objects.push(ObjectRecord {
            uri: uri.to_string(),
            kind,
            status,
            ca: ca.to_string(),
            expires,
            sha256: rpkit_objects::hex::lower(&rpkit_objects::crypto::sha256(der)),
            problems: problem.map(|(rule, detail)| Problem { rule, detail: detail.to_string() }).into_iter().collect(),
        });
    }
}

/// The kind a file name's extension announces.
pub fn kind_of(name: &str) -> Kind {
    match FileType::of_name(name) {
        Some(FileType::Certificate) => Kind::Certificate,
        Some(FileType::Manifest) => Kind::Manifest,
        Some(FileType::Crl) => Kind::Crl,
        Some(FileType::Roa) => Kind::Roa,
        Some(FileType::Aspa) => Kind::Aspa,
        _ => Kind::Other,
    }
}

/// The CA certificates from the trust anchor down to `ca` (inclusive).
pub fn chain<'a>(cas: &'a BTreeMap<&str, &CaRecord>, ca: &'a str) -> Vec<&'a str> {
    let mut out = vec![];
    let mut at = ca;
    // Bounded: a record's parent is always recorded before it, but never trust that blindly.
    while !at.is_empty() && out.len() <= cas.len() {
        out.push(at);
        at = cas.get(at).map(|c| c.parent.as_str()).unwrap_or("");
    }
    out.reverse();
    out
}

/// A difference between what the CA intends and what validated.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Difference {
    /// `missing`, `differs`, `not-valid`, `unexpected` (objects); `missing-vrp`,
    /// `unexpected-vrp`, `missing-aspa`, `unexpected-aspa`, `aspa-differs` (payloads).
    pub what: &'static str,
    pub subject: String,
    pub detail: String,
}

/// Compare the CA's export with an audit run's report.
pub fn compare(expect: &Export, report: &Report) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut d = |what, subject: String, detail: String| out.push(Difference { what, subject, detail });
    let seen: BTreeMap<&str, &ObjectRecord> = report.objects.iter().map(|o| (o.uri.as_str(), o)).collect();
    let ta_hashes: BTreeSet<&str> = report.objects.iter().filter(|o| o.kind == Kind::TaCertificate).map(|o| o.sha256.as_str()).collect();
    let mut intended = BTreeSet::new();
    for e in &expect.objects {
        intended.insert(e.uri.as_str());
        // The TA certificate may have been fetched from the TAL's https URI: match it by hash.
        if e.ca.is_empty() && ta_hashes.contains(e.sha256.as_str()) {
            continue;
        }
        match seen.get(e.uri.as_str()) {
            None => d("missing", e.uri.clone(), format!("the CA ({}) publishes it but the validator did not find it", ca_name(&e.ca))),
            Some(o) if o.sha256 != e.sha256 => {
                d("differs", e.uri.clone(), format!("published SHA-256 {} is not the CA's {}", o.sha256, e.sha256))
            }
            Some(o) if o.status != Status::Valid => {
                let why = o.problems.first().map(|p| format!("{} [{}]", p.detail, p.rule)).unwrap_or_default();
                d("not-valid", e.uri.clone(), format!("published as the CA intends but {}: {why}", o.status.as_str()))
            }
            Some(_) => {}
        }
    }
    // Below a delegated member's certificate, everything is the member's CA's.
    let mut theirs: BTreeSet<&str> = expect.delegated.iter().map(|c| c.uri.as_str()).collect();
    loop {
        let more: Vec<&str> = report
            .cas
            .iter()
            .filter(|c| theirs.contains(c.parent.as_str()) && !theirs.contains(c.uri.as_str()))
            .map(|c| c.uri.as_str())
            .collect();
        if more.is_empty() {
            break;
        }
        theirs.extend(more);
    }
    let delegated: Vec<rpkit_objects::resources::ResourceSet> = expect.delegated.iter().filter_map(|c| c.resources.parse().ok()).collect();
    for o in &report.objects {
        if o.status == Status::Valid
            && o.kind != Kind::TaCertificate
            && !intended.contains(o.uri.as_str())
            && !theirs.contains(o.ca.as_str())
        {
            d("unexpected", o.uri.clone(), "valid in the repository but not among the CA's objects".into());
        }
    }
    let want: BTreeSet<(String, u8, u32)> = expect.roas.iter().map(|r| (normal_prefix(&r.prefix), r.max_length, r.asn)).collect();
    let got: BTreeSet<(String, u8, u32)> =
        report.vrps.iter().map(|v| (v.origin.prefix.to_string(), v.origin.max_length, v.origin.asn.0)).collect();
    for (p, m, a) in want.difference(&got) {
        d("missing-vrp", format!("{p}-{m} AS{a}"), "the CA signed it but it did not validate".into());
    }
    let members_own = |p: &str| p.parse().is_ok_and(|p| delegated.iter().any(|r| r.contains_prefix(&p)));
    for (p, m, a) in got.difference(&want).filter(|(p, _, _)| !members_own(p)) {
        d("unexpected-vrp", format!("{p}-{m} AS{a}"), "validated but not among the CA's ROAs".into());
    }
    let mut want_aspa: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for a in &expect.aspas {
        want_aspa.entry(a.customer).or_default().extend(a.providers.iter().copied());
    }
    let got_aspa: BTreeMap<u32, BTreeSet<u32>> = report.aspas.iter().map(|a| (a.customer, a.providers.iter().copied().collect())).collect();
    for (c, p) in &want_aspa {
        match got_aspa.get(c) {
            None => d("missing-aspa", format!("AS{c}"), "the CA signed it but it did not validate".into()),
            Some(g) if g != p => d("aspa-differs", format!("AS{c}"), format!("providers {} validated, the CA signed {}", asns(g), asns(p))),
            Some(_) => {}
        }
    }
    let members_as = |c: u32| delegated.iter().any(|r| r.asn.contains_asn(rpkit_objects::resources::Asn(c)));
    for c in got_aspa.keys().filter(|c| !want_aspa.contains_key(c) && !members_as(**c)) {
        d("unexpected-aspa", format!("AS{c}"), "validated but not among the CA's ASPAs".into());
    }
    out.sort();
    out
}

fn ca_name(handle: &str) -> &str {
    if handle.is_empty() {
        "trust anchor"
    } else {
        handle
    }
}

/// A prefix as the validator prints it, whatever spelling the CA stored.
fn normal_prefix(s: &str) -> String {
    s.parse::<rpkit_objects::resources::Prefix>().map(|p| p.to_string()).unwrap_or_else(|_| s.to_string())
}

fn asns(s: &BTreeSet<u32>) -> String {
    s.iter().map(|a| format!("AS{a}")).collect::<Vec<_>>().join(",")
}
