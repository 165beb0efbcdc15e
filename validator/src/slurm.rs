//! Local exceptions (RFC 8416, SLURM version 1): filters remove validated
//! payloads, then assertions add local ones (SLURM-9). Parsing is strict
//! (SLURM-1 .. SLURM-6): exactly the RFC's members, typed values, 20-octet
//! SKIs and P-256 keys. Several files are taken together only when they do not
//! overlap (SLURM-12). ASPA in SLURM is still a draft: version 2 is refused
//! (SLURM-13).

use crate::error::{BadEntry, SlurmError};
use crate::report::{Report, RouterKey, Vrp};
use base64::Engine;
use rpkit_objects::crypto::KeyId;
use rpkit_objects::der::Time;
use rpkit_objects::resources::Asn;
use rpkit_objects::resources::Prefix;
use rpkit_objects::route_origin::RouteOrigin;
use serde::Deserialize;

/// The version alone, read before the rest (SLURM-13).
#[derive(Deserialize)]
struct VersionOnly {
    #[serde(rename = "slurmVersion")]
    slurm_version: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    /// Checked before deserialising (`Slurm::parse`).
    #[allow(dead_code)]
    slurm_version: u8,
    validation_output_filters: Filters,
    locally_added_assertions: Assertions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Filters {
    prefix_filters: Vec<PrefixFilterJson>,
    bgpsec_filters: Vec<BgpsecFilterJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Assertions {
    prefix_assertions: Vec<PrefixAssertionJson>,
    bgpsec_assertions: Vec<BgpsecAssertionJson>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefixFilterJson {
    prefix: Option<String>,
    asn: Option<u32>,
    #[allow(dead_code)]
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BgpsecFilterJson {
    asn: Option<u32>,
    #[serde(rename = "SKI")]
    ski: Option<String>,
    #[allow(dead_code)]
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PrefixAssertionJson {
    prefix: String,
    asn: u32,
    max_prefix_length: Option<u8>,
    #[allow(dead_code)]
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BgpsecAssertionJson {
    asn: u32,
    #[serde(rename = "SKI")]
    ski: String,
    router_public_key: String,
    #[allow(dead_code)]
    comment: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixFilter {
    pub prefix: Option<Prefix>,
    pub asn: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpsecFilter {
    pub asn: Option<u32>,
    pub ski: Option<KeyId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixAssertion {
    pub prefix: Prefix,
    pub asn: u32,
    pub max_length: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BgpsecAssertion {
    pub asn: u32,
    pub ski: KeyId,
    /// SubjectPublicKeyInfo, DER.
    pub spki: std::sync::Arc<[u8]>,
}

/// One or more SLURM files, checked and combined.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slurm {
    pub prefix_filters: Vec<PrefixFilter>,
    pub bgpsec_filters: Vec<BgpsecFilter>,
    pub prefix_assertions: Vec<PrefixAssertion>,
    pub bgpsec_assertions: Vec<BgpsecAssertion>,
}

/// The DER prefix of a P-256 SubjectPublicKeyInfo with an uncompressed point (RFC 8208 §3.1).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01,
    0x07, 0x03, 0x42, 0x00,
];

fn bad(rule: &'static str, detail: impl Into<String>) -> BadEntry {
    BadEntry { rule, detail: detail.into() }
}

fn base64url(s: &str, what: &str) -> Result<Vec<u8>, BadEntry> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| bad("SLURM-6", format!("{what} {s:?} is not base64url without padding: {e}")))
}

fn ski(s: &str) -> Result<KeyId, BadEntry> {
    let v = base64url(s, "SKI")?;
    KeyId::from_slice(&v).ok_or_else(|| bad("SLURM-6", format!("SKI {s:?} decodes to {} octets, not 20", v.len())))
}

fn prefix(s: &str) -> Result<Prefix, BadEntry> {
    s.parse::<Prefix>().map_err(|e| bad("SLURM-6", e.detail))
}

impl Slurm {
    /// Parse one file (SLURM-1 .. SLURM-6). The version is checked first (a
    /// version 2 file is refused as such, SLURM-13); then every entry, and the
    /// error names each wrong one, not only the first.
    pub fn parse(json: &[u8]) -> Result<Slurm, SlurmError> {
        // Two typed passes over the text, no document tree: a file of a
        // million assertions stays cheap to read on every run.
        // A struct would also deserialise from an array: only an object is a SLURM file.
        if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(SlurmError::NotObject);
        }
        let v: VersionOnly = serde_json::from_slice(json).map_err(SlurmError::NotJson)?;
        match v.slurm_version.as_ref().map(|n| n.as_u64()) {
            Some(Some(1)) => {}
            Some(Some(n)) => return Err(SlurmError::Version(n)),
            _ => return Err(SlurmError::NoVersion),
        }
        let f: File = serde_json::from_slice(json).map_err(SlurmError::Schema)?;
        let mut s = Slurm::default();
        let mut problems = Vec::new();
        let mut check = |r: Result<(), BadEntry>| {
            if let Err(e) = r {
                problems.push(e);
            }
        };
        for p in f.validation_output_filters.prefix_filters {
            check((|| {
                if p.prefix.is_none() && p.asn.is_none() {
                    return Err(bad("SLURM-2", "a prefixFilter needs a prefix or an asn"));
                }
                s.prefix_filters.push(PrefixFilter { prefix: p.prefix.as_deref().map(prefix).transpose()?, asn: p.asn });
                Ok(())
            })());
        }
        for b in f.validation_output_filters.bgpsec_filters {
            check((|| {
                if b.asn.is_none() && b.ski.is_none() {
                    return Err(bad("SLURM-3", "a bgpsecFilter needs an asn or a SKI"));
                }
                s.bgpsec_filters.push(BgpsecFilter { asn: b.asn, ski: b.ski.as_deref().map(ski).transpose()? });
                Ok(())
            })());
        }
        for a in f.locally_added_assertions.prefix_assertions {
            check((|| {
                let p = prefix(&a.prefix)?;
                let max_length = a.max_prefix_length.unwrap_or(p.len);
                if max_length < p.len || max_length > p.afi.bits() {
                    return Err(bad(
                        "SLURM-6",
                        format!("maxPrefixLength {max_length} is outside {}..{} for {}", p.len, p.afi.bits(), a.prefix),
                    ));
                }
                s.prefix_assertions.push(PrefixAssertion { prefix: p, asn: a.asn, max_length });
                Ok(())
            })());
        }
        for b in f.locally_added_assertions.bgpsec_assertions {
            check((|| {
                let key = base64url(&b.router_public_key, "routerPublicKey")?;
                if key.len() != 91 || key[..26] != P256_SPKI_PREFIX {
                    return Err(bad("SLURM-6", format!("routerPublicKey of AS{} is not a P-256 SubjectPublicKeyInfo", b.asn)));
                }
                let ski = ski(&b.ski)?;
                s.bgpsec_assertions.push(BgpsecAssertion { asn: b.asn, ski, spki: key.into() });
                Ok(())
            })());
        }
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(SlurmError::Entries(problems))
        }
    }

    /// Read and combine files; overlapping files are refused together (SLURM-12).
    pub fn load(paths: &[std::path::PathBuf]) -> Result<Slurm, SlurmError> {
        let mut files = Vec::new();
        for p in paths {
            let data = std::fs::read(p).map_err(|source| SlurmError::Unreadable { path: p.clone(), source })?;
            files.push(Slurm::parse(&data).map_err(|e| SlurmError::File { path: p.clone(), source: Box::new(e) })?);
        }
        for i in 0..files.len() {
            for j in i + 1..files.len() {
                if let Some(why) = files[i].overlap(&files[j]) {
                    return Err(SlurmError::Overlap { first: paths[i].clone(), second: paths[j].clone(), why });
                }
            }
        }
        let mut all = Slurm::default();
        for f in files {
            all.prefix_filters.extend(f.prefix_filters);
            all.bgpsec_filters.extend(f.bgpsec_filters);
            all.prefix_assertions.extend(f.prefix_assertions);
            all.bgpsec_assertions.extend(f.bgpsec_assertions);
        }
        Ok(all)
    }

    fn prefixes(&self) -> impl Iterator<Item = Prefix> + '_ {
        self.prefix_filters.iter().filter_map(|f| f.prefix).chain(self.prefix_assertions.iter().map(|a| a.prefix))
    }

    fn bgpsec_asns(&self) -> impl Iterator<Item = u32> + '_ {
        self.bgpsec_filters.iter().filter_map(|f| f.asn).chain(self.bgpsec_assertions.iter().map(|a| a.asn))
    }

    /// RFC 8416 §4.2: some address in both files' prefixes, or an AS in both files' BGPsec entries.
    fn overlap(&self, o: &Slurm) -> Option<String> {
        for a in self.prefixes() {
            if let Some(b) = o.prefixes().find(|b| a.covers(b) || b.covers(&a)) {
                return Some(format!("{a} and {b}"));
            }
        }
        let asn = self.bgpsec_asns().find(|a| o.bgpsec_asns().any(|b| b == *a))?;
        Some(format!("AS{asn} in BGPsec entries of both"))
    }

    /// Filters first, then assertions (SLURM-7 .. SLURM-9); `ta` names asserted payloads.
    pub fn apply(&self, r: &mut Report) {
        r.vrps.retain(|v| {
            !self
                .prefix_filters
                .iter()
                .any(|f| f.prefix.is_none_or(|p| p.covers(&v.origin.prefix)) && f.asn.is_none_or(|a| a == v.origin.asn.0))
        });
        r.router_keys.retain(|k| {
            !self.bgpsec_filters.iter().any(|f| f.asn.is_none_or(|a| a == k.asn) && f.ski.as_ref().is_none_or(|s| *s == k.ski))
        });
        let forever = Time(i64::MAX / 2);
        let ta: std::sync::Arc<str> = "slurm".into();
        r.vrps.reserve_exact(self.prefix_assertions.len());
        for a in &self.prefix_assertions {
            r.vrps.push(Vrp {
                origin: RouteOrigin { prefix: a.prefix, max_length: a.max_length, asn: Asn(a.asn) },
                ta: ta.clone(),
                expires: forever,
            });
        }
        for a in &self.bgpsec_assertions {
            r.router_keys.push(RouterKey { asn: a.asn, ski: a.ski, spki: a.spki.clone(), ta: ta.clone(), expires: forever });
        }
        r.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = r#"{"slurmVersion": 1,
        "validationOutputFilters": {"prefixFilters": [], "bgpsecFilters": []},
        "locallyAddedAssertions": {"prefixAssertions": [], "bgpsecAssertions": []}}"#;

    fn with(filters: &str, assertions: &str) -> String {
        format!(
            r#"{{"slurmVersion": 1, "validationOutputFilters": {{"prefixFilters": [{filters}], "bgpsecFilters": []}},
            "locallyAddedAssertions": {{"prefixAssertions": [{assertions}], "bgpsecAssertions": []}}}}"#
        )
    }

    #[test]
    fn slurm_1_to_6_strict_parsing() {
        assert_eq!(Slurm::parse(EMPTY.as_bytes()).unwrap(), Slurm::default());
        for bad in [
            EMPTY.replace("\"slurmVersion\": 1", "\"slurmVersion\": \"1\""),
            EMPTY.replace("\"slurmVersion\": 1", "\"slurmVersion\": 2"),
            EMPTY.replace("\"bgpsecFilters\": []", "\"bgpsecFilters\": [], \"aspaFilters\": []"),
            EMPTY.replace(", \"bgpsecAssertions\": []", ""),
            with("{}", ""),
            with(r#"{"comment": "x"}"#, ""),
            with(r#"{"prefix": "192.0.2.1/24"}"#, ""),
            with(r#"{"asn": 1.5}"#, ""),
            with(r#"{"asn": "64496"}"#, ""),
            with(r#"{"asn": 4294967296}"#, ""),
            with("", r#"{"prefix": "192.0.2.0/24", "asn": 1, "maxPrefixLength": 20}"#),
            with("", r#"{"prefix": "192.0.2.0/24", "asn": 1, "maxPrefixLength": 33}"#),
            with("", r#"{"prefix": "192.0.2.0/24"}"#),
            // The members in order, as an array: a struct would take it, SLURM does not.
            r#"[1, {"prefixFilters": [], "bgpsecFilters": []}, {"prefixAssertions": [], "bgpsecAssertions": []}]"#.to_string(),
        ] {
            assert!(Slurm::parse(bad.as_bytes()).is_err(), "accepted: {bad}");
        }
    }

    fn vrp(p: &str, max: u8, asn: u32) -> Vrp {
        Vrp { origin: RouteOrigin { prefix: p.parse().unwrap(), max_length: max, asn: Asn(asn) }, ta: "ta".into(), expires: Time(0) }
    }

    #[test]
    fn slurm_7_9_filters_then_assertions() {
        let s =
            Slurm::parse(with(r#"{"prefix": "192.0.2.0/24"}, {"asn": 64499}"#, r#"{"prefix": "192.0.2.0/24", "asn": 64496}"#).as_bytes())
                .unwrap();
        let mut r = Report {
            vrps: vec![vrp("192.0.2.0/24", 24, 1), vrp("192.0.2.128/25", 25, 2), vrp("192.0.0.0/16", 24, 3), vrp("10.0.0.0/8", 8, 64499)],
            ..Report::default()
        };
        s.apply(&mut r);
        let got: Vec<String> = r.vrps.iter().map(|v| format!("{}-{} AS{}", v.origin.prefix, v.origin.max_length, v.origin.asn.0)).collect();
        assert_eq!(got, ["192.0.0.0/16-24 AS3", "192.0.2.0/24-24 AS64496"]);
    }

    #[test]
    fn slurm_12_overlapping_files_are_refused_together() {
        let dir = std::env::temp_dir().join(format!("rpkit-slurm-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b, c) = (dir.join("a.json"), dir.join("b.json"), dir.join("c.json"));
        std::fs::write(&a, with("", r#"{"prefix": "192.0.2.0/24", "asn": 64496}"#)).unwrap();
        std::fs::write(&b, with(r#"{"prefix": "192.0.2.0/25"}"#, "")).unwrap();
        std::fs::write(&c, with(r#"{"prefix": "198.51.100.0/24"}"#, "")).unwrap();
        let e = Slurm::load(&[a.clone(), b]).unwrap_err().to_string();
        assert!(e.contains("overlap"), "{e}");
        let s = Slurm::load(&[a, c]).unwrap();
        assert_eq!((s.prefix_filters.len(), s.prefix_assertions.len()), (1, 1));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
