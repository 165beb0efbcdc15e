//! Public keys and key identifiers (RFC 7935 §3, RFC 6487 §4.8.2, RFC 8608).

use crate::der::{self, Reader, Tag};
use crate::error::{reject, Error, Kind, Result};
use crate::oid;
use base64::Engine;
use std::fmt;

/// A key identifier: the SHA-1 of the subjectPublicKey bits (CERT-11, ALG-8).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 20]);

impl KeyId {
    pub fn from_slice(v: &[u8]) -> Option<Self> {
        v.try_into().ok().map(KeyId)
    }

    /// From its hex form (as `hex` writes it, either case).
    pub fn from_hex(s: &str) -> Option<Self> {
        crate::hex::decode(s).and_then(|k| Self::from_slice(&k))
    }

    pub fn hex(&self) -> String {
        crate::hex::upper(&self.0)
    }

    /// RFC 6481 §2.2 file-name stem: base64url of the key hash, 27 characters (REPO-2).
    pub fn file_stem(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.hex())
    }
}

/// Algorithm of a subject public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA-2048, e = 65537 (ALG-6): every TA, CA and EE key.
    Rsa,
    /// ECDSA P-256 (RFC 8608): BGPsec router keys only.
    EcP256,
}

/// A SubjectPublicKeyInfo, validated for the RPKI.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey {
    /// The whole SubjectPublicKeyInfo DER.
    spki: Vec<u8>,
    /// Offset of the subjectPublicKey bits within `spki`.
    bits_at: usize,
    ec: bool,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({:?}, {})", self.algorithm(), self.key_id())
    }
}

impl PublicKey {
    /// Build the SPKI of an RSA key from its RSAPublicKey DER.
    pub fn from_rsa_public_key(rsa_public_key: &[u8]) -> Result<Self> {
        let alg = der::sequence(&[&der::oid(oid::RSA_ENCRYPTION.0), &der::null()]);
        let spki = der::sequence(&[&alg, &der::bit_string(0, rsa_public_key)]);
        Self::decode(&spki)
    }

    /// Decode and check a SubjectPublicKeyInfo (ALG-6, ALG-7, BGPSEC-1).
    pub fn decode(spki: &[u8]) -> Result<Self> {
        let mut outer = Reader::new(spki);
        let mut r = outer.sequence("SubjectPublicKeyInfo")?;
        outer.finish()?;
        let mut alg = r.sequence("algorithm")?;
        let alg_oid = alg.oid("algorithm")?;
        let bits = r.bit_string("subjectPublicKey")?;
        r.finish()?;
        let key = bits.octets("subjectPublicKey")?;
        let bits_at = spki.len() - key.len();
        if alg_oid == oid::RSA_ENCRYPTION {
            if !alg.is_empty() {
                alg.null("RSA parameters").map_err(|e| e.with_rule("ALG-7"))?;
            }
            alg.finish()?;
            check_rsa_key(key)?;
            Ok(PublicKey { spki: spki.to_vec(), bits_at, ec: false })
        } else if alg_oid == oid::EC_PUBLIC_KEY {
            let curve = alg.oid("namedCurve")?;
            alg.finish()?;
            if curve != oid::SECP256R1 {
                return reject("BGPSEC-1", format!("EC key on curve {}, not P-256", curve));
            }
            if key.len() != 65 || key[0] != 4 {
                return reject("BGPSEC-1", "P-256 key must be an uncompressed 65-octet point");
            }
            Ok(PublicKey { spki: spki.to_vec(), bits_at, ec: true })
        } else {
            reject("ALG-7", format!("unsupported public key algorithm {}", oid::describe(&alg_oid)))
        }
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        if self.ec {
            KeyAlgorithm::EcP256
        } else {
            KeyAlgorithm::Rsa
        }
    }

    /// The SubjectPublicKeyInfo DER (as a TAL carries it).
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The subjectPublicKey bits (RSAPublicKey DER for RSA).
    pub fn key_bits(&self) -> &[u8] {
        &self.spki[self.bits_at..]
    }

    pub fn key_id(&self) -> KeyId {
        let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, self.key_bits());
        KeyId(d.as_ref().try_into().unwrap_or([0; 20]))
    }

    /// Verify an RSASSA-PKCS1-v1_5 SHA-256 signature (ALG-1).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        if self.ec {
            return reject("ALG-1", "signatures in the RPKI tree are RSA; this key is ECDSA");
        }
        ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, self.key_bits())
            .verify(message, signature)
            .map_err(|_| Error::new("PATH-1", "signature does not verify").of_kind(Kind::Signature))
    }
}

/// RSAPublicKey with a 2048-bit modulus and exponent 65537 (ALG-6).
fn check_rsa_key(key: &[u8]) -> Result<()> {
    // ALG-7: subjectPublicKey is a DER RSAPublicKey (FORT CVE-2024-45238 took one that was not).
    let parts = || -> Result<_> {
        let mut outer = Reader::new(key);
        let mut r = outer.sequence("RSAPublicKey")?;
        outer.finish()?;
        let (n, e) = (r.integer("modulus")?, r.integer("publicExponent")?);
        r.finish()?;
        Ok((n, e))
    };
    let (n, e) = parts().map_err(|e| Error::new("ALG-7", format!("subjectPublicKey is not an RSAPublicKey: {}", e.detail)))?;
    let n = n.unsigned_bytes()?;
    if n.len() != 256 || n[0] < 0x80 {
        return reject("ALG-6", format!("RSA modulus is {} bits, not 2048", bit_len(n)));
    }
    if e.0 != [0x01, 0x00, 0x01] {
        return reject("ALG-6", "RSA public exponent is not 65537");
    }
    Ok(())
}

fn bit_len(v: &[u8]) -> usize {
    match v.iter().position(|b| *b != 0) {
        None => 0,
        Some(i) => (v.len() - i) * 8 - v[i].leading_zeros() as usize,
    }
}

/// Read an AlgorithmIdentifier whose parameters must be NULL or absent (ALG-5);
/// returns the OID and the identifier's whole encoding.
pub fn read_algorithm<'a>(r: &mut Reader<'a>, what: &str) -> Result<(der::Oid<'a>, &'a [u8])> {
    let tlv = r.expect(Tag::SEQUENCE, what)?;
    let mut alg = r.child(tlv.value)?;
    let o = alg.oid(what)?;
    if !alg.is_empty() {
        alg.null(what).map_err(|_| Error::new("ALG-5", format!("{what}: parameters must be NULL or absent")))?;
    }
    alg.finish()?;
    Ok((o, tlv.raw))
}

/// The AlgorithmIdentifier sha256WithRSAEncryption with NULL parameters.
pub fn sha256_with_rsa() -> Vec<u8> {
    der::sequence(&[&der::oid(oid::SHA256_WITH_RSA.0), &der::null()])
}
