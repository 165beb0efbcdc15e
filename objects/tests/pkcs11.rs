//! The PKCS#11 signer against a real token (SoftHSM2): keys made in the token
//! sign what verifies with their public half (ALG-6, RFC 7935), are found again
//! by their identifier after a restart, never leave it, and every set-up fault
//! names its cause. One test: a process initialises the module once.

use rpkit_objects::crypto::{Pkcs11Config, Pkcs11Signer, SignError, Signer};
use rpkit_test_vectors::softhsm::{self, Token};

fn config(label: &str, pin: &str) -> Pkcs11Config {
    Pkcs11Config { module: softhsm::MODULE.into(), token_label: label.into(), pin: pin.into() }
}

fn open_err(c: Pkcs11Config) -> String {
    match Pkcs11Signer::open(c) {
        Err(SignError::Token(m)) => m,
        Err(e) => panic!("not a token error: {e}"),
        Ok(_) => panic!("opened"),
    }
}

#[test]
fn keys_live_and_sign_in_the_token_and_faults_name_their_cause() {
    if !softhsm::available() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("rpkit-pkcs11-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Token::new(&dir, "rpkit-test", "1234");
    t.add_token("other", "9999");
    // Read by the module when it is initialised, before any thread of ours uses it.
    std::env::set_var("SOFTHSM2_CONF", &t.conf);

    // Set-up faults, each named.
    let mut missing = config("rpkit-test", "1234");
    missing.module = "/nonexistent/libpkcs11.so".into();
    let m = open_err(missing);
    assert!(m.contains("/nonexistent/libpkcs11.so") && m.contains("does not exist"), "{m}");
    let m = open_err(config("absent", "1234"));
    assert!(m.contains("no token labelled \"absent\"") && m.contains("rpkit-test") && m.contains("other"), "{m}");
    let m = open_err(config("rpkit-test", "0000"));
    assert!(m.contains("refuses the PIN"), "{m}");

    let s = Pkcs11Signer::open(config("rpkit-test", "1234")).unwrap();
    assert!(s.health().up);
    let key = s.create_key().unwrap();
    let public = s.public_key(&key).unwrap();
    assert_eq!(public.key_id(), key, "CKA_ID is the key identifier (RFC 6487 §4.8.2)");
    let sig = s.sign(&key, b"to be signed").unwrap();
    public.verify(b"to be signed", &sig).unwrap();
    assert!(public.verify(b"something else", &sig).is_err());
    assert_eq!(s.list_keys().unwrap(), vec![key]);

    // One-time keys: session objects that sign once and are gone.
    s.fill_pool(2).unwrap();
    assert_eq!(s.pool_size(), 2);
    let otk = s.one_time_key().unwrap();
    let otk_public = otk.public_key().clone();
    let sig = otk.sign_once(b"manifest").unwrap();
    otk_public.verify(b"manifest", &sig).unwrap();
    assert_eq!(s.pool_size(), 1);
    assert_eq!(s.list_keys().unwrap(), vec![key], "one-time keys are never token objects");

    // A second signer (a restart) finds the key by its identifier.
    drop(s);
    let s = Pkcs11Signer::open(config("rpkit-test", "1234")).unwrap();
    let _sig = s.sign(&key, b"first").expect("sign after restart");
    assert_eq!(s.public_key(&key).unwrap(), public);
    public.verify(b"again", &s.sign(&key, b"again").unwrap()).unwrap();

    // The token is pulled: signing fails naming the HSM, health says so, and
    // the signer comes back once the token does (after its back-off).
    let saved = dir.join("saved");
    copy_dir(&t.tokens_dir(), &saved);
    t.delete_token("rpkit-test");
    let e = s.sign(&key, b"x").unwrap_err();
    assert!(matches!(e, SignError::Token(_) | SignError::UnknownKey(_)), "{e}");
    let e = s.sign(&key, b"x").unwrap_err();
    assert!(e.to_string().contains("HSM"), "{e}");
    let h = s.health();
    assert!(!h.up && h.failures >= 1 && h.error.is_some(), "{h:?}");
    std::fs::remove_dir_all(t.tokens_dir()).unwrap();
    copy_dir(&saved, &t.tokens_dir());
    let mut back = None;
    for _ in 0..100 {
        if let Ok(sig) = s.sign(&key, b"back") {
            back = Some(sig);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    public.verify(b"back", &back.expect("the signer reopens the returned token")).unwrap();
    assert!(s.health().up);

    // Destroyed keys are gone from the token.
    s.destroy_key(&key).unwrap();
    assert!(s.list_keys().unwrap().is_empty());
    assert!(matches!(s.sign(&key, b"x"), Err(SignError::UnknownKey(_))));
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let st = std::process::Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap();
    assert!(st.success());
}
