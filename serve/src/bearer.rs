//! Bearer tokens (RFC 6750 §2.1): the token a request presents, its
//! comparison with a known one in constant time, and the route layer of the
//! routes only the operator's admin token may call.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The token of an `Authorization: Bearer` header, trimmed.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Equality of two tokens in time independent of where they differ (their
/// SHA-256 digests are compared in full).
pub fn same_token(a: &str, b: &str) -> bool {
    rpkit_objects::crypto::secrets_equal(a.as_bytes(), b.as_bytes())
}

/// The operator's admin token, the state of [`require_admin`].
#[derive(Clone)]
pub struct AdminToken(pub Arc<str>);

/// Route layer: the request goes on only with the admin token; otherwise 401
/// before the handler, or any extractor of its body, runs.
pub async fn require_admin(State(admin): State<AdminToken>, req: Request, next: Next) -> Response {
    match token(req.headers()) {
        Some(t) if !admin.0.is_empty() && same_token(t, &admin.0) => next.run(req).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::WWW_AUTHENTICATE, "Bearer")],
            "a valid admin bearer token is required\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_a_bearer_header_yields_a_token() {
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(token(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer  rpkit_x "));
        assert_eq!(token(&h), Some("rpkit_x"));
        assert!(same_token("rpkit_x", "rpkit_x") && !same_token("rpkit_x", "rpkit_") && !same_token("rpkit_x", ""));
    }
}
