//! The NRO "delegated-extended" statistics format, from which the CA learns each
//! member's allocations: `registry|cc|type|start|value|date|status|opaque-id`, with
//! a version header and summary lines. Records are grouped by opaque-id.

use rpkit_objects::resources::{Afi, AsBlocks, IpBlocks, Prefix, RangeSet, ResourceSet};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

/// A line the importer could not use, with its number and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

/// One holder's allocations (records with status allocated or assigned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub opaque_id: String,
    pub country: String,
    pub resources: ResourceSet,
}

/// Per holder while parsing: country, AS ranges, IPv4 ranges, IPv6 ranges.
type Blocks = (String, Vec<(u32, u32)>, Vec<(u128, u128)>, Vec<(u128, u128)>);

/// Parse a delegated-extended file into holders keyed by opaque-id. Only
/// `allocated` and `assigned` records carry a holder; `available` and
/// `reserved` are skipped. Any malformed record fails the whole import.
pub fn parse(text: &str) -> Result<BTreeMap<String, Holder>, ParseError> {
    let mut acc: BTreeMap<String, Blocks> = BTreeMap::new();
    let mut seen_header = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = l.split('|').collect();
        let err = |reason: String| ParseError { line, reason };
        if !seen_header {
            // version|registry|serial|records|startdate|enddate|UTCoffset
            if f.len() < 7 || f[0].parse::<f64>().is_err() {
                return Err(err("expected the version header `version|registry|serial|records|startdate|enddate|UTCoffset`".into()));
            }
            seen_header = true;
            continue;
        }
        if f.len() >= 6 && f[1] == "*" && f[5] == "summary" {
            continue;
        }
        if f.len() < 7 {
            return Err(err(format!("expected at least 7 fields, found {}", f.len())));
        }
        let (cc, ty, start, value, status) = (f[1], f[2], f[3], f[4], f[6]);
        if !matches!(status, "allocated" | "assigned") {
            if !matches!(status, "available" | "reserved") {
                return Err(err(format!("unknown status '{status}'")));
            }
            continue;
        }
        let id = f.get(7).map(|s| s.trim()).filter(|s| !s.is_empty()).ok_or_else(|| err("allocated record without opaque-id".into()))?;
        let entry = acc.entry(id.to_string()).or_insert_with(|| (cc.to_string(), vec![], vec![], vec![]));
        match ty {
            "asn" => {
                let first: u32 = start.parse().map_err(|_| err(format!("bad AS number '{start}'")))?;
                let count: u64 = value.parse().map_err(|_| err(format!("bad AS count '{value}'")))?;
                let last = (first as u64 + count).checked_sub(1).filter(|l| count > 0 && *l <= u32::MAX as u64);
                let last = last.ok_or_else(|| err(format!("AS range {first}+{count} is empty or beyond AS4294967295")))?;
                entry.1.push((first, last as u32));
            }
            "ipv4" => {
                let a = match IpAddr::from_str(start) {
                    Ok(IpAddr::V4(a)) => u32::from(a) as u128,
                    _ => return Err(err(format!("bad IPv4 address '{start}'"))),
                };
                // An address count, not necessarily a power of two.
                let count: u128 = value.parse().map_err(|_| err(format!("bad IPv4 count '{value}'")))?;
                let last = (a + count).checked_sub(1).filter(|l| count > 0 && *l <= u32::MAX as u128);
                entry.2.push((a, last.ok_or_else(|| err(format!("IPv4 block {start}+{count} is empty or beyond 255.255.255.255")))?));
            }
            "ipv6" => {
                let len: u8 = value.parse().map_err(|_| err(format!("bad IPv6 prefix length '{value}'")))?;
                let p = Prefix::from_str(&format!("{start}/{len}")).map_err(|e| err(format!("bad IPv6 prefix: {}", e.detail)))?;
                if p.afi != Afi::Ipv6 {
                    return Err(err(format!("'{start}' is not an IPv6 address")));
                }
                entry.3.push((p.first(), p.last()));
            }
            other => return Err(err(format!("unknown resource type '{other}'"))),
        }
    }
    if !seen_header {
        return Err(ParseError { line: 0, reason: "empty file: no version header".into() });
    }
    Ok(acc
        .into_iter()
        .map(|(id, (cc, asn, v4, v6))| {
            let resources = ResourceSet {
                asn: AsBlocks::from_ranges(asn),
                ipv4: IpBlocks { afi: Afi::Ipv4, set: RangeSet::from_ranges(v4) },
                ipv6: IpBlocks { afi: Afi::Ipv6, set: RangeSet::from_ranges(v6) },
            };
            (id.clone(), Holder { opaque_id: id, country: cc, resources })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "2.3|lacnic|20240104|6|19870101|20240104|-0300
lacnic|*|ipv4|*|3|summary
lacnic|BR|ipv4|24.152.0.0|1024|20200310|allocated|310248
lacnic|BR|ipv4|24.152.4.0|768|20200310|allocated|310248
lacnic|MX|ipv6|2001:1200::|32|20030110|allocated|259318
lacnic|MX|asn|278|3|19890331|allocated|259318
lacnic|AR|ipv4|45.0.0.0|1024||available|
lacnic|AR|asn|676|1|19900523|reserved|
";

    #[test]
    fn groups_records_by_opaque_id_and_merges_blocks() {
        let h = parse(SAMPLE).unwrap();
        assert_eq!(h.len(), 2);
        // 1024 + 768 addresses: 24.152.0.0 - 24.152.6.255, not a single prefix.
        assert_eq!(h["310248"].resources.to_string(), "24.152.0.0-24.152.6.255");
        assert_eq!(h["259318"].resources.to_string(), "AS278-AS280, 2001:1200::/32");
        assert_eq!(h["259318"].country, "MX");
    }

    #[test]
    fn malformed_records_name_their_line() {
        for (bad, want) in [
            ("lacnic|BR|ipv4|24.152.0.x|1024|20200310|allocated|1", "line 2: bad IPv4 address"),
            ("lacnic|BR|ipv4|255.255.255.0|1024|20200310|allocated|1", "line 2: IPv4 block"),
            ("lacnic|BR|asn|4294967295|2|20200310|allocated|1", "line 2: AS range"),
            ("lacnic|BR|ipv6|2001:db8::1|32|20200310|allocated|1", "line 2: bad IPv6 prefix"),
            ("lacnic|BR|ipv4|24.152.0.0|1024|20200310|allocated|", "line 2: allocated record without opaque-id"),
            ("lacnic|BR|foo|1|1|20200310|allocated|1", "line 2: unknown resource type"),
        ] {
            let text = format!("2|lacnic|1|1|1|1|+0000\n{bad}\n");
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
        assert!(parse("").is_err());
    }

    #[test]
    fn generated_files_parse_into_as_many_holders() {
        let text = rpkit_test_vectors::delegated::generate(2000, 7);
        let h = parse(&text).unwrap();
        assert_eq!(h.len(), 2000);
        // Holders do not overlap.
        let all = h.values().fold(ResourceSet::empty(), |acc, x| {
            assert!(acc.intersection(&x.resources).is_empty());
            acc.union(&x.resources)
        });
        assert!(all.ipv4.set.ranges().len() > 100);
    }

    #[test]
    fn real_lacnic_file() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/rir-stats/delegated-lacnic-extended-latest");
        let h = parse(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert!(h.len() > 10_000, "{}", h.len());
        assert!(h.values().all(|x| !x.resources.is_empty()));
    }
}
