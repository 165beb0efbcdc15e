//! rpkit as an RFC 6492 child: an NIR's CA below an RIR's, both rpkit, the
//! RIR's API served over HTTP. The NIR's top CA is certified by the RIR, its
//! members' ROAs validate from the RIR's TAL (both repositories walked as one,
//! the `rpki` crate as oracle); a shrunk entitlement cuts the NIR's members
//! down and withdraws the ROAs no longer covered; an unreachable parent
//! changes nothing; the NIR's key rolls through its parent with no VRP lost.

mod repo_check;

use repo_check::{res, roas, walk, Env, Walk, RIR};
use rpkit_ca::api::{serve, AppState};
use rpkit_ca::contract::AspaSpec;
use rpkit_ca::moves::{ChildView, Published};
use rpkit_ca::{CaConfig, CaError};
use rpkit_objects::bpki::Identity;
use rpkit_objects::cert::Cert;
use rpkit_objects::der::Time;
use rpkit_objects::rfc8183::ChildRequest;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The RIR's CA API on a port of its own, until dropped.
struct Served {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    fn start(env: &Env) -> Served {
        let ca = env.ca.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let state = AppState::new(ca, "admin-token-for-the-test");
                let _ = serve(listener, state, std::time::Duration::from_secs(3600), async move {
                    let _ = stopped.await;
                })
                .await;
            });
        });
        let addr = rx.recv().unwrap();
        Served { url: format!("http://{addr}"), stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Pair {
    rir: Env,
    nir: Env,
}

impl Pair {
    /// Both repositories walked as one from the RIR's TAL.
    fn walk(&self) -> Walk {
        assert_eq!(self.nir.publisher.snapshot(), self.nir.ca.published().unwrap());
        let mut repo = self.rir.publisher.snapshot();
        repo.extend(self.nir.publisher.snapshot());
        walk(&self.rir.ca.tal().unwrap(), &repo, self.rir.now())
    }

    fn vrps(&self) -> BTreeSet<String> {
        self.walk().vrps
    }
}

fn set_up(server: &mut Option<Served>) -> Pair {
    let rir = Env::new(None);
    rir.ca.init(&res(RIR)).unwrap();
    rir.ca.set_identity(Identity::create().unwrap());
    let served = Served::start(&rir);
    let nir = Env::with_config(
        None,
        CaConfig {
            updown_parent: true,
            rir_handle: "nir".into(),
            rsync_base: "rsync://nir.test/repo/".into(),
            rrdp_notify: Some("https://nir.test/rrdp/notification.xml".into()),
            ta_https_uri: None,
            keyroll_staging_seconds: 3600,
            ..CaConfig::default()
        },
    );
    let nir_id = Identity::create().unwrap();
    let req = ChildRequest { tag: None, child_handle: "nic".into(), id_cert: nir_id.cert.clone() };
    nir.ca.set_identity(nir_id);
    let resp = rir.ca.add_child("nir", &req, Some(&res("AS64500-AS64510, 10.0.0.0/12")), &format!("{}/rfc6492/nir", served.url)).unwrap();
    nir.ca.set_updown_parent(&resp).unwrap();
    *server = Some(served);
    Pair { rir, nir }
}

#[test]
fn an_nirs_members_validate_from_the_rirs_tal() {
    let mut server = None;
    let p = set_up(&mut server);
    assert!(p.nir.ca.init(&res("10.0.0.0/8")).is_err(), "no trust anchor below a parent");
    assert!(p.nir.ca.add_member("m1", &res("10.1.0.0/16"), None).is_err(), "no top CA before the parent certified it");
    let sync = p.nir.ca.sync_parent().unwrap();
    assert!(sync.certified, "{sync:?}");
    assert_eq!(sync.entitled.unwrap().ipv4, ["10.0.0.0/12"]);
    p.nir.ca.add_member("m1", &res("AS64501, 10.1.0.0/16, 10.9.0.0/16"), None).unwrap();
    p.nir.ca.add_member("m2", &res("AS64502, 10.2.0.0/16"), None).unwrap();
    p.nir.ca.apply_roas("m1", &roas("10.1.0.0/16-24 AS64501\n10.9.0.0/16 AS64501"), false).unwrap();
    p.nir.ca.apply_roas("m2", &roas("10.2.0.0/16 AS64502"), false).unwrap();
    let w = p.walk();
    let want: BTreeSet<String> = ["10.1.0.0/16-24 AS64501", "10.9.0.0/16-16 AS64501", "10.2.0.0/16-16 AS64502"].map(String::from).into();
    assert_eq!(w.vrps, want);
    assert_eq!(w.cas["nir"], res("AS64500-AS64510, 10.0.0.0/12"));
    // A second sync with nothing new changes nothing.
    let before = p.nir.ca.published().unwrap();
    let again = p.nir.ca.sync_parent().unwrap();
    assert!(!again.certified && again.shrunk.is_empty(), "{again:?}");
    assert_eq!(p.nir.ca.published().unwrap(), before);
    let status = p.nir.ca.parent_status().unwrap();
    assert_eq!((status.parent_handle.as_str(), status.child_handle.as_str()), ("rir", "nir"));
    assert!(status.last_success.is_some() && status.last_error.is_none(), "{status:?}");
    // The RIR sees its delegated member and the NIR's publication point.
    let m = p.rir.ca.member("nir").unwrap();
    assert_eq!((m.kind.as_str(), m.publication_point.as_str()), ("delegated", "rsync://nir.test/repo/nir/"));

    // The RIR shrinks the NIR to 10.0.0.0/13: at the next sync m1 keeps
    // 10.1.0.0/16 only and its ROA for 10.9.0.0/16 is withdrawn and reported.
    p.rir.ca.set_member_resources("nir", &res("AS64500-AS64510, 10.0.0.0/13")).unwrap();
    let sync = p.nir.ca.sync_parent().unwrap();
    assert!(sync.certified);
    assert_eq!(sync.shrunk.len(), 1, "{sync:?}");
    assert_eq!((sync.shrunk[0].handle.as_str(), sync.shrunk[0].removed.as_str()), ("m1", "10.9.0.0/16"));
    assert_eq!(sync.shrunk[0].withdrawn, ["ROA 10.9.0.0/16-16 AS64501"]);
    let w = p.walk();
    assert_eq!(w.vrps, ["10.1.0.0/16-24 AS64501", "10.2.0.0/16-16 AS64502"].map(String::from).into());
    assert_eq!(w.cas["m1"], res("AS64501, 10.1.0.0/16"));

    // The parent unreachable: the sync fails, says why, and changes nothing.
    let before = p.nir.ca.published().unwrap();
    drop(server.take());
    match p.nir.ca.sync_parent() {
        Err(CaError::Parent(why)) => assert!(why.contains("/rfc6492/nir"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(p.nir.ca.published().unwrap(), before);
    assert!(p.nir.ca.parent_status().unwrap().last_error.is_some());
    assert_eq!(p.vrps().len(), 2, "existing certificates stay valid");
}

#[test]
fn roll_1_the_nirs_key_rolls_through_its_parent_with_no_vrp_lost() {
    let mut server = None;
    let p = set_up(&mut server);
    p.nir.ca.sync_parent().unwrap();
    p.nir.ca.add_member("m1", &res("AS64501, 10.1.0.0/16"), None).unwrap();
    p.nir.ca.apply_roas("m1", &roas("10.1.0.0/16-24 AS64501"), false).unwrap();
    let want = p.vrps();
    let old_key = p.nir.ca.keyroll_status("nir").unwrap().key;
    // The next key waits for the parent's certificate ...
    assert_eq!(p.nir.ca.keyroll_start("nir").unwrap().phase, "awaiting_parent");
    assert_eq!(p.vrps(), want);
    // ... which the next sync gets: both keys are certified and published.
    let sync = p.nir.ca.sync_parent().unwrap();
    assert!(sync.keyroll.as_deref().is_some_and(|k| k.contains("certified")), "{sync:?}");
    assert_eq!(p.nir.ca.keyroll_status("nir").unwrap().phase, "pending");
    let w = p.walk();
    assert_eq!((w.vrps.clone(), w.instances["nir"]), (want.clone(), 2));
    assert_eq!(p.rir.ca.member("nir").unwrap().delegated.unwrap().certificates.len(), 2);
    // Activated: everything re-issued under the new key; the old key retires ...
    let s = p.nir.ca.keyroll_activate("nir").unwrap();
    assert_eq!(s.phase, "retiring");
    assert_eq!(p.vrps(), want);
    // ... once the parent revoked it at the next sync.
    let sync = p.nir.ca.sync_parent().unwrap();
    assert!(sync.keyroll.as_deref().is_some_and(|k| k.contains("revoked")), "{sync:?}");
    let s = p.nir.ca.keyroll_status("nir").unwrap();
    assert_eq!(s.phase, "active");
    assert_ne!(s.key, old_key);
    let w = p.walk();
    assert_eq!((w.vrps.clone(), w.instances["nir"]), (want, 1));
    let certs = p.rir.ca.member("nir").unwrap().delegated.unwrap().certificates;
    assert_eq!(certs.iter().map(|c| c.key.clone()).collect::<Vec<_>>(), [s.key]);
}

/// A relying party's view of the NIR's repository (its publisher's objects),
/// validated below the certificate the RIR issued it.
struct RepoView(Arc<rpkit_ca::publisher::MemoryPublisher>);

impl ChildView for RepoView {
    fn published(&self, cert: &Cert, uri: &str) -> Result<Published, String> {
        let repo = self.0.snapshot();
        let fetch = rpkit_validator::tree::NoFetch(&repo);
        let r = rpkit_validator::tree::validate_below(cert.clone(), uri, "child", &fetch, Time::now(), &Default::default());
        if r.counts.failed_manifests > 0 {
            return Err(format!("{:?}", r.warnings));
        }
        let mut p = Published { roas: r.vrps.into_iter().map(|v| v.origin).collect(), ..Published::default() };
        for a in r.aspas {
            p.aspas.entry(a.customer).or_default().extend(a.providers);
        }
        Ok(p)
    }
}

/// A hosted member moves to its own CA (an rpkit NIR-style CA) and back; at
/// every step the validated VRPs and ASPAs are the member's whole set.
#[test]
fn a_member_moves_to_its_own_ca_and_back_with_no_vrp_lost() {
    let rir = Env::new(None);
    rir.ca.init(&res(RIR)).unwrap();
    rir.ca.set_identity(Identity::create().unwrap());
    let served = Served::start(&rir);
    rir.ca.add_member("isp", &res("AS64500, 10.1.0.0/16"), Some("ID-1")).unwrap();
    rir.ca.apply_roas("isp", &roas("10.1.0.0/16-24 AS64500\n10.1.128.0/24 AS64500"), false).unwrap();
    rir.ca.put_aspa("isp", &AspaSpec { customer: 64500, providers: vec![65001, 65002] }).unwrap();
    let own = Env::with_config(
        None,
        CaConfig {
            updown_parent: true,
            rir_handle: "isp".into(),
            rsync_base: "rsync://isp.test/repo/".into(),
            rrdp_notify: None,
            ta_https_uri: None,
            ..CaConfig::default()
        },
    );
    rir.ca.set_child_view(Arc::new(RepoView(own.publisher.clone())));
    let p = Pair { rir, nir: own };
    let want = p.vrps();
    assert_eq!(want.len(), 2);
    let check = |what: &str| {
        let w = p.walk();
        assert_eq!(w.vrps, want, "{what}: VRPs");
        assert_eq!(w.aspas.get(&64500), Some(&vec![65001, 65002]), "{what}: ASPA");
    };

    // Delegate: the member's own CA is certified while the hosted one stays.
    let id = Identity::create().unwrap();
    let req = ChildRequest { tag: None, child_handle: "isp".into(), id_cert: id.cert.clone() };
    p.nir.ca.set_identity(id);
    let resp = p.rir.ca.delegate_member("isp", &req, &format!("{}/rfc6492/isp", served.url)).unwrap();
    let cfg_handle = resp.child_handle.clone();
    assert_eq!(cfg_handle, "isp");
    p.nir.ca.set_updown_parent(&resp).unwrap();
    assert_eq!(p.rir.ca.member("isp").unwrap().kind, "moving");
    p.nir.ca.sync_parent().unwrap();
    check("both CAs certified");
    // Not complete while the member's CA lacks its authorizations.
    let s = p.rir.ca.complete_delegation("isp", false).unwrap();
    assert!(!s.complete);
    assert_eq!(s.waiting_for, ["ROA 10.1.0.0/16-24 AS64500", "ROA 10.1.128.0/24-24 AS64500", "ASPA AS64500"]);
    assert_eq!(p.rir.ca.check_moves().unwrap(), 0);
    let m = p.rir.ca.member("isp").unwrap();
    assert!(m.delegated.unwrap().waiting_for.unwrap().contains("ASPA AS64500"));
    // The member's CA publishes them (its own member CA holds them, as a NIR's would).
    p.nir.ca.add_member("ops", &res("AS64500, 10.1.0.0/16"), None).unwrap();
    p.nir.ca.apply_roas("ops", &roas("10.1.0.0/16-24 AS64500\n10.1.128.0/24 AS64500"), false).unwrap();
    p.nir.ca.put_aspa("ops", &AspaSpec { customer: 64500, providers: vec![65001, 65002] }).unwrap();
    check("both publishing");
    assert_eq!(p.rir.ca.check_moves().unwrap(), 1);
    check("the hosted CA retired");
    let m = p.rir.ca.member("isp").unwrap();
    assert_eq!((m.kind.as_str(), m.opaque_id.as_deref()), ("delegated", Some("ID-1")));
    let w = p.walk();
    assert_eq!(w.cas.get("isp"), Some(&res("AS64500, 10.1.0.0/16")), "the member's own CA is in the tree");
    assert!(w.listed.keys().all(|pp| !pp.starts_with("rsync://rpki.test/repo/isp/")), "the hosted CA's publication point is gone");

    // Host again: the published authorizations re-created here first, then its CA revoked.
    let m = p.rir.ca.host_member("isp").unwrap();
    assert_eq!((m.kind.as_str(), m.opaque_id.as_deref()), ("hosted", Some("ID-1")));
    let mut hosted: Vec<String> = p.rir.ca.roas("isp").unwrap().iter().map(|r| r.authorization().unwrap().to_string()).collect();
    hosted.sort();
    assert_eq!(hosted, ["10.1.0.0/16-24 AS64500", "10.1.128.0/24-24 AS64500"]);
    assert_eq!(p.rir.ca.aspas("isp").unwrap(), [AspaSpec { customer: 64500, providers: vec![65001, 65002] }]);
    let w = walk(&p.rir.ca.tal().unwrap(), &p.rir.publisher.snapshot(), p.rir.now());
    assert_eq!(w.vrps, want, "from the RIR's repository alone");
    assert!(w.external.is_empty(), "the member's own CA is revoked and withdrawn");
    let actions: Vec<String> = p.rir.ca.history(Some("isp"), None).unwrap().into_iter().map(|h| h.action).collect();
    let want_actions = ["member.delegate", "child.issue", "member.delegated", "key.destroy", "member.host", "member.hosted"];
    assert!(actions.ends_with(&want_actions.map(String::from)), "{actions:?}");
    drop(served);
}
