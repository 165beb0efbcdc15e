//! Route Origin Authorizations (RFC 9582, CHECKLIST 3.4): content codec, the
//! ROA-specific EE checks, and building a signed ROA.

use crate::crypto::OneTimeKey;
use crate::der::{self, Reader, Tag, Time, DER};
use crate::error::{reject, BuildError, Error, Result};
use crate::oid;
use crate::resources::{Afi, Asn, CertResources, Choice, IpBlocks, Prefix};
use crate::signed_object::{self, EeSpec, Issuer, SignedObject};

/// One authorized prefix with its optional maxLength.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoaPrefix {
    pub prefix: Prefix,
    pub max_length: Option<u8>,
}

impl RoaPrefix {
    /// The effective maxLength: the prefix length when absent (ROA-9).
    pub fn max_len(&self) -> u8 {
        self.max_length.unwrap_or(self.prefix.len)
    }

    fn sort_key(&self) -> (Afi, u128, u8, u8) {
        (self.prefix.afi, self.prefix.addr, self.prefix.len, self.max_len())
    }
}

/// The RouteOriginAttestation eContent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoaContent {
    pub asn: Asn,
    pub prefixes: Vec<RoaPrefix>,
}

impl RoaContent {
    /// Canonical DER (ROA-7): per AFI, IPv4 first, sorted and deduplicated;
    /// maxLength omitted when equal to the prefix length (ROA-6).
    pub fn encode(&self) -> Vec<u8> {
        let mut ps = self.prefixes.clone();
        ps.sort_by_key(RoaPrefix::sort_key);
        ps.dedup_by_key(|p| p.sort_key());
        let mut fams = Vec::new();
        for afi in [Afi::Ipv4, Afi::Ipv6] {
            let items: Vec<Vec<u8>> = ps
                .iter()
                .filter(|p| p.prefix.afi == afi)
                .map(|p| {
                    let ml = if p.max_len() == p.prefix.len { Vec::new() } else { der::integer_u64(p.max_len() as u64) };
                    der::sequence(&[&p.prefix.to_bit_string(), &ml])
                })
                .collect();
            if !items.is_empty() {
                fams.push(der::sequence(&[&der::octet_string(&afi.octets()), &der::tlv(Tag::SEQUENCE, &items.concat())]));
            }
        }
        der::sequence(&[&der::integer_u64(self.asn.0 as u64), &der::tlv(Tag::SEQUENCE, &fams.concat())])
    }

    /// Strict decode (ROA-2 .. ROA-7); tolerated deviations land in `warnings`.
    pub fn decode(content: &[u8], warnings: &mut Vec<Error>) -> Result<Self> {
        let mut outer = Reader::new(content);
        let mut r = outer.sequence("RouteOriginAttestation")?;
        outer.finish().map_err(|e| e.with_rule("CMS-3"))?;
        if let Some(v) = r.optional(Tag::ctx_cons(0))? {
            let mut vr = r.child(v.value)?;
            let ver = vr.integer("version")?;
            if ver.is_zero() {
                return reject(DER, "version 0 must be omitted (DEFAULT)");
            }
            return reject("ROA-2", "ROA version must be 0");
        }
        let asid = r.integer("asID")?;
        let asn = asid.to_u32().map(Asn).map_err(|_| Error::new("ROA-3", "asID outside 0..4294967295"))?;
        let mut fams = r.sequence("ipAddrBlocks")?;
        r.finish()?;
        let mut prefixes = Vec::new();
        let mut seen: Vec<Afi> = Vec::new();
        while !fams.is_empty() {
            let mut fam = fams.sequence("ROAIPAddressFamily")?;
            let afi = Afi::from_octets(fam.octet_string("addressFamily")?, "ROA-4")?;
            if seen.contains(&afi) {
                return reject("ROA-4", format!("{afi:?} address family appears twice"));
            }
            if seen.last().is_some_and(|l| *l > afi) {
                warnings.push(Error::new("ROA-7", "address families out of order"));
            }
            seen.push(afi);
            let mut addrs = fam.sequence("addresses")?;
            fam.finish()?;
            if addrs.is_empty() {
                return reject("ROA-4", "empty address list");
            }
            while !addrs.is_empty() {
                let mut a = addrs.sequence("ROAIPAddress")?;
                let prefix = Prefix::from_bit_string(afi, &a.bit_string("address")?, "ROA-5")?;
                let max_length = match a.optional(Tag::INTEGER)? {
                    None => None,
                    Some(t) => {
                        let ml = der::Integer::from_content(t.value)?.to_u32().ok().filter(|m| *m <= afi.bits() as u32);
                        let ml = ml.ok_or_else(|| Error::new("ROA-6", format!("maxLength above {} for {prefix}", afi.bits())))? as u8;
                        if ml < prefix.len {
                            return reject("ROA-6", format!("maxLength {ml} is below the length of {prefix}"));
                        }
                        if ml == prefix.len {
                            warnings.push(Error::new("ROA-6", format!("maxLength of {prefix} equals its length and should be omitted")));
                        }
                        Some(ml)
                    }
                };
                a.finish()?;
                if afi == Afi::Ipv6 && prefix.len >= 96 && (prefix.addr >> 32) == 0xffff {
                    return reject("ROA-4", "IPv4-mapped IPv6 prefix");
                }
                prefixes.push(RoaPrefix { prefix, max_length });
            }
        }
        if seen.is_empty() {
            return reject("ROA-4", "ipAddrBlocks is empty");
        }
        if !prefixes.windows(2).all(|w| w[0].sort_key() < w[1].sort_key()) {
            warnings.push(Error::new("ROA-7", "prefixes are not in canonical order or repeat"));
        }
        Ok(RoaContent { asn, prefixes })
    }

    /// The prefixes as the IP resources of the EE certificate (ROA-11).
    pub fn resources(&self) -> CertResources {
        let fam = |afi| {
            let b = IpBlocks::from_prefixes(afi, self.prefixes.iter().map(|p| &p.prefix));
            (!b.is_empty()).then_some(Choice::Blocks(b))
        };
        CertResources { ipv4: fam(Afi::Ipv4), ipv6: fam(Afi::Ipv6), asn: None }
    }
}

/// A decoded ROA: signed object plus content, with the EE checks of ROA-8 done.
#[derive(Clone, Debug)]
pub struct Roa {
    pub signed: SignedObject,
    pub content: RoaContent,
    pub warnings: Vec<Error>,
}

impl Roa {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_signed(SignedObject::decode(bytes)?)
    }

    /// The checks and content of this type on an already decoded signed object.
    pub fn from_signed(signed: SignedObject) -> Result<Self> {
        signed.expect_type(oid::CT_ROA, "ROA-1")?;
        let mut warnings = signed.warnings.clone();
        let content = RoaContent::decode(signed.content(), &mut warnings)?;
        let res = &signed.ee.resources;
        if res.asn.is_some() {
            return reject("ROA-8", "the EE certificate of a ROA has no AS resources");
        }
        for p in &content.prefixes {
            let blocks = match p.prefix.afi {
                Afi::Ipv4 => &res.ipv4,
                Afi::Ipv6 => &res.ipv6,
            };
            match blocks {
                None => return reject("ROA-8", format!("{} is outside the EE certificate's resources", p.prefix)),
                Some(Choice::Inherit) => return reject("ROA-8", "the EE certificate of a ROA may not inherit"),
                Some(Choice::Blocks(b)) if !b.contains_prefix(&p.prefix) => {
                    return reject("ROA-8", format!("{} is outside the EE certificate's resources", p.prefix))
                }
                Some(_) => {}
            }
        }
        if res.has_inherit() {
            return reject("ROA-8", "the EE certificate of a ROA may not inherit");
        }
        Ok(Roa { signed, content, warnings })
    }

    /// Build a ROA signed by `issuer`; the EE holds exactly the ROA's prefixes.
    /// Build a ROA signed by `issuer` with the one-time `key` (whose key identifier
    /// names the file, ROA-11); the EE holds exactly the ROA's prefixes.
    pub fn build(
        content: &RoaContent,
        issuer: &Issuer<'_>,
        ee: &EeSpec,
        key: Box<dyn OneTimeKey>,
        signing_time: Time,
    ) -> Result<Self, BuildError> {
        let so = signed_object::build(oid::CT_ROA, &content.encode(), signing_time, ee, key, content.resources(), issuer)?;
        Ok(Roa::from_signed(so)?)
    }
}
