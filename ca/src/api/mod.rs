//! The CA's REST API (axum): the admin manages members; each member manages its
//! own ROAs and ASPAs with its bearer token and reaches nothing else.

mod access;
mod error;
mod handlers;
mod openapi;
mod up_down;

pub use access::{same_token, Access, Caller};
pub use error::ApiError;

use crate::error::CaError;
use crate::service::Ca;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::MethodRouter;
use axum::{Json, Router};
use handlers::*;
use std::sync::Arc;
use up_down::*;
use utoipa_axum::router::UtoipaMethodRouter;
use utoipa_axum::routes;

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

/// Run `f` on the blocking pool, as the request's caller (for the history).
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, CaError> + Send + 'static) -> ApiResult<T> {
    let actor = access::ACTOR.try_with(Clone::clone).unwrap_or(crate::history::Actor::Operator);
    tokio::task::spawn_blocking(move || {
        let _as = crate::history::acting_as(actor);
        f()
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    .map_err(Into::into)
}

/// Every route of the API: who may call it, and its handlers, whose
/// `#[utoipa::path]` attributes state the path, the method and the body types.
/// The router and the OpenAPI document are both built from this table only,
/// so no route lacks a declared [`Access`] or a description.
type Entry = (Access, UtoipaMethodRouter<AppState>);

fn table() -> Vec<Entry> {
    use Access::*;
    vec![
        (Public, routes!(health)),
        (Public, routes!(metrics)),
        (Public, routes!(openapi_json)),
        (Public, routes!(tal)),
        (AnyToken, routes!(whoami)),
        (Admin, routes!(export)),
        (Admin, routes!(list_members, add_member)),
        (Admin, routes!(import)),
        (MemberOrAdmin, routes!(show_member)),
        (Admin, routes!(remove_member)),
        (Admin, routes!(set_resources)),
        (Admin, routes!(create_token)),
        (MemberOrAdmin, routes!(list_roas, add_roas, remove_roa)),
        (MemberOrAdmin, routes!(roa_delta)),
        (MemberOrAdmin, routes!(list_aspas)),
        (MemberOrAdmin, routes!(put_aspa, remove_aspa)),
        (AnyToken, routes!(history)),
        (MemberOrAdmin, routes!(member_keyroll_status)),
        (Admin, routes!(member_keyroll)),
        (Admin, routes!(rir_keyroll_status, rir_keyroll)),
        (MemberOrAdmin, routes!(list_router_certs, add_router_cert)),
        (MemberOrAdmin, routes!(remove_router_cert)),
        (Admin, routes!(ta_request)),
        (Admin, routes!(ta_response)),
        (Admin, routes!(ta_status)),
        (Admin, routes!(ta_keyroll_status, ta_keyroll)),
        (Public, routes!(rfc6492)),
        (Admin, routes!(add_child)),
        (Admin, routes!(suspend_member)),
        (Admin, routes!(unsuspend_member)),
        (Admin, routes!(delegate_member)),
        (Admin, routes!(host_member)),
        (Admin, routes!(parent_status)),
        (Admin, routes!(parent_sync)),
    ]
}

/// The path and methods (`GET`, `POST` ...) of a table entry.
fn path_of(paths: &utoipa::openapi::path::Paths) -> (String, Vec<&'static str>) {
    match paths.paths.iter().next() {
        Some((path, item)) => (path.clone(), openapi::methods(item).into_iter().map(|(m, _)| m).collect()),
        None => (String::new(), Vec::new()),
    }
}

/// The routes: path, access and methods.
pub fn routes() -> Vec<(String, Access, Vec<&'static str>)> {
    table()
        .into_iter()
        .map(|(access, (_, paths, _))| {
            let (path, methods) = path_of(&paths);
            (path, access, methods)
        })
        .collect()
}

/// The OpenAPI 3.1 document of this API, generated from the table.
pub fn document() -> utoipa::openapi::OpenApi {
    openapi::document(table().into_iter().map(|(access, (schemas, paths, _))| (access, schemas, paths)))
}

/// The document as served: made once, not per request.
fn document_json() -> &'static serde_json::Value {
    static DOC: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(document()).unwrap_or_default())
}

pub fn router(state: AppState) -> Router {
    let (body, import) = (state.ca.config.api_max_body_bytes, state.ca.config.api_max_import_bytes);
    let mut methods: Vec<(String, MethodRouter<AppState>)> = Vec::new();
    for (access, (_, paths, m)) in table() {
        let (path, _) = path_of(&paths);
        let guard = axum::middleware::from_fn_with_state(state.clone(), move |s, req, next| access::guard(s, access, req, next));
        let limit = DefaultBodyLimit::max(if path == "/api/v1/members/import" { import } else { body });
        let m = m.route_layer(guard).layer(limit);
        match methods.iter_mut().find(|(p, _)| *p == path) {
            Some((_, have)) => *have = std::mem::take(have).merge(m),
            None => methods.push((path, m)),
        }
    }
    let standby = axum::middleware::from_fn_with_state(state.clone(), standby_guard);
    methods.into_iter().fold(Router::new(), |r, (p, m)| r.route(&p, m)).layer(standby).with_state(state)
}

/// On a standby node (node.rs) every change is answered with 503 and
/// `Retry-After`: the client tries again, at the active node.
async fn standby_guard(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    use axum::response::IntoResponse;
    use rpkit_serve::db::lease::Role;
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    match st.ca.role() {
        Some(Role::Standby { node, active }) if !reads => {
            let holder = Role::active_node(&active);
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "standby",
                format!("node {node} is the standby and takes no changes (active node: {holder}); try again"),
            );
            e.retry_after = Some(1);
            e.into_response()
        }
        _ => next.run(req).await,
    }
}

/// Serve the API on `listener` and run the re-issue schedule every `tick`, until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    tick: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let claim = state.ca.clone();
    if claim.is_active() {
        match tokio::task::spawn_blocking(move || claim.claim_key_pool()).await {
            Ok(Ok(n)) if n > 0 => tracing::info!("{n} pooled keys from the last stop"),
            Ok(Err(e)) => tracing::warn!("pooled keys of the last stop not used: {e}"),
            _ => {}
        }
    }
    // On a shared database: renew or take the lease (node.rs); the schedules
    // below run only while this node is the active one.
    let lease_ca = state.ca.clone();
    let shared = lease_ca.role().is_some();
    let lease = tokio::spawn(async move {
        if shared {
            rpkit_serve::db::lease::keep(move || {
                lease_ca.lease_step();
            })
            .await
        }
    });
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
    // The HSM, if any, checked every second on its own: /health tells of a
    // pulled token at once, whatever else waits for the database or the token.
    let probe_ca = state.ca.clone();
    let probe = tokio::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            iv.tick().await;
            if let Some(t) = probe_ca.signer().token().cloned() {
                let _ = tokio::task::spawn_blocking(move || t.probe()).await;
            }
        }
    });
    let resync = tokio::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            iv.tick().await;
            if !sync_ca.out_of_sync() || !sync_ca.is_active() {
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
    // Key rolls (staging over, scheduled and migration rolls, keys to destroy)
    // and the offline TA's due date, every second, apart from the HSM probe
    // above: a long roll never keeps /health from telling of the token.
    let roll_ca = state.ca.clone();
    let rolls = tokio::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            iv.tick().await;
            if !roll_ca.is_active() {
                continue;
            }
            if roll_ca.config.ta_offline {
                let ca = roll_ca.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || ca.ta_check_due()).await {
                    tracing::warn!("offline TA: {e}");
                }
            }
            if roll_ca.out_of_sync() {
                continue;
            }
            let ca = roll_ca.clone();
            let token_up = ca.signer().health().is_none_or(|h| h.up);
            match tokio::task::spawn_blocking(move || ca.keyroll_due()).await {
                Ok(Ok(n)) if n > 0 => tracing::info!("key roll: {n} CAs moved on"),
                Ok(Err(e)) if token_up => tracing::warn!("key roll: {e}"),
                Ok(Err(e)) => tracing::debug!("key roll waits for the HSM: {e}"),
                _ => {}
            }
        }
    });
    // An RFC 6492 parent: synced on its schedule, apart from the rest (its answers may be slow).
    let parent_ca = state.ca.clone();
    let parent = tokio::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            iv.tick().await;
            if !parent_ca.config.updown_parent {
                break;
            }
            if !parent_ca.is_active() {
                continue;
            }
            let ca = parent_ca.clone();
            if let Ok(Some(Ok(r))) = tokio::task::spawn_blocking(move || ca.parent_sync_due()).await {
                if r.certified || r.keyroll.is_some() {
                    tracing::info!("synced with the parent: certificate {}, key roll {:?}", r.certified, r.keyroll);
                }
            }
        }
    });
    // Members moving to their own CA: done once it publishes what the hosted one does.
    let moves_ca = state.ca.clone();
    let moves = tokio::spawn(async move {
        let mut iv = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            iv.tick().await;
            if !moves_ca.is_active() {
                continue;
            }
            let ca = moves_ca.clone();
            match tokio::task::spawn_blocking(move || ca.check_moves()).await {
                Ok(Ok(n)) if n > 0 => tracing::info!("{n} members moved to their own CA"),
                Ok(Err(e)) => tracing::warn!("checking members' moves: {e}"),
                _ => {}
            }
        }
    });
    let ca = state.ca.clone();
    let scheduler = tokio::spawn(async move {
        let mut iv = tokio::time::interval(tick);
        loop {
            iv.tick().await;
            if !ca.is_active() {
                continue;
            }
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
    parent.abort();
    moves.abort();
    rolls.abort();
    filler.abort();
    resync.abort();
    probe.abort();
    lease.abort();
    // The keys generated ahead of need serve the next start too.
    let ca = state_ca;
    if ca.is_active() {
        let keep = ca.clone();
        match tokio::task::spawn_blocking(move || keep.save_key_pool()).await {
            Ok(Ok(n)) if n > 0 => tracing::info!("{n} pooled keys kept for the next start"),
            Ok(Err(e)) => tracing::warn!("pooled keys not kept: {e}"),
            _ => {}
        }
    }
    let _ = tokio::task::spawn_blocking(move || ca.release_lease()).await;
    Ok(())
}
