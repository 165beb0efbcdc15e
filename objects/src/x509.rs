//! The X.509 SIGNED{} wrapper shared by certificates and CRLs: a to-be-signed
//! part, sha256WithRSAEncryption (ALG-1, ALG-2) and the signature bits.

use crate::crypto::{read_algorithm, sha256_with_rsa};
use crate::der::{self, Reader, Tag, DER};
use crate::error::{reject, Result};
use crate::oid;
use std::ops::Range;

/// A decoded SIGNED{} structure.
pub struct Signed<'a> {
    /// Reader over the content of the to-be-signed SEQUENCE.
    pub tbs: Reader<'a>,
    /// Where the whole to-be-signed TLV lies in the input.
    pub tbs_range: Range<usize>,
    alg_raw: &'a [u8],
    pub signature: Vec<u8>,
}

impl<'a> Signed<'a> {
    /// Split `der` (exactly one SEQUENCE) into its parts; `what` names the object.
    pub fn decode(der: &'a [u8], what: &str) -> Result<Self> {
        let outer = Reader::single(der)?;
        if outer.tag != Tag::SEQUENCE {
            return reject(DER, format!("{what} is not a SEQUENCE"));
        }
        let mut r = Reader::new(outer.value);
        let tbs_tlv = r.expect(Tag::SEQUENCE, "to-be-signed part")?;
        let (alg, alg_raw) = read_algorithm(&mut r, "signatureAlgorithm")?;
        let signature = r.bit_string("signatureValue")?.octets("signatureValue")?.to_vec();
        r.finish()?;
        if alg != oid::SHA256_WITH_RSA {
            return reject("ALG-1", format!("{what} signature algorithm {} is not sha256WithRSAEncryption", oid::describe(&alg)));
        }
        let start = tbs_tlv.raw.as_ptr() as usize - der.as_ptr() as usize;
        Ok(Signed { tbs: r.child(tbs_tlv.value)?, tbs_range: start..start + tbs_tlv.raw.len(), alg_raw, signature })
    }

    /// Read the inner signature AlgorithmIdentifier: it must equal the outer one (ALG-2).
    pub fn inner_algorithm(&mut self, rule: &'static str) -> Result<()> {
        let (_, inner) = read_algorithm(&mut self.tbs, "signature")?;
        if inner != self.alg_raw {
            return reject(rule, "the inner signature algorithm differs from the outer one");
        }
        Ok(())
    }
}

/// SEQUENCE { tbs, sha256WithRSAEncryption, BIT STRING signature }.
pub fn assemble(tbs: &[u8], sig: &[u8]) -> Vec<u8> {
    der::sequence(&[tbs, &sha256_with_rsa(), &der::bit_string(0, sig)])
}
