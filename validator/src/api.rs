//! The validator daemon's HTTP side (axum): `/json` (rpki-client's format),
//! `/csv` (Routinator's), route validity (RFC 6811) one by one or in batch,
//! `/metrics`, `/status` and `/health`.

use crate::rov::{parse_route, route_json, Index, NotARoute};
use crate::serve::Shared;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// Routes to validate in one POST, at most.
const MAX_BATCH: usize = 100_000;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/json", get(json_output))
        .route("/csv", get(csv_output))
        .route("/api/v1/validity/{asn}/{*prefix}", get(validity_one))
        .route("/api/v1/validity", axum::routing::post(validity_batch))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/health", get(health))
        .with_state(shared)
}

/// Serve `router` on `listener` until `stop` changes.
pub async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    rpkit_serve::serve(listener, router(shared), rpkit_serve::Limits::default(), shutdown).await;
}

fn no_data() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "no data yet: the first validation run is not complete\n").into_response()
}

fn bad_request(why: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": why}))).into_response()
}

async fn json_output(State(s): State<Arc<Shared>>) -> Response {
    let Some(d) = s.current() else { return no_data() };
    ([(header::CONTENT_TYPE, "application/json")], d.json().to_string()).into_response()
}

async fn csv_output(State(s): State<Arc<Shared>>) -> Response {
    let Some(d) = s.current() else { return no_data() };
    ([(header::CONTENT_TYPE, "text/csv")], d.csv().to_string()).into_response()
}

fn validate(index: &Index<'_>, asn: &str, prefix: &str) -> Result<Value, NotARoute> {
    let (p, origin) = parse_route(asn, prefix)?;
    Ok(route_json(&p.to_string(), origin, &index.validate(&p, origin)))
}

async fn validity_one(State(s): State<Arc<Shared>>, Path((asn, prefix)): Path<(String, String)>) -> Response {
    let Some(d) = s.current() else { return no_data() };
    let index = Index::new(&d.report.vrps);
    match validate(&index, &asn, &prefix) {
        Ok(v) => Json(json!({"validated_route": v, "generatedTime": d.generated.rfc3339()})).into_response(),
        Err(e) => bad_request(e.to_string()),
    }
}

/// `{"routes": [{"asn": "AS64496" or 64496, "prefix": "192.0.2.0/24"}, ...]}`.
async fn validity_batch(State(s): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let Some(d) = s.current() else { return no_data() };
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("the body is not JSON: {e}")),
    };
    let Some(routes) = req.get("routes").and_then(Value::as_array) else {
        return bad_request("want {\"routes\": [{\"asn\": ..., \"prefix\": ...}, ...]}".into());
    };
    if routes.len() > MAX_BATCH {
        return bad_request(format!("{} routes; at most {MAX_BATCH} per request", routes.len()));
    }
    let index = Index::new(&d.report.vrps);
    let mut out = Vec::with_capacity(routes.len());
    for (i, r) in routes.iter().enumerate() {
        let asn = match r.get("asn") {
            Some(Value::String(a)) => a.clone(),
            Some(Value::Number(n)) => format!("AS{n}"),
            _ => return bad_request(format!("routes[{i}]: no asn")),
        };
        let Some(prefix) = r.get("prefix").and_then(Value::as_str) else { return bad_request(format!("routes[{i}]: no prefix")) };
        match validate(&index, &asn, prefix) {
            Ok(v) => out.push(v),
            Err(e) => return bad_request(format!("routes[{i}]: {e}")),
        }
    }
    Json(json!({"validated_routes": out, "generatedTime": d.generated.rfc3339()})).into_response()
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    ([(header::CONTENT_TYPE, rpkit_serve::metrics::CONTENT_TYPE)], crate::metrics::render(&s)).into_response()
}

async fn status(State(s): State<Arc<Shared>>) -> Response {
    let st = s.status.lock().unwrap_or_else(|e| e.into_inner());
    let mut v = json!({
        "uptime_seconds": s.started.elapsed().as_secs(),
        "runs": st.runs,
        "failed_runs": st.failed_runs,
        "last_run": st.last,
    });
    drop(st);
    if let Some(d) = s.current() {
        let state = s.states.borrow().clone();
        v["data"] = json!({
            "generated": d.generated.rfc3339(),
            "age_seconds": d.completed.elapsed().as_secs(),
            "run_seconds": d.run_secs,
            "vrps": d.report.vrps.len(),
            "aspas": d.report.aspas.len(),
            "router_keys": d.report.router_keys.len(),
            "warnings": d.report.warnings.len(),
            "repositories": d.repositories,
        });
        if let Some(st) = state {
            v["rtr"] = json!({
                "serial": st.serial,
                "sessions": {"v0": st.session(0), "v1": st.session(1), "v2": st.session(2)},
                "history": st.history.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            });
        }
    } else {
        v["data"] = Value::Null;
    }
    let clients: Vec<Value> = s
        .clients
        .table
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(|c| json!({"peer": c.peer.to_string(), "version": c.version, "serial": c.serial}))
        .collect();
    v["rtr_clients"] = clients.into();
    Json(v).into_response()
}

/// 200 while the served data is younger than the configured bound, else 503.
async fn health(State(s): State<Arc<Shared>>) -> Response {
    match s.current() {
        None => (StatusCode::SERVICE_UNAVAILABLE, "no data yet\n").into_response(),
        Some(d) if d.completed.elapsed() > s.max_age => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("data is {} s old, above the bound of {} s\n", d.completed.elapsed().as_secs(), s.max_age.as_secs()),
        )
            .into_response(),
        Some(_) => "ok\n".into_response(),
    }
}
