//! API errors as JSON: `{"code": "...", "message": "...", "rejected": [...]}` with a
//! stable `code` and the HTTP status that fits it.

use crate::contract::{ErrorBody, Rejection};
use crate::error::CaError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub rejected: Vec<Rejection>,
    /// Seconds for a `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), rejected: Vec::new(), retry_after: None }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid bearer token is required")
    }

    pub fn forbidden(what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", format!("this token may not access {what}"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A request body that could not be read: too large (413) or malformed (400).
    pub fn body(status: StatusCode, limit: usize, detail: String) -> Self {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(status, "too_large", format!("the request body is larger than this endpoint's limit of {limit} bytes"))
        } else {
            Self::bad_request(detail)
        }
    }
}

impl From<CaError> for ApiError {
    fn from(e: CaError) -> Self {
        let status = match &e {
            _ if e.token_fault().is_some() => StatusCode::SERVICE_UNAVAILABLE,
            CaError::Invalid { .. } => StatusCode::BAD_REQUEST,
            CaError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CaError::NotFound(_) => StatusCode::NOT_FOUND,
            CaError::Conflict(_) => StatusCode::CONFLICT,
            CaError::Precondition(_) => StatusCode::PRECONDITION_FAILED,
            CaError::Publish(_) => StatusCode::SERVICE_UNAVAILABLE,
            CaError::Storage(rpkit_serve::db::DbError::Fenced(_)) => StatusCode::SERVICE_UNAVAILABLE,
            CaError::Parent(_) => StatusCode::BAD_GATEWAY,
            CaError::Storage(_) | CaError::Build(_) | CaError::Sign(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let rejected = match &e {
            CaError::Rejected(v) => v.clone(),
            _ => Vec::new(),
        };
        // A node that lost the lease: the client tries again (the new active node).
        let retry_after = matches!(e, CaError::Storage(rpkit_serve::db::DbError::Fenced(_))).then_some(1);
        ApiError { status, code: e.code(), message: e.to_string(), rejected, retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code.to_string(), message: self.message, rejected: self.rejected };
        let mut r = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, s.into());
        }
        r
    }
}
