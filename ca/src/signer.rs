//! Where the CA's keys live: in software (the default; private keys in the
//! database) or in a PKCS#11 token, where the database keeps only the key's
//! identifier (the token finds it by CKA_ID). One-time EE keys (ROAs, ASPAs,
//! manifests) stay in software, as Krill keeps them, unless `one_time_keys =
//! "hsm"`; either way they come from a pool filled ahead of need.

use rpkit_objects::crypto::{
    KeyId, KeyPair, OneTimeKey, Pkcs11Config, Pkcs11Signer, PublicKey, SignError, Signer, SoftSigner, TokenHealth,
};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which key store, in the CA's configuration (`ca.json`, `[signer]` of `rpkit.toml`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignerSettings {
    pub kind: SignerKind,
    /// The vendor's PKCS#11 library (`kind = "pkcs11"`).
    pub module: Option<PathBuf>,
    /// The token's label.
    pub token_label: Option<String>,
    /// A file holding the user PIN (read at start, never stored elsewhere).
    pub pin_file: Option<PathBuf>,
    /// Where one-time EE keys are made.
    pub one_time_keys: OneTimeKeys,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    #[default]
    Software,
    Pkcs11,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OneTimeKeys {
    #[default]
    Software,
    Hsm,
}

impl SignerSettings {
    /// The token's configuration, its PIN read from `pin_file`.
    pub fn pkcs11(&self) -> Result<Option<Pkcs11Config>, SignError> {
        if self.kind != SignerKind::Pkcs11 {
            return Ok(None);
        }
        let need = |what: &str| SignError::Token(format!("signer kind pkcs11 needs {what}"));
        let module = self.module.clone().ok_or_else(|| need("a module (--pkcs11-module)"))?;
        let token_label = self.token_label.clone().ok_or_else(|| need("a token label (--pkcs11-token)"))?;
        let pin_file = self.pin_file.as_ref().ok_or_else(|| need("a PIN file (--pkcs11-pin-file)"))?;
        let pin = std::fs::read_to_string(pin_file)
            .map_err(|e| SignError::Token(format!("the PIN file {}: {e}", pin_file.display())))?
            .trim_end_matches(['\r', '\n'])
            .to_string();
        Ok(Some(Pkcs11Config { module, token_label, pin }))
    }
}

/// Where a new key is kept, for the database.
pub enum Stored {
    /// A software key: its PKCS#1 DER goes into the database.
    Software(Vec<u8>),
    /// A key in the token: the database holds its identifier only.
    Token,
}

/// The CA's signer: CA keys in software or the token, one-time keys as configured.
pub struct CaSigner {
    soft: SoftSigner,
    token: Option<Pkcs11Signer>,
    one_time_in_token: bool,
}

impl CaSigner {
    pub fn software() -> Self {
        CaSigner { soft: SoftSigner::new(), token: None, one_time_in_token: false }
    }

    /// Open the store `settings` name (the token is opened and logged in now).
    pub fn open(settings: &SignerSettings) -> Result<Self, SignError> {
        let token = settings.pkcs11()?.map(Pkcs11Signer::open).transpose()?;
        let one_time_in_token = token.is_some() && settings.one_time_keys == OneTimeKeys::Hsm;
        Ok(CaSigner { soft: SoftSigner::new(), token, one_time_in_token })
    }

    /// Take a software key loaded from the database.
    pub fn insert(&self, key: KeyPair) -> KeyId {
        self.soft.insert(key)
    }

    pub fn token(&self) -> Option<&Pkcs11Signer> {
        self.token.as_ref()
    }

    /// What the database keeps of `key`.
    pub fn stored(&self, key: &KeyId) -> Result<Stored, SignError> {
        if self.soft.contains(key) {
            Ok(Stored::Software(self.soft.export(key)?))
        } else {
            Ok(Stored::Token)
        }
    }

    /// The token's state; `None` with software keys.
    pub fn health(&self) -> Option<TokenHealth> {
        self.token.as_ref().map(Pkcs11Signer::health)
    }

    /// Fill the one-time key pool by `n` keys.
    pub fn fill_pool(&self, n: usize) -> Result<(), SignError> {
        match (&self.token, self.one_time_in_token) {
            (Some(t), true) => t.fill_pool(n),
            _ => self.soft.fill_pool(n),
        }
    }

    pub fn pool_size(&self) -> usize {
        match (&self.token, self.one_time_in_token) {
            (Some(t), true) => t.pool_size(),
            _ => self.soft.pool_size(),
        }
    }

    /// Keys generated since start (software and token).
    pub fn keys_generated(&self) -> u64 {
        self.soft.keys_generated() + self.token.as_ref().map_or(0, Pkcs11Signer::keys_generated)
    }

    /// Software one-time keys made elsewhere (a restart's saved pool, a benchmark's cache).
    pub fn add_to_pool(&self, keys: Vec<KeyPair>) {
        self.soft.add_to_pool(keys);
    }

    /// The software pool, to keep across a restart (token pools are session objects).
    pub fn take_pool(&self) -> Vec<KeyPair> {
        self.soft.take_pool()
    }

    fn owner(&self, key: &KeyId) -> &dyn Signer {
        match &self.token {
            Some(t) if !self.soft.contains(key) => t,
            _ => &self.soft,
        }
    }
}

impl Signer for CaSigner {
    fn create_key(&self) -> Result<KeyId, SignError> {
        match &self.token {
            Some(t) => t.create_key(),
            None => self.soft.create_key(),
        }
    }

    fn public_key(&self, key: &KeyId) -> Result<PublicKey, SignError> {
        self.owner(key).public_key(key)
    }

    fn sign(&self, key: &KeyId, data: &[u8]) -> Result<Vec<u8>, SignError> {
        self.owner(key).sign(key, data)
    }

    fn one_time_key(&self) -> Result<Box<dyn OneTimeKey>, SignError> {
        match (&self.token, self.one_time_in_token) {
            (Some(t), true) => t.one_time_key(),
            _ => self.soft.one_time_key(),
        }
    }

    fn destroy_key(&self, key: &KeyId) -> Result<(), SignError> {
        self.owner(key).destroy_key(key)
    }
}
