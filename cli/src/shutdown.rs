//! A clean stop on SIGINT (Ctrl-C) or SIGTERM (a service manager). The
//! handlers are installed when `terminated` is called, before a server says
//! it is up: a signal right after that line stops it cleanly (pooled keys
//! kept, the lease given up) instead of killing it.

use std::future::Future;
use tokio::signal::unix::{signal, SignalKind};

/// Resolves on SIGINT or SIGTERM; call it inside the runtime.
pub fn terminated() -> impl Future<Output = ()> {
    let (int, term) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()));
    async move {
        match (int, term) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            (Ok(mut int), Err(_)) => {
                int.recv().await;
            }
            (Err(_), _) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
