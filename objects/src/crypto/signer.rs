//! The `Signer` interface between callers and private keys (ALG-10), and its
//! software implementation. An HSM signer implements the same trait.

use super::keys::{KeyId, PublicKey};
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a signing operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("no such key: {0}")]
    UnknownKey(KeyId),
    #[error("key generation failed: {0}")]
    KeyGen(String),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("bad key material: {0}")]
    BadKey(String),
    /// The HSM: its module, token, PIN or a failed operation.
    #[error("HSM: {0}")]
    Token(String),
}

/// Holder of private keys. Callers refer to keys by their identifier only.
pub trait Signer: Send + Sync {
    /// Create a new RSA-2048 key and return its identifier.
    fn create_key(&self) -> Result<KeyId, SignError>;
    fn public_key(&self, key: &KeyId) -> Result<PublicKey, SignError>;
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`.
    fn sign(&self, key: &KeyId, data: &[u8]) -> Result<Vec<u8>, SignError>;
    /// A fresh key for one signature (CMS-14): its public half is known at once
    /// (object names derive from it); signing consumes and destroys it (ALG-10).
    fn one_time_key(&self) -> Result<Box<dyn OneTimeKey>, SignError>;
    fn destroy_key(&self, key: &KeyId) -> Result<(), SignError>;
}

/// A key that signs exactly once, then is gone.
pub trait OneTimeKey: Send {
    fn public_key(&self) -> &PublicKey;
    fn sign_once(self: Box<Self>, data: &[u8]) -> Result<Vec<u8>, SignError>;
}

impl OneTimeKey for KeyPair {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }
    fn sign_once(self: Box<Self>, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.sign(data)
    }
}

/// An RSA-2048 key pair in memory.
pub struct KeyPair {
    ring: ring::signature::RsaKeyPair,
    public: PublicKey,
    pkcs1: Vec<u8>,
}

impl KeyPair {
    /// Generate an RSA-2048 key with exponent 65537 (ALG-6).
    pub fn generate() -> Result<Self, SignError> {
        let rsa = openssl::rsa::Rsa::generate(2048).map_err(|e| SignError::KeyGen(e.to_string()))?;
        let der = rsa.private_key_to_der().map_err(|e| SignError::KeyGen(e.to_string()))?;
        Self::from_pkcs1(&der)
    }

    /// Load a PKCS#1 RSAPrivateKey DER (as `to_pkcs1` writes it).
    pub fn from_pkcs1(der: &[u8]) -> Result<Self, SignError> {
        let ring = ring::signature::RsaKeyPair::from_der(der).map_err(|e| SignError::BadKey(e.to_string()))?;
        let public = PublicKey::from_rsa_public_key(ring.public().as_ref()).map_err(|e| SignError::BadKey(e.to_string()))?;
        Ok(KeyPair { ring, public, pkcs1: der.to_vec() })
    }

    pub fn to_pkcs1(&self) -> &[u8] {
        &self.pkcs1
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub fn sign(&self, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut sig = vec![0u8; self.ring.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        self.ring.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, data, &mut sig).map_err(|e| SignError::Sign(e.to_string()))?;
        Ok(sig)
    }
}

/// Generate `n` keys on all cores.
pub fn generate_rsa_keys(n: usize) -> Result<Vec<KeyPair>, SignError> {
    (0..n).into_par_iter().map(|_| KeyPair::generate()).collect()
}

/// Keys in process memory, with a pool of pre-generated keys for one-time use.
#[derive(Default)]
pub struct SoftSigner {
    keys: Mutex<HashMap<KeyId, Arc<KeyPair>>>,
    pool: Mutex<Vec<KeyPair>>,
    generated: AtomicU64,
}

impl SoftSigner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a key (e.g. loaded from storage); returns its identifier.
    pub fn insert(&self, key: KeyPair) -> KeyId {
        let id = key.public.key_id();
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).insert(id, Arc::new(key));
        id
    }

    /// The PKCS#1 private key, for the owner's storage.
    pub fn export(&self, key: &KeyId) -> Result<Vec<u8>, SignError> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(key).map(|k| k.pkcs1.clone()).ok_or(SignError::UnknownKey(*key))
    }

    pub fn contains(&self, key: &KeyId) -> bool {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner).contains_key(key)
    }

    /// Generate `n` keys in parallel into the one-time key pool.
    pub fn fill_pool(&self, n: usize) -> Result<(), SignError> {
        let fresh = generate_rsa_keys(n)?;
        self.generated.fetch_add(n as u64, Ordering::Relaxed);
        self.pool.lock().unwrap_or_else(PoisonError::into_inner).extend(fresh);
        Ok(())
    }

    /// Add keys made elsewhere (e.g. a benchmark's cached keys) to the pool.
    pub fn add_to_pool(&self, keys: Vec<KeyPair>) {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner).extend(keys);
    }

    /// Take every pooled key out of the pool (to keep them across a restart).
    pub fn take_pool(&self) -> Vec<KeyPair> {
        std::mem::take(&mut *self.pool.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Keys generated since start (pool and on demand), for metrics.
    pub fn keys_generated(&self) -> u64 {
        self.generated.load(Ordering::Relaxed)
    }

    pub fn pool_size(&self) -> usize {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn fresh_key(&self) -> Result<KeyPair, SignError> {
        let pooled = self.pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
        match pooled {
            Some(k) => Ok(k),
            None => {
                self.generated.fetch_add(1, Ordering::Relaxed);
                KeyPair::generate()
            }
        }
    }
}

impl Signer for SoftSigner {
    fn create_key(&self) -> Result<KeyId, SignError> {
        Ok(self.insert(self.fresh_key()?))
    }

    fn public_key(&self, key: &KeyId) -> Result<PublicKey, SignError> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        keys.get(key).map(|k| k.public.clone()).ok_or(SignError::UnknownKey(*key))
    }

    fn sign(&self, key: &KeyId, data: &[u8]) -> Result<Vec<u8>, SignError> {
        // Clone the handle out so that signatures run in parallel.
        let k = self.keys.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned();
        k.ok_or(SignError::UnknownKey(*key))?.sign(data)
    }

    fn one_time_key(&self) -> Result<Box<dyn OneTimeKey>, SignError> {
        Ok(Box::new(self.fresh_key()?))
    }

    fn destroy_key(&self, key: &KeyId) -> Result<(), SignError> {
        let removed = self.keys.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        removed.map(|_| ()).ok_or(SignError::UnknownKey(*key))
    }
}
