//! The RTR server against a raw TCP client (CHECKLIST 5): version
//! negotiation (RTR-14), no data yet (RTR-18), Reset and Serial Query (RTR-5,
//! RTR-6), Serial Notify (RTR-13), bad input (RTR-2, RTR-16), a PDU split
//! across segments, connect-and-close and 500 idle routers (RTR-23), a stuck
//! router (RTR-22) and Cache Shutdown (RTR-19).

use rpkit_validator::rtr::payload::{Snapshot, V4};
use rpkit_validator::rtr::pdu::{Pdu, Timers};
use rpkit_validator::rtr::server::{serve, Clients, ServerConfig};
use rpkit_validator::rtr::state::{Cache, State};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

struct Server {
    addr: SocketAddr,
    tx: watch::Sender<Option<Arc<State>>>,
    cache: Cache,
    stop: watch::Sender<bool>,
    clients: Arc<Clients>,
}

async fn start(cfg: ServerConfig) -> Server {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = watch::channel(None);
    let (stop, stop_rx) = watch::channel(false);
    let clients = Arc::new(Clients::default());
    tokio::spawn(serve(l, None, rx, cfg, clients.clone(), stop_rx));
    Server { addr, tx, cache: Cache::new(4, Timers::default()), stop, clients }
}

fn vrps(n: u32) -> Snapshot {
    let mut s = Snapshot {
        v4: (0..n).map(|i| V4 { addr: (10 << 24) + (i << 8), len: 24, max_len: 24, asn: 64496 + i % 7 }).collect(),
        ..Default::default()
    };
    s.normalise();
    s
}

impl Server {
    fn publish(&mut self, s: Snapshot) -> Arc<State> {
        let st = self.cache.update(s).unwrap();
        self.tx.send_replace(Some(st.clone()));
        st
    }
}

struct Client(tokio::io::BufStream<TcpStream>);

impl Client {
    async fn connect(addr: SocketAddr) -> Client {
        Client(tokio::io::BufStream::new(TcpStream::connect(addr).await.unwrap()))
    }
    async fn send(&mut self, p: &Pdu) {
        self.0.write_all(&p.to_bytes()).await.unwrap();
        self.0.flush().await.unwrap();
    }
    /// The next PDU, or `None` at EOF.
    async fn recv(&mut self) -> Option<Pdu> {
        let mut h = [0u8; 8];
        tokio::time::timeout(Duration::from_secs(10), self.0.read_exact(&mut h)).await.expect("a PDU in time").ok()?;
        let len = u32::from_be_bytes(h[4..8].try_into().unwrap()) as usize;
        let mut b = h.to_vec();
        b.resize(len, 0);
        self.0.read_exact(&mut b[8..]).await.unwrap();
        Some(Pdu::decode(&b).unwrap())
    }
    /// Cache Response ... End of Data: the payload PDUs and the End of Data.
    async fn response(&mut self) -> (Vec<Pdu>, Pdu) {
        let first = self.recv().await.unwrap();
        assert!(matches!(first, Pdu::CacheResponse { .. }), "{first:?}");
        let mut items = Vec::new();
        loop {
            match self.recv().await.unwrap() {
                p @ Pdu::EndOfData { .. } => return (items, p),
                p => items.push(p),
            }
        }
    }
    async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(tokio::time::timeout(Duration::from_secs(10), self.0.read(&mut b)).await, Ok(Ok(0)) | Ok(Err(_)))
    }
}

fn error_code(p: &Pdu) -> (u8, u16) {
    match p {
        Pdu::ErrorReport { version, code, .. } => (*version, *code),
        p => panic!("not an Error Report: {p:?}"),
    }
}

#[tokio::test]
async fn rtr_18_rtr_6_rtr_5_no_data_then_reset_then_serial_queries() {
    let mut s = start(ServerConfig::default()).await;
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::ResetQuery { version: 1 }).await;
    assert_eq!(error_code(&c.recv().await.unwrap()), (1, 2), "No Data Available");
    // The session stays open: data arrives, a Reset Query gets all of it.
    let st = s.publish(vrps(100));
    c.send(&Pdu::ResetQuery { version: 1 }).await;
    let (items, eod) = c.response().await;
    assert_eq!(items.len(), 100);
    assert!(items.iter().all(|p| matches!(p, Pdu::Ipv4Prefix { announce: true, version: 1, .. })));
    let session = st.session(1);
    assert_eq!(eod, Pdu::EndOfData { version: 1, session, serial: st.serial, timers: Some(Timers::default()) });

    // New data: Serial Notify, then exactly the difference.
    let mut next = vrps(100);
    next.v4.remove(0);
    next.v4.push(V4 { addr: 11 << 24, len: 8, max_len: 8, asn: 1 });
    next.normalise();
    let st2 = s.publish(next);
    assert_eq!(c.recv().await.unwrap(), Pdu::SerialNotify { version: 1, session, serial: st2.serial });
    c.send(&Pdu::SerialQuery { version: 1, session, serial: st.serial }).await;
    let (items, eod) = c.response().await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(items[0], Pdu::Ipv4Prefix { announce: true, addr: 0x0b000000, .. }));
    assert!(matches!(items[1], Pdu::Ipv4Prefix { announce: false, addr: 0x0a000000, .. }));
    assert!(matches!(eod, Pdu::EndOfData { serial, .. } if serial == st2.serial));
    // Up to date: an empty answer. Unknown serial: Cache Reset.
    c.send(&Pdu::SerialQuery { version: 1, session, serial: st2.serial }).await;
    assert!(c.response().await.0.is_empty());
    c.send(&Pdu::SerialQuery { version: 1, session, serial: st2.serial.wrapping_add(1000) }).await;
    assert_eq!(c.recv().await.unwrap(), Pdu::CacheReset { version: 1 });
    // RTR-3: another session ID on an established session is fatal.
    c.send(&Pdu::SerialQuery { version: 1, session: session.wrapping_add(9), serial: st2.serial }).await;
    assert_eq!(error_code(&c.recv().await.unwrap()), (1, 0));
    assert!(c.closed().await);

    // RTR-3: on a fresh connection an old session gets Cache Reset, then the full set.
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::SerialQuery { version: 1, session: session.wrapping_add(9), serial: st.serial }).await;
    assert_eq!(c.recv().await.unwrap(), Pdu::CacheReset { version: 1 });
    c.send(&Pdu::ResetQuery { version: 1 }).await;
    assert_eq!(c.response().await.0.len(), 100);
    let _ = s.stop.send(true);
}

#[tokio::test]
async fn rtr_14_versions_are_negotiated_and_then_fixed() {
    let mut s = start(ServerConfig::default()).await;
    let st = s.publish(vrps(3));
    for v in 0..=2u8 {
        let mut c = Client::connect(s.addr).await;
        c.send(&Pdu::ResetQuery { version: v }).await;
        let (items, eod) = c.response().await;
        assert!(items.iter().all(|p| p.version() == v) && items.len() == 3);
        let timers = (v > 0).then(Timers::default);
        assert_eq!(eod, Pdu::EndOfData { version: v, session: st.session(v), serial: st.serial, timers });
        // After negotiation another version is fatal: Error 8 (v1, v2) or 4 (v0).
        c.send(&Pdu::ResetQuery { version: (v + 1) % 3 }).await;
        let want = if v == 0 { 4 } else { 8 };
        assert_eq!(error_code(&c.recv().await.unwrap()), (v, want));
        assert!(c.closed().await);
    }
    // Version 3: Error 4 in version 2, not fatal; the router may go on in version 2.
    let mut c = Client::connect(s.addr).await;
    c.0.write_all(&[3, 2, 0, 0, 0, 0, 0, 8]).await.unwrap();
    c.0.flush().await.unwrap();
    assert_eq!(c.recv().await.unwrap().to_bytes()[..4], [2, 10, 0, 4]);
    c.send(&Pdu::ResetQuery { version: 2 }).await;
    assert_eq!(c.response().await.0.len(), 3);
    let _ = s.stop.send(true);
}

#[tokio::test]
async fn rtr_2_rtr_16_bad_input_gets_an_error_report_and_others_go_on() {
    let mut s = start(ServerConfig::default()).await;
    s.publish(vrps(5));
    let cases: [(&[u8], u16); 4] = [
        (&[1, 2, 0, 0, 0, 0, 0, 9, 0], 0),          // Reset Query of length 9
        (&[1, 2, 0, 0, 0, 0, 0, 7], 0),             // length 7
        (&[1, 4, 0, 0, 0xff, 0xff, 0xff, 0xff], 0), // 4 GiB: not read, not allocated
        (&[1, 42, 0, 0, 0, 0, 0, 8], 5),            // unknown type
    ];
    for (bytes, code) in cases {
        let mut c = Client::connect(s.addr).await;
        c.0.write_all(bytes).await.unwrap();
        c.0.flush().await.unwrap();
        let e = c.recv().await.unwrap();
        assert_eq!(error_code(&e), (1, code), "{bytes:?}");
        if code == 5 {
            assert!(matches!(&e, Pdu::ErrorReport { pdu, .. } if pdu == bytes), "a copy of the PDU: {e:?}");
        }
        assert!(c.closed().await, "{bytes:?}");
    }
    // A cache-to-router PDU sent by a router: Invalid Request.
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::CacheReset { version: 1 }).await;
    assert_eq!(error_code(&c.recv().await.unwrap()), (1, 3));
    // An Error Report from the router is never answered with one.
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::ErrorReport { version: 1, code: 1, pdu: vec![], text: "router trouble".into() }).await;
    assert!(c.closed().await);
    // A PDU split across TCP segments is read whole.
    let mut c = Client::connect(s.addr).await;
    for b in (Pdu::ResetQuery { version: 2 }).to_bytes() {
        c.0.write_all(&[b]).await.unwrap();
        c.0.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(c.response().await.0.len(), 5);
    let _ = s.stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtr_23_connect_and_close_and_500_idle_routers_cost_nothing() {
    let mut s = start(ServerConfig::default()).await;
    s.publish(vrps(1000));
    for _ in 0..1000 {
        drop(TcpStream::connect(s.addr).await.unwrap());
    }
    let mut idle = Vec::new();
    for _ in 0..500 {
        idle.push(TcpStream::connect(s.addr).await.unwrap());
    }
    // Some start a query and vanish mid-answer.
    for _ in 0..20 {
        let mut c = Client::connect(s.addr).await;
        c.send(&Pdu::ResetQuery { version: 1 }).await;
    }
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::ResetQuery { version: 2 }).await;
    assert_eq!(c.response().await.0.len(), 1000);
    let t0 = std::time::Instant::now();
    while s.clients.connected.load(std::sync::atomic::Ordering::Relaxed) != 501 {
        assert!(t0.elapsed() < Duration::from_secs(10), "{} connected", s.clients.connected.load(std::sync::atomic::Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(idle);
    let _ = s.stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtr_22_a_stuck_router_delays_nobody_and_is_dropped() {
    let cfg = ServerConfig { stall: Duration::from_secs(2), ..ServerConfig::default() };
    let mut s = start(cfg).await;
    s.publish(vrps(600_000));
    // This router asks for 12 MB, more than socket buffers hold, and never reads.
    let mut stuck = Client::connect(s.addr).await;
    stuck.send(&Pdu::ResetQuery { version: 1 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::ResetQuery { version: 1 }).await;
    assert_eq!(c.response().await.0.len(), 600_000);
    // After the stall bound the stuck one is gone.
    let t0 = std::time::Instant::now();
    while s.clients.connected.load(std::sync::atomic::Ordering::Relaxed) > 1 {
        assert!(t0.elapsed() < Duration::from_secs(15), "the stuck router is still connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = s.stop.send(true);
}

#[tokio::test]
async fn rtr_19_shutdown_sends_cache_shutdown_to_v2_routers() {
    let mut s = start(ServerConfig::default()).await;
    s.publish(vrps(2));
    let mut v2 = Client::connect(s.addr).await;
    v2.send(&Pdu::ResetQuery { version: 2 }).await;
    v2.response().await;
    let mut v1 = Client::connect(s.addr).await;
    v1.send(&Pdu::ResetQuery { version: 1 }).await;
    v1.response().await;
    let _ = s.stop.send(true);
    assert_eq!(error_code(&v2.recv().await.unwrap()), (2, 13));
    assert!(v2.closed().await);
    assert!(v1.closed().await, "v1 has no Cache Shutdown code: just closed");
}

#[tokio::test]
async fn rtr_13_notify_at_most_once_per_interval() {
    let cfg = ServerConfig { notify_interval: Duration::from_secs(2), ..ServerConfig::default() };
    let mut s = start(cfg).await;
    s.publish(vrps(1));
    let mut c = Client::connect(s.addr).await;
    c.send(&Pdu::ResetQuery { version: 1 }).await;
    c.response().await;
    let t0 = std::time::Instant::now();
    for n in 2..7 {
        s.publish(vrps(n));
    }
    let last = s.cache.current().unwrap().serial;
    // The first change is notified at once; the later ones together, after the interval.
    let mut notes = Vec::new();
    while notes.last() != Some(&last) {
        match c.recv().await.unwrap() {
            Pdu::SerialNotify { serial, .. } => notes.push(serial),
            p => panic!("{p:?}"),
        }
    }
    assert!(notes.len() <= 2, "{notes:?}");
    assert!(notes.len() == 1 || t0.elapsed() >= Duration::from_millis(1900), "{notes:?} in {:?}", t0.elapsed());
    let _ = s.stop.send(true);
}
