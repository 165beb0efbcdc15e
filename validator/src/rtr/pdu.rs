//! RTR PDUs (RFC 6810 §5 v0, RFC 8210 §5 v1, draft-ietf-sidrops-8210bis §5 v2;
//! CHECKLIST 5.1): byte-exact encoding and a strict decoder. The header is
//! checked (type, version, length against the type and the 65,535 limit)
//! before any body is read or allocated (RTR-2).

use std::fmt;

/// The highest version we speak (8210bis).
pub const MAX_VERSION: u8 = 2;
/// Length limit of any PDU (RTR-2).
pub const MAX_LENGTH: u32 = 65_535;
pub const HEADER_LEN: usize = 8;

pub mod kind {
    pub const SERIAL_NOTIFY: u8 = 0;
    pub const SERIAL_QUERY: u8 = 1;
    pub const RESET_QUERY: u8 = 2;
    pub const CACHE_RESPONSE: u8 = 3;
    pub const IPV4_PREFIX: u8 = 4;
    pub const IPV6_PREFIX: u8 = 6;
    pub const END_OF_DATA: u8 = 7;
    pub const CACHE_RESET: u8 = 8;
    pub const ROUTER_KEY: u8 = 9;
    pub const ERROR_REPORT: u8 = 10;
    pub const ASPA: u8 = 11;
}

/// Error codes (RTR-17).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    CorruptData = 0,
    InternalError = 1,
    NoDataAvailable = 2,
    InvalidRequest = 3,
    UnsupportedVersion = 4,
    UnsupportedPduType = 5,
    WithdrawalOfUnknownRecord = 6,
    DuplicateAnnouncement = 7,
    UnexpectedVersion = 8,
    AspaProviderListError = 9,
    TransportFailure = 10,
    OrderingError = 11,
    CacheRestart = 12,
    CacheShutdown = 13,
}

impl ErrorCode {
    pub fn from_u16(v: u16) -> Option<Self> {
        use ErrorCode::*;
        [
            CorruptData,
            InternalError,
            NoDataAvailable,
            InvalidRequest,
            UnsupportedVersion,
            UnsupportedPduType,
            WithdrawalOfUnknownRecord,
            DuplicateAnnouncement,
            UnexpectedVersion,
            AspaProviderListError,
            TransportFailure,
            OrderingError,
            CacheRestart,
            CacheShutdown,
        ]
        .get(v as usize)
        .copied()
    }

    /// Whether `version` defines this code (RTR-17: send only those).
    pub fn defined_in(self, version: u8) -> bool {
        match self as u16 {
            0..=7 => true,
            8 => version >= 1,
            _ => version >= 2,
        }
    }

    /// Whether the session ends with this error (RTR-17).
    pub fn is_fatal(self, version: u8) -> bool {
        match self {
            ErrorCode::NoDataAvailable | ErrorCode::CacheRestart => false,
            ErrorCode::UnsupportedVersion => version < 2,
            _ => true,
        }
    }
}

/// End of Data timers in seconds (RTR-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
}

impl Default for Timers {
    fn default() -> Self {
        Timers { refresh: 3600, retry: 600, expire: 7200 }
    }
}

impl Timers {
    /// The ranges of RFC 8210 §6, and Expire above both others (RTR-12).
    pub fn check(&self) -> Result<(), TimersError> {
        let ranges = [("refresh", self.refresh, 1, 86_400), ("retry", self.retry, 1, 7_200), ("expire", self.expire, 600, 172_800)];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(TimersError::Range { name, value, min, max });
            }
        }
        if self.expire <= self.refresh || self.expire <= self.retry {
            return Err(TimersError::Order(*self));
        }
        Ok(())
    }
}

/// Timers RTR does not allow (RFC 8210 §6, RTR-12).
#[derive(Debug, thiserror::Error)]
pub enum TimersError {
    #[error("{name} {value} is outside {min}..={max} seconds")]
    Range { name: &'static str, value: u32, min: u32, max: u32 },
    #[error("expire {} must exceed refresh {} and retry {}", .0.expire, .0.refresh, .0.retry)]
    Order(Timers),
}

/// A decoded PDU of any type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pdu {
    SerialNotify {
        version: u8,
        session: u16,
        serial: u32,
    },
    SerialQuery {
        version: u8,
        session: u16,
        serial: u32,
    },
    ResetQuery {
        version: u8,
    },
    CacheResponse {
        version: u8,
        session: u16,
    },
    Ipv4Prefix {
        version: u8,
        announce: bool,
        prefix_len: u8,
        max_len: u8,
        addr: u32,
        asn: u32,
    },
    Ipv6Prefix {
        version: u8,
        announce: bool,
        prefix_len: u8,
        max_len: u8,
        addr: u128,
        asn: u32,
    },
    /// `timers` is `None` in version 0 (12-octet End of Data).
    EndOfData {
        version: u8,
        session: u16,
        serial: u32,
        timers: Option<Timers>,
    },
    CacheReset {
        version: u8,
    },
    RouterKey {
        version: u8,
        announce: bool,
        ski: [u8; 20],
        asn: u32,
        spki: Vec<u8>,
    },
    ErrorReport {
        version: u8,
        code: u16,
        pdu: Vec<u8>,
        text: String,
    },
    Aspa {
        version: u8,
        announce: bool,
        customer: u32,
        providers: Vec<u32>,
    },
}

/// Why a PDU was refused, with the error code to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PduError {
    pub code: ErrorCode,
    pub text: String,
}

impl fmt::Display for PduError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error code {})", self.text, self.code as u16)
    }
}

fn err<T>(code: ErrorCode, text: impl Into<String>) -> Result<T, PduError> {
    Err(PduError { code, text: text.into() })
}

/// The common header (CHECKLIST 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub kind: u8,
    /// Session ID, error code, or flags and zero.
    pub field: u16,
    pub length: u32,
}

impl Header {
    pub fn parse(b: &[u8; HEADER_LEN]) -> Header {
        Header { version: b[0], kind: b[1], field: u16::from_be_bytes([b[2], b[3]]), length: u32::from_be_bytes([b[4], b[5], b[6], b[7]]) }
    }

    /// The length rules of RTR-2 for this type and version, checked before the
    /// body is read. The version itself is the caller's concern (RTR-14), but a
    /// type the version does not define is refused here.
    pub fn check(&self) -> Result<(), PduError> {
        use kind::*;
        if self.length < HEADER_LEN as u32 || self.length > MAX_LENGTH {
            return err(ErrorCode::CorruptData, format!("PDU length {} is outside 8..=65535", self.length));
        }
        let fixed = match self.kind {
            SERIAL_NOTIFY | SERIAL_QUERY => Some(12),
            RESET_QUERY | CACHE_RESPONSE | CACHE_RESET => Some(8),
            IPV4_PREFIX => Some(20),
            IPV6_PREFIX => Some(32),
            END_OF_DATA => Some(if self.version == 0 { 12 } else { 24 }),
            ROUTER_KEY if self.version >= 1 => None,
            ERROR_REPORT => None,
            ASPA if self.version >= 2 => None,
            k => return err(ErrorCode::UnsupportedPduType, format!("PDU type {k} is not defined in version {}", self.version)),
        };
        let ok = match (fixed, self.kind) {
            (Some(n), _) => self.length == n,
            (None, ROUTER_KEY) => self.length > 32,
            (None, ERROR_REPORT) => self.length >= 16,
            (None, _) => self.length >= 12 && self.length.is_multiple_of(4),
        };
        if !ok {
            return err(ErrorCode::CorruptData, format!("PDU type {} cannot have length {}", self.kind, self.length));
        }
        Ok(())
    }
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Pdu {
    pub fn version(&self) -> u8 {
        match self {
            Pdu::SerialNotify { version, .. }
            | Pdu::SerialQuery { version, .. }
            | Pdu::ResetQuery { version }
            | Pdu::CacheResponse { version, .. }
            | Pdu::Ipv4Prefix { version, .. }
            | Pdu::Ipv6Prefix { version, .. }
            | Pdu::EndOfData { version, .. }
            | Pdu::CacheReset { version }
            | Pdu::RouterKey { version, .. }
            | Pdu::ErrorReport { version, .. }
            | Pdu::Aspa { version, .. } => *version,
        }
    }

    /// Decode one whole PDU (header and body). Versions above 2 are refused
    /// with Unsupported Protocol Version; reserved fields are ignored (RTR-1).
    pub fn decode(b: &[u8]) -> Result<Pdu, PduError> {
        let Some(hdr) = b.first_chunk::<HEADER_LEN>() else { return err(ErrorCode::CorruptData, "PDU shorter than its header") };
        let h = Header::parse(hdr);
        if h.version > MAX_VERSION {
            return err(ErrorCode::UnsupportedVersion, format!("protocol version {} is not supported", h.version));
        }
        h.check()?;
        if b.len() != h.length as usize {
            return err(ErrorCode::CorruptData, format!("PDU length {} but {} octets", h.length, b.len()));
        }
        let (version, field, body) = (h.version, h.field, &b[HEADER_LEN..]);
        let flags = (field >> 8) as u8;
        Ok(match h.kind {
            kind::SERIAL_NOTIFY => Pdu::SerialNotify { version, session: field, serial: be32(body) },
            kind::SERIAL_QUERY => Pdu::SerialQuery { version, session: field, serial: be32(body) },
            kind::RESET_QUERY => Pdu::ResetQuery { version },
            kind::CACHE_RESPONSE => Pdu::CacheResponse { version, session: field },
            kind::CACHE_RESET => Pdu::CacheReset { version },
            kind::IPV4_PREFIX | kind::IPV6_PREFIX => {
                let (announce, prefix_len, max_len) = (body[0] & 1 == 1, body[1], body[2]);
                let v4 = h.kind == kind::IPV4_PREFIX;
                let bits = if v4 { 32 } else { 128 };
                // RTR-8: lengths in range, maxLen not below the length, no host bits.
                if prefix_len > bits || max_len > bits || max_len < prefix_len {
                    return err(ErrorCode::CorruptData, format!("prefix length {prefix_len} with maxLength {max_len}"));
                }
                let host = |addr: u128| prefix_len < bits && addr << prefix_len << (128 - bits as u32) != 0;
                if v4 {
                    let addr = be32(&body[4..8]);
                    if host(addr as u128) {
                        return err(ErrorCode::CorruptData, "IPv4 prefix has bits set beyond its length");
                    }
                    Pdu::Ipv4Prefix { version, announce, prefix_len, max_len, addr, asn: be32(&body[8..12]) }
                } else {
                    let addr = u128::from_be_bytes(<[u8; 16]>::try_from(&body[4..20]).unwrap_or([0; 16]));
                    if host(addr) {
                        return err(ErrorCode::CorruptData, "IPv6 prefix has bits set beyond its length");
                    }
                    Pdu::Ipv6Prefix { version, announce, prefix_len, max_len, addr, asn: be32(&body[20..24]) }
                }
            }
            kind::END_OF_DATA => {
                let timers =
                    (version > 0).then(|| Timers { refresh: be32(&body[4..8]), retry: be32(&body[8..12]), expire: be32(&body[12..16]) });
                Pdu::EndOfData { version, session: field, serial: be32(body), timers }
            }
            kind::ROUTER_KEY => Pdu::RouterKey {
                version,
                announce: flags & 1 == 1,
                ski: <[u8; 20]>::try_from(&body[..20]).unwrap_or([0; 20]),
                asn: be32(&body[20..24]),
                spki: body[24..].to_vec(),
            },
            kind::ERROR_REPORT => {
                let n = be32(body) as usize;
                let Some(pdu) = body.get(4..4 + n) else {
                    return err(ErrorCode::CorruptData, "encapsulated PDU overruns the Error Report");
                };
                let rest = &body[4 + n..];
                let Some(m) = rest.first_chunk::<4>().map(|m| u32::from_be_bytes(*m) as usize) else {
                    return err(ErrorCode::CorruptData, "Error Report without its text length");
                };
                if rest.len() != 4 + m {
                    return err(ErrorCode::CorruptData, "Error Report text length does not match the PDU length");
                }
                let Ok(text) = std::str::from_utf8(&rest[4..]) else {
                    return err(ErrorCode::CorruptData, "Error Report text is not UTF-8");
                };
                Pdu::ErrorReport { version, code: field, pdu: pdu.to_vec(), text: text.to_string() }
            }
            kind::ASPA => {
                let announce = flags & 1 == 1;
                let customer = be32(body);
                let providers: Vec<u32> = body[4..].chunks_exact(4).map(be32).collect();
                // RTR-10: a withdrawal has no list; an announcement a strictly ascending
                // one, without AS0 beside others.
                let ascending = providers.windows(2).all(|w| w[0] < w[1]);
                if announce && (providers.is_empty() || !ascending || (providers.len() > 1 && providers[0] == 0)) {
                    return err(ErrorCode::AspaProviderListError, "ASPA provider list is empty, unsorted, repeated or has AS0");
                }
                if !announce && !providers.is_empty() {
                    return err(ErrorCode::AspaProviderListError, "ASPA withdrawal carries providers");
                }
                Pdu::Aspa { version, announce, customer, providers }
            }
            k => return err(ErrorCode::UnsupportedPduType, format!("PDU type {k}")),
        })
    }

    /// Append the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Pdu::SerialNotify { version, session, serial } => header12(out, *version, kind::SERIAL_NOTIFY, *session, *serial),
            Pdu::SerialQuery { version, session, serial } => header12(out, *version, kind::SERIAL_QUERY, *session, *serial),
            Pdu::ResetQuery { version } => header(out, *version, kind::RESET_QUERY, 0, 8),
            Pdu::CacheResponse { version, session } => header(out, *version, kind::CACHE_RESPONSE, *session, 8),
            Pdu::CacheReset { version } => header(out, *version, kind::CACHE_RESET, 0, 8),
            Pdu::Ipv4Prefix { version, announce, prefix_len, max_len, addr, asn } => {
                ipv4(out, *version, *announce, *prefix_len, *max_len, *addr, *asn)
            }
            Pdu::Ipv6Prefix { version, announce, prefix_len, max_len, addr, asn } => {
                ipv6(out, *version, *announce, *prefix_len, *max_len, *addr, *asn)
            }
            Pdu::EndOfData { version, session, serial, timers } => match timers {
                Some(t) if *version > 0 => end_of_data(out, *version, *session, *serial, t),
                _ => header12(out, *version, kind::END_OF_DATA, *session, *serial),
            },
            Pdu::RouterKey { version, announce, ski, asn, spki } => router_key(out, *version, *announce, ski, *asn, spki),
            Pdu::ErrorReport { version, code, pdu, text } => {
                header(out, *version, kind::ERROR_REPORT, *code, (16 + pdu.len() + text.len()) as u32);
                out.extend_from_slice(&(pdu.len() as u32).to_be_bytes());
                out.extend_from_slice(pdu);
                out.extend_from_slice(&(text.len() as u32).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
            Pdu::Aspa { version, announce, customer, providers } => aspa(out, *version, *announce, *customer, providers),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// An Error Report for `code` in `version`, carrying at most the first
/// `MAX_ECHO` octets of the offending PDU (RTR-16).
pub fn error_report(version: u8, code: ErrorCode, offending: &[u8], text: &str) -> Pdu {
    const MAX_ECHO: usize = 1024;
    Pdu::ErrorReport {
        version,
        code: code as u16,
        pdu: offending[..offending.len().min(MAX_ECHO)].to_vec(),
        text: text.chars().take(1024).collect(),
    }
}

fn header(out: &mut Vec<u8>, version: u8, kind: u8, field: u16, length: u32) {
    out.extend_from_slice(&[version, kind]);
    out.extend_from_slice(&field.to_be_bytes());
    out.extend_from_slice(&length.to_be_bytes());
}

fn header12(out: &mut Vec<u8>, version: u8, kind: u8, field: u16, value: u32) {
    header(out, version, kind, field, 12);
    out.extend_from_slice(&value.to_be_bytes());
}

pub(crate) fn end_of_data(out: &mut Vec<u8>, version: u8, session: u16, serial: u32, t: &Timers) {
    if version == 0 {
        return header12(out, 0, kind::END_OF_DATA, session, serial);
    }
    header(out, version, kind::END_OF_DATA, session, 24);
    for v in [serial, t.refresh, t.retry, t.expire] {
        out.extend_from_slice(&v.to_be_bytes());
    }
}

pub(crate) fn ipv4(out: &mut Vec<u8>, version: u8, announce: bool, len: u8, max: u8, addr: u32, asn: u32) {
    header(out, version, kind::IPV4_PREFIX, 0, 20);
    out.extend_from_slice(&[announce as u8, len, max, 0]);
    out.extend_from_slice(&addr.to_be_bytes());
    out.extend_from_slice(&asn.to_be_bytes());
}

pub(crate) fn ipv6(out: &mut Vec<u8>, version: u8, announce: bool, len: u8, max: u8, addr: u128, asn: u32) {
    header(out, version, kind::IPV6_PREFIX, 0, 32);
    out.extend_from_slice(&[announce as u8, len, max, 0]);
    out.extend_from_slice(&addr.to_be_bytes());
    out.extend_from_slice(&asn.to_be_bytes());
}

pub(crate) fn router_key(out: &mut Vec<u8>, version: u8, announce: bool, ski: &[u8; 20], asn: u32, spki: &[u8]) {
    header(out, version, kind::ROUTER_KEY, (announce as u16) << 8, (32 + spki.len()) as u32);
    out.extend_from_slice(ski);
    out.extend_from_slice(&asn.to_be_bytes());
    out.extend_from_slice(spki);
}

pub(crate) fn aspa(out: &mut Vec<u8>, version: u8, announce: bool, customer: u32, providers: &[u32]) {
    let providers = if announce { providers } else { &[] };
    header(out, version, kind::ASPA, (announce as u16) << 8, (12 + 4 * providers.len()) as u32);
    out.extend_from_slice(&customer.to_be_bytes());
    for p in providers {
        out.extend_from_slice(&p.to_be_bytes());
    }
}
