//! A [`Signer`] whose keys live in a PKCS#11 token (an HSM; SoftHSM2 in tests).
//! RSA-2048 pairs (ALG-6) are generated in the token, the private half
//! sensitive and never extractable, and found again by CKA_ID = the key
//! identifier (RFC 6487 §4.8.2); signatures are CKM_SHA256_RSA_PKCS (RFC 7935
//! §2). Nothing but identifiers and public keys ever leaves the token.
//!
//! A token that fails (removed, reset, its session lost) is reopened on the
//! next use, with a back-off between attempts; until then every operation
//! fails with the cause, and [`Pkcs11Signer::health`] says so.

use super::keys::{KeyId, PublicKey};
use super::signer::{OneTimeKey, SignError, Signer};
use crate::der;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where the keys are: the module (the vendor's PKCS#11 library), the token's
/// label and the user PIN.
#[derive(Clone)]
pub struct Pkcs11Config {
    pub module: PathBuf,
    pub token_label: String,
    pub pin: String,
}

impl std::fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pkcs11Config").field("module", &self.module).field("token_label", &self.token_label).finish_non_exhaustive()
    }
}

/// The token's state, for `/metrics` and `/health`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    /// The last operation reached the token.
    pub up: bool,
    /// Why it did not, while it does not.
    pub error: Option<String>,
    /// Operations that failed on the token since start.
    pub failures: u64,
}

/// Calls into a module under the read side, C_Initialize and C_Finalize
/// under the write side (see `with_session`). One for the process: a module
/// is loaded once, whichever tokens it serves.
static GATE: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// An open, logged-in token.
struct Open {
    ctx: Pkcs11,
    slot: Slot,
    /// Idle sessions (a session serves one thread at a time).
    idle: Vec<Session>,
}

struct Inner {
    config: Pkcs11Config,
    open: Mutex<Option<Open>>,
    /// Earliest time of the next reopening attempt, and the current back-off.
    retry: Mutex<(Instant, Duration)>,
    last_error: Mutex<Option<String>>,
    failures: AtomicU64,
    publics: Mutex<HashMap<KeyId, PublicKey>>,
    /// One-time pairs generated ahead of need (session objects, gone with the process).
    pool: Mutex<Vec<TokenPair>>,
    generated: AtomicU64,
}

/// A key pair in the token.
struct TokenPair {
    public: PublicKey,
    handles: (ObjectHandle, ObjectHandle),
}

/// Keys in a PKCS#11 token.
#[derive(Clone)]
pub struct Pkcs11Signer {
    inner: Arc<Inner>,
}

/// The signers open in this process.
static REGISTRY: Mutex<Vec<std::sync::Weak<Inner>>> = Mutex::new(Vec::new());

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn token_error(what: &str, e: CkError) -> SignError {
    SignError::Token(format!("{what}: {e}"))
}

/// Errors after which the session or the whole token must be opened again. (A
/// stale object handle, such as a one-time key of a closed session, is not one:
/// closing the library for it would end every other thread's sessions.)
fn lost(e: &CkError) -> bool {
    matches!(
        e,
        CkError::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::UserNotLoggedIn
                | RvError::CryptokiNotInitialized
                | RvError::SlotIdInvalid,
            _
        )
    )
}

impl Pkcs11Signer {
    /// Load the module, find the token by its label and log in. Each failure
    /// names its cause: the module that does not load, the token that is not
    /// there (with the labels that are), the PIN the token refuses.
    /// One process shares one signer per module and token (the CA's keys and
    /// its identity's), so that a token lost and reopened is reopened once.
    pub fn open(config: Pkcs11Config) -> Result<Self, SignError> {
        let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        registry.retain(|w| w.strong_count() > 0);
        let same = |i: &Inner| i.config.module == config.module && i.config.token_label == config.token_label && i.config.pin == config.pin;
        if let Some(inner) = registry.iter().filter_map(std::sync::Weak::upgrade).find(|i| same(i)) {
            return Ok(Pkcs11Signer { inner });
        }
        let open = {
            let _gate = GATE.write().unwrap_or_else(PoisonError::into_inner);
            Self::connect(&config)?
        };
        let inner = Inner {
            config,
            open: Mutex::new(Some(open)),
            retry: Mutex::new((Instant::now(), FIRST_BACKOFF)),
            last_error: Mutex::new(None),
            failures: AtomicU64::new(0),
            publics: Mutex::new(HashMap::new()),
            pool: Mutex::new(Vec::new()),
            generated: AtomicU64::new(0),
        };
        let inner = Arc::new(inner);
        registry.push(Arc::downgrade(&inner));
        Ok(Pkcs11Signer { inner })
    }

    fn connect(c: &Pkcs11Config) -> Result<Open, SignError> {
        let module = c.module.display();
        if !Path::new(&c.module).exists() {
            return Err(SignError::Token(format!("the PKCS#11 module {module} does not exist")));
        }
        let ctx = Pkcs11::new(&c.module).map_err(|e| token_error(&format!("the PKCS#11 module {module} cannot be loaded"), e))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(token_error(&format!("{module}: C_Initialize"), e)),
        }
        let slots = ctx.get_slots_with_token().map_err(|e| token_error("listing the tokens", e))?;
        let mut labels = Vec::new();
        let mut found = None;
        for s in slots {
            let label = ctx.get_token_info(s).map(|i| i.label().trim_end().to_string()).unwrap_or_default();
            if label == c.token_label {
                found = Some(s);
                break;
            }
            labels.push(label);
        }
        let Some(slot) = found else {
            let present = if labels.is_empty() { "none".to_string() } else { labels.join(", ") };
            return Err(SignError::Token(format!("no token labelled {:?} in {module} (tokens present: {present})", c.token_label)));
        };
        let mechanisms = ctx.get_mechanism_list(slot).map_err(|e| token_error("listing the token's mechanisms", e))?;
        for m in [MechanismType::RSA_PKCS_KEY_PAIR_GEN, MechanismType::SHA256_RSA_PKCS] {
            if !mechanisms.contains(&m) {
                return Err(SignError::Token(format!("token {:?} lacks the mechanism {m}", c.token_label)));
            }
        }
        let session = ctx.open_rw_session(slot).map_err(|e| token_error("opening a session", e))?;
        match session.login(UserType::User, Some(&AuthPin::new(c.pin.clone().into()))) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(SignError::Token(format!("token {:?} refuses the PIN (CKR_PIN_INCORRECT)", c.token_label)));
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(SignError::Token(format!("token {:?}: the user PIN is locked", c.token_label)));
            }
            Err(e) => return Err(token_error(&format!("logging in to token {:?}", c.token_label), e)),
        }
        Ok(Open { ctx, slot, idle: vec![session] })
    }

    /// Run `f` on an idle session of the open token. The token is (re)opened
    /// when needed, at most once per back-off period; a lost session or token
    /// is dropped so that the next use opens it again.
    ///
    /// PKCS#11's C_Initialize and C_Finalize act on the whole module and must
    /// not run while another thread is inside a call (a module may free what
    /// that call uses): calls run under `GATE`'s read side, opening and
    /// closing under its write side.
    fn with_session<T>(&self, what: &str, f: impl Fn(&Session) -> Result<T, CkError>) -> Result<T, SignError> {
        let i = &self.inner;
        loop {
            {
                let gate = GATE.read().unwrap_or_else(PoisonError::into_inner);
                let session = {
                    let mut open = i.open.lock().unwrap_or_else(PoisonError::into_inner);
                    open.as_mut().map(|o| match o.idle.pop() {
                        Some(s) => Ok(s),
                        None => o.ctx.open_rw_session(o.slot),
                    })
                };
                match session {
                    None => {}
                    Some(Err(e)) => {
                        let lost_token = lost(&e);
                        let err = token_error("opening a session", e);
                        drop(gate);
                        if lost_token {
                            self.reset();
                        }
                        return Err(self.failed(err));
                    }
                    Some(Ok(session)) => match f(&session) {
                        Ok(v) => {
                            if let Some(o) = i.open.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
                                o.idle.push(session);
                            }
                            *i.last_error.lock().unwrap_or_else(PoisonError::into_inner) = None;
                            return Ok(v);
                        }
                        Err(e) => {
                            let lost_token = lost(&e);
                            let err = token_error(what, e);
                            if lost_token {
                                // Sessions and handles of a lost token are worthless.
                                drop(session);
                                drop(gate);
                                self.reset();
                            } else if let Some(o) = i.open.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
                                o.idle.push(session);
                            }
                            return Err(self.failed(err));
                        }
                    },
                }
            }
            // Not open: open it, alone in the module.
            let _gate = GATE.write().unwrap_or_else(PoisonError::into_inner);
            let mut open = i.open.lock().unwrap_or_else(PoisonError::into_inner);
            if open.is_some() {
                continue; // another thread opened it meanwhile
            }
            let mut retry = i.retry.lock().unwrap_or_else(PoisonError::into_inner);
            if Instant::now() < retry.0 {
                let why = i.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone().unwrap_or_default();
                return Err(SignError::Token(format!("{why} (the token is tried again in {} ms)", (retry.0 - Instant::now()).as_millis())));
            }
            match Self::connect(&i.config) {
                Ok(o) => {
                    *open = Some(o);
                    *retry = (Instant::now(), FIRST_BACKOFF);
                    i.publics.lock().unwrap_or_else(PoisonError::into_inner).clear();
                    i.pool.lock().unwrap_or_else(PoisonError::into_inner).clear();
                }
                Err(e) => {
                    *retry = (Instant::now() + retry.1, (retry.1 * 2).min(MAX_BACKOFF));
                    return Err(self.failed(e));
                }
            }
        }
    }

    /// A lost token: close the module (C_Finalize) once no call is in flight,
    /// so that reopening starts afresh, at once.
    fn reset(&self) {
        let _gate = GATE.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(o) = self.inner.open.lock().unwrap_or_else(PoisonError::into_inner).take() {
            drop(o.idle);
            let _ = o.ctx.finalize();
        }
        *self.inner.retry.lock().unwrap_or_else(PoisonError::into_inner) = (Instant::now(), FIRST_BACKOFF);
    }

    fn failed(&self, e: SignError) -> SignError {
        self.inner.failures.fetch_add(1, Ordering::Relaxed);
        *self.inner.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
        e
    }

    /// Ask the token whether it is there (for a periodic check, so that
    /// `health` tells of a pulled token before a change needs it).
    pub fn probe(&self) -> Result<(), SignError> {
        self.with_session("checking the token", |s| self.present(s))
    }

    /// The configured token is in the session's slot (a module may go on
    /// answering for a token pulled or re-initialised under it).
    fn present(&self, s: &Session) -> Result<(), CkError> {
        let slot = s.get_session_info()?.slot_id();
        match self.token_label(slot) {
            Some(l) if l == self.inner.config.token_label => Ok(()),
            _ => Err(CkError::Pkcs11(RvError::TokenNotPresent, cryptoki::context::Function::GetTokenInfo)),
        }
    }

    /// Whether the token answers, and why not.
    pub fn health(&self) -> Health {
        let error = self.inner.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Health { up: error.is_none(), error, failures: self.inner.failures.load(Ordering::Relaxed) }
    }

    pub fn config(&self) -> &Pkcs11Config {
        &self.inner.config
    }

    /// Generate a pair; `persistent` pairs are token objects found by CKA_ID,
    /// the others session objects for one signature.
    fn generate(&self, persistent: bool) -> Result<TokenPair, SignError> {
        let (handles, public) = self.with_session("generating an RSA-2048 key pair", |s| {
            let label = Attribute::Label(b"rpkit".to_vec());
            let public_template = [
                Attribute::Token(persistent),
                Attribute::Private(false),
                Attribute::Verify(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
                label.clone(),
            ];
            let private_template = [
                Attribute::Token(persistent),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                label,
            ];
            self.present(s)?;
            let (pub_h, priv_h) = s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public_template, &private_template)?;
            let attrs = s.get_attributes(pub_h, &[AttributeType::Modulus, AttributeType::PublicExponent])?;
            let public = rsa_public(&attrs);
            if let Some(p) = &public {
                if persistent {
                    let id = Attribute::Id(p.key_id().0.to_vec());
                    s.update_attributes(pub_h, std::slice::from_ref(&id))?;
                    s.update_attributes(priv_h, &[id])?;
                }
            }
            Ok(((pub_h, priv_h), public))
        })?;
        self.inner.generated.fetch_add(1, Ordering::Relaxed);
        let public = public.ok_or_else(|| SignError::KeyGen("the token's public key is not RSA-2048 with e = 65537".into()))?;
        Ok(TokenPair { public, handles })
    }

    /// The token object of `key` of class `class`. A key that is not found is
    /// unknown only while the token is the one configured: a token pulled or
    /// re-initialised under us is a token fault.
    fn find(&self, key: &KeyId, class: ObjectClass) -> Result<ObjectHandle, SignError> {
        let found = self.with_session("finding a key", |s| {
            let found = s.find_objects(&[Attribute::Class(class), Attribute::KeyType(KeyType::RSA), Attribute::Id(key.0.to_vec())])?;
            if found.is_empty() {
                self.present(s)?;
            }
            Ok(found)
        })?;
        found.first().copied().ok_or(SignError::UnknownKey(*key))
    }

    fn token_label(&self, slot: Slot) -> Option<String> {
        let open = self.inner.open.lock().unwrap_or_else(PoisonError::into_inner);
        let ctx = &open.as_ref()?.ctx;
        // Listing the slots makes a module look again (SoftHSM2 notices a
        // token whose files are gone); a slot no longer listed has no token.
        if !ctx.get_slots_with_token().ok()?.contains(&slot) {
            return None;
        }
        let info = ctx.get_token_info(slot).ok()?;
        Some(info.label().trim_end().to_string())
    }

    /// Pre-generate `n` one-time pairs in the token.
    pub fn fill_pool(&self, n: usize) -> Result<(), SignError> {
        for _ in 0..n {
            let pair = self.generate(false)?;
            self.inner.pool.lock().unwrap_or_else(PoisonError::into_inner).push(pair);
        }
        Ok(())
    }

    pub fn pool_size(&self) -> usize {
        self.inner.pool.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Pairs generated in the token since start.
    pub fn keys_generated(&self) -> u64 {
        self.inner.generated.load(Ordering::Relaxed)
    }

    /// Identifiers of every persistent key pair in the token.
    pub fn list_keys(&self) -> Result<Vec<KeyId>, SignError> {
        let ids = self.with_session("listing keys", |s| {
            let found = s.find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::KeyType(KeyType::RSA)])?;
            let mut ids = Vec::new();
            for h in found {
                for a in s.get_attributes(h, &[AttributeType::Id])? {
                    if let Attribute::Id(v) = a {
                        ids.extend(KeyId::from_slice(&v));
                    }
                }
            }
            Ok(ids)
        })?;
        Ok(ids)
    }

    /// The modulus of `key`'s public half (tests look for it in storage).
    pub fn modulus(&self, key: &KeyId) -> Result<Vec<u8>, SignError> {
        let h = self.find(key, ObjectClass::PUBLIC_KEY)?;
        let attrs = self.with_session("reading a public key", |s| s.get_attributes(h, &[AttributeType::Modulus]))?;
        attrs
            .into_iter()
            .find_map(|a| if let Attribute::Modulus(m) = a { Some(m) } else { None })
            .ok_or_else(|| SignError::Token("the public key has no modulus".into()))
    }
}

/// The RPKI public key of a token's RSA public key attributes (ALG-6 checked by `PublicKey`).
fn rsa_public(attrs: &[Attribute]) -> Option<PublicKey> {
    let (mut n, mut e) = (None, None);
    for a in attrs {
        match a {
            Attribute::Modulus(m) => n = Some(m.as_slice()),
            Attribute::PublicExponent(x) => e = Some(x.as_slice()),
            _ => {}
        }
    }
    let rsa = der::sequence(&[&der::unsigned(n?), &der::unsigned(e?)]);
    PublicKey::from_rsa_public_key(&rsa).ok()
}

impl Signer for Pkcs11Signer {
    fn create_key(&self) -> Result<KeyId, SignError> {
        let pair = self.generate(true)?;
        let id = pair.public.key_id();
        self.inner.publics.lock().unwrap_or_else(PoisonError::into_inner).insert(id, pair.public);
        Ok(id)
    }

    fn public_key(&self, key: &KeyId) -> Result<PublicKey, SignError> {
        if let Some(p) = self.inner.publics.lock().unwrap_or_else(PoisonError::into_inner).get(key) {
            return Ok(p.clone());
        }
        let h = self.find(key, ObjectClass::PUBLIC_KEY)?;
        let attrs =
            self.with_session("reading a public key", |s| s.get_attributes(h, &[AttributeType::Modulus, AttributeType::PublicExponent]))?;
        let public = rsa_public(&attrs).ok_or_else(|| SignError::BadKey(format!("{key}: not an RSA-2048 key with e = 65537")))?;
        if public.key_id() != *key {
            return Err(SignError::BadKey(format!("the token's key {key} has the identifier {}", public.key_id())));
        }
        self.inner.publics.lock().unwrap_or_else(PoisonError::into_inner).insert(*key, public.clone());
        Ok(public)
    }

    fn sign(&self, key: &KeyId, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let h = self.find(key, ObjectClass::PRIVATE_KEY)?;
        self.with_session("signing", |s| s.sign(&Mechanism::Sha256RsaPkcs, h, data))
    }

    fn one_time_key(&self) -> Result<Box<dyn OneTimeKey>, SignError> {
        let pooled = self.inner.pool.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let pair = match pooled {
            Some(p) => p,
            None => self.generate(false)?,
        };
        Ok(Box::new(TokenOneTimeKey { signer: self.clone(), pair }))
    }

    fn destroy_key(&self, key: &KeyId) -> Result<(), SignError> {
        let private = self.find(key, ObjectClass::PRIVATE_KEY)?;
        let public = self.find(key, ObjectClass::PUBLIC_KEY).ok();
        self.with_session("destroying a key", |s| {
            s.destroy_object(private)?;
            if let Some(p) = public {
                s.destroy_object(p)?;
            }
            Ok(())
        })?;
        self.inner.publics.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        Ok(())
    }
}

/// A session pair in the token: signs once, then both halves are destroyed (ALG-10).
struct TokenOneTimeKey {
    signer: Pkcs11Signer,
    pair: TokenPair,
}

impl OneTimeKey for TokenOneTimeKey {
    fn public_key(&self) -> &PublicKey {
        &self.pair.public
    }

    fn sign_once(self: Box<Self>, data: &[u8]) -> Result<Vec<u8>, SignError> {
        let (public, private) = self.pair.handles;
        let signature = self.signer.with_session("signing", |s| s.sign(&Mechanism::Sha256RsaPkcs, private, data));
        // Destroyed whatever the signature's fate; a session object also goes with its session.
        let _ = self.signer.with_session("destroying a one-time key", |s| {
            s.destroy_object(private)?;
            s.destroy_object(public)
        });
        signature
    }
}
