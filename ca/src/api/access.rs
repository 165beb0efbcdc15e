//! Who may call what: every route declares an [`Access`], and [`guard`] enforces
//! it before the handler (or its body extractor) runs. Tokens are compared as
//! SHA-256 digests, the admin token in constant time; member tokens are looked
//! up by their digest, which is all the database holds. Each token, and each
//! client address presenting no valid token, has its own request budget.

use super::error::ApiError;
use super::AppState;
use crate::history::Actor;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use rpkit_serve::bearer::same_token;
use rpkit_serve::bearer::token as bearer;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

tokio::task_local! {
    /// The caller of the request being served, carried to its blocking work.
    pub static ACTOR: Actor;
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (health, metrics, OpenAPI, TAL).
    Public,
    /// Any valid token (`whoami`).
    AnyToken,
    /// The admin token only.
    Admin,
    /// The admin, or the member named by the path's `{handle}`: never another member.
    MemberOrAdmin,
}

/// The authenticated caller, handed to handlers as a request extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Member(String),
}

async fn identify(st: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    if same_token(token, &st.admin_token) {
        return Ok(Some(Caller::Admin));
    }
    let (ca, token) = (st.ca.clone(), token.to_string());
    let member = super::blocking(move || ca.member_for_token(&token)).await?;
    Ok(member.map(Caller::Member))
}

/// The route layer: authenticate, charge the caller's budget, authorise.
pub async fn guard(State(st): State<AppState>, access: Access, mut req: Request, next: Next) -> Response {
    match authorize(&st, access, &mut req).await {
        Ok(actor) => ACTOR.scope(actor, next.run(req)).await,
        Err(e) => e.into_response(),
    }
}

/// Who the request is, for the history (`Operator` for public routes, which change nothing).
async fn authorize(st: &AppState, access: Access, req: &mut Request) -> Result<Actor, ApiError> {
    if access == Access::Public {
        return Ok(Actor::Operator);
    }
    let token = bearer(req.headers()).map(str::to_string);
    let who = match &token {
        Some(t) => identify(st, t).await?,
        None => None,
    };
    let budget = match (&who, &token) {
        (Some(_), Some(t)) => format!("token:{}", crate::service::token_hash(t)),
        _ => match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(a)) => format!("addr:{}", a.ip()),
            None => "addr:unknown".to_string(),
        },
    };
    st.limiter.charge(&budget)?;
    let who = who.ok_or_else(ApiError::unauthorized)?;
    match (access, &who) {
        (Access::Public | Access::AnyToken, _) | (Access::Admin | Access::MemberOrAdmin, Caller::Admin) => {}
        (Access::Admin, Caller::Member(_)) => return Err(ApiError::forbidden("administrative endpoints")),
        (Access::MemberOrAdmin, Caller::Member(h)) => {
            let handle = path_handle(req).await.unwrap_or_default();
            if *h != handle {
                return Err(ApiError::forbidden(&format!("member '{handle}'")));
            }
        }
    }
    let actor = match (&who, &token) {
        (Caller::Member(handle), Some(t)) => {
            Actor::Member { handle: handle.clone(), token_id: crate::service::token_id(&crate::service::token_hash(t)) }
        }
        _ => Actor::Admin,
    };
    req.extensions_mut().insert(who);
    Ok(actor)
}

/// The `{handle}` of the matched route, percent-decoded as the handler sees it.
async fn path_handle(req: &mut Request) -> Option<String> {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = std::mem::take(req).into_parts();
    let params = axum::extract::Path::<HashMap<String, String>>::from_request_parts(&mut parts, &()).await;
    *req = Request::from_parts(parts, body);
    params.ok()?.0.remove("handle")
}

/// Request budgets (a token bucket per key): `rate` requests a second on
/// average, bursts of up to `burst`. A rate of 0 turns the limit off.
pub struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Keys kept before idle ones (whose bucket has refilled) are dropped.
const MAX_BUCKETS: usize = 4096;

impl Limiter {
    pub fn new(rate: u32, burst: u32) -> Limiter {
        Limiter { rate: f64::from(rate), burst: f64::from(burst.max(1)), buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one request from `key`'s budget, or say when to come back.
    pub fn charge(&self, key: &str) -> Result<(), ApiError> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if b.len() >= MAX_BUCKETS && !b.contains_key(key) {
            let (rate, burst) = (self.rate, self.burst);
            b.retain(|_, (level, at)| *level + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (level, at) = b.entry(key.to_string()).or_insert((self.burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - *level) / self.rate).ceil().max(1.0) as u64;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests: at most {} a second, bursts of {}; retry in {wait} s", self.rate, self.burst),
        );
        e.retry_after = Some(wait);
        Err(e)
    }
}
