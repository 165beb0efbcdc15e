//! The time limits of `rpkit_serve::serve`, against a real socket.

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use rpkit_serve::{serve, Limits};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_millis(600);

async fn start() -> (SocketAddr, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let app = Router::new().route("/peer", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() })).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(400)).await;
            "done"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(serve(listener, app, Limits { header_read: LIMIT }, async {
        let _ = rx.await;
    }));
    (addr, tx, task)
}

/// Read until the server closes; the time it took and what came.
async fn until_closed(s: &mut TcpStream) -> (Duration, String) {
    let t = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection for 10 s"),
        }
    }
    (t.elapsed(), String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn a_whole_request_is_answered_and_its_handler_sees_the_peer() {
    let (addr, _stop, _task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let me = s.local_addr().unwrap();
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let (_, reply) = until_closed(&mut s).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with(&me.to_string()), "{reply}");
}

#[tokio::test]
async fn a_head_dripped_a_byte_at_a_time_is_cut_off_at_the_limit() {
    let (addr, _stop, _task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    // Keep dripping in the background until the server hangs up.
    let (mut r, mut w) = s.into_split();
    let drip = tokio::spawn(async move {
        while w.write_all(b"x").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), r.read(&mut buf)).await.expect("closed within 10 s");
    let took = t.elapsed();
    assert!(matches!(n, Ok(0) | Err(_)) || String::from_utf8_lossy(&buf[..n.unwrap()]).starts_with("HTTP/1.1 408"));
    assert!(took >= LIMIT && took < LIMIT * 4, "closed after {took:?}, limit {LIMIT:?}");
    drip.abort();
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_at_the_limit() {
    let (addr, _stop, _task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let (took, reply) = until_closed(&mut s).await;
    assert!(!reply.contains("200"), "{reply}");
    assert!(took >= LIMIT.mul_f64(0.9) && took < LIMIT * 4, "closed after {took:?}, limit {LIMIT:?}");
}

#[tokio::test]
async fn a_kept_alive_connection_must_send_its_next_head_in_time_too() {
    let (addr, _stop, _task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    s.write_all(b"GET /peer HTTP/1.1\r\n").await.unwrap();
    let (took, reply) = until_closed(&mut s).await;
    assert!(!reply.contains("200"), "{reply}");
    assert!(took < LIMIT * 4, "closed after {took:?}, limit {LIMIT:?}");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_lets_a_request_in_progress_finish() {
    let (addr, stop, task) = start().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let (_, reply) = until_closed(&mut s).await;
    assert!(reply.starts_with("HTTP/1.1 200") && reply.ends_with("done"), "{reply}");
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("serve returns").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}
