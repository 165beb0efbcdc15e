//! CA errors, each with a stable machine-readable code for the API.

use crate::contract::Rejection;
use crate::publisher::PublishError;
use rpkit_objects::crypto::SignError;
use rpkit_objects::error::BuildError;

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// The request is wrong; nothing was changed.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// A bulk request in which some entries are wrong; nothing was changed.
    #[error("{} of the requested changes are invalid; nothing was applied", .0.len())]
    Rejected(Vec<Rejection>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` named a state that is no longer current.
    #[error("{0}")]
    Precondition(String),
    #[error("database: {0}")]
    Storage(#[from] rpkit_serve::db::DbError),
    #[error("publication failed, nothing was changed: {0}")]
    Publish(#[from] PublishError),
    #[error("signing: {0}")]
    Build(#[from] BuildError),
    #[error("signing: {0}")]
    Sign(#[from] rpkit_objects::crypto::SignError),
    /// This CA's RFC 6492 parent could not be reached, or refused (parent.rs).
    #[error("parent: {0}")]
    Parent(String),
}

impl CaError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        CaError::Invalid { code, message: message.into() }
    }

    /// The HSM's fault behind this error, if it is one (the change was not applied).
    pub fn token_fault(&self) -> Option<&str> {
        match self {
            CaError::Sign(SignError::Token(m)) | CaError::Build(BuildError::Sign(SignError::Token(m))) => Some(m),
            _ => None,
        }
    }

    /// Stable error code (API `code` field).
    pub fn code(&self) -> &'static str {
        match self {
            CaError::Invalid { code, .. } => code,
            CaError::Rejected(_) => "rejected",
            CaError::NotFound(_) => "not_found",
            CaError::Conflict(_) => "conflict",
            CaError::Precondition(_) => "stale_etag",
            CaError::Storage(rpkit_serve::db::DbError::Fenced(_)) => "standby",
            CaError::Storage(_) => "storage_error",
            CaError::Publish(_) => "publication_failed",
            CaError::Parent(_) => "parent_error",
            _ if self.token_fault().is_some() => "hsm_unavailable",
            CaError::Build(_) | CaError::Sign(_) => "signing_failed",
        }
    }
}

pub type Result<T, E = CaError> = std::result::Result<T, E>;
