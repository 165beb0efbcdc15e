//! What members ask for: ROA authorizations (`192.0.2.0/24-24 AS64496`), deltas of
//! them, and ASPA provider sets; with the checks of ROA-10 and ASPA-3/4.

use crate::contract::{Rejection, RoaDelta, RoaSpec};
use rpkit_objects::resources::ResourceSet;
use rpkit_objects::route_origin::RouteOrigin;
use std::fmt;
use std::str::FromStr;

/// Why a ROA text is not understood.
pub fn parse_error(text: &str, why: impl fmt::Display) -> Rejection {
    Rejection { entry: text.to_string(), code: "malformed".into(), reason: why.to_string() }
}

/// A ROA text, refused as a rejection naming it.
pub fn parse_roa(text: &str) -> Result<RoaSpec, Rejection> {
    RouteOrigin::from_str(text).map_err(|e| parse_error(text, e.detail))
}

/// The checks of ROA-10 and RFC 9582 §4.3.2.2 against the member's resources.
pub fn check_roa(spec: &RoaSpec, held: &ResourceSet) -> Result<(), Rejection> {
    let entry = spec.to_string();
    if let Err(e) = spec.check_max_length() {
        return Err(Rejection { entry, code: "bad_max_length".into(), reason: e.detail.into_owned() });
    }
    if !held.contains_prefix(&spec.prefix) {
        let reason = format!("{} is not within the member's resources ({held})", spec.prefix);
        return Err(Rejection { entry, code: "not_held".into(), reason });
    }
    Ok(())
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
            match parse_roa(body) {
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
