//! Autonomous System Provider Authorizations (draft-ietf-sidrops-aspa-profile-29,
//! CHECKLIST 3.5 and A.3): content codec, EE checks, building.

use crate::crypto::OneTimeKey;
use crate::der::{self, Reader, Tag, Time};
use crate::error::{reject, BuildError, Error, Result};
use crate::oid;
use crate::resources::{AsBlocks, Asn, CertResources, Choice};
use crate::signed_object::{self, EeSpec, Issuer, SignedObject};

/// The ASProviderAttestation eContent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AspaContent {
    pub customer: Asn,
    /// Strictly ascending, without the customer (ASPA-4).
    pub providers: Vec<Asn>,
}

impl AspaContent {
    /// Canonical content: providers sorted and deduplicated. Refuses what ASPA-3/4 forbid.
    pub fn new(customer: Asn, providers: impl IntoIterator<Item = Asn>) -> Result<Self> {
        let mut p: Vec<Asn> = providers.into_iter().collect();
        p.sort();
        p.dedup();
        let c = AspaContent { customer, providers: p };
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<()> {
        if self.customer.0 == 0 {
            return reject("ASPA-3", "AS0 cannot be a customer");
        }
        if self.providers.is_empty() {
            return reject("ASPA-4", "the provider set is empty");
        }
        if self.providers.contains(&self.customer) {
            return reject("ASPA-4", "the customer is listed as its own provider");
        }
        if self.providers.len() > 1 && self.providers.contains(&Asn(0)) {
            return reject("ASPA-4", "AS0 may only appear as the sole provider");
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        let provs: Vec<Vec<u8>> = self.providers.iter().map(|a| der::integer_u64(a.0 as u64)).collect();
        der::sequence(&[
            &der::tlv(Tag::ctx_cons(0), &der::integer_u64(1)),
            &der::integer_u64(self.customer.0 as u64),
            &der::tlv(Tag::SEQUENCE, &provs.concat()),
        ])
    }

    /// Strict decode (ASPA-2 .. ASPA-4).
    pub fn decode(content: &[u8]) -> Result<Self> {
        let mut outer = Reader::new(content);
        let mut r = outer.sequence("ASProviderAttestation")?;
        outer.finish().map_err(|e| e.with_rule("CMS-3"))?;
        let mut v = r
            .optional(Tag::ctx_cons(0))?
            .map(|t| r.child(t.value))
            .transpose()?
            .ok_or_else(|| Error::new("ASPA-2", "version must be 1 and explicitly encoded"))?;
        if v.integer("version")?.0 != [1] {
            return reject("ASPA-2", "version must be 1");
        }
        v.finish()?;
        let customer = r.integer("customerASID")?.to_u32().map_err(|_| Error::new("ASPA-3", "customerASID outside 1..4294967295"))?;
        let mut list = r.sequence("providers")?;
        r.finish()?;
        let mut providers: Vec<Asn> = Vec::new();
        while !list.is_empty() {
            let p = list.integer("providerASID")?.to_u32().map_err(|_| Error::new("ASPA-4", "provider outside 0..4294967295"))?;
            if providers.last().is_some_and(|l| l.0 >= p) {
                return reject("ASPA-4", "providers are not in strictly ascending order");
            }
            providers.push(Asn(p));
        }
        let c = AspaContent { customer: Asn(customer), providers };
        c.check()?;
        Ok(c)
    }
}

/// A decoded ASPA with the EE checks of ASPA-5 done.
#[derive(Clone, Debug)]
pub struct Aspa {
    pub signed: SignedObject,
    pub content: AspaContent,
    pub warnings: Vec<Error>,
}

impl Aspa {
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_signed(SignedObject::decode(bytes)?)
    }

    /// The checks and content of this type on an already decoded signed object.
    pub fn from_signed(signed: SignedObject) -> Result<Self> {
        signed.expect_type(oid::CT_ASPA, "ASPA-1")?;
        let content = AspaContent::decode(signed.content())?;
        let res = &signed.ee.resources;
        if res.has_ip() {
            return reject("ASPA-5", "the EE certificate of an ASPA has no IP resources");
        }
        match &res.asn {
            Some(Choice::Blocks(b)) if b.set.ranges() == [(content.customer.0, content.customer.0)] => {}
            _ => return reject("ASPA-5", "the EE certificate's AS resources must be exactly the customer AS"),
        }
        let warnings = signed.warnings.clone();
        Ok(Aspa { signed, content, warnings })
    }

    pub fn build(
        content: &AspaContent,
        issuer: &Issuer<'_>,
        ee: &EeSpec,
        key: Box<dyn OneTimeKey>,
        signing_time: Time,
    ) -> Result<Self, BuildError> {
        let c = content.customer.0;
        let res = CertResources { ipv4: None, ipv6: None, asn: Some(Choice::Blocks(AsBlocks::from_ranges([(c, c)]))) };
        let so = signed_object::build(oid::CT_ASPA, &content.encode(), signing_time, ee, key, res, issuer)?;
        Ok(Aspa::from_signed(so)?)
    }
}
