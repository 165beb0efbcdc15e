//! Internet number resources (RFC 3779) as RFC 6487 profiles them: canonical sets,
//! set algebra, text forms and the two certificate extensions.

mod asn;
mod ip;
mod range_set;

pub use asn::{parse_as_block, AsBlocks, Asn};
pub use ip::{parse_block, range_as_prefix, Afi, IpBlocks, Prefix};
pub use range_set::{RangeSet, Value};

use crate::der::{self, Reader, Tag};
use crate::error::{reject, Error, Result};
use std::fmt;
use std::str::FromStr;

/// One family's resources in a certificate: `inherit` or explicit blocks (RES-6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Choice<T> {
    Inherit,
    Blocks(T),
}

impl<T> Choice<T> {
    pub fn blocks(&self) -> Option<&T> {
        match self {
            Choice::Blocks(b) => Some(b),
            Choice::Inherit => None,
        }
    }
}

/// Resources as a certificate's extensions state them (`None`: family absent).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct CertResources {
    pub ipv4: Option<Choice<IpBlocks>>,
    pub ipv6: Option<Choice<IpBlocks>>,
    pub asn: Option<Choice<AsBlocks>>,
}

impl CertResources {
    /// Explicit resources from a resource set; empty families are left absent.
    pub fn explicit(set: &ResourceSet) -> Self {
        let some = |b: &IpBlocks| (!b.is_empty()).then(|| Choice::Blocks(b.clone()));
        CertResources { ipv4: some(&set.ipv4), ipv6: some(&set.ipv6), asn: (!set.asn.is_empty()).then(|| Choice::Blocks(set.asn.clone())) }
    }

    /// `inherit` for IPv4, IPv6 and AS (manifest EE, MFT-9): every family, held
    /// or not, as Krill does; rpki-client requires both extensions, each family
    /// present set to inherit.
    pub fn inherit_all() -> Self {
        CertResources { ipv4: Some(Choice::Inherit), ipv6: Some(Choice::Inherit), asn: Some(Choice::Inherit) }
    }

    pub fn has_ip(&self) -> bool {
        self.ipv4.is_some() || self.ipv6.is_some()
    }

    pub fn has_inherit(&self) -> bool {
        [
            self.ipv4.as_ref().map(|c| c.blocks().is_none()),
            self.ipv6.as_ref().map(|c| c.blocks().is_none()),
            self.asn.as_ref().map(|c| c.blocks().is_none()),
        ]
        .into_iter()
        .any(|x| x == Some(true))
    }

    /// Effective resources, resolving `inherit` against the issuer's (RES-6).
    pub fn resolve(&self, parent: &ResourceSet) -> ResourceSet {
        let ip = |c: &Option<Choice<IpBlocks>>, p: &IpBlocks| match c {
            None => IpBlocks::empty(p.afi),
            Some(Choice::Inherit) => p.clone(),
            Some(Choice::Blocks(b)) => b.clone(),
        };
        ResourceSet {
            ipv4: ip(&self.ipv4, &parent.ipv4),
            ipv6: ip(&self.ipv6, &parent.ipv6),
            asn: match &self.asn {
                None => AsBlocks::empty(),
                Some(Choice::Inherit) => parent.asn.clone(),
                Some(Choice::Blocks(b)) => b.clone(),
            },
        }
    }

    /// The explicit resources, treating `inherit` as empty (for a TA or display).
    pub fn explicit_set(&self) -> ResourceSet {
        self.resolve(&ResourceSet::empty())
    }

    /// extnValue of sbgp-ipAddrBlock, or `None` without IP resources.
    pub fn encode_ip_extension(&self) -> Option<Vec<u8>> {
        if !self.has_ip() {
            return None;
        }
        let mut fams = Vec::new();
        for (afi, c) in [(Afi::Ipv4, &self.ipv4), (Afi::Ipv6, &self.ipv6)] {
            let Some(c) = c else { continue };
            let choice = match c {
                Choice::Inherit => der::null(),
                Choice::Blocks(b) => der::tlv(Tag::SEQUENCE, &b.encode_elements()),
            };
            fams.push(der::sequence(&[&der::octet_string(&afi.octets()), &choice]));
        }
        Some(der::tlv(Tag::SEQUENCE, &fams.concat()))
    }

    /// extnValue of sbgp-autonomousSysNum, or `None` without AS resources.
    pub fn encode_as_extension(&self) -> Option<Vec<u8>> {
        let choice = match self.asn.as_ref()? {
            Choice::Inherit => der::null(),
            Choice::Blocks(b) => der::tlv(Tag::SEQUENCE, &b.encode_elements()),
        };
        Some(der::sequence(&[&der::tlv(Tag::ctx_cons(0), &choice)]))
    }

    /// Decode the sbgp-ipAddrBlock extnValue (RES-1..RES-6, CERT-20).
    pub fn decode_ip_extension(&mut self, value: &[u8]) -> Result<()> {
        let mut outer = Reader::new(value);
        let mut r = outer.sequence("IPAddrBlocks")?;
        outer.finish()?;
        let mut last: Option<Afi> = None;
        while !r.is_empty() {
            let mut fam = r.sequence("IPAddressFamily")?;
            let afi = Afi::from_octets(fam.octet_string("addressFamily")?, "CERT-20")?;
            if last.is_some_and(|l| l >= afi) {
                return reject("RES-1", "address families out of order or repeated");
            }
            last = Some(afi);
            let choice = match fam.peek_tag() {
                Some(Tag::NULL) => {
                    fam.null("inherit")?;
                    Choice::Inherit
                }
                Some(Tag::SEQUENCE) => {
                    let mut items = fam.sequence("addressesOrRanges")?;
                    let b = IpBlocks::decode_elements(afi, &mut items, crate::limits::MAX_RESOURCE_ENTRIES)?;
                    if b.is_empty() {
                        return reject("CERT-20", format!("empty {afi:?} address list"));
                    }
                    Choice::Blocks(b)
                }
                t => return reject("RES-1", format!("IPAddressChoice: unexpected {t:?}")),
            };
            fam.finish()?;
            match afi {
                Afi::Ipv4 => self.ipv4 = Some(choice),
                Afi::Ipv6 => self.ipv6 = Some(choice),
            }
        }
        if !self.has_ip() {
            return reject("CERT-20", "empty IP address extension");
        }
        Ok(())
    }

    /// Decode the sbgp-autonomousSysNum extnValue (RES-7, CERT-20: no rdi).
    pub fn decode_as_extension(&mut self, value: &[u8]) -> Result<()> {
        let mut outer = Reader::new(value);
        let mut r = outer.sequence("ASIdentifiers")?;
        outer.finish()?;
        let Some(mut asnum) = r.optional(Tag::ctx_cons(0))?.map(|t| r.child(t.value)).transpose()? else {
            return reject("CERT-20", "AS extension without asnum");
        };
        if r.optional(Tag::ctx_cons(1))?.is_some() {
            return reject("CERT-20", "rdi is not allowed in RPKI");
        }
        r.finish()?;
        let choice = match asnum.peek_tag() {
            Some(Tag::NULL) => {
                asnum.null("inherit")?;
                Choice::Inherit
            }
            Some(Tag::SEQUENCE) => {
                let mut items = asnum.sequence("asIdsOrRanges")?;
                let b = AsBlocks::decode_elements(&mut items, crate::limits::MAX_RESOURCE_ENTRIES)?;
                if b.is_empty() {
                    return reject("CERT-20", "empty AS number list");
                }
                Choice::Blocks(b)
            }
            t => return reject("RES-7", format!("ASIdentifierChoice: unexpected {t:?}")),
        };
        asnum.finish()?;
        self.asn = Some(choice);
        Ok(())
    }
}

/// A set of resources of all three kinds: what a CA holds or a member is allocated.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ResourceSet {
    pub asn: AsBlocks,
    pub ipv4: IpBlocks,
    pub ipv6: IpBlocks,
}

impl Default for ResourceSet {
    fn default() -> Self {
        Self::empty()
    }
}

impl ResourceSet {
    pub fn empty() -> Self {
        ResourceSet { asn: AsBlocks::empty(), ipv4: IpBlocks::empty(Afi::Ipv4), ipv6: IpBlocks::empty(Afi::Ipv6) }
    }

    /// Every resource there is (what an RIR's TA may hold).
    pub fn all() -> Self {
        ResourceSet { asn: AsBlocks::from_ranges([(0, u32::MAX)]), ipv4: IpBlocks::full(Afi::Ipv4), ipv6: IpBlocks::full(Afi::Ipv6) }
    }

    pub fn is_empty(&self) -> bool {
        self.asn.is_empty() && self.ipv4.is_empty() && self.ipv6.is_empty()
    }

    pub fn family(&self, afi: Afi) -> &IpBlocks {
        match afi {
            Afi::Ipv4 => &self.ipv4,
            Afi::Ipv6 => &self.ipv6,
        }
    }

    pub fn contains(&self, other: &ResourceSet) -> bool {
        self.asn.set.contains(&other.asn.set) && self.ipv4.set.contains(&other.ipv4.set) && self.ipv6.set.contains(&other.ipv6.set)
    }

    pub fn contains_prefix(&self, p: &Prefix) -> bool {
        self.family(p.afi).contains_prefix(p)
    }

    fn combine(
        &self,
        o: &Self,
        f: impl Fn(&RangeSet<u128>, &RangeSet<u128>) -> RangeSet<u128>,
        g: impl Fn(&RangeSet<u32>, &RangeSet<u32>) -> RangeSet<u32>,
    ) -> Self {
        ResourceSet {
            asn: AsBlocks { set: g(&self.asn.set, &o.asn.set) },
            ipv4: IpBlocks { afi: Afi::Ipv4, set: f(&self.ipv4.set, &o.ipv4.set) },
            ipv6: IpBlocks { afi: Afi::Ipv6, set: f(&self.ipv6.set, &o.ipv6.set) },
        }
    }

    pub fn union(&self, o: &Self) -> Self {
        self.combine(o, RangeSet::union, RangeSet::union)
    }

    pub fn intersection(&self, o: &Self) -> Self {
        self.combine(o, RangeSet::intersection, RangeSet::intersection)
    }

    pub fn difference(&self, o: &Self) -> Self {
        self.combine(o, RangeSet::difference, RangeSet::difference)
    }

    /// All blocks as text: ASNs first, then IPv4, then IPv6.
    pub fn to_strings(&self) -> Vec<String> {
        let mut v = self.asn.to_strings();
        v.extend(self.ipv4.to_strings());
        v.extend(self.ipv6.to_strings());
        v
    }
}

impl fmt::Display for ResourceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(", "))
    }
}

impl FromStr for ResourceSet {
    type Err = Error;

    /// A comma- or space-separated list of `AS64496`, `AS1-AS9`, prefixes and ranges.
    fn from_str(s: &str) -> Result<Self> {
        let (mut asn, mut v4, mut v6) = (Vec::new(), Vec::new(), Vec::new());
        for item in s.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()) {
            if item.starts_with("AS") || item.starts_with("as") || item.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                asn.push(parse_as_block(item)?);
            } else {
                let (afi, lo, hi) = parse_block(item)?;
                match afi {
                    Afi::Ipv4 => v4.push((lo, hi)),
                    Afi::Ipv6 => v6.push((lo, hi)),
                }
            }
        }
        Ok(ResourceSet {
            asn: AsBlocks::from_ranges(asn),
            ipv4: IpBlocks { afi: Afi::Ipv4, set: RangeSet::from_ranges(v4) },
            ipv6: IpBlocks { afi: Afi::Ipv6, set: RangeSet::from_ranges(v6) },
        })
    }
}
