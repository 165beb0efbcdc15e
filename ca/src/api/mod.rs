//! The CA's REST API (axum): the admin manages members; each member manages its
//! own ROAs and ASPAs with its bearer token and reaches nothing else.

mod error;
mod openapi;

pub use error::ApiError;

use crate::error::CaError;
use crate::requests::{AspaSpec, RoaDelta, RoaSpec};
use crate::roas::RoaReport;
use crate::service::Ca;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rpkit_objects::resources::ResourceSet;
use serde::Deserialize;
use std::sync::Arc;

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    pub ca: Arc<Ca>,
    pub admin_token: Arc<str>,
}

/// Who is calling.
enum Caller {
    Admin,
    Member(String),
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON request body; a malformed one is a 400 with our error format.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::bad_request(e.body_text())),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, CaError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(Into::into)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
}

/// Constant-time comparison of tokens.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn caller(st: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let token = bearer(headers).ok_or_else(ApiError::unauthorized)?.to_string();
    if same(&token, &st.admin_token) {
        return Ok(Caller::Admin);
    }
    let ca = st.ca.clone();
    match blocking(move || ca.member_for_token(&token)).await? {
        Some(h) => Ok(Caller::Member(h)),
        None => Err(ApiError::unauthorized()),
    }
}

async fn admin(st: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    match caller(st, headers).await? {
        Caller::Admin => Ok(()),
        Caller::Member(_) => Err(ApiError::forbidden("administrative endpoints")),
    }
}

/// The admin, or the member `handle` itself: never another member.
async fn member_or_admin(st: &AppState, headers: &HeaderMap, handle: &str) -> ApiResult<()> {
    match caller(st, headers).await? {
        Caller::Admin => Ok(()),
        Caller::Member(h) if h == handle => Ok(()),
        Caller::Member(_) => Err(ApiError::forbidden(&format!("member '{handle}'"))),
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/api/v1/tal", get(tal))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/export", get(export))
        .route("/api/v1/members", get(list_members).post(add_member))
        .route("/api/v1/members/import", post(import))
        .route("/api/v1/members/{handle}", get(show_member).delete(remove_member))
        .route("/api/v1/members/{handle}/resources", put(set_resources))
        .route("/api/v1/members/{handle}/tokens", post(create_token))
        .route("/api/v1/members/{handle}/roas", get(list_roas).post(add_roas).delete(remove_roa))
        .route("/api/v1/members/{handle}/roas/delta", post(roa_delta))
        .route("/api/v1/members/{handle}/aspas", get(list_aspas))
        .route("/api/v1/members/{handle}/aspas/{customer}", put(put_aspa).delete(remove_aspa))
        .with_state(state)
}

async fn metrics(State(st): State<AppState>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let (members, roas) = blocking(move || ca.counts()).await?;
    let s = st.ca.signer();
    let (pool, generated, target) = (s.pool_size(), s.keys_generated(), st.ca.config.key_pool_target);
    let text = format!(
        "# HELP rpkit_ca_members Member CAs.\n# TYPE rpkit_ca_members gauge\nrpkit_ca_members {members}\n\
         # HELP rpkit_ca_roas ROAs published.\n# TYPE rpkit_ca_roas gauge\nrpkit_ca_roas {roas}\n\
         # HELP rpkit_ca_key_pool_size Pre-generated one-time keys ready for use.\n# TYPE rpkit_ca_key_pool_size gauge\nrpkit_ca_key_pool_size {pool}\n\
         # HELP rpkit_ca_key_pool_target Keys the pool is kept filled to.\n# TYPE rpkit_ca_key_pool_target gauge\nrpkit_ca_key_pool_target {target}\n\
         # HELP rpkit_ca_keys_generated_total RSA keys generated (its rate is the fill rate).\n# TYPE rpkit_ca_keys_generated_total counter\nrpkit_ca_keys_generated_total {generated}\n"
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

async fn whoami(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    Ok(Json(match caller(&st, &headers).await? {
        Caller::Admin => serde_json::json!({ "admin": true }),
        Caller::Member(h) => serde_json::json!({ "member": h }),
    })
    .into_response())
}

async fn tal(State(st): State<AppState>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let t = blocking(move || ca.tal()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], t.encode()).into_response())
}

/// What the CA intends to publish, for `rpkit audit --expect` (admin only).
async fn export(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.export()).await?).into_response())
}

#[derive(Deserialize)]
struct NewMember {
    handle: String,
    /// `AS64496, 192.0.2.0/24, 2001:db8::/32` form.
    resources: String,
    #[serde(default)]
    opaque_id: Option<String>,
}

fn parse_resources(s: &str) -> ApiResult<ResourceSet> {
    s.parse().map_err(|e: rpkit_objects::Error| ApiError::new(StatusCode::BAD_REQUEST, "bad_resources", e.to_string()))
}

async fn list_members(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.members()).await?).into_response())
}

async fn add_member(State(st): State<AppState>, headers: HeaderMap, Body(m): Body<NewMember>) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let res = parse_resources(&m.resources)?;
    let ca = st.ca.clone();
    let info = blocking(move || ca.add_member(&m.handle, &res, m.opaque_id.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

async fn import(State(st): State<AppState>, headers: HeaderMap, body: String) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.import_delegated(&body)).await?).into_response())
}

async fn show_member(State(st): State<AppState>, headers: HeaderMap, Path(handle): Path<String>) -> ApiResult<Response> {
    member_or_admin(&st, &headers, &handle).await?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.member(&handle)).await?).into_response())
}

async fn remove_member(State(st): State<AppState>, headers: HeaderMap, Path(handle): Path<String>) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let ca = st.ca.clone();
    blocking(move || ca.remove_member(&handle)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Resources {
    resources: String,
}

async fn set_resources(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Body(r): Body<Resources>,
) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let res = parse_resources(&r.resources)?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.set_member_resources(&handle, &res)).await?).into_response())
}

async fn create_token(State(st): State<AppState>, headers: HeaderMap, Path(handle): Path<String>) -> ApiResult<Response> {
    admin(&st, &headers).await?;
    let ca = st.ca.clone();
    let token = blocking(move || ca.create_token(&handle)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "token": token }))).into_response())
}

async fn list_roas(State(st): State<AppState>, headers: HeaderMap, Path(handle): Path<String>) -> ApiResult<Response> {
    member_or_admin(&st, &headers, &handle).await?;
    let ca = st.ca.clone();
    let (roas, etag) = blocking(move || Ok((ca.roas(&handle)?, ca.roas_etag(&handle)?))).await?;
    Ok(([(header::ETAG, etag)], Json(roas)).into_response())
}

#[derive(Deserialize, Default)]
struct DeltaQuery {
    #[serde(default)]
    dry_run: bool,
}

/// Apply a delta, honouring `If-Match` against the current ROA set's ETag.
async fn apply(st: &AppState, headers: &HeaderMap, handle: String, delta: RoaDelta, dry_run: bool) -> ApiResult<Response> {
    member_or_admin(st, headers, &handle).await?;
    let if_match = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
    let ca = st.ca.clone();
    let (report, etag): (RoaReport, String) = blocking(move || {
        let report = ca.apply_roas_if(&handle, &delta, dry_run, if_match.as_deref())?;
        Ok((report, ca.roas_etag(&handle)?))
    })
    .await?;
    Ok(([(header::ETAG, etag)], Json(report)).into_response())
}

async fn roa_delta(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<DeltaQuery>,
    Body(d): Body<RoaDelta>,
) -> ApiResult<Response> {
    apply(&st, &headers, handle, d, q.dry_run).await
}

/// One ROA or a list of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(RoaSpec),
    Many(Vec<RoaSpec>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<RoaSpec> {
        match self {
            OneOrMany::One(r) => vec![r],
            OneOrMany::Many(v) => v,
        }
    }
}

async fn add_roas(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<DeltaQuery>,
    Body(b): Body<OneOrMany>,
) -> ApiResult<Response> {
    apply(&st, &headers, handle, RoaDelta { added: b.into_vec(), removed: vec![] }, q.dry_run).await
}

async fn remove_roa(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<DeltaQuery>,
    Body(b): Body<OneOrMany>,
) -> ApiResult<Response> {
    apply(&st, &headers, handle, RoaDelta { added: vec![], removed: b.into_vec() }, q.dry_run).await
}

async fn list_aspas(State(st): State<AppState>, headers: HeaderMap, Path(handle): Path<String>) -> ApiResult<Response> {
    member_or_admin(&st, &headers, &handle).await?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.aspas(&handle)).await?).into_response())
}

#[derive(Deserialize)]
struct Providers {
    providers: Vec<u32>,
}

async fn put_aspa(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path((handle, customer)): Path<(String, u32)>,
    Body(p): Body<Providers>,
) -> ApiResult<Response> {
    member_or_admin(&st, &headers, &handle).await?;
    let ca = st.ca.clone();
    let spec = AspaSpec { customer, providers: p.providers };
    let s2 = spec.clone();
    blocking(move || ca.put_aspa(&handle, &s2)).await?;
    Ok(Json(spec).into_response())
}

async fn remove_aspa(State(st): State<AppState>, headers: HeaderMap, Path((handle, customer)): Path<(String, u32)>) -> ApiResult<Response> {
    member_or_admin(&st, &headers, &handle).await?;
    let ca = st.ca.clone();
    blocking(move || ca.remove_aspa(&handle, customer)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Serve the API on `listener` and run the re-issue schedule every `tick`, until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    tick: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Keep the key pool filled ahead of need. Rounds of at most one key per core
    // share the thread pool with requests, so a request waits at most about one
    // key's time for it (a round of `key_pool_batch` keys could hold it for seconds).
    let pool_ca = state.ca.clone();
    let filler = tokio::spawn(async move {
        loop {
            let ca = pool_ca.clone();
            let batch = ca.config.key_pool_batch.clamp(1, rayon::current_num_threads());
            let (have, target) = (ca.signer().pool_size(), ca.config.key_pool_target);
            if have >= target {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                continue;
            }
            let want = (have + batch).min(target);
            let _ = tokio::task::spawn_blocking(move || ca.fill_key_pool(want)).await;
        }
    });
    let ca = state.ca.clone();
    let scheduler = tokio::spawn(async move {
        let mut iv = tokio::time::interval(tick);
        loop {
            iv.tick().await;
            let ca = ca.clone();
            match tokio::task::spawn_blocking(move || ca.reissue_due()).await {
                Ok(Ok(n)) if n > 0 => tracing::info!("re-issued manifests and CRLs of {n} CAs"),
                Ok(Err(e)) => tracing::warn!("scheduled re-issue failed: {e}"),
                _ => {}
            }
        }
    });
    let r = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await;
    scheduler.abort();
    filler.abort();
    r
}
