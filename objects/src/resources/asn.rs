//! AS number resources (RFC 3779 §3): `AS64496`, `AS64496-AS64511`, and the
//! asIdsOrRanges encoding (RES-7).

use super::range_set::RangeSet;
use crate::der::{self, Reader, Tag};
use crate::error::{reject, Error, Result};
use std::fmt;
use std::str::FromStr;

/// An AS number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Asn(pub u32);

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AS{}", self.0)
    }
}

impl FromStr for Asn {
    type Err = Error;

    /// `AS64496`, `as64496` or `64496`; 0..=4294967295, no sign, no spaces inside.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let digits = t.strip_prefix("AS").or_else(|| t.strip_prefix("as")).unwrap_or(t);
        if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return reject("RFC 3779 §3.2.3.3", format!("'{s}' is not an AS number"));
        }
        digits
            .parse::<u64>()
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .map(Asn)
            .ok_or_else(|| Error::new("ROA-3", format!("'{s}' is above AS4294967295")))
    }
}

/// A canonical set of AS numbers.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct AsBlocks {
    pub set: RangeSet<u32>,
}

impl AsBlocks {
    pub fn empty() -> Self {
        AsBlocks { set: RangeSet::empty() }
    }

    pub fn from_ranges(r: impl IntoIterator<Item = (u32, u32)>) -> Self {
        AsBlocks { set: RangeSet::from_ranges(r) }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn contains_asn(&self, asn: Asn) -> bool {
        self.set.contains_value(asn.0)
    }

    /// Encode asIdsOrRanges: an `id` for single ASNs, a range otherwise (RES-7).
    pub fn encode_elements(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for &(lo, hi) in self.set.ranges() {
            if lo == hi {
                out.extend(der::integer_u64(lo as u64));
            } else {
                out.extend(der::sequence(&[&der::integer_u64(lo as u64), &der::integer_u64(hi as u64)]));
            }
        }
        out
    }

    /// Decode asIdsOrRanges in canonical form (RES-7, RES-10).
    pub fn decode_elements(r: &mut Reader<'_>, limit: usize) -> Result<Self> {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        while !r.is_empty() {
            if ranges.len() >= limit {
                return reject("RES-10", format!("more than {limit} AS blocks"));
            }
            let (lo, hi) = match r.peek_tag() {
                Some(Tag::INTEGER) => {
                    let v = as_id(r)?;
                    (v, v)
                }
                Some(Tag::SEQUENCE) => {
                    let mut seq = r.sequence("AS range")?;
                    let lo = as_id(&mut seq)?;
                    let hi = as_id(&mut seq)?;
                    seq.finish()?;
                    if lo >= hi {
                        return reject("RES-7", format!("AS range {lo}-{hi} must have min < max (single ASNs are ids)"));
                    }
                    (lo, hi)
                }
                t => return reject("RES-7", format!("expected an AS id or range, found {t:?}")),
            };
            if let Some(&(_, prev)) = ranges.last() {
                if prev >= lo {
                    return reject("RES-7", "AS blocks are not sorted or overlap");
                }
                if prev + 1 == lo {
                    return reject("RES-7", "adjacent AS blocks must be merged");
                }
            }
            ranges.push((lo, hi));
        }
        let set = RangeSet::from_canonical(ranges).ok_or_else(|| Error::new("RES-7", "AS blocks not canonical"))?;
        Ok(AsBlocks { set })
    }

    pub fn to_strings(&self) -> Vec<String> {
        self.set.ranges().iter().map(|&(lo, hi)| if lo == hi { format!("AS{lo}") } else { format!("AS{lo}-AS{hi}") }).collect()
    }
}

fn as_id(r: &mut Reader<'_>) -> Result<u32> {
    let i = r.integer("ASId")?;
    i.to_u32().map_err(|_| Error::new("RES-7", "ASId outside 0..4294967295"))
}

/// Parse `AS64496` or `AS64496-AS64511` into an inclusive range.
pub fn parse_as_block(s: &str) -> Result<(u32, u32)> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (lo, hi) = (Asn::from_str(a)?.0, Asn::from_str(b)?.0);
            if lo > hi {
                return reject("RFC 3779 §3.2.3.7", format!("'{s}': range min above max"));
            }
            Ok((lo, hi))
        }
        None => {
            let v = Asn::from_str(s)?.0;
            Ok((v, v))
        }
    }
}
