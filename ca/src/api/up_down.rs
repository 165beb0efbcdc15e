//! Delegated members on the CA's HTTP server: the RFC 6492 endpoint their
//! CAs post to (authenticated by CMS, not by token), onboarding (RFC 8183)
//! and suspension for the admin; this CA's own parent, when it has one.

use super::{blocking, ApiError, ApiResult, AppState, Body};
use crate::contract::{ChildAdded, DelegateRequest, DelegateStarted, MemberInfo, NewChild, ParentStatus, ParentSync};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rpkit_objects::rfc8183::ChildRequest;
use rpkit_objects::up_down::CONTENT_TYPE;
use std::net::SocketAddr;

#[utoipa::path(post, path = "/rfc6492/{handle}", tag = "up-down",
    params(("handle" = String, Path, description = "The delegated member, as its parent_response names it")),
    request_body(content = Vec<u8>, content_type = "application/rpki-updown", description = "An RFC 6492 message in CMS, signed by the child's identity"),
    responses((status = 200, description = "The signed answer; a refused message gets a signed error_response", body = Vec<u8>, content_type = "application/rpki-updown")))]
pub async fn rfc6492(State(st): State<AppState>, Path(handle): Path<String>, req: Request) -> ApiResult<Response> {
    // Every answer is signed: a budget per client address bounds what an unknown sender costs.
    let addr = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()).unwrap_or_default();
    st.limiter.charge(&format!("updown:{addr}"))?;
    let body = axum::body::to_bytes(req.into_body(), crate::up_down::MAX_BODY_BYTES).await;
    let ca = st.ca.clone();
    let answer = blocking(move || match body {
        Ok(b) => ca.up_down(&handle, &b),
        Err(_) => ca.up_down_refused(&handle, format!("a message over {} octets", crate::up_down::MAX_BODY_BYTES)),
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], answer).into_response())
}

#[utoipa::path(post, path = "/api/v1/children", tag = "admin", request_body = NewChild,
    responses((status = 201, description = "The member onboarded as a child; the RFC 8183 parent_response for it", body = ChildAdded)))]
pub async fn add_child(State(st): State<AppState>, headers: HeaderMap, Body(c): Body<NewChild>) -> ApiResult<Response> {
    let request = ChildRequest::decode(c.request.as_bytes())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_child_request", format!("child_request: {e}")))?;
    let resources = c.resources.as_deref().map(super::handlers::parse_resources).transpose()?;
    let service_uri = service_uri(&st, &headers, &c.handle);
    let ca = st.ca.clone();
    let response = blocking(move || ca.add_child(&c.handle, &request, resources.as_ref(), &service_uri)).await?;
    Ok((StatusCode::CREATED, Json(ChildAdded { parent_response: response.encode() })).into_response())
}

/// Where child `handle` reaches us: the configured base, else where this request came.
fn service_uri(st: &AppState, headers: &HeaderMap, handle: &str) -> String {
    let base = match &st.ca.config.updown_base_uri {
        Some(b) => b.trim_end_matches('/').to_string(),
        None => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            format!("http://{host}")
        }
    };
    format!("{base}/rfc6492/{handle}")
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/delegate", tag = "admin", request_body = DelegateRequest,
    params(("handle" = String, Path, description = "A hosted member")),
    responses((status = 200, description = "The move started (the parent_response for the member's own CA), or, with `complete`, where it stands", body = DelegateStarted)))]
pub async fn delegate_member(
    State(st): State<AppState>,
    Path(handle): Path<String>,
    headers: HeaderMap,
    Body(d): Body<DelegateRequest>,
) -> ApiResult<Response> {
    let ca = st.ca.clone();
    if d.complete {
        let s = blocking(move || ca.complete_delegation(&handle, true)).await?;
        return Ok(Json(s).into_response());
    }
    let xml = d.request.ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "bad_child_request", "give the member's child_request"))?;
    let request = ChildRequest::decode(xml.as_bytes())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_child_request", format!("child_request: {e}")))?;
    let service_uri = service_uri(&st, &headers, &handle);
    let response = blocking(move || ca.delegate_member(&handle, &request, &service_uri)).await?;
    Ok(Json(DelegateStarted { parent_response: response.encode() }).into_response())
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/host", tag = "admin",
    params(("handle" = String, Path, description = "A delegated member")),
    responses((status = 200, description = "Hosted again: its published ROAs and ASPAs re-created here, then its own CA's certificate revoked", body = MemberInfo)))]
pub async fn host_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Json<MemberInfo>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.host_member(&handle)).await?))
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/suspend", tag = "admin",
    params(("handle" = String, Path, description = "A delegated member")),
    responses((status = 204, description = "Suspended: its certificates revoked and withdrawn, nothing offered to it")))]
pub async fn suspend_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<StatusCode> {
    let ca = st.ca.clone();
    blocking(move || ca.suspend_child(&handle, true)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/unsuspend", tag = "admin",
    params(("handle" = String, Path, description = "A delegated member")),
    responses((status = 204, description = "Unsuspended: its next list offers its entitlement again")))]
pub async fn unsuspend_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<StatusCode> {
    let ca = st.ca.clone();
    blocking(move || ca.suspend_child(&handle, false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/parent", tag = "admin",
    responses((status = 200, description = "This CA's RFC 6492 parent and how syncs with it go", body = ParentStatus)))]
pub async fn parent_status(State(st): State<AppState>) -> ApiResult<Json<ParentStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.parent_status()).await?))
}

#[utoipa::path(post, path = "/api/v1/parent/sync", tag = "admin",
    responses((status = 200, description = "Synced with the parent now", body = ParentSync),
        (status = 502, description = "The parent could not be reached or refused; nothing changed")))]
pub async fn parent_sync(State(st): State<AppState>) -> ApiResult<Json<ParentSync>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.sync_parent()).await?))
}
