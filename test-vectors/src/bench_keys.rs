//! RSA-2048 keys for benchmark workloads, made fast: a pool of m random
//! 1024-bit primes gives m·(m−1)/2 distinct moduli, so 50,000 keys (W2) take
//! 317 primes, about a minute of work instead of hours of key generation.
//!
//! Keys that share primes are trivially broken (a GCD of two moduli finds
//! them). They sign benchmark repositories and nothing else; the product
//! always generates a key whole (ALG-6, CMS-14).

use openssl::bn::{BigNum, BigNumContext};
use openssl::rsa::Rsa;
use rayon::prelude::*;
use rpkit_objects::crypto::KeyPair;

const E: u32 = 65_537;

/// A 1024-bit prime p with gcd(p − 1, e) = 1; its top two bits are set, so a
/// product of two is exactly 2048 bits.
fn prime() -> BigNum {
    loop {
        let mut p = BigNum::new().expect("bignum");
        p.generate_prime(1024, false, None, None).expect("prime");
        if p.mod_word(E).expect("p mod e") != 1 {
            return p;
        }
    }
}

/// The key of primes p > q with e = 65537 (RFC 8017 §3.2, CRT form).
fn key(p: &BigNum, q: &BigNum) -> KeyPair {
    let mut ctx = BigNumContext::new().expect("bignum context");
    let one = BigNum::from_u32(1).expect("1");
    let e = BigNum::from_u32(E).expect("e");
    let (mut n, mut p1, mut q1, mut phi) = (BigNum::new().unwrap(), BigNum::new().unwrap(), BigNum::new().unwrap(), BigNum::new().unwrap());
    n.checked_mul(p, q, &mut ctx).expect("n");
    p1.checked_sub(p, &one).expect("p-1");
    q1.checked_sub(q, &one).expect("q-1");
    phi.checked_mul(&p1, &q1, &mut ctx).expect("phi");
    let mut d = BigNum::new().unwrap();
    d.mod_inverse(&e, &phi, &mut ctx).expect("d");
    let (mut dp, mut dq, mut qinv) = (BigNum::new().unwrap(), BigNum::new().unwrap(), BigNum::new().unwrap());
    dp.nnmod(&d, &p1, &mut ctx).expect("dP");
    dq.nnmod(&d, &q1, &mut ctx).expect("dQ");
    qinv.mod_inverse(q, p, &mut ctx).expect("qInv");
    let rsa = Rsa::from_private_components(n, e, d, p.as_ref().to_owned().expect("p"), q.as_ref().to_owned().expect("q"), dp, dq, qinv)
        .expect("RSA components");
    KeyPair::from_pkcs1(&rsa.private_key_to_der().expect("PKCS#1")).expect("a valid RSA-2048 key")
}

/// `n` distinct RSA-2048 keys from a pool of shared primes (benchmarks only).
pub fn from_prime_pool(n: usize) -> Vec<KeyPair> {
    let mut m = 2;
    while m * (m - 1) / 2 < n {
        m += 1;
    }
    let mut primes: Vec<BigNum> = (0..m).into_par_iter().map(|_| prime()).collect();
    primes.sort_by(|a, b| b.cmp(a));
    let pairs: Vec<(usize, usize)> = (0..m).flat_map(|i| (i + 1..m).map(move |j| (i, j))).take(n).collect();
    pairs.par_iter().map(|&(i, j)| key(&primes[i], &primes[j])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keys_are_distinct_2048_bit_keys_that_sign() {
        let keys = from_prime_pool(10);
        let ids: std::collections::BTreeSet<_> = keys.iter().map(|k| k.public_key().key_id()).collect();
        assert_eq!(ids.len(), 10);
        for k in &keys {
            let sig = k.sign(b"w2").unwrap();
            assert_eq!(sig.len(), 256);
            k.public_key().verify(b"w2", &sig).unwrap();
            assert!(k.public_key().verify(b"w3", &sig).is_err());
        }
    }
}
