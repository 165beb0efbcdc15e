//! UTCTime and GeneralizedTime as RFC 5280 §4.1.2.5 profiles them (CERT-7, MFT-4):
//! always UTC (`Z`), always with seconds, never fractions; UTCTime for years before
//! 2050, GeneralizedTime from 2050 on.

use super::{Reader, Tag, DER};
use crate::error::{reject, Error, Result};
use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// A point in time, in whole seconds since the Unix epoch (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

impl Time {
    pub fn now() -> Self {
        Time(Utc::now().timestamp())
    }

    pub fn from_ymd_hms(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<Self> {
        let dt = NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, s)?;
        Some(Time(dt.and_utc().timestamp()))
    }

    pub fn to_chrono(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or_default()
    }

    pub fn year(self) -> i32 {
        self.to_chrono().year()
    }

    pub fn add_secs(self, secs: i64) -> Self {
        Time(self.0.saturating_add(secs))
    }

    /// RFC 3339, e.g. `2026-11-23T10:00:00Z`.
    pub fn rfc3339(self) -> String {
        self.to_chrono().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// Parse an RFC 3339 UTC time (`2026-11-23T10:00:00Z`), as used on command lines.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s).ok().map(|t| Time(t.timestamp()))
    }

    /// Read a Time CHOICE (UTCTime or GeneralizedTime) with the RFC 5280 year split.
    pub fn read_x509(r: &mut Reader<'_>, what: &str) -> Result<Self> {
        let tlv = r.any().map_err(|e| e.context(what))?;
        let t = match tlv.tag {
            Tag::UTC_TIME => Self::from_utc_time(tlv.value),
            Tag::GENERALIZED_TIME => {
                let t = Self::from_generalized_time(tlv.value)?;
                if t.year() < 2050 {
                    return reject("CERT-7", format!("{what}: GeneralizedTime used for a year before 2050"));
                }
                Ok(t)
            }
            other => reject(DER, format!("expected a time, found {other}")),
        };
        t.map_err(|e| e.context(what))
    }

    /// Read a GeneralizedTime (manifests use it for every year, MFT-4).
    pub fn read_generalized(r: &mut Reader<'_>, what: &str) -> Result<Self> {
        let tlv = r.any().map_err(|e| e.context(what))?;
        if tlv.tag != Tag::GENERALIZED_TIME {
            return reject("MFT-4", format!("{what}: must be GeneralizedTime, found {}", tlv.tag));
        }
        Self::from_generalized_time(tlv.value).map_err(|e| e.context(what))
    }

    pub fn from_utc_time(v: &[u8]) -> Result<Self> {
        if v.len() != 13 || v[12] != b'Z' {
            return reject("CERT-7", "UTCTime must be YYMMDDHHMMSSZ");
        }
        let yy = digits(&v[0..2])? as i32;
        let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
        Self::civil(year, &v[2..12])
    }

    pub fn from_generalized_time(v: &[u8]) -> Result<Self> {
        if v.len() != 15 || v[14] != b'Z' {
            return reject("CERT-7", "GeneralizedTime must be YYYYMMDDHHMMSSZ");
        }
        let year = digits(&v[0..4])? as i32;
        Self::civil(year, &v[4..14])
    }

    fn civil(year: i32, rest: &[u8]) -> Result<Self> {
        let f = |i: usize| digits(&rest[i..i + 2]);
        Self::from_ymd_hms(year, f(0)?, f(2)?, f(4)?, f(6)?, f(8)?).ok_or_else(|| Error::new("CERT-7", "time field out of range"))
    }

    /// Encode per RFC 5280: UTCTime before 2050, GeneralizedTime after.
    pub fn encode_x509(self) -> Vec<u8> {
        if self.year() < 2050 {
            self.encode_utc()
        } else {
            self.encode_generalized()
        }
    }

    pub fn encode_utc(self) -> Vec<u8> {
        super::tlv(Tag::UTC_TIME, self.to_chrono().format("%y%m%d%H%M%SZ").to_string().as_bytes())
    }

    pub fn encode_generalized(self) -> Vec<u8> {
        super::tlv(Tag::GENERALIZED_TIME, self.to_chrono().format("%Y%m%d%H%M%SZ").to_string().as_bytes())
    }
}

fn digits(v: &[u8]) -> Result<u32> {
    v.iter().try_fold(
        0u32,
        |acc, b| {
            if b.is_ascii_digit() {
                Ok(acc * 10 + (b - b'0') as u32)
            } else {
                reject("CERT-7", "non-digit in time")
            }
        },
    )
}

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}
