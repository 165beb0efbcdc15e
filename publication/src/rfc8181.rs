//! The server side of RFC 8181: verify a publisher's CMS-signed query, apply
//! it to the repository confined to the publisher's base URI, and answer with a
//! signed reply — `success`, the `list`, or `report_error` with the §2.5 code.
//! A refused query changes nothing.

use crate::publishers::Identity;
use crate::repository::{RepoError, Repository};
use rpkit_objects::der::Time;
use rpkit_objects::rfc8181::{ErrorCode, Query, QueryPdu, Reply, ReportError};
use rpkit_objects::signed_message::SignedMessage;

/// The outcome of one message, for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Listed(usize),
    /// Revision applied (`None`: an empty query).
    Applied(Option<u64>),
    Refused(ErrorCode, String),
    /// The server's own fault (database, disk): the publisher is told
    /// `other_error`, the operator gets an error in the log.
    Failed(String),
}

fn error_reply(code: ErrorCode, tag: Option<String>, text: String) -> Reply {
    Reply::Errors(vec![ReportError { code: code.as_str().to_string(), tag, text: Some(text) }])
}

/// Process one query from `handle`; returns the reply XML and what happened.
/// `force` lets a change set past the shrink guard (an operator's decision);
/// `fence` is the fencing token the publisher's CA node sent, if any.
pub fn process(repo: &mut Repository, handle: &str, body: &[u8], now: Time, force: bool, fence: Option<i64>) -> (Reply, Outcome) {
    let refuse = |code: ErrorCode, tag: Option<String>, text: String| (error_reply(code, tag, text.clone()), Outcome::Refused(code, text));
    let fail = |e: RepoError| {
        let text = e.to_string();
        (error_reply(e.code(), None, text.clone()), Outcome::Failed(text))
    };
    let publisher = match repo.publisher(handle) {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(ErrorCode::PermissionFailure, None, format!("unknown publisher '{handle}'")),
        Err(e) => return fail(e),
    };
    let msg = match SignedMessage::decode(body) {
        Ok(m) => m,
        Err(e) => return refuse(ErrorCode::BadCmsSignature, None, format!("undecodable CMS: {e}")),
    };
    if let Err(e) = msg.verify(&publisher.id_cert, now) {
        return refuse(ErrorCode::BadCmsSignature, None, e.to_string());
    }
    let query = match Query::decode(msg.content()) {
        Ok(q) => q,
        Err(e) => return refuse(ErrorCode::XmlError, None, e.to_string()),
    };
    // Another publisher's base nested in this one's is not this one's (publishers.rs).
    let nested = match repo.nested_bases(&publisher) {
        Ok(n) => n,
        Err(e) => return fail(e),
    };
    if let Query::Pdus(pdus) = &query {
        for p in pdus {
            let (QueryPdu::Publish { tag, uri, .. } | QueryPdu::Withdraw { tag, uri, .. }) = p;
            if let Some(n) = nested.iter().find(|n| uri.starts_with(n.as_str())) {
                return refuse(ErrorCode::PermissionFailure, tag.clone(), format!("{uri} is in {n}, another publisher's base"));
            }
        }
    }
    match &query {
        Query::List => match repo.owned(&publisher) {
            Ok(items) => {
                let n = items.len();
                (Reply::List(items), Outcome::Listed(n))
            }
            Err(e) => fail(e),
        },
        Query::Pdus(pdus) => match repo.apply_fenced(&publisher.base_uri, &query.changes(), force, fence.map(|t| (handle, t))) {
            Ok(rev) => (Reply::Success, Outcome::Applied(rev)),
            Err(RepoError::Refused { code, message }) => {
                // Name the PDU at fault by its tag where the message names its URI.
                let tag = pdus.iter().find_map(|p| match p {
                    QueryPdu::Publish { tag, uri, .. } | QueryPdu::Withdraw { tag, uri, .. } if message.contains(uri.as_str()) => {
                        tag.clone()
                    }
                    _ => None,
                });
                refuse(code, tag, message)
            }
            Err(e) => fail(e),
        },
    }
}

/// Sign a reply as the server.
pub fn sign(id: &Identity, reply: &Reply, now: Time) -> Result<Vec<u8>, String> {
    id.sign(reply.encode().as_bytes(), now).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publishers::Publisher;

    fn error_code(reply: &Reply) -> &str {
        match reply {
            Reply::Errors(e) => &e[0].code,
            other => panic!("not an error report: {other:?}"),
        }
    }

    /// RFC 8181 §2.5: a publisher's mistake is refused with its code, a fault
    /// of the server's database is a failure (`other_error`, logged as the
    /// server's), and neither changes anything.
    #[test]
    fn a_storage_fault_is_the_servers_failure_not_a_refusal() {
        let dir = std::env::temp_dir().join(format!("rpkit-rfc8181-fault-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("publication.sqlite");
        let mut repo = Repository::open(Some(&db)).unwrap();
        let alice = Identity::create().unwrap();
        let base = "rsync://rpki.test/repo/alice/";
        repo.add_publisher(&Publisher { handle: "alice".into(), id_cert: alice.cert.clone(), base_uri: base.into() }, 0).unwrap();
        let now = Time::now();
        let query = |uri: &str| {
            let q = Query::Pdus(vec![QueryPdu::Publish { tag: Some("t1".into()), uri: uri.into(), der: vec![1, 2, 3], hash: None }]);
            alice.sign(q.encode().as_bytes(), now).unwrap()
        };

        // Outside its base: refused, with the code and the PDU's tag.
        let (reply, outcome) = process(&mut repo, "alice", &query("rsync://rpki.test/repo/bob/x.roa"), now, false, None);
        assert!(matches!(outcome, Outcome::Refused(ErrorCode::PermissionFailure, _)), "{outcome:?}");
        assert_eq!(error_code(&reply), "permission_failure");

        // The objects table gone under the server: its own failure.
        let other = rusqlite::Connection::open(&db).unwrap();
        crate::store::objects::hide(&other).unwrap();
        let (reply, outcome) = process(&mut repo, "alice", &query("rsync://rpki.test/repo/alice/x.roa"), now, false, None);
        assert!(matches!(&outcome, Outcome::Failed(m) if m.starts_with("database: ")), "{outcome:?}");
        assert_eq!(error_code(&reply), "other_error");
        crate::store::objects::unhide(&other).unwrap();
        assert_eq!(repo.list(base).unwrap(), vec![], "nothing was applied");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A CA node that lost its lease (a lower fencing token than its
    /// publisher sent before) is refused and changes nothing; a message
    /// without a token (a CA of one node, another implementation) is not fenced.
    #[test]
    fn a_lower_fencing_token_is_refused() {
        let mut repo = Repository::open(None).unwrap();
        let alice = Identity::create().unwrap();
        let base = "rsync://rpki.test/repo/alice/";
        repo.add_publisher(&Publisher { handle: "alice".into(), id_cert: alice.cert.clone(), base_uri: base.into() }, 0).unwrap();
        let now = Time::now();
        let publish = |name: &str| {
            let uri = format!("{base}{name}.roa");
            let q = Query::Pdus(vec![QueryPdu::Publish { tag: None, uri, der: vec![1, 2, 3], hash: None }]);
            alice.sign(q.encode().as_bytes(), now).unwrap()
        };
        let (_, o) = process(&mut repo, "alice", &publish("a"), now, false, Some(1));
        assert!(matches!(o, Outcome::Applied(_)), "{o:?}");
        let (_, o) = process(&mut repo, "alice", &publish("b"), now, false, Some(2));
        assert!(matches!(o, Outcome::Applied(_)), "the next holder: {o:?}");
        let (reply, o) = process(&mut repo, "alice", &publish("c"), now, false, Some(1));
        assert!(matches!(&o, Outcome::Refused(ErrorCode::OtherError, m) if m.contains("token 1 is older than 2")), "{o:?}");
        assert_eq!(error_code(&reply), "other_error");
        let (_, o) = process(&mut repo, "alice", &publish("d"), now, false, None);
        assert!(matches!(o, Outcome::Applied(_)), "{o:?}");
        let listed: Vec<String> = repo.list(base).unwrap().into_iter().map(|(u, _)| u).collect();
        assert_eq!(listed, ["a", "b", "d"].map(|n| format!("{base}{n}.roa")), "c was not applied");
    }
}
