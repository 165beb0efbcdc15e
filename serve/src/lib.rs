//! HTTP/1.1 serving for every rpkit listener: the CA API, the publication
//! server's RFC 8181 API and its RRDP listener, and the validator's API.
//!
//! `axum::serve` sets no timer on hyper's connections, so hyper's limit on
//! reading a request head never applies and a client that sends its head one
//! byte at a time (slowloris) holds its connection for as long as it likes.
//! Here every connection has that limit: the head must be complete within
//! [`Limits::header_read`] of the connection's start (or of the previous
//! response), else the connection is closed.
//!
//! [`data_dir`]: the servers' data directories, whose secrets stay private.
//! [`tls`]: TLS configuration and a TLS listener. [`metrics`]: the Prometheus
//! text format. [`bearer`]: bearer tokens and the admin-only route layer.
//! [`db`]: the database seam (SQLite embedded, PostgreSQL shared).

pub mod bearer;
pub mod data_dir;
pub mod db;
pub mod metrics;
pub mod tls;

use axum::extract::ConnectInfo;
use axum::serve::Listener;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;
use tower::ServiceExt;

/// Time limits of a listener's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time to send a whole request head: from the connection's start, or
    /// from the end of the previous response on a kept-alive connection.
    pub header_read: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { header_read: Duration::from_secs(10) }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then stop accepting,
/// let the requests in progress finish and return. Handlers find the peer's
/// address as `ConnectInfo<SocketAddr>`.
pub async fn serve<L>(mut listener: L, app: Router, limits: Limits, shutdown: impl Future<Output = ()>)
where
    L: Listener<Addr = SocketAddr>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read);
    // Each connection holds a receiver; the sender waits for all to be gone.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = app.clone().map_request(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            req
        });
        let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection closed: {e}");
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
}
