//! Route origin validation (RFC 6811 §2): a route is NotFound when no VRP
//! covers its prefix, Valid when a covering VRP has its origin AS (never AS 0,
//! RFC 6483 §4) and a maxLength at least its length, else Invalid.

use crate::report::Vrp;
use rpkit_objects::resources::Prefix;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Valid,
    Invalid,
    NotFound,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Valid => "valid",
            State::Invalid => "invalid",
            State::NotFound => "not-found",
        }
    }
}

/// The outcome for one route, with the covering VRPs sorted into why.
#[derive(Clone, Debug)]
pub struct Validity<'a> {
    pub state: State,
    /// Covering VRPs with the origin AS and a long enough maxLength.
    pub matched: Vec<&'a Vrp>,
    /// Covering VRPs of another AS.
    pub unmatched_as: Vec<&'a Vrp>,
    /// Covering VRPs of the origin AS whose maxLength is too short.
    pub unmatched_length: Vec<&'a Vrp>,
}

impl Validity<'_> {
    /// Routinator's reason for an invalid route: `as` or `length`.
    pub fn reason(&self) -> Option<&'static str> {
        match self.state {
            State::Invalid if !self.unmatched_length.is_empty() => Some("length"),
            State::Invalid => Some("as"),
            _ => None,
        }
    }
}

/// VRPs sorted by prefix, for lookups of every covering prefix.
pub enum Index<'a> {
    /// Already in prefix order, as a finished `Report` keeps them: borrowed as is.
    InOrder(&'a [Vrp]),
    Sorted(Vec<&'a Vrp>),
}

impl<'a> Index<'a> {
    /// Borrows `vrps` when they are in prefix order (one pass), else sorts references.
    pub fn new(vrps: &'a [Vrp]) -> Self {
        if vrps.is_sorted_by_key(|x| x.origin.prefix) {
            return Index::InOrder(vrps);
        }
        let mut v: Vec<&Vrp> = vrps.iter().collect();
        v.sort_by_key(|x| x.origin.prefix);
        Index::Sorted(v)
    }

    /// VRPs whose prefix covers `route`: one binary search per shorter length.
    pub fn covering(&self, route: &Prefix) -> Vec<&'a Vrp> {
        let mut out = Vec::new();
        for len in 0..=route.len {
            let Some(p) = Prefix::new(route.afi, route.addr & !host_mask(route, len), len) else { continue };
            match self {
                Index::InOrder(s) => {
                    let s: &'a [Vrp] = s;
                    let start = s.partition_point(|v| v.origin.prefix < p);
                    out.extend(s[start..].iter().take_while(|v| v.origin.prefix == p));
                }
                Index::Sorted(s) => {
                    let start = s.partition_point(|v| v.origin.prefix < p);
                    out.extend(s[start..].iter().copied().take_while(|v| v.origin.prefix == p));
                }
            }
        }
        out
    }

    pub fn validate(&self, route: &Prefix, origin: u32) -> Validity<'a> {
        let covering = self.covering(route);
        let mut v = Validity { state: State::NotFound, matched: vec![], unmatched_as: vec![], unmatched_length: vec![] };
        for vrp in covering {
            if vrp.origin.asn.0 != origin || origin == 0 {
                v.unmatched_as.push(vrp);
            } else if route.len > vrp.origin.max_length {
                v.unmatched_length.push(vrp);
            } else {
                v.matched.push(vrp);
            }
        }
        v.state = if !v.matched.is_empty() {
            State::Valid
        } else if v.unmatched_as.is_empty() && v.unmatched_length.is_empty() {
            State::NotFound
        } else {
            State::Invalid
        };
        v
    }
}

fn host_mask(p: &Prefix, len: u8) -> u128 {
    let host = u32::from(p.afi.bits() - len);
    if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    }
}

/// Two words that are not a route.
#[derive(Debug, thiserror::Error)]
#[error("not a route: {0} {1} (want PREFIX AS<N>)")]
pub struct NotARoute(pub String, pub String);

/// A route as `PREFIX AS<N>` or `AS<N> PREFIX` (either order, `AS` optional on the number).
pub fn parse_route(a: &str, b: &str) -> Result<(Prefix, u32), NotARoute> {
    let asn = |s: &str| s.strip_prefix("AS").or_else(|| s.strip_prefix("as")).unwrap_or(s).parse::<u32>().ok();
    let pfx = |s: &str| s.parse::<Prefix>().ok();
    match (pfx(a), asn(b), asn(a), pfx(b)) {
        (Some(p), Some(n), _, _) | (_, _, Some(n), Some(p)) => Ok((p, n)),
        _ => Err(NotARoute(a.to_string(), b.to_string())),
    }
}

fn vrp_json(v: &Vrp) -> Value {
    json!({"asn": format!("AS{}", v.origin.asn.0), "prefix": v.origin.prefix.to_string(), "max_length": v.origin.max_length})
}

/// One route in Routinator's `validated_route` JSON shape.
pub fn route_json(prefix: &str, asn: u32, v: &Validity<'_>) -> Value {
    let description = match (v.state, v.reason()) {
        (State::Valid, _) => "a covering VRP authorises the origin AS for this prefix length",
        (State::NotFound, _) => "no VRP covers the prefix",
        (_, Some("length")) => "a VRP of the origin AS covers the prefix, but with a shorter maximum length",
        _ => "VRPs cover the prefix, but none names the origin AS",
    };
    let mut validity = json!({
        "state": v.state.as_str(),
        "description": description,
        "VRPs": {
            "matched": v.matched.iter().map(|x| vrp_json(x)).collect::<Vec<_>>(),
            "unmatched_as": v.unmatched_as.iter().map(|x| vrp_json(x)).collect::<Vec<_>>(),
            "unmatched_length": v.unmatched_length.iter().map(|x| vrp_json(x)).collect::<Vec<_>>(),
        }
    });
    if let Some(r) = v.reason() {
        validity["reason"] = r.into();
    }
    json!({"route": {"origin_asn": format!("AS{asn}"), "prefix": prefix}, "validity": validity})
}

#[cfg(test)]
mod tests {
    use super::*;
    use rpkit_objects::der::Time;
    use rpkit_objects::resources::Asn;
    use rpkit_objects::route_origin::RouteOrigin;

    fn vrp(p: &str, max: u8, asn: u32) -> Vrp {
        Vrp { origin: RouteOrigin { prefix: p.parse().unwrap(), max_length: max, asn: Asn(asn) }, ta: "ta".into(), expires: Time(0) }
    }

    #[test]
    fn rfc_6811_states() {
        let vrps = vec![
            vrp("10.0.0.0/16", 24, 64500),
            vrp("10.0.0.0/8", 8, 64501),
            vrp("192.0.2.0/24", 24, 0),
            vrp("2001:db8::/32", 48, 64500),
            vrp("10.1.0.0/16", 16, 64502),
        ];
        let idx = Index::new(&vrps);
        let check = |p: &str, asn: u32| {
            let v = idx.validate(&p.parse().unwrap(), asn);
            (v.state, v.reason(), v.matched.len(), v.unmatched_as.len(), v.unmatched_length.len())
        };
        assert_eq!(check("10.0.1.0/24", 64500), (State::Valid, None, 1, 1, 0));
        assert_eq!(check("10.0.1.0/25", 64500), (State::Invalid, Some("length"), 0, 1, 1));
        assert_eq!(check("10.0.1.0/24", 64999), (State::Invalid, Some("as"), 0, 2, 0));
        assert_eq!(check("10.0.0.0/8", 64501), (State::Valid, None, 1, 0, 0));
        assert_eq!(check("11.0.0.0/8", 64501), (State::NotFound, None, 0, 0, 0));
        assert_eq!(check("192.0.2.0/24", 0), (State::Invalid, Some("as"), 0, 1, 0), "AS0 never validates");
        assert_eq!(check("192.0.2.0/24", 64500), (State::Invalid, Some("as"), 0, 1, 0));
        assert_eq!(check("2001:db8:1::/48", 64500), (State::Valid, None, 1, 0, 0));
        assert_eq!(check("2001:db8::/31", 64500), (State::NotFound, None, 0, 0, 0), "a less specific is not covered");
        assert_eq!(check("0.0.0.0/0", 64500), (State::NotFound, None, 0, 0, 0));
    }

    #[test]
    fn routes_parse_in_either_order() {
        assert_eq!(parse_route("AS64500", "10.0.0.0/24").unwrap().1, 64500);
        assert_eq!(parse_route("10.0.0.0/24", "AS64500").unwrap().0.len, 24);
        assert!(parse_route("10.0.0.0/24", "ASX").is_err());
    }
}
