//! `rpkit audit --tal FILE...`: the auditor's report. Every object the
//! validator met, with its status, the rule behind each problem, its chain of
//! CA certificates and its expiry; a summary per CA; with `--expect`, the
//! differences from what the CA says it publishes (`rpkit ca export`).
//! Exit status 2 when anything is wrong, 1 when the audit could not run.

use super::validate::{write_atomically, Source};
use crate::error::{CliError, Result};
use rpkit_ca::contract::Export;
use rpkit_objects::der::Time;
use rpkit_validator::audit::{chain, compare, CaRecord, Difference, ObjectRecord, PointStatus, Status};
use rpkit_validator::report::Report;
use rpkit_validator::run::run as validate;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// What the CA intends to publish (`rpkit ca export`): report every difference.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// text (grouped by CA) or json (every object with its chain).
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// List only objects with a problem (text format).
    #[arg(long)]
    problems_only: bool,
    /// Write the report here (replaced atomically) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

/// Objects per status under one CA.
#[derive(Default, serde::Serialize)]
struct Tally {
    objects: usize,
    valid: usize,
    invalid: usize,
    rejected: usize,
    unlisted: usize,
}

impl Tally {
    fn add(&mut self, s: Status) {
        self.objects += 1;
        match s {
            Status::Valid => self.valid += 1,
            Status::Invalid => self.invalid += 1,
            Status::Rejected => self.rejected += 1,
            Status::Unlisted => self.unlisted += 1,
        }
    }
}

struct Audit<'a> {
    report: &'a Report,
    cas: BTreeMap<&'a str, &'a CaRecord>,
    /// Objects by the CA whose point holds them ("" for TA certificates).
    by_ca: BTreeMap<&'a str, Vec<&'a ObjectRecord>>,
    tally: BTreeMap<&'a str, Tally>,
    total: Tally,
    differences: Option<Vec<Difference>>,
}

impl<'a> Audit<'a> {
    fn new(report: &'a Report, expect: Option<&Export>) -> Self {
        let cas: BTreeMap<&str, &CaRecord> = report.cas.iter().map(|c| (c.uri.as_str(), c)).collect();
        let mut by_ca: BTreeMap<&str, Vec<&ObjectRecord>> = BTreeMap::new();
        let (mut tally, mut total) = (BTreeMap::<&str, Tally>::new(), Tally::default());
        for o in &report.objects {
            by_ca.entry(o.ca.as_str()).or_default().push(o);
            tally.entry(o.ca.as_str()).or_default().add(o.status);
            total.add(o.status);
        }
        for v in by_ca.values_mut() {
            v.sort_by(|a, b| a.uri.cmp(&b.uri));
        }
        let differences = expect.map(|e| compare(e, report));
        Audit { report, cas, by_ca, tally, total, differences }
    }

    /// CAs in tree order: each after its issuer, siblings by URI.
    fn ordered(&self) -> Vec<(&CaRecord, Vec<&str>)> {
        let mut v: Vec<(&CaRecord, Vec<&str>)> = self.report.cas.iter().map(|c| (c, chain(&self.cas, &c.uri))).collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    }

    fn problems(&self) -> usize {
        let points = self.report.cas.iter().filter(|c| c.status != PointStatus::Valid).count();
        let objects = self.total.objects - self.total.valid;
        let fetch = self.report.warnings.len();
        objects + points + fetch + self.differences.as_ref().map_or(0, Vec::len)
    }
}

fn when(t: Option<Time>) -> String {
    t.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into())
}

fn text(a: &Audit<'_>, problems_only: bool, expect: Option<&PathBuf>) -> String {
    let mut out = String::new();
    let empty = Vec::new();
    let object_lines = |out: &mut String, list: &Vec<&ObjectRecord>| {
        for o in list.iter().filter(|o| !problems_only || o.status != Status::Valid) {
            let kind = serde_json::to_value(o.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            let _ = write!(out, "  {:<9} {:<18} {}  until {}", o.status.as_str(), kind, o.uri, when(o.expires));
            for p in &o.problems {
                let _ = write!(out, "\n      {} [{}]", p.detail, p.rule);
            }
            out.push('\n');
        }
    };
    if let Some(tas) = a.by_ca.get("") {
        out.push_str("Trust anchor certificate(s)\n");
        object_lines(&mut out, tas);
        out.push('\n');
    }
    for (ca, path) in a.ordered() {
        let t = a.tally.get(ca.uri.as_str());
        let status = match ca.status {
            PointStatus::Valid => "valid",
            PointStatus::Cached => "CACHED COPY",
            PointStatus::Failed => "FAILED",
        };
        let _ = writeln!(
            out,
            "CA {} [{status}] depth {}: {} objects ({} valid, {} invalid, {} rejected, {} unlisted); certificate until {}, manifest until {}",
            ca.uri,
            ca.depth,
            t.map_or(0, |t| t.objects),
            t.map_or(0, |t| t.valid),
            t.map_or(0, |t| t.invalid),
            t.map_or(0, |t| t.rejected),
            t.map_or(0, |t| t.unlisted),
            when(ca.expires),
            when(ca.next_update),
        );
        let _ = writeln!(out, "  chain: {}", path.join(" > "));
        let _ = writeln!(out, "  repository: {}", ca.repository);
        for p in &ca.problems {
            let _ = writeln!(out, "  problem: {} [{}]", p.detail, p.rule);
        }
        object_lines(&mut out, a.by_ca.get(ca.uri.as_str()).unwrap_or(&empty));
        out.push('\n');
    }
    let r = a.report;
    let _ = writeln!(out, "Warnings ({}):", r.warnings.len());
    for w in &r.warnings {
        let _ = writeln!(out, "  {}: {} [{}]", w.uri, w.detail, w.rule);
    }
    if let (Some(d), Some(path)) = (&a.differences, expect) {
        let _ = writeln!(out, "\nDifferences from {} ({}):", path.display(), d.len());
        for x in d {
            let _ = writeln!(out, "  {:<16} {}: {}", x.what, x.subject, x.detail);
        }
    }
    let _ = writeln!(out, "\n{}", summary_line(a));
    out
}

fn summary_line(a: &Audit<'_>) -> String {
    let failed = a.report.cas.iter().filter(|c| c.status == PointStatus::Failed).count();
    let cached = a.report.cas.iter().filter(|c| c.status == PointStatus::Cached).count();
    let t = &a.total;
    let mut s = format!(
        "{} CAs ({failed} failed, {cached} from the cache); {} objects: {} valid, {} invalid, {} rejected, {} unlisted; {} VRPs, {} ASPAs, {} router keys; {} warnings",
        a.report.cas.len(),
        t.objects,
        t.valid,
        t.invalid,
        t.rejected,
        t.unlisted,
        a.report.vrps.len(),
        a.report.aspas.len(),
        a.report.router_keys.len(),
        a.report.warnings.len(),
    );
    if let Some(d) = &a.differences {
        let _ = write!(s, "; {} differences from the CA's export", d.len());
    }
    s
}

fn json_report(a: &Audit<'_>, now: Time) -> serde_json::Value {
    let zero = Tally::default();
    let cas: Vec<_> = a
        .ordered()
        .into_iter()
        .map(|(ca, path)| {
            let mut v = serde_json::to_value(ca).unwrap_or_default();
            v["chain"] = json!(path);
            v["objects"] = serde_json::to_value(a.tally.get(ca.uri.as_str()).unwrap_or(&zero)).unwrap_or_default();
            v
        })
        .collect();
    let objects: Vec<_> = a
        .by_ca
        .values()
        .flatten()
        .map(|o| {
            let mut v = serde_json::to_value(o).unwrap_or_default();
            v["chain"] = json!(chain(&a.cas, &o.ca));
            v
        })
        .collect();
    let mut out = json!({
        "generated": now.rfc3339(),
        "tals": a.report.tals,
        "summary": {
            "cas": a.report.cas.len(),
            "objects": &a.total,
            "vrps": a.report.vrps.len(),
            "aspas": a.report.aspas.len(),
            "router_keys": a.report.router_keys.len(),
            "warnings": a.report.warnings.len(),
            "problems": a.problems(),
        },
        "cas": cas,
        "objects": objects,
        "warnings": a.report.warnings,
    });
    if let Some(d) = &a.differences {
        out["differences"] = json!(d);
    }
    out
}

pub fn run(a: Args) -> Result<ExitCode> {
    let now = Time::now();
    // Read the export first: a bad file stops the audit before any fetch.
    let expect: Option<Export> = match &a.expect {
        Some(p) => {
            let data = std::fs::read(p).map_err(|e| CliError::io(p, e))?;
            Some(serde_json::from_slice(&data).map_err(|e| CliError::parse(p, format!("not a CA export: {e}")))?)
        }
        None => None,
    };
    let mut cfg = a.source.config();
    cfg.options.audit = true;
    let bar = crate::progress::start(&mut cfg.options, false);
    let result = validate(&cfg, now);
    drop(bar);
    let result = result?;
    let audit = Audit::new(&result.report, expect.as_ref());
    let body = match a.format {
        Format::Text => text(&audit, a.problems_only, a.expect.as_ref()),
        Format::Json => serde_json::to_string_pretty(&json_report(&audit, now)).map_err(CliError::internal)? + "\n",
    };
    match &a.output {
        Some(p) => write_atomically(p, body.as_bytes())?,
        None => print!("{body}"),
    }
    let problems = audit.problems();
    eprintln!("audit: {}; {problems} problem(s)", summary_line(&audit));
    Ok(if problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) })
}
