//! API errors as JSON: `{"code": "...", "message": "...", "rejected": [...]}` with a
//! stable `code` and the HTTP status that fits it.

use crate::error::{CaError, Rejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub rejected: Vec<Rejection>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    rejected: &'a [Rejection],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), rejected: Vec::new() }
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
}

impl From<CaError> for ApiError {
    fn from(e: CaError) -> Self {
        let status = match &e {
            CaError::Invalid { .. } => StatusCode::BAD_REQUEST,
            CaError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CaError::NotFound(_) => StatusCode::NOT_FOUND,
            CaError::Conflict(_) => StatusCode::CONFLICT,
            CaError::Precondition(_) => StatusCode::PRECONDITION_FAILED,
            CaError::Publish(_) => StatusCode::SERVICE_UNAVAILABLE,
            CaError::Storage(_) | CaError::Build(_) | CaError::Sign(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let rejected = match &e {
            CaError::Rejected(v) => v.clone(),
            _ => Vec::new(),
        };
        ApiError { status, code: e.code(), message: e.to_string(), rejected }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body { code: self.code, message: &self.message, rejected: &self.rejected };
        (self.status, Json(body)).into_response()
    }
}
