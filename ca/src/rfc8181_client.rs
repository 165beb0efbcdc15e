//! Publishing through an RFC 8181 publication server: each change set is one
//! CMS-signed query; the signed reply is verified against the server identity
//! from the RFC 8183 repository_response. The CA's own identity (for its
//! publisher_request) is kept as files in a directory.

use crate::publisher::{PublishError, Publisher};
use rpkit_objects::bpki::Identity;
use rpkit_objects::crypto::{KeyId, SignError, Signer};
use rpkit_objects::der::Time;
use rpkit_objects::error::BuildError;
use rpkit_objects::rfc8181::{ChangeSet, ErrorCode, Query, QueryPdu, Reply};
use rpkit_objects::rfc8183::{PublisherRequest, RepositoryResponse};
use rpkit_objects::signed_message::SignedMessage;
use rpkit_serve::data_dir;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CONTENT_TYPE: &str = "application/rpki-publication";

/// Why the CA's publisher identity could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The files are there but do not make an identity (RFC 8183 §1).
    #[error("{}: {source}", dir.display())]
    Invalid { dir: PathBuf, source: BuildError },
    #[error("creating the publisher identity: {0}")]
    Create(#[source] BuildError),
}

/// Load the identity kept in `dir`, creating it on first use: in software its
/// keys are `id.key` and `id-ee.key` (PKCS#1), in an HSM (`token`) only their
/// identifiers are kept, in `id.key-ids`; the certificate is `id.cer`.
pub fn load_identity(dir: &Path, token: Option<Arc<dyn Signer>>) -> Result<Identity, IdentityError> {
    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
        move |source| IdentityError::Io { path: path.to_path_buf(), source }
    }
    let (k, e, ids, c) = (dir.join("id.key"), dir.join("id-ee.key"), dir.join("id.key-ids"), dir.join("id.cer"));
    let invalid = |source| IdentityError::Invalid { dir: dir.to_path_buf(), source };
    if c.exists() {
        let read = |p: &Path| std::fs::read(p).map_err(io(p));
        if !ids.exists() {
            return Identity::from_parts(&read(&k)?, &read(&e)?, &read(&c)?).map_err(invalid);
        }
        let text = std::fs::read_to_string(&ids).map_err(io(&ids))?;
        let keys: Vec<KeyId> = text.split_whitespace().filter_map(KeyId::from_hex).collect();
        let (Some(token), [key, ee_key]) = (token, keys.as_slice()) else {
            return Err(IdentityError::Invalid {
                dir: dir.to_path_buf(),
                source: BuildError::Sign(SignError::Token(format!(
                    "the identity's keys are in an HSM ({}): give the PKCS#11 flags",
                    ids.display()
                ))),
            });
        };
        return Identity::in_signer(token, *key, *ee_key, &read(&c)?).map_err(invalid);
    }
    data_dir::create_dir(dir, data_dir::PRIVATE_DIR).map_err(io(dir))?;
    let id = match token {
        Some(t) => Identity::create_in(t).map_err(IdentityError::Create)?,
        None => Identity::create().map_err(IdentityError::Create)?,
    };
    // The certificate last: its presence says the identity is complete.
    match id.to_parts() {
        Some((key, ee, _)) => {
            for (p, bytes) in [(&k, key), (&e, ee)] {
                data_dir::write_secret(p, &bytes).map_err(io(p))?;
            }
        }
        None => std::fs::write(&ids, format!("{}\n{}\n", id.key.hex(), id.ee_key.hex())).map_err(io(&ids))?,
    }
    std::fs::write(&c, id.cert.to_der()).map_err(io(&c))?;
    Ok(id)
}

/// The RFC 8183 publisher_request for this identity.
pub fn publisher_request(id: &Identity, handle: &str) -> PublisherRequest {
    PublisherRequest { tag: None, publisher_handle: handle.to_string(), id_cert: id.cert.clone() }
}

/// A publisher speaking RFC 8181 over HTTP.
pub struct Rfc8181Publisher {
    identity: Identity,
    repository: RepositoryResponse,
    http: reqwest::blocking::Client,
    /// On a shared database: the lease's fencing token goes with every message
    /// (`FENCE_HEADER`), so the server refuses a node that lost the lease.
    fence: Option<std::sync::Arc<rpkit_serve::db::Fence>>,
}

impl Rfc8181Publisher {
    /// Must be created outside an async runtime (it holds a blocking HTTP client).
    pub fn new(identity: Identity, repository: RepositoryResponse) -> Result<Self, PublishError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(600))
            .build()
            .map_err(|e| PublishError::Unavailable(format!("HTTP client: {e}")))?;
        Ok(Rfc8181Publisher { identity, repository, http, fence: None })
    }

    /// Send the fencing token of `fence` with every message.
    pub fn with_fence(mut self, fence: std::sync::Arc<rpkit_serve::db::Fence>) -> Self {
        self.fence = Some(fence);
        self
    }

    pub fn sia_base(&self) -> &str {
        &self.repository.sia_base
    }

    fn exchange(&self, query: &Query) -> Result<Reply, PublishError> {
        let unavailable = |m: String| PublishError::Unavailable(format!("{}: {m}", self.repository.service_uri));
        let now = Time::now();
        let cms = self.identity.sign(query.encode().as_bytes(), now).map_err(|e| unavailable(format!("signing: {e}")))?;
        let mut req = self.http.post(&self.repository.service_uri).header("Content-Type", CONTENT_TYPE);
        if let Some(f) = &self.fence {
            req = req.header(rpkit_serve::db::lease::FENCE_HEADER, f.held().to_string());
        }
        let resp = req.body(cms).send().map_err(|e| unavailable(e.to_string()))?;
        let status = resp.status();
        let body = resp.bytes().map_err(|e| unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim())));
        }
        let msg = SignedMessage::decode(&body).map_err(|e| unavailable(format!("reply: {e}")))?;
        msg.verify(&self.repository.id_cert, Time::now()).map_err(|e| unavailable(format!("reply not signed by the repository: {e}")))?;
        Reply::decode(msg.content()).map_err(|e| unavailable(format!("reply: {e}")))
    }
}

fn refused(errors: &[rpkit_objects::rfc8181::ReportError]) -> PublishError {
    let first = errors.first();
    let code = first.and_then(|e| ErrorCode::parse(&e.code)).unwrap_or(ErrorCode::OtherError).as_str();
    let message = errors.iter().map(|e| e.text.clone().unwrap_or_else(|| e.code.clone())).collect::<Vec<_>>().join("; ");
    PublishError::Refused { code, message }
}

impl Publisher for Rfc8181Publisher {
    fn apply(&self, cs: &ChangeSet) -> Result<(), PublishError> {
        if cs.is_empty() {
            return Ok(());
        }
        let pdus = cs
            .changes
            .iter()
            .map(|c| match c {
                rpkit_objects::rfc8181::Change::Publish { uri, der, replaces } => {
                    QueryPdu::Publish { tag: None, uri: uri.clone(), der: der.clone(), hash: *replaces }
                }
                rpkit_objects::rfc8181::Change::Withdraw { uri, hash } => QueryPdu::Withdraw { tag: None, uri: uri.clone(), hash: *hash },
            })
            .collect();
        match self.exchange(&Query::Pdus(pdus))? {
            Reply::Success => Ok(()),
            Reply::Errors(e) => Err(refused(&e)),
            Reply::List(_) => Err(PublishError::Unavailable("a list reply to a publish query".into())),
        }
    }

    fn list(&self) -> Result<BTreeMap<String, [u8; 32]>, PublishError> {
        match self.exchange(&Query::List)? {
            Reply::List(items) => Ok(items.into_iter().collect()),
            Reply::Success => Ok(BTreeMap::new()),
            Reply::Errors(e) => Err(refused(&e)),
        }
    }
}
