//! HTTP side of the publication server (axum): the RFC 8181 endpoint
//! `POST /rfc8181/{handle}`, the operator's publisher API, and the RRDP files
//! under `/rrdp/` with caching headers (notification short-lived, snapshot and
//! deltas immutable), ETag / If-None-Match, If-Modified-Since and gzip when the
//! client asks. `tls` serves the same files over HTTPS (rustls).

use crate::rfc8181;
use crate::rrdp::segments;
use crate::service::PublicationServer;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::rfc8183::PublisherRequest;
use rpkit_serve::bearer::{self, AdminToken};
use rpkit_serve::db::lease::Role;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// RFC 8181 §3: the media type of queries and replies.
pub const CONTENT_TYPE: &str = "application/rpki-publication";
/// Largest RFC 8181 request body accepted.
const MAX_BODY: usize = rpkit_objects::limits::MAX_RFC8181_MESSAGE;

#[derive(Clone)]
struct AppState {
    server: Arc<PublicationServer>,
}

fn text(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{}\n", msg.into())).into_response()
}

/// Who may call a route of the API and RFC 8181 listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, RRDP files, and RFC 8181 queries (authenticated by
    /// their CMS signature against the publisher's identity, RFC 8181 §2).
    Public,
    /// The operator's admin token only.
    Admin,
}

/// Every route: path, who may call it, its handlers. The router is built
/// from this table only, so no route lacks a declared [`Access`].
type Entry = (&'static str, Access, MethodRouter<AppState>);

fn table() -> Vec<Entry> {
    use Access::*;
    vec![
        ("/health", Public, get(health)),
        ("/metrics", Public, get(metrics)),
        ("/rfc8181/{*handle}", Public, post(rfc8181_query)),
        ("/api/v1/status", Admin, get(status)),
        ("/api/v1/shrink-guard/allow-next", Admin, post(allow_next)),
        ("/api/v1/publishers", Admin, get(list_publishers).post(add_publisher)),
        ("/api/v1/publishers/{*handle}", Admin, get(publisher_response).delete(remove_publisher)),
        ("/rrdp/{*path}", Public, get(rrdp_file)),
    ]
}

/// The API and RFC 8181 router (plus `/rrdp/` for plain-HTTP or local use).
pub fn router(server: Arc<PublicationServer>, admin_token: &str) -> Router {
    let admin = AdminToken(admin_token.into());
    let state = AppState { server };
    table()
        .into_iter()
        .fold(Router::new(), |r, (path, access, m)| {
            let m = match access {
                Access::Public => m,
                Access::Admin => m.route_layer(axum::middleware::from_fn_with_state(admin.clone(), bearer::require_admin)),
            };
            r.route(path, m)
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), standby_guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(compression())
        .with_state(state)
}

/// Largest response sent gzip-compressed (RRDPS-10: notification files and
/// deltas). A snapshot goes as it is: gzip at hundreds of MB a fetch would
/// cost the server more CPU than the bytes save (base64 of signed DER
/// shrinks by about a quarter), and the fetching validator pays to inflate it.
pub const MAX_GZIP: u64 = 1 << 20;

fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{DefaultPredicate, Predicate};
    let small = |_: StatusCode, _: axum::http::Version, h: &HeaderMap, _: &axum::http::Extensions| {
        h.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).is_none_or(|n| n <= MAX_GZIP)
    };
    tower_http::compression::CompressionLayer::new().gzip(true).compress_when(DefaultPredicate::new().and(small))
}

/// On a standby server (one of several on a shared database) every change
/// and every RRDP file is answered with 503 and `Retry-After`: its files are
/// not the repository's until it takes over. A load balancer follows /health.
async fn standby_guard(State(st): State<AppState>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.uri().path();
    let public_read = path == "/health" || path == "/metrics" || (req.method() == axum::http::Method::GET && path.starts_with("/api/"));
    let holder = match st.server.role() {
        Some(Role::Standby { node, active }) if !public_read => {
            Some(format!("node {node} is the standby publication server (active node: {}); try again", Role::active_node(&active)))
        }
        Some(Role::TakingOver { node, .. }) if !public_read => {
            Some(format!("node {node} is taking over and writes the repository's files first; try again"))
        }
        _ => None,
    };
    match holder {
        Some(why) => {
            let mut r = text(StatusCode::SERVICE_UNAVAILABLE, why);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        None => next.run(req).await,
    }
}

/// `GET /health`: ok, and on a shared database this node's role.
async fn health(State(st): State<AppState>) -> String {
    format!("ok\n{}", st.server.role().map(|r| r.health_line()).unwrap_or_default())
}

/// `GET /metrics` (Prometheus text): the repository's size and serial, and
/// on a shared database this node's role.
async fn metrics(State(st): State<AppState>) -> Response {
    let server = st.server.clone();
    let counts = tokio::task::spawn_blocking(move || {
        let repo = server.lock();
        Ok::<_, crate::repository::RepoError>((repo.session()?.1, repo.object_count()?, repo.pending_revisions()?))
    })
    .await;
    let (serial, objects, pending) = match counts {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut m = rpkit_serve::metrics::Metrics::new("rpkit_publication_");
    m.one("serial", "gauge", "The current RRDP serial.", serial);
    m.one("objects", "gauge", "Objects published.", objects);
    m.one("pending_revisions", "gauge", "Change sets applied and not yet in a serial.", pending);
    if let Some(role) = st.server.role() {
        role.metrics(&mut m);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], m.finish()).into_response()
}

/// The router for public serving: `/rrdp/`, and every current object at the
/// path of its rsync URI (`https://HOST/MODULE/...`, e.g. the TA certificate
/// a TAL names, RFC 8630 §2.2).
pub fn rrdp_router(server: Arc<PublicationServer>) -> Router {
    let state = AppState { server };
    Router::new()
        .route("/rrdp/{*path}", get(rrdp_file))
        .route("/{*path}", get(object_file))
        .layer(axum::middleware::from_fn_with_state(state.clone(), standby_guard))
        .layer(compression())
        .with_state(state)
}

async fn rfc8181_query(State(st): State<AppState>, Path(handle): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with(CONTENT_TYPE) {
        return text(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("content type must be {CONTENT_TYPE}"));
    }
    // A CA node's fencing token (its node.rs): a malformed one is no token.
    let fence = headers
        .get(rpkit_serve::db::lease::FENCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|t| *t >= 0);
    let server = st.server.clone();
    let result = tokio::task::spawn_blocking(move || {
        let now = Time::now();
        let mut repo = server.lock();
        let force = server.force_next.load(std::sync::atomic::Ordering::SeqCst);
        let (reply, outcome) = rfc8181::process(&mut repo, &handle, &body, now, force, fence);
        drop(repo);
        match &outcome {
            rfc8181::Outcome::Applied(Some(rev)) => {
                if force && server.force_next.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    tracing::warn!(publisher = %handle, rev, "change set applied past the shrink guard (allowed by the operator)");
                }
                tracing::info!(publisher = %handle, rev, "change set applied");
                server.changed.notify_one();
            }
            rfc8181::Outcome::Refused(code, msg) => tracing::warn!(publisher = %handle, "refused ({}): {msg}", code.as_str()),
            rfc8181::Outcome::Failed(msg) => tracing::error!(publisher = %handle, "the server failed: {msg}"),
            _ => {}
        }
        rfc8181::sign(&server.identity, &reply, now)
    })
    .await;
    match result {
        Ok(Ok(cms)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], cms).into_response(),
        Ok(Err(e)) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("signing the reply: {e}")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `GET /api/v1/status`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct StatusView {
    pub session_id: String,
    pub serial: u64,
    pub objects: usize,
    pub pending_revisions: u64,
    pub publishers: usize,
    pub notification_uri: String,
}

async fn status(State(st): State<AppState>) -> Response {
    let repo = st.server.lock();
    let view = (|| {
        let (session_id, serial) = repo.session()?;
        Ok::<_, crate::repository::RepoError>(StatusView {
            session_id,
            serial,
            objects: repo.object_count()?,
            pending_revisions: repo.pending_revisions()?,
            publishers: repo.publishers()?.len(),
            notification_uri: st.server.config.notification_uri(),
        })
    })();
    match view {
        Ok(v) => Json(v).into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Let the next applied change set past the shrink guard (once).
async fn allow_next(State(st): State<AppState>) -> Response {
    st.server.force_next.store(true, std::sync::atomic::Ordering::SeqCst);
    tracing::warn!("the operator allowed the next change set past the shrink guard");
    Json(serde_json::json!({ "allowed": "next change set" })).into_response()
}

/// One publisher of `GET /api/v1/publishers`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct PublisherView {
    pub handle: String,
    pub base_uri: String,
    pub service_uri: String,
    pub objects: usize,
}

async fn list_publishers(State(st): State<AppState>) -> Response {
    let repo = st.server.lock();
    let views = repo.publishers().and_then(|ps| {
        ps.into_iter()
            .map(|p| {
                Ok(PublisherView {
                    objects: repo.list(&p.base_uri)?.len(),
                    service_uri: format!("{}rfc8181/{}", st.server.config.service_base_uri, p.handle),
                    handle: p.handle,
                    base_uri: p.base_uri,
                })
            })
            .collect::<Result<Vec<_>, _>>()
    });
    match views {
        Ok(v) => Json(v).into_response(),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct AddParams {
    sia_base: Option<String>,
}

/// `POST /api/v1/publishers` with an RFC 8183 publisher_request; answers the repository_response.
async fn add_publisher(State(st): State<AppState>, Query(q): Query<AddParams>, body: axum::body::Bytes) -> Response {
    let req = match PublisherRequest::decode(&body) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("publisher_request: {e}")),
    };
    match st.server.add_publisher(&req, q.sia_base.as_deref()) {
        Ok(resp) => {
            tracing::info!(publisher = %resp.publisher_handle, base = %resp.sia_base, "publisher added");
            ([(header::CONTENT_TYPE, "application/xml")], resp.encode()).into_response()
        }
        Err(e) => text(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn publisher_response(State(st): State<AppState>, Path(handle): Path<String>) -> Response {
    let p = st.server.lock().publisher(&handle);
    match p {
        Ok(Some(p)) => ([(header::CONTENT_TYPE, "application/xml")], st.server.response_for(&p, None).encode()).into_response(),
        Ok(None) => text(StatusCode::NOT_FOUND, format!("no publisher {handle}")),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn remove_publisher(State(st): State<AppState>, Path(handle): Path<String>) -> Response {
    let removed = st.server.lock().remove_publisher(&handle);
    match removed {
        Ok(n) => {
            st.server.changed.notify_one();
            Json(serde_json::json!({ "handle": handle, "withdrawn": n })).into_response()
        }
        Err(e) => text(StatusCode::NOT_FOUND, e.to_string()),
    }
}

/// Serve one RRDP file. Paths are checked to stay inside the RRDP directory.
async fn rrdp_file(State(st): State<AppState>, Path(path): Path<String>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    // Files only: no query strings (RRDPS-11), no directories, no `..`.
    if uri.query().is_some() {
        return text(StatusCode::BAD_REQUEST, "query parameters are not accepted");
    }
    let safe = !path.is_empty() && path.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
    if !safe {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    if path == "notification.xml" {
        if let Some(body) = st.server.notification() {
            return notification(&body, &headers);
        }
    }
    // RRDP files only: parts files and segments are not served on their own.
    if !path.ends_with(".xml") {
        return text(StatusCode::NOT_FOUND, "not found");
    }
    let dir = st.server.config.rrdp_dir();
    let full = dir.join(&path);
    let file = match tokio::fs::File::open(&full).await {
        Ok(f) => f,
        Err(_) if path.ends_with("/snapshot.xml") => return segmented_snapshot(&dir, &path, &headers).await,
        Err(_) => return text(StatusCode::NOT_FOUND, "not found"),
    };
    let meta = match file.metadata().await {
        Ok(m) if m.is_file() => m,
        _ => return text(StatusCode::NOT_FOUND, "not found"),
    };
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let mtime = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
    let etag = format!("\"{:x}-{:x}{:09x}\"", meta.len(), mtime.as_secs(), mtime.subsec_nanos());
    let cache = if path == "notification.xml" { "public, max-age=60" } else { "public, max-age=604800, immutable" };
    let mut h = validators(&etag, modified, cache);
    if not_modified(&headers, &etag, modified) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    tracing::debug!(%path, "RRDP file served");
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.len()));
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024));
    (h, body).into_response()
}

/// A snapshot kept as segments, served as one file; its hash is its ETag.
async fn segmented_snapshot(dir: &std::path::Path, path: &str, headers: &HeaderMap) -> Response {
    let (dir, rel) = (dir.to_path_buf(), path.to_string());
    let loaded = tokio::task::spawn_blocking(move || {
        let parts = segments::Parts::load(&dir, &rel)?;
        let modified = std::fs::metadata(segments::parts_path(&dir, &rel))?.modified()?;
        Ok::<_, std::io::Error>((dir, parts, modified))
    })
    .await;
    let Ok(Ok((dir, parts, modified))) = loaded else {
        return text(StatusCode::NOT_FOUND, "not found");
    };
    let etag = format!("\"{}\"", rpkit_objects::hex::lower(&parts.hash));
    let mut h = validators(&etag, modified, "public, max-age=604800, immutable");
    if not_modified(headers, &etag, modified) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    tracing::debug!(%path, segments = parts.segments.len(), "RRDP snapshot served");
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(parts.size));
    (h, axum::body::Body::from_stream(segments::stream(&dir, &parts))).into_response()
}

async fn object_file(State(st): State<AppState>, Path(path): Path<String>) -> Response {
    let base = &st.server.config.rsync_base_uri;
    // rsync://HOST/MODULE/ -> rsync://HOST/ + path
    let host_root = match base.strip_prefix("rsync://").and_then(|r| r.split_once('/')) {
        Some((host, _)) => format!("rsync://{host}/"),
        None => return text(StatusCode::NOT_FOUND, "not found"),
    };
    let uri = format!("{host_root}{path}");
    let server = st.server.clone();
    let der = tokio::task::spawn_blocking(move || server.lock().object(&uri)).await;
    match der {
        Ok(Ok(Some(der))) => {
            let ct = FileType::of_name(&path).map_or("application/octet-stream", FileType::media_type);
            ([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "public, max-age=60")], der).into_response()
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    }
}

/// The notification from memory, with the same validators as a file.
fn notification(n: &crate::service::Notification, headers: &HeaderMap) -> Response {
    let h = validators(&n.etag, n.modified, "public, max-age=60");
    // If-Modified-Since cannot tell two notifications of one second apart.
    let by_date_only = !headers.contains_key(header::IF_NONE_MATCH);
    if not_modified(headers, &n.etag, n.modified) && !(by_date_only && n.second_shared) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    (h, n.body.clone()).into_response()
}

fn validators(etag: &str, modified: SystemTime, cache: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/rpki-rrdp+xml"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate(modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h
}

/// If-None-Match decides when present, else If-Modified-Since (RFC 9110 §13.2.2).
fn not_modified(headers: &HeaderMap, etag: &str, modified: SystemTime) -> bool {
    match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(inm) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        None => headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()).is_some_and(|ims| ims == httpdate(modified)),
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7).
fn httpdate(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    Time(secs).to_chrono().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Run the server until `shutdown` resolves: the API/RFC 8181 listener, the
/// HTTPS RRDP listener if given, and the repository writer.
pub async fn serve(
    server: Arc<PublicationServer>,
    admin_token: &str,
    api: tokio::net::TcpListener,
    rrdp_tls: Option<(tokio::net::TcpListener, Arc<rustls::ServerConfig>)>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let writer = tokio::spawn(server.clone().run_writer());
    // On a shared database: renew or take the lease.
    let lease_server = server.clone();
    let shared = lease_server.role().is_some();
    let lease = tokio::spawn(async move {
        if shared {
            rpkit_serve::db::lease::keep(move || lease_server.lease_step()).await
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tls_task = match rrdp_tls {
        Some((tcp, cfg)) => {
            let listener = rpkit_serve::tls::TlsListener::new(tcp, cfg)?;
            let mut rx = stop_rx.clone();
            let app = rrdp_router(server.clone());
            Some(tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.changed().await;
                };
                rpkit_serve::serve(listener, app, rpkit_serve::Limits::default(), stop).await
            }))
        }
        None => None,
    };
    let app = router(server.clone(), admin_token);
    let api = axum::serve::ListenerExt::tap_io(api, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let stop = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    rpkit_serve::serve(api, app, rpkit_serve::Limits::default(), stop).await;
    if let Some(t) = tls_task {
        let _ = t.await;
    }
    writer.abort();
    lease.abort();
    // Whatever was applied last is written before exit, then the lease given up.
    let s = server.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if s.is_active() {
            let _ = s.write_files();
        }
        s.release_lease();
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Notification;

    /// RRDPS-10: a conditional GET by date gets 304 only when the date names
    /// one notification; by ETag it always may.
    #[test]
    fn rrdps_10_if_modified_since_of_a_second_with_two_notifications_gets_the_file() {
        let modified = UNIX_EPOCH + std::time::Duration::from_millis(1_800_000_000_500);
        let n = |second_shared| Notification { body: b"<notification/>".to_vec(), etag: "\"e\"".into(), modified, second_shared };
        let ims = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::IF_MODIFIED_SINCE, HeaderValue::from_str(v).unwrap());
            h
        };
        let date = httpdate(modified);
        assert_eq!(notification(&n(false), &ims(&date)).status(), StatusCode::NOT_MODIFIED);
        assert_eq!(notification(&n(true), &ims(&date)).status(), StatusCode::OK);
        assert_eq!(notification(&n(true), &ims("Mon, 07 Dec 2026 00:00:00 GMT")).status(), StatusCode::OK);
        let mut inm = HeaderMap::new();
        inm.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"e\""));
        assert_eq!(notification(&n(true), &inm).status(), StatusCode::NOT_MODIFIED);
    }
}
