//! Keys and signatures per RFC 7935: RSA-2048 keys generated with OpenSSL, signing
//! and verification with ring, SHA-256 everywhere but key identifiers (SHA-1).

mod keys;
pub mod pkcs11;
mod signer;

pub use keys::{read_algorithm, sha256_with_rsa, KeyAlgorithm, KeyId, PublicKey};
pub use pkcs11::{Health as TokenHealth, Pkcs11Config, Pkcs11Signer};
pub use signer::{generate_rsa_keys, KeyPair, OneTimeKey, SignError, Signer, SoftSigner};

/// SHA-256 of `data` (manifest hashes, CMS message digest, RRDP and RFC 8181 hashes).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Equality of two secrets (bearer tokens) in time independent of where they
/// differ and of their lengths: their SHA-256 digests are compared in full.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (sha256(a), sha256(b));
    std::hint::black_box(x.iter().zip(y.iter()).fold(0u8, |acc, (p, q)| acc | (p ^ q))) == 0
}
