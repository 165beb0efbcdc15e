//! BGPsec router certificates (RFC 8209, CHECKLIST 2.9): issued from a PKCS#10
//! request for one of the member's AS numbers, published and validated
//! (BGPSEC-2, BGPSEC-4, the `rpki` crate as oracle), refused with a reason,
//! renewed before expiry, re-issued with a key roll, withdrawn with the AS,
//! revoked on removal.

mod repo_check;

use repo_check::{res, router_csr, Env, RIR};
use rpkit_ca::{CaConfig, CaError};
use rpkit_objects::crl::Crl;
use std::collections::BTreeSet;

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("rpkit-router-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn keys(e: &Env) -> BTreeSet<(u32, String)> {
    e.walk().router_keys
}

#[test]
fn bgpsec_4_router_certificates_are_issued_validated_renewed_rolled_and_revoked() {
    let dir = scratch("life");
    let e = Env::with_config(None, CaConfig { keyroll_staging_seconds: 60, ..CaConfig::default() });
    e.ca.init(&res(RIR)).unwrap();
    e.ca.add_member("isp", &res("AS64500-AS64501, 10.1.0.0/16"), None).unwrap();
    e.ca.add_member("other", &res("AS64510, 192.0.2.0/24"), None).unwrap();
    let (csr1, csr2) = (router_csr(&dir, "r1"), router_csr(&dir, "r2"));

    let a = e.ca.add_router_cert("isp", 64500, &csr1).unwrap();
    assert_eq!(a.subject, "ROUTER-0000FBF4", "RFC 8209 section 3.1.1: ROUTER- and the AS in hex");
    assert!(a.uri.starts_with("rsync://rpki.test/repo/isp/") && a.uri.ends_with(".cer"), "{}", a.uri);
    let b = e.ca.add_router_cert("isp", 64501, &csr2).unwrap();
    // The same key and AS again: the certificate already issued.
    assert_eq!(e.ca.add_router_cert("isp", 64500, &csr1).unwrap(), a);
    let want: BTreeSet<(u32, String)> = [(64500, a.key_id.clone()), (64501, b.key_id.clone())].into();
    assert_eq!(keys(&e), want);
    assert_eq!(e.ca.router_certs("isp").unwrap().len(), 2);

    // Refusals name the reason and change nothing.
    let before = e.publisher.snapshot();
    let refused = |r: Result<_, CaError>| match r {
        Err(CaError::Invalid { code, message }) => format!("{code}: {message}"),
        other => panic!("{other:?}"),
    };
    let m = refused(e.ca.add_router_cert("isp", 64510, &csr1));
    assert!(m.starts_with("not_held") && m.contains("AS64510"), "{m}");
    let m = refused(e.ca.add_router_cert("isp", 64500, "not a request"));
    assert!(m.starts_with("bad_csr"), "{m}");
    let rsa_key = dir.join("rsa.key");
    let rsa = std::process::Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=rsa", "-keyout"])
        .arg(&rsa_key)
        .output()
        .unwrap();
    let m = refused(e.ca.add_router_cert("isp", 64500, &String::from_utf8(rsa.stdout).unwrap()));
    assert!(m.starts_with("bad_csr") && m.contains("BGPSEC-1"), "{m}");
    let mut tampered = csr1.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let m = refused(e.ca.add_router_cert("isp", 64500, &String::from_utf8(tampered).unwrap()));
    assert!(m.starts_with("bad_csr"), "{m}");
    assert_eq!(e.publisher.snapshot(), before, "refusals change nothing");

    // Renewed before expiry with the same key (340 days on, within 30 days of the end).
    *e.clock.lock().unwrap() = e.now().add_secs(340 * 86400);
    e.ca.reissue_due().unwrap();
    let renewed = e.ca.router_certs("isp").unwrap();
    assert!(renewed.iter().all(|r| r.not_after > a.not_after), "{renewed:?}");
    assert_eq!(keys(&e), want);

    // The member's CA key rolls: the router certificates move under the new key.
    e.ca.keyroll_start("isp").unwrap();
    assert_eq!(keys(&e), want, "pending: the same router keys");
    let s = e.ca.keyroll_activate("isp").unwrap();
    assert_eq!(keys(&e), want, "after the roll: the same router keys");
    let repo = e.publisher.snapshot();
    for r in e.ca.router_certs("isp").unwrap() {
        let c = rpkit_objects::cert::Cert::decode(&repo[&r.uri]).unwrap();
        assert_eq!(c.aki.unwrap().hex(), s.key, "{} is issued by the new key", r.uri);
    }

    // An AS leaves the member: its router certificate goes; removal revokes.
    let change = e.ca.set_member_resources("isp", &res("AS64500, 10.1.0.0/16")).unwrap().unwrap();
    assert!(change.withdrawn.iter().any(|w| w.contains("router certificate AS64501")), "{change:?}");
    assert_eq!(keys(&e), [(64500, a.key_id.clone())].into());
    let cert = rpkit_objects::cert::Cert::decode(&e.publisher.snapshot()[&e.ca.router_certs("isp").unwrap()[0].uri]).unwrap();
    e.ca.remove_router_cert("isp", 64500, &a.key_id.to_lowercase()).unwrap();
    assert!(keys(&e).is_empty());
    let repo = e.publisher.snapshot();
    let crl = repo.iter().find(|(u, _)| u.starts_with("rsync://rpki.test/repo/isp/") && u.ends_with(".crl")).unwrap().1;
    assert!(Crl::decode(crl).unwrap().is_revoked(&cert.serial), "the removed certificate is on the CRL");
    assert!(matches!(e.ca.remove_router_cert("isp", 64500, &a.key_id), Err(CaError::NotFound(_))));
    let actions: Vec<String> = e.ca.history(Some("isp"), None).unwrap().into_iter().map(|h| h.action).collect();
    assert_eq!(actions.iter().filter(|a| a.starts_with("router_cert.")).count(), 3, "{actions:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
