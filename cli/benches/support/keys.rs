//! RSA keys cached between benchmark runs: a file of 4-byte big-endian
//! lengths, each followed by a PKCS#1 key. Missing keys come from a pool of
//! shared primes (`bench_keys`: set-up in a minute even for W2's 50,000 CAs);
//! whatever a benchmark measures makes its keys whole.

use rpkit_objects::crypto::KeyPair;
use rpkit_test_vectors::bench_keys::from_prime_pool;
use std::path::Path;
use std::time::Instant;

/// `n` keys from `path`, generating and appending what is missing.
pub fn cached(path: &Path, n: usize) -> Vec<KeyPair> {
    let data = std::fs::read(path).unwrap_or_default();
    let mut keys = Vec::new();
    let mut rest = data.as_slice();
    while rest.len() >= 4 && keys.len() < n {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(der) = rest.get(4..4 + len) else { break };
        keys.push(KeyPair::from_pkcs1(der).expect("cached key"));
        rest = &rest[4 + len..];
    }
    if keys.len() < n {
        let t = Instant::now();
        let missing = n - keys.len();
        eprintln!("generating {missing} RSA keys (cached in {} for later runs)...", path.display());
        let fresh = from_prime_pool(missing);
        let mut out = Vec::new();
        for k in &fresh {
            out.extend_from_slice(&(k.to_pkcs1().len() as u32).to_be_bytes());
            out.extend_from_slice(k.to_pkcs1());
        }
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("key cache directory");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("key cache");
        std::io::Write::write_all(&mut f, &out).expect("key cache written");
        keys.extend(fresh);
        eprintln!("  {:.0} s", t.elapsed().as_secs_f64());
    }
    keys
}
