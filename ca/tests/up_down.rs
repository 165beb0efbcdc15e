//! The CA as an RFC 6492 parent, driven by a child written here from the
//! `objects` codecs: onboarding by RFC 8183, list / issue / revoke with the
//! certificates checked by our walker and the `rpki` crate; every wrong or
//! hostile message answered with its RFC 6492 status and changing nothing;
//! entitlements that shrink at once, suspension, removal, and the RIR's own
//! key roll re-certifying the child.

mod repo_check;

use repo_check::{res, Env, RIR};
use rpkit_ca::CaConfig;
use rpkit_objects::bpki::{IdCert, Identity};
use rpkit_objects::cert::Cert;
use rpkit_objects::crl::Crl;
use rpkit_objects::crypto::{KeyId, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::pkcs10::CaCertRequest;
use rpkit_objects::resources::Afi;
use rpkit_objects::rfc8183::ChildRequest;
use rpkit_objects::signed_message::SignedMessage;
use rpkit_objects::up_down::{decode_ips, Class, IssueRequest, KeyRef, Limit, Message, Payload};

/// A child CA as the parent sees it: an identity and keys.
struct Child {
    handle: String,
    id: Identity,
    parent: IdCert,
    keys: SoftSigner,
}

impl Child {
    fn onboard(env: &Env, handle: &str, resources: Option<&str>) -> Child {
        let id = Identity::create().unwrap();
        let req = ChildRequest { tag: None, child_handle: format!("{handle}-own-name"), id_cert: id.cert.clone() };
        let resp = env.ca.add_child(handle, &req, resources.map(res).as_ref(), &format!("http://ca.test/rfc6492/{handle}")).unwrap();
        assert_eq!((resp.child_handle.as_str(), resp.parent_handle.as_str()), (handle, "rir"));
        assert_eq!(resp.service_uri, format!("http://ca.test/rfc6492/{handle}"));
        Child { handle: handle.into(), id, parent: resp.id_cert, keys: SoftSigner::new() }
    }

    fn wrap(&self, env: &Env, payload: Payload) -> Vec<u8> {
        let m = Message { sender: self.handle.clone(), recipient: "rir".into(), payload };
        self.id.sign(m.encode().as_bytes(), env.now()).unwrap()
    }

    /// Post a message as it is, read the signed answer.
    fn post(&self, env: &Env, body: &[u8]) -> Payload {
        let answer = env.ca.up_down(&self.handle, body).unwrap();
        let m = SignedMessage::decode(&answer).unwrap();
        m.verify(&self.parent, env.now()).unwrap();
        let msg = Message::decode(m.content()).unwrap();
        assert_eq!((msg.sender.as_str(), msg.recipient.as_str()), ("rir", self.handle.as_str()));
        msg.payload
    }

    fn send(&self, env: &Env, payload: Payload) -> Payload {
        self.post(env, &self.wrap(env, payload))
    }

    fn list(&self, env: &Env) -> Vec<Class> {
        match self.send(env, Payload::List) {
            Payload::ListResponse(c) => c,
            other => panic!("{other:?}"),
        }
    }

    fn csr(&self, key: &KeyId) -> Vec<u8> {
        let repo = format!("rsync://{}.example/repo/{}/", self.handle, self.handle);
        let mft = format!("{repo}{}.mft", key.hex());
        CaCertRequest::build(&self.keys, key, &repo, &mft, Some("https://child.example/notification.xml")).unwrap()
    }

    fn issue(&self, env: &Env, key: &KeyId, limit: Limit) -> Payload {
        self.send(env, Payload::Issue(IssueRequest { class_name: "default".into(), limit, csr: self.csr(key) }))
    }

    fn certified(&self, env: &Env, key: &KeyId) -> Cert {
        match self.issue(env, key, Limit::default()) {
            Payload::IssueResponse(c) => {
                assert_eq!(c.certificates.len(), 1);
                Cert::decode(&c.certificates[0].der).unwrap()
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The error status of an answer.
fn status(p: Payload) -> (u16, String) {
    match p {
        Payload::Error(e) => (e.status, e.description.unwrap_or_default()),
        other => panic!("not an error: {other:?}"),
    }
}

fn env() -> Env {
    env_with(CaConfig::default())
}

fn env_with(cfg: CaConfig) -> Env {
    let env = Env::with_config(None, cfg);
    env.ca.init(&res(RIR)).unwrap();
    env.ca.set_identity(Identity::create().unwrap());
    env
}

#[test]
fn updown_3_4_5_a_child_is_listed_certified_and_revoked() {
    let env = env();
    let child = Child::onboard(&env, "nir", Some("AS64500, 10.1.0.0/16, 2001:db8:1::/48"));
    let classes = child.list(&env);
    assert_eq!(classes.len(), 1);
    let class = &classes[0];
    assert_eq!(class.resources, res("AS64500, 10.1.0.0/16, 2001:db8:1::/48"));
    assert!(class.certificates.is_empty());
    let rir = Cert::decode(&class.issuer).unwrap();
    assert_eq!(class.cert_url, "rsync://rpki.test/repo/ta/".to_string() + &rir.ski.file_stem() + ".cer");
    assert_eq!(class.not_after, rir.not_after.min(Time(env.now().0 + 365 * 86400)));

    // UPDOWN-4: the certificate holds the entitlement and the SIA asked for,
    // is published in the RIR CA's publication point and validates.
    let k1 = child.keys.create_key().unwrap();
    let c1 = child.certified(&env, &k1);
    assert_eq!(c1.public_key, child.keys.public_key(&k1).unwrap());
    assert_eq!(c1.resources.explicit_set(), class.resources);
    assert_eq!(c1.sia.rsync_repository(), Some("rsync://nir.example/repo/nir/"));
    assert_eq!(c1.sia.notify(), Some("https://child.example/notification.xml"));
    c1.verify_signature(&rir.public_key).unwrap();
    let walk = env.walk();
    assert_eq!(walk.external.get("rsync://nir.example/repo/nir/"), Some(&class.resources), "{:?}", walk.external);
    // The same request again: the same certificate, nothing published.
    let before = env.ca.published().unwrap();
    assert_eq!(child.certified(&env, &k1).to_der(), c1.to_der());
    assert_eq!(env.ca.published().unwrap(), before);
    // A subset asked for (req_resource_set_ipv4) narrows the certificate.
    let narrow = Limit { ipv4: Some(decode_ips("10.1.0.0/17", Afi::Ipv4).unwrap()), ..Limit::default() };
    let Payload::IssueResponse(c) = child.issue(&env, &k1, narrow) else { panic!() };
    let c1 = Cert::decode(&c.certificates[0].der).unwrap();
    assert_eq!(c1.resources.explicit_set(), res("AS64500, 10.1.0.0/17, 2001:db8:1::/48"));

    // A key roll (RFC 6489): two keys certified, a third refused, the old revoked.
    let k2 = child.keys.create_key().unwrap();
    child.certified(&env, &k2);
    assert_eq!(child.list(&env)[0].certificates.len(), 2);
    let k3 = child.keys.create_key().unwrap();
    let (code, why) = status(child.issue(&env, &k3, Limit::default()));
    assert_eq!(code, 2001, "{why}");
    assert!(why.contains("holds 2 certificates"), "{why}");
    let Payload::RevokeResponse(k) = child.send(&env, Payload::Revoke(KeyRef { class_name: "default".into(), ski: k1 })) else { panic!() };
    assert_eq!(k.ski, k1);
    let listed = child.list(&env);
    assert_eq!(listed[0].certificates.len(), 1);
    assert_eq!(Cert::decode(&listed[0].certificates[0].der).unwrap().public_key, child.keys.public_key(&k2).unwrap());
    let repo = env.ca.published().unwrap();
    assert!(!repo.values().any(|d| d == c1.to_der()), "the revoked certificate is withdrawn");
    let rir_crl = repo.iter().find(|(u, _)| u.starts_with("rsync://rpki.test/repo/rir/") && u.ends_with(".crl")).unwrap().1;
    assert!(Crl::decode(rir_crl).unwrap().is_revoked(&c1.serial), "and on the RIR CA's CRL");
    env.walk();

    // The operator sees a delegated member, its last contact and certificate.
    let m = env.ca.member("nir").unwrap();
    assert_eq!(m.kind, "delegated");
    let d = m.delegated.unwrap();
    assert_eq!(d.last_message.as_deref(), Some("list"));
    assert!(d.last_contact.is_some());
    assert_eq!(d.certificates.len(), 1);
    assert_eq!(d.certificates[0].key, child.keys.public_key(&k2).unwrap().key_id().hex());
    assert_eq!(m.publication_point, "rsync://nir.example/repo/nir/");
    let actions: Vec<String> = env.ca.history(Some("nir"), None).unwrap().into_iter().map(|h| h.action).collect();
    assert_eq!(actions, ["child.add", "child.issue", "child.issue", "child.issue", "child.revoke"]);
}

#[test]
fn updown_6_wrong_and_hostile_messages_get_their_status_and_change_nothing() {
    let env = env();
    let child = Child::onboard(&env, "nir", Some("AS64500, 10.1.0.0/16"));
    let other = Child::onboard(&env, "other", Some("AS64501, 10.2.0.0/16"));
    let shared = other.keys.create_key().unwrap();
    other.certified(&env, &shared);
    let before = (env.ca.published().unwrap(), env.ca.history(None, None).unwrap().len());
    let k = child.keys.create_key().unwrap();
    let mut cases: Vec<(&str, Payload, u16, &str)> = Vec::new();
    let issue = |class: &str, csr: Vec<u8>, limit: Limit| Payload::Issue(IssueRequest { class_name: class.into(), limit, csr });
    cases.push(("unknown class", child.issue_payload("x", &k), 1201, "no class"));
    cases.push(("bad PKCS#10", issue("default", vec![0x30, 0x03, 0x02, 0x01, 0x00], Limit::default()), 1203, ""));
    let wide = Limit { ipv4: Some(decode_ips("10.0.0.0/8", Afi::Ipv4).unwrap()), ..Limit::default() };
    cases.push(("resources not held", issue("default", child.csr(&k), wide), 1202, "not allocated"));
    // Another child's key: the request is signed by that key (proof of possession holds).
    let csr = CaCertRequest::build(&other.keys, &shared, "rsync://x.example/r/", "rsync://x.example/r/a.mft", None).unwrap();
    cases.push(("a key in use", issue("default", csr, Limit::default()), 1204, "used by another CA"));
    cases.push(("revoke: unknown class", Payload::Revoke(KeyRef { class_name: "x".into(), ski: k }), 1301, ""));
    cases.push(("revoke: unknown key", Payload::Revoke(KeyRef { class_name: "default".into(), ski: k }), 1302, ""));
    cases.push(("a parent's message type", Payload::ListResponse(Vec::new()), 1103, ""));
    for (what, payload, code, text) in cases {
        let (got, why) = status(child.send(&env, payload));
        assert_eq!(got, code, "{what}: {why}");
        assert!(why.contains(text), "{what}: {why}");
    }
    // Wrong wrappers: another identity's signature, an unknown child, a
    // replay of the very same message, an older message, a wrong sender,
    // a wrong version, garbage, an oversized body.
    let stranger = Child { handle: "nir".into(), id: Identity::create().unwrap(), parent: child.parent.clone(), keys: SoftSigner::new() };
    let (c, why) = status(stranger.send(&env, Payload::List));
    assert!(c == 2001 && why.contains("not signed by the child's identity"), "{why}");
    let nobody = Child { handle: "nobody".into(), ..stranger };
    let (c, why) = status(nobody.send(&env, Payload::List));
    assert!(c == 2001 && why.contains("no child 'nobody'"), "{why}");
    let msg = child.wrap(&env, Payload::List);
    assert!(matches!(child.post(&env, &msg), Payload::ListResponse(_)));
    let (c, why) = status(child.post(&env, &msg));
    assert!(c == 2001 && why.contains("replayed"), "{why}");
    let old = {
        let m = Message { sender: "nir".into(), recipient: "rir".into(), payload: Payload::List };
        child.id.sign(m.encode().as_bytes(), Time(env.now().0 - 600)).unwrap()
    };
    let (c, why) = status(child.post(&env, &old));
    assert!(c == 2001 && why.contains("before the last message"), "{why}");
    let as_other = {
        let m = Message { sender: "other".into(), recipient: "rir".into(), payload: Payload::List };
        child.id.sign(m.encode().as_bytes(), env.now()).unwrap()
    };
    let (c, why) = status(child.post(&env, &as_other));
    assert!(c == 2001 && why.contains("sender"), "{why}");
    let v2 = child.id.sign(child_xml("nir", "2", "list").as_bytes(), env.now()).unwrap();
    assert_eq!(status(child.post(&env, &v2)).0, 1102);
    let (c, why) = status(child.post(&env, b"not CMS at all"));
    assert!(c == 2001 && why.contains("CMS"), "{why}");
    let big = vec![0x30; rpkit_ca::up_down::MAX_BODY_BYTES + 1];
    let (c, why) = status(child.post(&env, &big));
    assert!(c == 2001 && why.contains("octets"), "{why}");
    assert_eq!((env.ca.published().unwrap(), env.ca.history(None, None).unwrap().len()), before, "nothing changed");
    // Refusals are counted per child for /metrics.
    let t: std::collections::HashMap<_, _> = env.ca.updown_traffic.snapshot().into_iter().collect();
    assert!(t["nir"].refused >= 14, "{}", t["nir"].refused);
}

fn child_xml(sender: &str, version: &str, ty: &str) -> String {
    format!("<message xmlns=\"{}\" version=\"{version}\" sender=\"{sender}\" recipient=\"rir\" type=\"{ty}\"/>", rpkit_objects::up_down::NS)
}

impl Child {
    fn issue_payload(&self, class: &str, key: &KeyId) -> Payload {
        Payload::Issue(IssueRequest { class_name: class.into(), limit: Limit::default(), csr: self.csr(key) })
    }
}

#[test]
fn updown_rate_a_child_over_its_budget_is_told_to_wait() {
    let env = env_with(CaConfig { updown_rate_per_minute: 5, ..CaConfig::default() });
    let child = Child::onboard(&env, "nir", Some("10.1.0.0/16"));
    for _ in 0..5 {
        assert!(matches!(child.send(&env, Payload::List), Payload::ListResponse(_)));
    }
    let (c, why) = status(child.send(&env, Payload::List));
    assert!(c == 1101 && why.contains("5 messages a minute"), "{why}");
    *env.clock.lock().unwrap() = Time(env.now().0 + 61);
    assert!(matches!(child.send(&env, Payload::List), Payload::ListResponse(_)));
}

#[test]
fn updown_7_allocation_changes_reach_the_child() {
    let env = env();
    let child = Child::onboard(&env, "nir", Some("AS64500, 10.1.0.0/16, 10.2.0.0/16"));
    let k = child.keys.create_key().unwrap();
    child.certified(&env, &k);
    // Shrunk: the certificate is re-issued without 10.2.0.0/16 at once.
    let change = env.ca.set_member_resources("nir", &res("AS64500, 10.1.0.0/16")).unwrap().unwrap();
    assert_eq!(change.removed, "10.2.0.0/16");
    assert!(change.withdrawn.iter().any(|w| w.contains("shrunk by 10.2.0.0/16")), "{:?}", change.withdrawn);
    let w = env.walk();
    assert_eq!(w.external["rsync://nir.example/repo/nir/"], res("AS64500, 10.1.0.0/16"));
    // Grown: offered on the next list, certified when asked for.
    env.ca.set_member_resources("nir", &res("AS64500, 10.1.0.0/16, 10.3.0.0/16")).unwrap();
    assert_eq!(env.walk().external["rsync://nir.example/repo/nir/"], res("AS64500, 10.1.0.0/16"));
    assert_eq!(child.list(&env)[0].resources, res("AS64500, 10.1.0.0/16, 10.3.0.0/16"));
    child.certified(&env, &k);
    assert_eq!(env.walk().external["rsync://nir.example/repo/nir/"], res("AS64500, 10.1.0.0/16, 10.3.0.0/16"));

    // The RIR CA's key roll certifies the child again under the new key.
    env.ca.keyroll_start("rir").unwrap();
    env.ca.keyroll_activate("rir").unwrap();
    let w = env.walk();
    assert_eq!(w.external["rsync://nir.example/repo/nir/"], res("AS64500, 10.1.0.0/16, 10.3.0.0/16"));
    let class = &child.list(&env)[0];
    let new_rir = Cert::decode(&class.issuer).unwrap();
    let cert = Cert::decode(&class.certificates[0].der).unwrap();
    cert.verify_signature(&new_rir.public_key).unwrap();

    // Suspended: revoked and withdrawn, nothing offered; unsuspended: offered again.
    env.ca.suspend_child("nir", true).unwrap();
    assert!(env.walk().external.is_empty());
    assert!(child.list(&env).is_empty());
    assert_eq!(status(child.issue(&env, &k, Limit::default())).0, 1201);
    assert!(env.ca.members().unwrap().iter().any(|m| m.handle == "nir" && m.delegated.as_ref().is_some_and(|d| d.suspended)));
    env.ca.suspend_child("nir", false).unwrap();
    child.certified(&env, &k);
    assert_eq!(env.walk().external.len(), 1);

    // Removed: revoked and withdrawn; the child is unknown from then on.
    env.ca.remove_member("nir").unwrap();
    assert!(env.walk().external.is_empty());
    let (c, why) = status(child.send(&env, Payload::List));
    assert!(c == 2001 && why.contains("no child"), "{why}");

    // A new handle needs resources; a hosted member keeps its own and moves (moves.rs).
    let req = ChildRequest { tag: None, child_handle: "x".into(), id_cert: Identity::create().unwrap().cert };
    let e = env.ca.add_child("newbie", &req, None, "http://ca.test/").unwrap_err().to_string();
    assert!(e.contains("give its resources"), "{e}");
    env.ca.add_member("hosted", &res("10.9.0.0/16"), None).unwrap();
    let e = env.ca.add_child("hosted", &req, Some(&res("10.8.0.0/16")), "http://ca.test/").unwrap_err().to_string();
    assert!(e.contains("set-resources"), "{e}");
    env.ca.add_child("hosted", &req, None, "http://ca.test/").unwrap();
    assert_eq!(env.ca.member("hosted").unwrap().kind, "moving");
    let e = env.ca.add_child("greedy", &req, Some(&res("11.0.0.0/8")), "http://ca.test/").unwrap_err().to_string();
    assert!(e.contains("outside the RIR's resources"), "{e}");
}

/// Imports of the delegated-extended file reach delegated members by their
/// opaque-id: a shrunk allocation shrinks the child's certificate at once, a
/// holder no longer listed is removed and its certificate revoked.
#[test]
fn updown_7_imports_reach_delegated_members() {
    let env = env();
    let file = |v4: &str| {
        format!("2.3|lacnic|20261201|2|19700101|20261201|+0000\nlacnic|BR|ipv4|{v4}|20200101|allocated|ID-7\nlacnic|BR|asn|64500|1|20200101|allocated|ID-7\n")
    };
    let report = env.ca.import_delegated(&file("10.1.0.0|65536")).unwrap();
    assert_eq!(report.added, ["ID-7"]);
    // The imported member onboards as a child: it keeps its allocations and moves.
    let id = Identity::create().unwrap();
    let req = ChildRequest { tag: None, child_handle: "own".into(), id_cert: id.cert.clone() };
    let resp = env.ca.add_child("ID-7", &req, None, "http://ca.test/rfc6492/ID-7").unwrap();
    env.ca.complete_delegation("ID-7", true).unwrap();
    let child = Child { handle: "ID-7".into(), id, parent: resp.id_cert, keys: SoftSigner::new() };
    let k = child.keys.create_key().unwrap();
    assert_eq!(child.certified(&env, &k).resources.explicit_set(), res("AS64500, 10.1.0.0/16"));
    assert_eq!(env.ca.member("ID-7").unwrap().opaque_id.as_deref(), Some("ID-7"));
    // Shrunk by the next file: re-issued at once.
    let report = env.ca.import_delegated(&file("10.1.0.0|32768")).unwrap();
    assert_eq!(report.changed.len(), 1, "{report:?}");
    assert_eq!(env.walk().external["rsync://ID-7.example/repo/ID-7/"], res("AS64500, 10.1.0.0/17"));
    // Gone from the file: removed, its certificate revoked and withdrawn.
    let report = env.ca.import_delegated("2.3|lacnic|20261201|0|19700101|20261201|+0000\n").unwrap();
    assert_eq!(report.removed, ["ID-7"]);
    assert!(env.walk().external.is_empty());
    assert!(env.ca.member("ID-7").is_err());
}
