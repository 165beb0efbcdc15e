//! What members ask for: ROA authorizations (`192.0.2.0/24-24 AS64496`), deltas of
//! them, and ASPA provider sets; with the checks of ROA-10 and ASPA-3/4.

use crate::error::Rejection;
use rpkit_objects::resources::{Asn, Prefix, ResourceSet};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One route origin authorization: one prefix per ROA (RFC 9455).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoaSpec {
    pub prefix: Prefix,
    pub max_length: u8,
    pub asn: Asn,
}

impl fmt::Display for RoaSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} {}", self.prefix, self.max_length, self.asn)
    }
}

/// Why a ROA text is not understood.
pub fn parse_error(text: &str, why: impl fmt::Display) -> Rejection {
    Rejection { entry: text.to_string(), code: "malformed", reason: why.to_string() }
}

impl FromStr for RoaSpec {
    type Err = Rejection;

    /// `PREFIX[-MAXLEN] AS<N>`, also `PREFIX[-MAXLEN] => N` as Krill writes it.
    fn from_str(s: &str) -> Result<Self, Rejection> {
        let t = s.trim();
        let (pfx, asn) = t
            .split_once("=>")
            .or_else(|| t.rsplit_once(char::is_whitespace))
            .ok_or_else(|| parse_error(s, "expected 'PREFIX[-MAXLEN] AS<N>'"))?;
        let (pfx, asn) = (pfx.trim(), asn.trim());
        let asn = Asn::from_str(asn).map_err(|e| parse_error(s, e.detail))?;
        let (p, max) = match pfx.rsplit_once('-') {
            Some((p, m)) if !p.contains(':') || m.chars().all(|c| c.is_ascii_digit()) => {
                let m: u8 = m.parse().map_err(|_| parse_error(s, format!("'{m}' is not a maxLength")))?;
                (p, Some(m))
            }
            _ => (pfx, None),
        };
        let prefix = Prefix::from_str(p).map_err(|e| parse_error(s, e.detail))?;
        let max_length = max.unwrap_or(prefix.len);
        Ok(RoaSpec { prefix, max_length, asn })
    }
}

impl Serialize for RoaSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RoaJson { prefix: self.prefix.to_string(), max_length: Some(self.max_length), asn: self.asn.0 }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RoaSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let j = RoaJson::deserialize(d)?;
        let prefix = Prefix::from_str(&j.prefix).map_err(serde::de::Error::custom)?;
        Ok(RoaSpec { prefix, max_length: j.max_length.unwrap_or(prefix.len), asn: Asn(j.asn) })
    }
}

/// The JSON form: `{"prefix": "192.0.2.0/24", "max_length": 24, "asn": 64496}`.
#[derive(Serialize, Deserialize)]
struct RoaJson {
    prefix: String,
    #[serde(default)]
    max_length: Option<u8>,
    asn: u32,
}

impl RoaSpec {
    /// The checks of ROA-10 and RFC 9582 §4.3.2.2 against the member's resources.
    pub fn check(&self, held: &ResourceSet) -> Result<(), Rejection> {
        let entry = self.to_string();
        let bits = self.prefix.afi.bits();
        if self.max_length < self.prefix.len || self.max_length > bits {
            let reason = format!("maxLength {} must lie between the prefix length {} and {bits}", self.max_length, self.prefix.len);
            return Err(Rejection { entry, code: "bad_max_length", reason });
        }
        if !held.contains_prefix(&self.prefix) {
            let reason = format!("{} is not within the member's resources ({held})", self.prefix);
            return Err(Rejection { entry, code: "not_held", reason });
        }
        Ok(())
    }
}

/// A set of additions and removals applied all or nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoaDelta {
    #[serde(default)]
    pub added: Vec<RoaSpec>,
    #[serde(default)]
    pub removed: Vec<RoaSpec>,
}

impl RoaDelta {
    /// Lines of `PREFIX[-MAXLEN] AS<N>`, optionally with `+` (add) or `-` (remove)
    /// in front; `#` starts a comment. Lines without a sign are additions.
    pub fn parse_lines(text: &str) -> Result<Self, Vec<Rejection>> {
        let mut d = RoaDelta::default();
        let mut errors = Vec::new();
        for line in text.lines() {
            let l = line.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            let (remove, body) = match l.as_bytes()[0] {
                b'+' => (false, &l[1..]),
                b'-' => (true, &l[1..]),
                _ => (false, l),
            };
            match RoaSpec::from_str(body) {
                Ok(s) if remove => d.removed.push(s),
                Ok(s) => d.added.push(s),
                Err(e) => errors.push(Rejection { entry: line.trim().to_string(), ..e }),
            }
        }
        if errors.is_empty() {
            Ok(d)
        } else {
            Err(errors)
        }
    }
}

/// An ASPA: a customer AS of the member and its providers (ASPA-3/4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AspaSpec {
    pub customer: u32,
    pub providers: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roa_text_forms() {
        let a: RoaSpec = "192.0.2.0/24-26 AS64496".parse().unwrap();
        assert_eq!(a.to_string(), "192.0.2.0/24-26 AS64496");
        let b: RoaSpec = "192.0.2.0/24 AS64496".parse().unwrap();
        assert_eq!(b.max_length, 24);
        let c: RoaSpec = "2001:db8::/32-48 => 64496".parse().unwrap();
        assert_eq!(c.to_string(), "2001:db8::/32-48 AS64496");
        for bad in ["192.0.2.1/24 AS1", "192.0.2.0/24", "192.0.2.0/24-x AS1", "192.0.2.0/24 AS99999999999", "foo AS1"] {
            assert!(bad.parse::<RoaSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn delta_lines() {
        let d = RoaDelta::parse_lines("# comment\n+10.0.0.0/8 AS1\n-10.0.0.0/8-9 AS2  # old\n11.0.0.0/8 AS3\n\n").unwrap();
        assert_eq!(d.added.len(), 2);
        assert_eq!(d.removed[0].to_string(), "10.0.0.0/8-9 AS2");
        let e = RoaDelta::parse_lines("10.0.0.0/8 AS1\nnonsense\n10.0.0.1/8 AS2").unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].entry, "nonsense");
    }
}
