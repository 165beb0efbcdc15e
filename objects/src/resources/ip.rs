//! IP address resources (RFC 3779 §2): prefixes, ranges and address blocks per
//! family, their text forms (`192.0.2.0/24`, `10.0.0.0-10.0.2.255`, `2001:db8::/32`)
//! and their BIT STRING encodings (RES-4, RES-5).

use super::range_set::RangeSet;
use crate::der::{self, BitString, Reader, Tag};
use crate::error::{reject, Error, Result};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Address family (RFC 3779 §2.2.3.3; AFI 1 and 2, never a SAFI in RPKI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Afi {
    #[serde(rename = "ipv4")]
    Ipv4,
    #[serde(rename = "ipv6")]
    Ipv6,
}

impl Afi {
    pub fn bits(self) -> u8 {
        match self {
            Afi::Ipv4 => 32,
            Afi::Ipv6 => 128,
        }
    }

    /// The two-octet addressFamily value.
    pub fn octets(self) -> [u8; 2] {
        match self {
            Afi::Ipv4 => [0, 1],
            Afi::Ipv6 => [0, 2],
        }
    }

    /// Decode an addressFamily OCTET STRING (RES-1, CERT-20: exactly two octets).
    pub fn from_octets(v: &[u8], rule: &'static str) -> Result<Self> {
        match v {
            [0, 1] => Ok(Afi::Ipv4),
            [0, 2] => Ok(Afi::Ipv6),
            [_, _, _] => reject(rule, "addressFamily with a SAFI is not allowed in RPKI"),
            _ => reject(rule, format!("unknown addressFamily {}", hex(v))),
        }
    }

    /// Mask of the address bits, as a u128 value space.
    pub fn max(self) -> u128 {
        match self {
            Afi::Ipv4 => u32::MAX as u128,
            Afi::Ipv6 => u128::MAX,
        }
    }
}

pub(crate) fn hex(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// An IP prefix: family, address (host bits clear) and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    pub afi: Afi,
    /// The address, right-aligned in a u128 (IPv4 uses the low 32 bits).
    pub addr: u128,
    pub len: u8,
}

impl Prefix {
    /// A prefix; `None` if the length exceeds the family or host bits are set.
    pub fn new(afi: Afi, addr: u128, len: u8) -> Option<Self> {
        if len > afi.bits() || addr > afi.max() {
            return None;
        }
        let p = Prefix { afi, addr, len };
        (p.first() == addr).then_some(p)
    }

    fn host_mask(&self) -> u128 {
        let host = (self.afi.bits() - self.len) as u32;
        if host >= 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        }
    }

    pub fn first(&self) -> u128 {
        self.addr & !self.host_mask()
    }

    pub fn last(&self) -> u128 {
        self.first() | self.host_mask()
    }

    /// Does this prefix cover `other` (same family, shorter or equal, same bits)?
    pub fn covers(&self, other: &Prefix) -> bool {
        self.afi == other.afi && self.len <= other.len && self.first() <= other.first() && other.last() <= self.last()
    }

    pub fn ip(&self) -> IpAddr {
        ip_of(self.afi, self.addr)
    }

    /// Decode an RFC 3779 IPAddress BIT STRING as a prefix (RES-4).
    pub fn from_bit_string(afi: Afi, bs: &BitString<'_>, rule: &'static str) -> Result<Self> {
        let (addr, len) = bits_to_addr(afi, bs, rule)?;
        Ok(Prefix { afi, addr, len })
    }

    /// The RFC 3779 IPAddress BIT STRING (RES-4): exactly `len` bits.
    pub fn to_bit_string(&self) -> Vec<u8> {
        addr_to_bits(self.afi, self.addr, self.len)
    }
}

/// Read `bits` of an address BIT STRING into a right-aligned value.
fn bits_to_addr(afi: Afi, bs: &BitString<'_>, rule: &'static str) -> Result<(u128, u8)> {
    let len = bs.bit_len();
    if len > afi.bits() as usize {
        return reject(rule, format!("{len}-bit address is longer than an {afi:?} address"));
    }
    let mut v: u128 = 0;
    for b in bs.bytes {
        v = (v << 8) | *b as u128;
    }
    let shift = afi.bits() as u32 - 8 * bs.bytes.len() as u32;
    Ok((v.checked_shl(shift).unwrap_or(0), len as u8))
}

fn addr_to_bits(afi: Afi, addr: u128, len: u8) -> Vec<u8> {
    let nbytes = (len as usize).div_ceil(8);
    let unused = (nbytes * 8 - len as usize) as u8;
    let total = afi.bits() as usize / 8;
    let bytes: Vec<u8> = (0..nbytes).map(|i| (addr >> (8 * (total - 1 - i))) as u8).collect();
    der::bit_string(unused, &bytes)
}

pub(crate) fn ip_of(afi: Afi, v: u128) -> IpAddr {
    match afi {
        Afi::Ipv4 => IpAddr::V4(Ipv4Addr::from(v as u32)),
        Afi::Ipv6 => IpAddr::V6(Ipv6Addr::from(v)),
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip(), self.len)
    }
}

impl FromStr for Prefix {
    type Err = Error;

    /// `192.0.2.0/24` or `2001:db8::/32`; host bits must be clear.
    fn from_str(s: &str) -> Result<Self> {
        let net = ipnet::IpNet::from_str(s.trim()).map_err(|_| Error::new("RFC 3779 §2.2.3.8", format!("'{s}' is not an IP prefix")))?;
        let (afi, addr) = match net.addr() {
            IpAddr::V4(a) => (Afi::Ipv4, u32::from(a) as u128),
            IpAddr::V6(a) => (Afi::Ipv6, u128::from(a)),
        };
        Prefix::new(afi, addr, net.prefix_len())
            .ok_or_else(|| Error::new("RFC 3779 §2.2.3.8", format!("'{s}' has host bits set beyond the prefix length")))
    }
}

/// The blocks of one address family, as a canonical range set over u128.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct IpBlocks {
    pub afi: Afi,
    pub set: RangeSet<u128>,
}

impl IpBlocks {
    pub fn empty(afi: Afi) -> Self {
        IpBlocks { afi, set: RangeSet::empty() }
    }

    pub fn full(afi: Afi) -> Self {
        IpBlocks { afi, set: RangeSet::from_ranges([(0, afi.max())]) }
    }

    pub fn from_prefixes<'a>(afi: Afi, prefixes: impl IntoIterator<Item = &'a Prefix>) -> Self {
        IpBlocks { afi, set: RangeSet::from_ranges(prefixes.into_iter().filter(|p| p.afi == afi).map(|p| (p.first(), p.last()))) }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn contains_prefix(&self, p: &Prefix) -> bool {
        p.afi == self.afi && self.set.contains_range(p.first(), p.last())
    }

    /// Encode as RFC 3779 addressesOrRanges: one element per maximal range, a
    /// prefix when the range is exactly one (RES-3), otherwise a range (RES-5).
    pub fn encode_elements(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for &(lo, hi) in self.set.ranges() {
            match range_as_prefix(self.afi, lo, hi) {
                Some(p) => out.extend(p.to_bit_string()),
                None => {
                    let min_len = self.afi.bits() - trailing(lo, false, self.afi.bits());
                    let max_len = self.afi.bits() - trailing(hi, true, self.afi.bits());
                    let hi_bits = hi & !low_mask(self.afi.bits() - max_len);
                    out.extend(der::sequence(&[&addr_to_bits(self.afi, lo, min_len), &addr_to_bits(self.afi, hi_bits, max_len)]));
                }
            }
        }
        out
    }

    /// Decode addressesOrRanges, enforcing the canonical form (RES-2..RES-5, RES-10).
    pub fn decode_elements(afi: Afi, r: &mut Reader<'_>, limit: usize) -> Result<Self> {
        let mut ranges: Vec<(u128, u128)> = Vec::new();
        while !r.is_empty() {
            if ranges.len() >= limit {
                return reject("RES-10", format!("more than {limit} address blocks"));
            }
            let tlv = r.any()?;
            let (lo, hi) = match tlv.tag {
                Tag::BIT_STRING => {
                    let bs = BitString::from_content(tlv.value)?;
                    let p = Prefix::from_bit_string(afi, &bs, "RES-4")?;
                    (p.first(), p.last())
                }
                Tag::SEQUENCE => {
                    let mut seq = r.child(tlv.value)?;
                    let (lo, _) = bits_to_addr(afi, &seq.bit_string("range min")?, "RES-5")?;
                    let max_bs = seq.bit_string("range max")?;
                    let (hi, max_len) = bits_to_addr(afi, &max_bs, "RES-5")?;
                    seq.finish()?;
                    let hi = hi | low_mask(afi.bits() - max_len);
                    if lo > hi {
                        return reject("RES-5", "address range with min above max");
                    }
                    if range_as_prefix(afi, lo, hi).is_some() {
                        return reject("RES-3", format!("range {}-{} must be encoded as a prefix", ip_of(afi, lo), ip_of(afi, hi)));
                    }
                    (lo, hi)
                }
                t => return reject("RES-1", format!("expected a prefix or range, found {t}")),
            };
            if let Some(&(_, prev_hi)) = ranges.last() {
                if prev_hi >= lo {
                    return reject("RES-2", "address blocks are not sorted or overlap");
                }
                if prev_hi + 1 == lo {
                    return reject("RES-2", "adjacent address blocks must be merged");
                }
            }
            ranges.push((lo, hi));
        }
        let set = RangeSet::from_canonical(ranges).ok_or_else(|| Error::new("RES-2", "address blocks not canonical"))?;
        Ok(IpBlocks { afi, set })
    }

    /// The blocks as prefixes and ranges, e.g. `["10.0.0.0/8", "11.0.0.0-11.0.2.255"]`.
    pub fn to_strings(&self) -> Vec<String> {
        self.set
            .ranges()
            .iter()
            .map(|&(lo, hi)| match range_as_prefix(self.afi, lo, hi) {
                Some(p) => p.to_string(),
                None => format!("{}-{}", ip_of(self.afi, lo), ip_of(self.afi, hi)),
            })
            .collect()
    }

    /// The minimal list of prefixes covering exactly these blocks.
    pub fn to_prefixes(&self) -> Vec<Prefix> {
        let mut out = Vec::new();
        for &(lo, hi) in self.set.ranges() {
            let mut cur = lo;
            loop {
                // Largest aligned block starting at cur that does not pass hi.
                let mut len = self.afi.bits();
                while len > 0 {
                    let p = Prefix { afi: self.afi, addr: cur, len: len - 1 };
                    if p.first() != cur || p.last() > hi {
                        break;
                    }
                    len -= 1;
                }
                let p = Prefix { afi: self.afi, addr: cur, len };
                out.push(p);
                match p.last().checked_add(1) {
                    Some(n) if p.last() < hi => cur = n,
                    _ => break,
                }
            }
        }
        out
    }
}

/// Parse a block: prefix (`10.0.0.0/8`), range (`10.0.0.0-10.0.2.255`) or address.
pub fn parse_block(s: &str) -> Result<(Afi, u128, u128)> {
    let s = s.trim();
    if let Some((a, b)) = s.split_once('-') {
        let (fa, lo) = parse_addr(a)?;
        let (fb, hi) = parse_addr(b)?;
        if fa != fb || lo > hi {
            return reject("RFC 3779 §2.2.3.9", format!("'{s}' is not a valid address range"));
        }
        return Ok((fa, lo, hi));
    }
    if s.contains('/') {
        let p = Prefix::from_str(s)?;
        return Ok((p.afi, p.first(), p.last()));
    }
    let (afi, v) = parse_addr(s)?;
    Ok((afi, v, v))
}

fn parse_addr(s: &str) -> Result<(Afi, u128)> {
    match IpAddr::from_str(s.trim()) {
        Ok(IpAddr::V4(a)) => Ok((Afi::Ipv4, u32::from(a) as u128)),
        Ok(IpAddr::V6(a)) => Ok((Afi::Ipv6, u128::from(a))),
        Err(_) => reject("RFC 3779 §2.2.3.8", format!("'{s}' is not an IP address")),
    }
}

fn low_mask(bits: u8) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

/// Number of trailing zero (or one) bits of `v` within `width` bits.
fn trailing(v: u128, ones: bool, width: u8) -> u8 {
    let v = if ones { !v } else { v };
    let masked = v & low_mask(width);
    if masked == 0 {
        width
    } else {
        (masked.trailing_zeros() as u8).min(width)
    }
}

/// The prefix equal to `[lo, hi]`, if there is one.
pub fn range_as_prefix(afi: Afi, lo: u128, hi: u128) -> Option<Prefix> {
    let span = hi.wrapping_sub(lo);
    let host = if span == afi.max() { afi.bits() } else { 128 - (span.wrapping_add(1)).leading_zeros() as u8 - 1 };
    let size_ok = span == afi.max() || (span.wrapping_add(1)).is_power_of_two();
    if !size_ok {
        return None;
    }
    Prefix::new(afi, lo, afi.bits() - host).filter(|p| p.last() == hi)
}
