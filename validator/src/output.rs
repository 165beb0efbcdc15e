//! Payload output in the formats other tools read: rpki-client's `json`
//! (StayRTR reads it), Routinator's `csv`, OpenBGPD's `roa-set`/`aspa-set` and
//! BIRD's `roa4`/`roa6` tables.

use crate::report::Report;
use rpkit_objects::der::Time;
use rpkit_objects::resources::Afi;
use serde::{Serialize, Serializer};
use std::fmt::Write as _;
use std::io::Write as _;

/// The formats of `rpkit validate --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Openbgpd,
    Bird,
}

/// A `--format` that is none of `Format`'s.
#[derive(Debug, thiserror::Error)]
#[error("unknown format '{0}' (json, csv, openbgpd, bird)")]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "openbgpd" => Ok(Format::Openbgpd),
            "bird" => Ok(Format::Bird),
            other => Err(UnknownFormat(other.to_string())),
        }
    }
}

/// Write the payloads in format `f` to `w`.
pub fn render_to(r: &Report, f: Format, now: Time, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    match f {
        Format::Json => json_to(r, now, w),
        Format::Csv => w.write_all(csv(r).as_bytes()),
        Format::Openbgpd => w.write_all(openbgpd(r).as_bytes()),
        Format::Bird => w.write_all(bird(r).as_bytes()),
    }
}

/// rpki-client's `json`: metadata, `roas`, `bgpsec_keys`, `aspas`.
pub fn json(r: &Report, now: Time) -> String {
    let mut out = Vec::new();
    let _ = json_to(r, now, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// `json` streamed to `w`: no document tree is built, so memory stays flat
/// however many payloads there are.
pub fn json_to(r: &Report, now: Time, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let c = &r.counts;
    let doc = JsonDoc {
        metadata: Metadata {
            buildmachine: "rpkit",
            buildtime: now.rfc3339(),
            roas: c.roas,
            failedroas: c.invalid_roas,
            invalidroas: c.invalid_roas,
            aspas: c.aspas,
            failedaspas: c.invalid_aspas,
            invalidaspas: c.invalid_aspas,
            bgpsec_pubkeys: r.router_keys.len(),
            certificates: c.certificates,
            invalidcertificates: c.invalid_certificates,
            tals: r.tals.len(),
            talfiles: &r.tals,
            manifests: c.manifests,
            failedmanifests: c.failed_manifests,
            crls: c.crls,
            vrps: r.vrps.len(),
            uniquevrps: r.vrps.len(),
            vaps: r.aspas.len(),
            uniquevaps: r.aspas.len(),
        },
        roas: Roas(r),
        bgpsec_keys: Keys(r),
        aspas: Aspas(r),
    };
    let mut buf = std::io::BufWriter::with_capacity(64 * 1024, w);
    serde_json::to_writer_pretty(&mut buf, &doc).map_err(std::io::Error::other)?;
    buf.write_all(b"\n")?;
    buf.flush()
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    metadata: Metadata<'a>,
    roas: Roas<'a>,
    bgpsec_keys: Keys<'a>,
    aspas: Aspas<'a>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    buildmachine: &'a str,
    buildtime: String,
    roas: usize,
    failedroas: usize,
    invalidroas: usize,
    aspas: usize,
    failedaspas: usize,
    invalidaspas: usize,
    bgpsec_pubkeys: usize,
    certificates: usize,
    invalidcertificates: usize,
    tals: usize,
    talfiles: &'a [String],
    manifests: usize,
    failedmanifests: usize,
    crls: usize,
    vrps: usize,
    uniquevrps: usize,
    vaps: usize,
    uniquevaps: usize,
}

/// A value written through its `Display`, without an intermediate `String`.
struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[derive(Serialize)]
struct JsonRoa<'a> {
    asn: u32,
    prefix: Shown<&'a rpkit_objects::resources::Prefix>,
    #[serde(rename = "maxLength")]
    max_length: u8,
    ta: &'a str,
    expires: i64,
}

#[derive(Serialize)]
struct JsonKey<'a> {
    asn: u32,
    /// Hex, as rpki-client writes it.
    ski: String,
    /// The SubjectPublicKeyInfo in standard base64.
    pubkey: String,
    ta: &'a str,
    expires: i64,
}

#[derive(Serialize)]
struct JsonAspa<'a> {
    customer_asid: u32,
    expires: i64,
    providers: &'a [u32],
}

struct Roas<'a>(&'a Report);
struct Keys<'a>(&'a Report);
struct Aspas<'a>(&'a Report);

impl Serialize for Roas<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.vrps.iter().map(|v| JsonRoa {
            asn: v.origin.asn.0,
            prefix: Shown(&v.origin.prefix),
            max_length: v.origin.max_length,
            ta: &v.ta,
            expires: v.expires.0,
        }))
    }
}

impl Serialize for Keys<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.router_keys.iter().map(|k| JsonKey {
            asn: k.asn,
            ski: k.ski.hex(),
            pubkey: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &k.spki),
            ta: &k.ta,
            expires: k.expires.0,
        }))
    }
}

impl Serialize for Aspas<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.aspas.iter().map(|a| JsonAspa { customer_asid: a.customer, expires: a.expires.0, providers: &a.providers }))
    }
}

/// Routinator's `csv`: `ASN,IP Prefix,Max Length,Trust Anchor`.
pub fn csv(r: &Report) -> String {
    let mut s = String::from("ASN,IP Prefix,Max Length,Trust Anchor\n");
    for v in &r.vrps {
        let _ = writeln!(s, "AS{},{},{},{}", v.origin.asn.0, v.origin.prefix, v.origin.max_length, v.ta);
    }
    s
}

/// OpenBGPD's `roa-set` and `aspa-set`, as rpki-client writes them.
pub fn openbgpd(r: &Report) -> String {
    let mut s = String::from("roa-set {\n");
    for v in &r.vrps {
        let maxlen = if v.origin.max_length > v.origin.prefix.len { format!(" maxlen {}", v.origin.max_length) } else { String::new() };
        let _ = writeln!(s, "\t{}{maxlen} source-as {} expires {}", v.origin.prefix, v.origin.asn.0, v.expires.0);
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
        for v in r.vrps.iter().filter(|v| v.origin.prefix.afi == afi) {
            let _ = writeln!(s, "\troute {} max {} as {};", v.origin.prefix, v.origin.max_length, v.origin.asn.0);
        }
        s.push_str("}\n\n");
    }
    s
}
