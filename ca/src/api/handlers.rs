//! The API's handlers. Each `#[utoipa::path]` states the route's path, method,
//! parameters and body types from `crate::contract`; who may call it is the
//! table's (`super::table`), added to the document by `super::openapi`.

use super::{blocking, ApiError, ApiResult, AppState, Body, Caller, Text};
use crate::contract::{
    AspaSpec, DeltaQuery, Export, HistoryEntry, HistoryQuery, ImportReport, KeyRollRequest, KeyRollStatus, MemberInfo, NewMember,
    NewRouterCert, Providers, ResourceChange, RoaBody, RoaDelta, RoaInfo, RoaReport, RouterCertInfo, SetResources, TaFile, TaImport,
    TaKeyRollRequest, TaKeyRollStatus, TaStatus, TokenCreated, Whoami,
};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rpkit_objects::resources::ResourceSet;
use rpkit_serve::metrics::Metrics;

#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "The server answers and its key store works", body = String, content_type = "text/plain"),
        (status = 503, description = "The HSM fails: why (reads are still served; changes wait)", body = String, content_type = "text/plain")))]
pub async fn health(State(st): State<AppState>) -> Response {
    let (status, body) = health_of(&st).await;
    // Nodes on a shared database: which one this is (node.rs).
    let role = st.ca.role().map(|r| r.health_line()).unwrap_or_default();
    (status, format!("{body}{role}")).into_response()
}

async fn health_of(st: &AppState) -> (StatusCode, String) {
    if let Some(h) = st.ca.signer().health().filter(|h| !h.up) {
        let why = h.error.unwrap_or_default();
        return (StatusCode::SERVICE_UNAVAILABLE, format!("signer: {why}\n"));
    }
    // An offline TA's manifest and CRL: a warning once its signing session is due, a fault once they ran out.
    if !st.ca.config.ta_offline {
        return (StatusCode::OK, "ok\n".into());
    }
    let ca = st.ca.clone();
    match blocking(move || ca.ta_status()).await {
        Ok(s) if s.expired => {
            let at = s.next_update.unwrap_or_default();
            (StatusCode::SERVICE_UNAVAILABLE, format!("offline TA: its manifest and CRL ran out at {at}: sign a request now\n"))
        }
        Ok(s) if s.overdue => {
            let (due, at) = (s.signing_due.unwrap_or_default(), s.next_update.unwrap_or_default());
            (
                StatusCode::OK,
                format!("ok\nwarning: the offline TA's signing session was due at {due}; its manifest and CRL run out at {at}\n"),
            )
        }
        _ => (StatusCode::OK, "ok\n".into()),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(st): State<AppState>) -> ApiResult<Response> {
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
    if let Some(role) = st.ca.role() {
        role.metrics(&mut m);
    }
    if let Some(h) = st.ca.signer().health() {
        m.one("signer_up", "gauge", "1 when the last operation on the HSM succeeded.", u8::from(h.up));
        m.one("signer_failures_total", "counter", "Operations on the HSM that failed.", h.failures);
    }
    if st.ca.config.ta_offline {
        let ca = st.ca.clone();
        let s = blocking(move || ca.ta_status()).await?;
        let secs = |t: &Option<String>| t.as_deref().and_then(rpkit_objects::der::Time::parse_rfc3339).map_or(0, |t| t.0);
        m.one("ta_next_update_timestamp_seconds", "gauge", "When the offline TA's manifest and CRL run out.", secs(&s.next_update));
        m.one("ta_signing_due_timestamp_seconds", "gauge", "When the offline TA's next signing session is due.", secs(&s.signing_due));
        m.one("ta_signing_overdue", "gauge", "1 when the offline TA's signing session is due.", u8::from(s.overdue));
    }
    let ca = st.ca.clone();
    let children = blocking(move || ca.children_metrics()).await?;
    if !children.is_empty() {
        let traffic: std::collections::HashMap<_, _> = st.ca.updown_traffic.snapshot().into_iter().collect();
        let rows: [(&str, &str, &str); 5] = [
            ("child_last_contact_timestamp_seconds", "gauge", "When a delegated member last sent an up-down message (0: never)."),
            ("child_certificate_not_after_timestamp_seconds", "gauge", "When a delegated member's earliest certificate ends (0: none)."),
            ("child_suspended", "gauge", "1 when a delegated member is suspended."),
            ("child_messages_answered_total", "counter", "Up-down messages of a delegated member answered since the start."),
            ("child_messages_refused_total", "counter", "Up-down messages of a delegated member refused since the start."),
        ];
        for (i, (name, kind, help)) in rows.iter().enumerate() {
            m.head(name, kind, help);
            for (h, contact, end, suspended) in &children {
                let t = traffic.get(h).cloned().unwrap_or_default();
                let v = [*contact as u64, *end as u64, u64::from(*suspended), t.answered, t.refused][i];
                m.value(name, &[("child", h)], v);
            }
        }
    }
    let text = m.finish();
    Ok(([(header::CONTENT_TYPE, rpkit_serve::metrics::CONTENT_TYPE)], text).into_response())
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub async fn openapi_json() -> Response {
    Json(super::document_json()).into_response()
}

#[utoipa::path(get, path = "/api/v1/tal", tag = "service",
    responses((status = 200, description = "The trust anchor locator (RFC 8630)", body = String, content_type = "text/plain")))]
pub async fn tal(State(st): State<AppState>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let t = blocking(move || ca.tal()).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], t.encode()).into_response())
}

#[utoipa::path(get, path = "/api/v1/whoami", tag = "service",
    responses((status = 200, description = "Who the token belongs to", body = Whoami)))]
pub async fn whoami(Extension(who): Extension<Caller>) -> Json<Whoami> {
    Json(match who {
        Caller::Admin => Whoami { admin: true, member: None },
        Caller::Member(h) => Whoami { admin: false, member: Some(h) },
    })
}

/// What the CA intends to publish, for `rpkit audit --expect`.
#[utoipa::path(get, path = "/api/v1/export", tag = "admin",
    responses((status = 200, description = "Everything the CA publishes and the ROAs and ASPAs behind it", body = Export)))]
pub async fn export(State(st): State<AppState>) -> ApiResult<Json<Export>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.export()).await?))
}

pub(super) fn parse_resources(s: &str) -> ApiResult<ResourceSet> {
    s.parse().map_err(|e: rpkit_objects::Error| ApiError::new(StatusCode::BAD_REQUEST, "bad_resources", e.to_string()))
}

#[utoipa::path(get, path = "/api/v1/members", tag = "admin",
    responses((status = 200, description = "Every member", body = Vec<MemberInfo>)))]
pub async fn list_members(State(st): State<AppState>) -> ApiResult<Json<Vec<MemberInfo>>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.members()).await?))
}

#[utoipa::path(post, path = "/api/v1/members", tag = "admin", request_body = NewMember,
    responses((status = 201, description = "The member, its CA certified", body = MemberInfo)))]
pub async fn add_member(State(st): State<AppState>, Body(m): Body<NewMember>) -> ApiResult<Response> {
    let res = parse_resources(&m.resources)?;
    let ca = st.ca.clone();
    let info = blocking(move || ca.add_member(&m.handle, &res, m.opaque_id.as_deref())).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

#[utoipa::path(post, path = "/api/v1/members/import", tag = "admin",
    request_body(content = String, content_type = "text/plain", description = "A delegated-extended statistics file"),
    responses((status = 200, description = "Members added, re-certified and removed", body = ImportReport)))]
pub async fn import(State(st): State<AppState>, Text(body): Text) -> ApiResult<Json<ImportReport>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.import_delegated(&body)).await?))
}

#[utoipa::path(get, path = "/api/v1/members/{handle}", tag = "members", params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "The member", body = MemberInfo)))]
pub async fn show_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Json<MemberInfo>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.member(&handle)).await?))
}

#[utoipa::path(delete, path = "/api/v1/members/{handle}", tag = "admin", params(("handle" = String, Path, description = "Member handle")),
    responses((status = 204, description = "Removed: its CA revoked, its objects withdrawn")))]
pub async fn remove_member(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<StatusCode> {
    let ca = st.ca.clone();
    blocking(move || ca.remove_member(&handle)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/v1/members/{handle}/resources", tag = "admin", request_body = SetResources,
    params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "What changed (null when nothing did); the CA certificate is re-issued",
        body = Option<ResourceChange>)))]
pub async fn set_resources(
    State(st): State<AppState>,
    Path(handle): Path<String>,
    Body(r): Body<SetResources>,
) -> ApiResult<Json<Option<ResourceChange>>> {
    let res = parse_resources(&r.resources)?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.set_member_resources(&handle, &res)).await?))
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/tokens", tag = "admin", params(("handle" = String, Path, description = "Member handle")),
    responses((status = 201, description = "A new bearer token for the member, shown once", body = TokenCreated)))]
pub async fn create_token(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let token = blocking(move || ca.create_token(&handle)).await?;
    Ok((StatusCode::CREATED, Json(TokenCreated { token })).into_response())
}

#[utoipa::path(get, path = "/api/v1/members/{handle}/roas", tag = "members", params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "The member's ROAs; the ETag header tags the set", body = Vec<RoaInfo>,
        headers(("ETag" = String, description = "Tag of this ROA set, for If-Match")))))]
pub async fn list_roas(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let (roas, etag) = blocking(move || Ok((ca.roas(&handle)?, ca.roas_etag(&handle)?))).await?;
    Ok(([(header::ETAG, etag)], Json(roas)).into_response())
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

#[utoipa::path(post, path = "/api/v1/members/{handle}/roas/delta", tag = "members", request_body = RoaDelta,
    params(("handle" = String, Path, description = "Member handle"), DeltaQuery,
        ("If-Match" = Option<String>, Header, description = "Apply only to this ROA set (its ETag)")),
    responses((status = 200, description = "Applied all or nothing; 422 lists every rejected entry", body = RoaReport)))]
pub async fn roa_delta(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<DeltaQuery>,
    Body(d): Body<RoaDelta>,
) -> ApiResult<Response> {
    apply(&st, &headers, handle, d, q.dry_run).await
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/roas", tag = "members", request_body = RoaBody,
    params(("handle" = String, Path, description = "Member handle"), DeltaQuery,
        ("If-Match" = Option<String>, Header, description = "Apply only to this ROA set (its ETag)")),
    responses((status = 200, description = "Added (one ROA or a list)", body = RoaReport)))]
pub async fn add_roas(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<DeltaQuery>,
    Body(b): Body<RoaBody>,
) -> ApiResult<Response> {
    apply(&st, &headers, handle, RoaDelta { added: b.into_vec(), removed: vec![] }, q.dry_run).await
}

#[utoipa::path(delete, path = "/api/v1/members/{handle}/roas", tag = "members", request_body = RoaBody,
    params(("handle" = String, Path, description = "Member handle"), DeltaQuery,
        ("If-Match" = Option<String>, Header, description = "Apply only to this ROA set (its ETag)")),
    responses((status = 200, description = "Removed (one ROA or a list)", body = RoaReport)))]
pub async fn remove_roa(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(handle): Path<String>,
    Query(q): Query<DeltaQuery>,
    Body(b): Body<RoaBody>,
) -> ApiResult<Response> {
    apply(&st, &headers, handle, RoaDelta { added: vec![], removed: b.into_vec() }, q.dry_run).await
}

#[utoipa::path(get, path = "/api/v1/members/{handle}/aspas", tag = "members", params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "The member's ASPAs", body = Vec<AspaSpec>)))]
pub async fn list_aspas(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Json<Vec<AspaSpec>>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.aspas(&handle)).await?))
}

#[utoipa::path(put, path = "/api/v1/members/{handle}/aspas/{customer}", tag = "members", request_body = Providers,
    params(("handle" = String, Path, description = "Member handle"), ("customer" = u32, Path, description = "Customer AS number")),
    responses((status = 200, description = "The ASPA of the customer AS, created or replaced", body = AspaSpec)))]
pub async fn put_aspa(
    State(st): State<AppState>,
    Path((handle, customer)): Path<(String, u32)>,
    Body(p): Body<Providers>,
) -> ApiResult<Json<AspaSpec>> {
    let ca = st.ca.clone();
    let spec = AspaSpec { customer, providers: p.providers };
    let s2 = spec.clone();
    blocking(move || ca.put_aspa(&handle, &s2)).await?;
    Ok(Json(spec))
}

#[utoipa::path(delete, path = "/api/v1/members/{handle}/aspas/{customer}", tag = "members",
    params(("handle" = String, Path, description = "Member handle"), ("customer" = u32, Path, description = "Customer AS number")),
    responses((status = 204, description = "Removed")))]
pub async fn remove_aspa(State(st): State<AppState>, Path((handle, customer)): Path<(String, u32)>) -> ApiResult<StatusCode> {
    let ca = st.ca.clone();
    blocking(move || ca.remove_aspa(&handle, customer)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/history", tag = "members", params(HistoryQuery),
    responses((status = 200, description = "The changes applied, in order, as a hash chain; a member's token sees only its own", body = Vec<HistoryEntry>)))]
pub async fn history(
    State(st): State<AppState>,
    Extension(who): Extension<Caller>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<Json<Vec<HistoryEntry>>> {
    let member = match (who, q.member) {
        (Caller::Admin, m) => m,
        (Caller::Member(h), None) => Some(h),
        (Caller::Member(h), Some(m)) if m == h => Some(h),
        (Caller::Member(_), Some(m)) => return Err(ApiError::forbidden(&format!("member '{m}'"))),
    };
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.history(member.as_deref(), q.since.as_deref())).await?))
}

#[utoipa::path(get, path = "/api/v1/members/{handle}/keyroll", tag = "members", params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "The member CA's key and its roll (RFC 6489)", body = KeyRollStatus)))]
pub async fn member_keyroll_status(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Json<KeyRollStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.member(&handle).and_then(|_| ca.keyroll_status(&handle))).await?))
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/keyroll", tag = "admin", request_body = KeyRollRequest,
    params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "Started (phase `pending`), or with `activate` the next key in use (phase `active`)",
        body = KeyRollStatus)))]
pub async fn member_keyroll(
    State(st): State<AppState>,
    Path(handle): Path<String>,
    Body(r): Body<KeyRollRequest>,
) -> ApiResult<Json<KeyRollStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.member(&handle).and_then(|_| keyroll(&ca, &handle, r.activate))).await?))
}

#[utoipa::path(get, path = "/api/v1/rir/keyroll", tag = "admin",
    responses((status = 200, description = "The RIR CA's key and its roll (RFC 6489)", body = KeyRollStatus)))]
pub async fn rir_keyroll_status(State(st): State<AppState>) -> ApiResult<Json<KeyRollStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.keyroll_status(ca.rir_handle())).await?))
}

#[utoipa::path(post, path = "/api/v1/rir/keyroll", tag = "admin", request_body = KeyRollRequest,
    responses((status = 200, description = "Started (phase `pending`), or with `activate` the next key in use (phase `active`)",
        body = KeyRollStatus)))]
pub async fn rir_keyroll(State(st): State<AppState>, Body(r): Body<KeyRollRequest>) -> ApiResult<Json<KeyRollStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || keyroll(&ca, ca.rir_handle(), r.activate)).await?))
}

fn keyroll(ca: &crate::Ca, handle: &str, activate: bool) -> Result<KeyRollStatus, crate::CaError> {
    if activate {
        ca.keyroll_activate(handle)
    } else {
        ca.keyroll_start(handle)
    }
}

#[utoipa::path(get, path = "/api/v1/members/{handle}/router-certs", tag = "members",
    params(("handle" = String, Path, description = "Member handle")),
    responses((status = 200, description = "The member's BGPsec router certificates (RFC 8209)", body = Vec<RouterCertInfo>)))]
pub async fn list_router_certs(State(st): State<AppState>, Path(handle): Path<String>) -> ApiResult<Json<Vec<RouterCertInfo>>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.router_certs(&handle)).await?))
}

#[utoipa::path(post, path = "/api/v1/members/{handle}/router-certs", tag = "members", request_body = NewRouterCert,
    params(("handle" = String, Path, description = "Member handle")),
    responses((status = 201, description = "Issued and published (the same key and AS again: the certificate already issued)",
        body = RouterCertInfo)))]
pub async fn add_router_cert(State(st): State<AppState>, Path(handle): Path<String>, Body(r): Body<NewRouterCert>) -> ApiResult<Response> {
    let ca = st.ca.clone();
    let info = blocking(move || ca.add_router_cert(&handle, r.asn, &r.csr)).await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

#[utoipa::path(delete, path = "/api/v1/members/{handle}/router-certs/{asn}/{key_id}", tag = "members",
    params(("handle" = String, Path, description = "Member handle"), ("asn" = u32, Path, description = "The AS number"),
        ("key_id" = String, Path, description = "The router key's identifier (hex)")),
    responses((status = 204, description = "Revoked and withdrawn")))]
pub async fn remove_router_cert(
    State(st): State<AppState>,
    Path((handle, asn, key_id)): Path<(String, u32, String)>,
) -> ApiResult<StatusCode> {
    let ca = st.ca.clone();
    blocking(move || ca.remove_router_cert(&handle, asn, &key_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/ta/request", tag = "admin",
    responses((status = 200, description = "A new signed request for the offline TA (it replaces any pending one)", body = TaFile)))]
pub async fn ta_request(State(st): State<AppState>) -> ApiResult<Json<TaFile>> {
    let ca = st.ca.clone();
    let file = blocking(move || ca.ta_request()).await?;
    Ok(Json(TaFile { file: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, file) }))
}

#[utoipa::path(post, path = "/api/v1/ta/response", tag = "admin", request_body = TaFile,
    responses((status = 200, description = "The offline TA's answer imported and published", body = TaImport)))]
pub async fn ta_response(State(st): State<AppState>, Body(f): Body<TaFile>) -> ApiResult<Json<TaImport>> {
    let file = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, f.file.trim())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "ta_malformed", format!("file: not base64: {e}")))?;
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.ta_import(&file)).await?))
}

#[utoipa::path(get, path = "/api/v1/ta/status", tag = "admin",
    responses((status = 200, description = "The offline TA: when its manifest runs out, when signing is due, the pending request", body = TaStatus)))]
pub async fn ta_status(State(st): State<AppState>) -> ApiResult<Json<TaStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.ta_status()).await?))
}

#[utoipa::path(get, path = "/api/v1/ta/keyroll", tag = "admin",
    responses((status = 200, description = "The TA's key, its TAL and its roll (RFC 9691)", body = TaKeyRollStatus)))]
pub async fn ta_keyroll_status(State(st): State<AppState>) -> ApiResult<Json<TaKeyRollStatus>> {
    let ca = st.ca.clone();
    Ok(Json(blocking(move || ca.ta_keyroll_status()).await?))
}

#[utoipa::path(post, path = "/api/v1/ta/keyroll", tag = "admin", request_body = TaKeyRollRequest,
    responses((status = 200, description = "Started (phase `staging`), taken over (`activate`: phase `active`) or the old TA retired (`retire`)",
        body = TaKeyRollStatus)))]
pub async fn ta_keyroll(State(st): State<AppState>, Body(r): Body<TaKeyRollRequest>) -> ApiResult<Json<TaKeyRollStatus>> {
    let ca = st.ca.clone();
    Ok(Json(
        blocking(move || match (r.activate, r.retire) {
            (true, true) => Err(crate::CaError::invalid("bad_request", "activate or retire, not both")),
            (true, false) => ca.ta_keyroll_activate(),
            (false, true) => ca.ta_keyroll_retire(),
            (false, false) => ca.ta_keyroll_start(),
        })
        .await?,
    ))
}
