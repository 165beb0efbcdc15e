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
}

fn error_reply(code: ErrorCode, tag: Option<String>, text: String) -> Reply {
    Reply::Errors(vec![ReportError { code: code.as_str().to_string(), tag, text: Some(text) }])
}

/// Process one query from `handle`; returns the reply XML and what happened.
/// `force` lets a change set past the shrink guard (an operator's decision).
pub fn process(repo: &mut Repository, handle: &str, body: &[u8], now: Time, force: bool) -> (Reply, Outcome) {
    let refuse = |code: ErrorCode, tag: Option<String>, text: String| (error_reply(code, tag, text.clone()), Outcome::Refused(code, text));
    let publisher = match repo.publisher(handle) {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(ErrorCode::PermissionFailure, None, format!("unknown publisher '{handle}'")),
        Err(e) => return refuse(ErrorCode::OtherError, None, e.to_string()),
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
    match &query {
        Query::List => match repo.list(&publisher.base_uri) {
            Ok(items) => {
                let n = items.len();
                (Reply::List(items), Outcome::Listed(n))
            }
            Err(e) => refuse(ErrorCode::OtherError, None, e.to_string()),
        },
        Query::Pdus(pdus) => match repo.apply(&publisher.base_uri, &query.changes(), force) {
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
            Err(e) => refuse(ErrorCode::OtherError, None, e.to_string()),
        },
    }
}

/// Sign a reply as the server.
pub fn sign(id: &Identity, reply: &Reply, now: Time) -> Result<Vec<u8>, String> {
    id.sign(reply.encode().as_bytes(), now).map_err(|e| e.to_string())
}
