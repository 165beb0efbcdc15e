//! The CA's REST API (axum): the admin manages members; each member manages its
//! own ROAs and ASPAs with its bearer token and reaches nothing else.

mod access;
mod error;
mod openapi;

pub use access::{same_token, Access, Caller};
pub use error::ApiError;

use crate::error::CaError;
use crate::requests::{AspaSpec, RoaDelta, RoaSpec};
use crate::roas::RoaReport;
use crate::service::Ca;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put, MethodRouter};
use axum::{Json, Router};
use rpkit_objects::resources::ResourceSet;
use rpkit_serve::metrics::Metrics;
use serde::Deserialize;
use std::sync::Arc;

/// Shared state of the API.
#[derive(Clone)]
pub struct AppState {
    pub ca: Arc<Ca>,
    pub admin_token: Arc<str>,
    limiter: Arc<access::Limiter>,
}

impl AppState {
    /// The API of `ca`, its request budgets and body limits from the CA's configuration.
    pub fn new(ca: Arc<Ca>, admin_token: &str) -> AppState {
        let limiter = Arc::new(access::Limiter::new(ca.config.api_rate_per_sec, ca.config.api_rate_burst));
        AppState { ca, admin_token: admin_token.into(), limiter }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A JSON request body; a malformed one is a 400, one over the limit a 413, in our error format.
struct Body<T>(T);

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError::body(e.status(), state.ca.config.api_max_body_bytes, e.body_text())),
        }
    }
}

/// A text request body (the delegated-extended file of an import).
struct Text(String);

impl axum::extract::FromRequest<AppState> for Text {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, ApiError> {
        match String::from_request(req, state).await {
            Ok(v) => Ok(Text(v)),
            Err(e) => Err(ApiError::body(e.status(), state.ca.config.api_max_import_bytes, e.body_text())),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, CaError> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(Into::into)
}

/// Every route of the API: path, who may call it, its methods (which the
/// access test checks against what the router answers), and the handlers. The
/// router is built from this table only, so no route lacks a declared [`Access`].
type Entry = (&'static str, Access, &'static [&'static str], MethodRouter<AppState>);

fn table() -> Vec<Entry> {
    use Access::*;
    vec![
        ("/health", Public, &["GET"], get(|| async { "ok\n" })),
        ("/metrics", Public, &["GET"], get(metrics)),
        ("/api/v1/openapi.json", Public, &["GET"], get(|| async { Json(openapi::document()) })),
        ("/api/v1/tal", Public, &["GET"], get(tal)),
        ("/api/v1/whoami", AnyToken, &["GET"], get(whoami)),
        ("/api/v1/export", Admin, &["GET"], get(export)),
        ("/api/v1/members", Admin, &["GET", "POST"], get(list_members).post(add_member)),
        ("/api/v1/members/import", Admin, &["POST"], post(import)),
        ("/api/v1/members/{handle}", MemberOrAdmin, &["GET"], get(show_member)),
        ("/api/v1/members/{handle}", Admin, &["DELETE"], axum::routing::delete(remove_member)),
        ("/api/v1/members/{handle}/resources", Admin, &["PUT"], put(set_resources)),
        ("/api/v1/members/{handle}/tokens", Admin, &["POST"], post(create_token)),
        ("/api/v1/members/{handle}/roas", MemberOrAdmin, &["GET", "POST", "DELETE"], get(list_roas).post(add_roas).delete(remove_roa)),
        ("/api/v1/members/{handle}/roas/delta", MemberOrAdmin, &["POST"], post(roa_delta)),
        ("/api/v1/members/{handle}/aspas", MemberOrAdmin, &["GET"], get(list_aspas)),
        ("/api/v1/members/{handle}/aspas/{customer}", MemberOrAdmin, &["PUT", "DELETE"], put(put_aspa).delete(remove_aspa)),
    ]
}

/// The routes: path, access and methods.
pub fn routes() -> Vec<(&'static str, Access, &'static [&'static str])> {
    table().into_iter().map(|(p, a, m, _)| (p, a, m)).collect()
}

pub fn router(state: AppState) -> Router {
    let (body, import) = (state.ca.config.api_max_body_bytes, state.ca.config.api_max_import_bytes);
    let mut methods: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for (path, access, _, m) in table() {
        let guard = axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| access::guard(s, access, req, next));
        let limit = DefaultBodyLimit::max(if path == "/api/v1/members/import" { import } else { body });
        let m = m.route_layer(guard).layer(limit);
        match methods.iter_mut().find(|(p, _)| *p == path) {
            Some((_, have)) => *have = std::mem::take(have).merge(m),
            None => methods.push((path, m)),
        }
    }
    methods.into_iter().fold(Router::new(), |r, (p, m)| r.route(p, m)).with_state(state)
}

async fn metrics(State(st): State<AppState>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let (members, roas) = blocking(move || ca.counts()).await?;
    let s = st.ca.signer();
    let (pool, generated, target) = (s.pool_size(), s.keys_generated(), st.ca.config.key_pool_target);
    let in_sync = u8::from(!st.ca.out_of_sync());
    let mut m = Metrics::new("rpkit_ca_");
    m.one("members", "gauge", "Member CAs.", members);
    m.one("roas", "gauge", "ROAs published.", roas);
    m.one("key_pool_size", "gauge", "Pre-generated one-time keys ready for use.", pool);
    m.one("key_pool_target", "gauge", "Keys the pool is kept filled to.", target);
    m.one("keys_generated_total", "counter", "RSA keys generated (its rate is the fill rate).", generated);
    m.one("repository_in_sync", "gauge", "1 when the repository is known to hold what the database says.", in_sync);
    let text = m.finish();
    Ok(([(header::CONTENT_TYPE, rpkit_serve::metrics::CONTENT_TYPE)], text).into_response())
}

async fn whoami(Extension(who): Extension<Caller>) -> ApiResult<Response> {
    Ok(Json(match who {
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
async fn export(State(st): State<AppState>) -> ApiResult<Response> {
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

async fn list_members(State(st): State<AppState>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.members()).await?).into_response())
}

async fn add_member(State(st): State<AppState>, Body(m): Body<NewMember>) -> ApiResult<Response> {
    let res = parse_resources(&m.resources)?;
    let ca = st.ca.clone();
    let info = blocking(move || ca.add_member(&m.handle, &res, m.opaque_id.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

async fn import(State(st): State<AppState>, Text(body): Text) -> ApiResult<Response> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.import_delegated(&body)).await?).into_response())
}

async fn show_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.member(&handle)).await?).into_response())
}

async fn remove_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    blocking(move || ca.remove_member(&handle)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Resources {
    resources: String,
}

async fn set_resources(State(st): State<AppState>, Path(handle): Path<String>, Body(r): Body<Resources>) -> ApiResult<Response> {
    let res = parse_resources(&r.resources)?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.set_member_resources(&handle, &res)).await?).into_response())
}

async fn create_token(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let token = blocking(move || ca.create_token(&handle)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "token": token }))).into_response())
}

async fn list_roas(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
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

async fn list_aspas(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.aspas(&handle)).await?).into_response())
}

#[derive(Deserialize)]
struct Providers {
    providers: Vec<u32>,
}

async fn put_aspa(
    State(st): State<AppState>,
    Path((handle, customer)): Path<(String, u32)>,
    Body(p): Body<Providers>,
) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let spec = AspaSpec { customer, providers: p.providers };
    let s2 = spec.clone();
    blocking(move || ca.put_aspa(&handle, &s2)).await?;
    Ok(Json(spec).into_response())
}

async fn remove_aspa(State(st): State<AppState>, Path((handle, customer)): Path<(String, u32)>) -> ApiResult<Response> {
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
    let claim = state.ca.clone();
    match tokio::task::spawn_blocking(move || claim.claim_key_pool()).await {
        Ok(Ok(n)) if n > 0 => tracing::info!("{n} pooled keys from the last stop"),
        Ok(Err(e)) => tracing::warn!("pooled keys of the last stop not used: {e}"),
        _ => {}
    }
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
    // A change set that failed may have reached the repository: bring it back
    // in line with the database as soon as the server answers again.
    let sync_ca = state.ca.clone();
    let resync = tokio::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            iv.tick().await;
            if !sync_ca.out_of_sync() {
                continue;
            }
            let ca = sync_ca.clone();
            match tokio::task::spawn_blocking(move || ca.resync()).await {
                Ok(Ok(Some(n))) => tracing::info!("repository back in line with the database ({n} changes)"),
                Ok(Err(e)) => tracing::debug!("repository still out of reach: {e}"),
                _ => {}
            }
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
    let state_ca = state.ca.clone();
    rpkit_serve::serve(listener, router(state), rpkit_serve::Limits::default(), shutdown).await;
    scheduler.abort();
    filler.abort();
    resync.abort();
    // The keys generated ahead of need serve the next start too.
    let ca = state_ca;
    match tokio::task::spawn_blocking(move || ca.save_key_pool()).await {
        Ok(Ok(n)) if n > 0 => tracing::info!("{n} pooled keys kept for the next start"),
        Ok(Err(e)) => tracing::warn!("pooled keys not kept: {e}"),
        _ => {}
    }
    Ok(())
}
