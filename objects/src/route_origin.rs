//! A route origin: a prefix, the longest length a route for it may have
//! (maxLength) and the AS allowed to originate it. The triple a ROA
//! authorizes (RFC 9582 §4), a VRP carries (RFC 6811 §2) and a member asks
//! for, with its one rule: prefix length ≤ maxLength ≤ the family's length
//! (ROA-6). Text form `PREFIX[-MAXLEN] AS<N>` (also Krill's `PREFIX-MAXLEN
//! => N`); JSON form `{"prefix": "192.0.2.0/24", "max_length": 24, "asn": 64496}`.

use crate::error::{reject, Error, Result};
use crate::resources::{Asn, Prefix};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteOrigin {
    pub prefix: Prefix,
    pub max_length: u8,
    pub asn: Asn,
}

impl RouteOrigin {
    /// A route origin; without `max_length`, the prefix's own length.
    pub fn new(prefix: Prefix, max_length: Option<u8>, asn: Asn) -> RouteOrigin {
        RouteOrigin { prefix, max_length: max_length.unwrap_or(prefix.len), asn }
    }

    /// ROA-6: the prefix's length ≤ maxLength ≤ 32 or 128.
    pub fn check_max_length(&self) -> Result<()> {
        let bits = self.prefix.afi.bits();
        if self.max_length < self.prefix.len || self.max_length > bits {
            return reject(
                "ROA-6",
                format!("maxLength {} must lie between the prefix length {} and {bits}", self.max_length, self.prefix.len),
            );
        }
        Ok(())
    }
}

impl fmt::Display for RouteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} {}", self.prefix, self.max_length, self.asn)
    }
}

impl FromStr for RouteOrigin {
    type Err = Error;

    /// `PREFIX[-MAXLEN] AS<N>`, also `PREFIX[-MAXLEN] => N` as Krill writes it.
    /// The maxLength is read, not checked ([`RouteOrigin::check_max_length`]).
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let Some((pfx, asn)) = t.split_once("=>").or_else(|| t.rsplit_once(char::is_whitespace)) else {
            return reject("ROA-6", "expected 'PREFIX[-MAXLEN] AS<N>'");
        };
        let (pfx, asn) = (pfx.trim(), asn.trim());
        let asn = Asn::from_str(asn)?;
        let (p, max) = match pfx.rsplit_once('-') {
            Some((p, m)) if !p.contains(':') || m.chars().all(|c| c.is_ascii_digit()) => match m.parse::<u8>() {
                Ok(m) => (p, Some(m)),
                Err(_) => return reject("ROA-6", format!("'{m}' is not a maxLength")),
            },
            _ => (pfx, None),
        };
        Ok(RouteOrigin::new(Prefix::from_str(p)?, max, asn))
    }
}

/// The JSON form.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema), schema(as = RouteOrigin))]
struct Json {
    /// `192.0.2.0/24`, `2001:db8::/32`.
    #[cfg_attr(feature = "schema", schema(example = "192.0.2.0/24"))]
    prefix: String,
    /// The prefix's own length when absent (ROA-6).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schema(example = 24))]
    max_length: Option<u8>,
    #[cfg_attr(feature = "schema", schema(example = 64496))]
    asn: u32,
}

#[cfg(feature = "schema")]
impl utoipa::PartialSchema for RouteOrigin {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Json as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "schema")]
impl utoipa::ToSchema for RouteOrigin {
    fn name() -> std::borrow::Cow<'static, str> {
        "RouteOrigin".into()
    }
}

impl Serialize for RouteOrigin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        Json { prefix: self.prefix.to_string(), max_length: Some(self.max_length), asn: self.asn.0 }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RouteOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let j = Json::deserialize(d)?;
        let prefix = Prefix::from_str(&j.prefix).map_err(serde::de::Error::custom)?;
        Ok(RouteOrigin::new(prefix, j.max_length, Asn(j.asn)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ro(s: &str) -> RouteOrigin {
        s.parse().unwrap()
    }

    #[test]
    fn roa_6_text_forms_and_the_max_length_rule() {
        assert_eq!(ro("192.0.2.0/24 AS64496").to_string(), "192.0.2.0/24-24 AS64496");
        assert_eq!(ro(" 192.0.2.0/24-26 => 64496 "), ro("192.0.2.0/24-26 AS64496"));
        assert_eq!(ro("2001:db8::/32-48 as64497").max_length, 48);
        assert!(ro("192.0.2.0/24-26 AS1").check_max_length().is_ok());
        for bad in ["192.0.2.0/24-23 AS1", "192.0.2.0/24-33 AS1", "2001:db8::/32-129 AS1"] {
            assert_eq!(ro(bad).check_max_length().unwrap_err().rule, "ROA-6", "{bad}");
        }
        for malformed in ["192.0.2.0/24", "192.0.2.0/24-x AS1", "192.0.2.1/24 AS1", "192.0.2.0/24 ASx"] {
            assert!(malformed.parse::<RouteOrigin>().is_err(), "{malformed}");
        }
        let j = serde_json::to_string(&ro("192.0.2.0/24 AS64496")).unwrap();
        assert_eq!(j, r#"{"prefix":"192.0.2.0/24","max_length":24,"asn":64496}"#);
        assert_eq!(serde_json::from_str::<RouteOrigin>(r#"{"prefix":"192.0.2.0/24","asn":64496}"#).unwrap(), ro("192.0.2.0/24 AS64496"));
    }
}
