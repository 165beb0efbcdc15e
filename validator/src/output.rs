//! Payload output in the formats other tools read: rpki-client's `json`
//! (StayRTR reads it), Routinator's `csv`, OpenBGPD's `roa-set`/`aspa-set` and
//! BIRD's `roa4`/`roa6` tables.

use crate::report::Report;
use rpkit_objects::der::Time;
use rpkit_objects::resources::Afi;
use serde_json::{json, Value};
use std::fmt::Write;

/// The formats of `rpkit validate --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Openbgpd,
    Bird,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "openbgpd" => Ok(Format::Openbgpd),
            "bird" => Ok(Format::Bird),
            other => Err(format!("unknown format '{other}' (json, csv, openbgpd, bird)")),
        }
    }
}

pub fn render(r: &Report, f: Format, now: Time) -> String {
    match f {
        Format::Json => json(r, now),
        Format::Csv => csv(r),
        Format::Openbgpd => openbgpd(r),
        Format::Bird => bird(r),
    }
}

/// rpki-client's `json`: metadata, `roas`, `bgpsec_keys`, `aspas`.
pub fn json(r: &Report, now: Time) -> String {
    let c = &r.counts;
    let v = json!({
        "metadata": {
            "buildmachine": "rpkit",
            "buildtime": now.rfc3339(),
            "roas": c.roas,
            "failedroas": c.invalid_roas,
            "invalidroas": c.invalid_roas,
            "aspas": c.aspas,
            "failedaspas": c.invalid_aspas,
            "invalidaspas": c.invalid_aspas,
            "bgpsec_pubkeys": r.router_keys.len(),
            "certificates": c.certificates,
            "invalidcertificates": c.invalid_certificates,
            "tals": r.tals.len(),
            "talfiles": r.tals,
            "manifests": c.manifests,
            "failedmanifests": c.failed_manifests,
            "crls": c.crls,
            "vrps": r.vrps.len(),
            "uniquevrps": r.vrps.len(),
            "vaps": r.aspas.len(),
            "uniquevaps": r.aspas.len(),
        },
        "roas": r.vrps.iter().map(|v| json!({
            "asn": v.asn, "prefix": v.prefix.to_string(), "maxLength": v.max_length, "ta": v.ta, "expires": v.expires.0,
        })).collect::<Vec<Value>>(),
        "bgpsec_keys": r.router_keys.iter().map(|k| json!({
            "asn": k.asn, "ski": k.ski, "pubkey": k.pubkey, "ta": k.ta, "expires": k.expires.0,
        })).collect::<Vec<Value>>(),
        "aspas": r.aspas.iter().map(|a| json!({
            "customer_asid": a.customer, "expires": a.expires.0, "providers": a.providers,
        })).collect::<Vec<Value>>(),
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// Routinator's `csv`: `ASN,IP Prefix,Max Length,Trust Anchor`.
pub fn csv(r: &Report) -> String {
    let mut s = String::from("ASN,IP Prefix,Max Length,Trust Anchor\n");
    for v in &r.vrps {
        let _ = writeln!(s, "AS{},{},{},{}", v.asn, v.prefix, v.max_length, v.ta);
    }
    s
}

/// OpenBGPD's `roa-set` and `aspa-set`, as rpki-client writes them.
pub fn openbgpd(r: &Report) -> String {
    let mut s = String::from("roa-set {\n");
    for v in &r.vrps {
        let maxlen = if v.max_length > v.prefix.len { format!(" maxlen {}", v.max_length) } else { String::new() };
        let _ = writeln!(s, "\t{}{maxlen} source-as {} expires {}", v.prefix, v.asn, v.expires.0);
    }
    s.push_str("}\n");
    if !r.aspas.is_empty() {
        s.push_str("\naspa-set {\n");
        for a in &r.aspas {
            let p: Vec<String> = a.providers.iter().map(u32::to_string).collect();
            let _ = writeln!(s, "\tcustomer-as {} expires {} provider-as {{ {} }}", a.customer, a.expires.0, p.join(", "));
        }
        s.push_str("}\n");
    }
    s
}

/// BIRD 2 static `roa4`/`roa6` routes.
pub fn bird(r: &Report) -> String {
    let mut s = String::new();
    for (afi, table) in [(Afi::Ipv4, "roa4"), (Afi::Ipv6, "roa6")] {
        let _ = writeln!(s, "roa{} table ROAS{};", if afi == Afi::Ipv4 { 4 } else { 6 }, if afi == Afi::Ipv4 { 4 } else { 6 });
        let _ = writeln!(s, "protocol static {{\n\t{table} {{ table ROAS{}; }};", if afi == Afi::Ipv4 { 4 } else { 6 });
        for v in r.vrps.iter().filter(|v| v.prefix.afi == afi) {
            let _ = writeln!(s, "\troute {} max {} as {};", v.prefix, v.max_length, v.asn);
        }
        s.push_str("}\n\n");
    }
    s
}
