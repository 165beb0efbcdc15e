//! The RTR server (RFC 6810, RFC 8210, 8210bis): one task per router, so a
//! slow or stuck router delays nobody else (RTR-22, RTR-23). A reader task
//! frames PDUs (header first, RTR-2) and the session task answers them,
//! negotiates the version (RTR-14) and sends Serial Notify on new data (RTR-13).

use super::payload::{diff_items, full_items, Item};
use super::pdu::{self, error_report, ErrorCode, Header, Pdu, HEADER_LEN};
use super::state::State;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Routers served at once; more are refused at accept (RTR-23).
    pub max_clients: usize,
    /// A router that takes no data for this long is dropped (RTR-22: 3 × Retry).
    pub stall: Duration,
    /// At most one Serial Notify per session this often (RTR-13: a minute).
    pub notify_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { max_clients: 4096, stall: Duration::from_secs(1800), notify_interval: Duration::from_secs(60) }
    }
}

/// One connected router, for `/metrics` and `/status`.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub peer: SocketAddr,
    pub version: Option<u8>,
    /// The serial of the last End of Data sent.
    pub serial: Option<u32>,
}

/// Connected routers and counters, shared with the HTTP side.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    pub connected: AtomicUsize,
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub errors_sent: AtomicU64,
    pub table: Mutex<BTreeMap<u64, ClientInfo>>,
}

impl Clients {
    fn set(&self, id: u64, f: impl FnOnce(&mut ClientInfo)) {
        if let Some(c) = self.table.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&id) {
            f(c);
        }
    }
}

/// What the data source publishes: `None` until the first run completes (RTR-18).
pub type StateRx = watch::Receiver<Option<Arc<State>>>;

/// Accept routers until `shutdown` turns true. An accept error is logged and
/// the server goes on (RTR-23, CVE-2026-49232).
/// With `tls`, every router speaks TLS first (RTR-22: optional, port 324).
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    states: StateRx,
    cfg: ServerConfig,
    clients: Arc<Clients>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (sock, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("RTR accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        if clients.connected.load(Ordering::Relaxed) >= cfg.max_clients {
            clients.refused.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("RTR: refusing {peer}: {} routers connected already", cfg.max_clients);
            continue;
        }
        let _ = sock.set_nodelay(true);
        let _ = socket2::SockRef::from(&sock).set_keepalive(true);
        let id = clients.next_id.fetch_add(1, Ordering::Relaxed);
        clients.accepted.fetch_add(1, Ordering::Relaxed);
        clients.connected.fetch_add(1, Ordering::Relaxed);
        clients.table.lock().unwrap_or_else(|e| e.into_inner()).insert(id, ClientInfo { peer, version: None, serial: None });
        let (states, cfg, clients, shutdown, tls) = (states.clone(), cfg.clone(), clients.clone(), shutdown.clone(), tls.clone());
        tokio::spawn(async move {
            let result = match tls {
                None => {
                    let (rd, wr) = sock.into_split();
                    Session::new(id, wr, cfg, clients.clone()).run(rd, states, shutdown).await
                }
                Some(acceptor) => match tokio::time::timeout(Duration::from_secs(30), acceptor.accept(sock)).await {
                    Ok(Ok(stream)) => {
                        let (rd, wr) = tokio::io::split(stream);
                        Session::new(id, wr, cfg, clients.clone()).run(rd, states, shutdown).await
                    }
                    Ok(Err(e)) => Err(format!("TLS handshake: {e}")),
                    Err(_) => Err("TLS handshake timed out".into()),
                },
            };
            if let Err(e) = result {
                tracing::debug!("RTR {peer}: {e}");
            }
            clients.table.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            clients.connected.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// A framed PDU, or why framing stopped.
enum Frame {
    Pdu(Vec<u8>),
    /// A header no PDU can have (RTR-2): reported, then the session ends.
    Bad(Vec<u8>, String),
}

/// Read whole PDUs: the header, its length checked, then exactly the body.
async fn read_frames(mut rd: impl AsyncRead + Unpin, tx: mpsc::Sender<Frame>) {
    loop {
        let mut hdr = [0u8; HEADER_LEN];
        if rd.read_exact(&mut hdr).await.is_err() {
            return;
        }
        let h = Header::parse(&hdr);
        if h.length < HEADER_LEN as u32 || h.length > pdu::MAX_LENGTH {
            let _ = tx.send(Frame::Bad(hdr.to_vec(), format!("PDU length {} is outside 8..=65535", h.length))).await;
            return;
        }
        let mut pdu = hdr.to_vec();
        pdu.resize(h.length as usize, 0);
        if rd.read_exact(&mut pdu[HEADER_LEN..]).await.is_err() {
            return;
        }
        if tx.send(Frame::Pdu(pdu)).await.is_err() {
            return;
        }
    }
}

struct Session<W> {
    id: u64,
    wr: W,
    /// The negotiated version, fixed by the first query (RTR-14).
    version: Option<u8>,
    /// Whether a query was answered with our session on this connection (RTR-3).
    synced: bool,
    cfg: ServerConfig,
    clients: Arc<Clients>,
    out: Vec<u8>,
}

/// Why a session ended.
type End = String;

/// PDUs are written in chunks of about this size (RTR-22: several per segment,
/// and a bounded buffer per router).
const CHUNK: usize = 64 * 1024;

impl<W: AsyncWrite + Unpin> Session<W> {
    fn new(id: u64, wr: W, cfg: ServerConfig, clients: Arc<Clients>) -> Self {
        Session { id, wr, version: None, synced: false, cfg, clients, out: Vec::new() }
    }

    async fn run(
        &mut self,
        rd: impl AsyncRead + Unpin + Send + 'static,
        mut states: StateRx,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), End> {
        let (tx, mut rx) = mpsc::channel(4);
        let reader = tokio::spawn(read_frames(rd, tx));
        let result = async {
            states.borrow_and_update();
            let mut last_notify: Option<Instant> = None;
            let mut pending: Option<Instant> = None;
            loop {
                let notify_at = pending.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
                tokio::select! {
                    f = rx.recv() => match f {
                        Some(Frame::Pdu(b)) => self.handle(&b, &states).await?,
                        Some(Frame::Bad(b, why)) => return self.fatal(ErrorCode::CorruptData, &b, &why).await,
                        None => return Err("closed by the router".to_string()),
                    },
                    r = states.changed() => {
                        if r.is_err() {
                            return Err("data source gone".into());
                        }
                        states.borrow_and_update();
                        // RTR-13: only after negotiation, at most once per interval.
                        if self.version.is_some() && pending.is_none() {
                            let at = last_notify.map(|t| t + self.cfg.notify_interval).unwrap_or_else(Instant::now);
                            pending = Some(at.max(Instant::now()));
                        }
                    }
                    _ = tokio::time::sleep_until(notify_at), if pending.is_some() => {
                        pending = None;
                        last_notify = Some(Instant::now());
                        let state = states.borrow().clone();
                        if let (Some(v), Some(st)) = (self.version, state) {
                            Pdu::SerialNotify { version: v, session: st.session(v), serial: st.serial }.encode(&mut self.out);
                            self.flush().await?;
                        }
                    }
                    _ = shutdown.changed() => {
                        // RTR-19: v2 routers learn that the cache goes away.
                        if self.version == Some(2) {
                            error_report(2, ErrorCode::CacheShutdown, &[], "the cache is shutting down").encode(&mut self.out);
                            let _ = self.flush().await;
                        }
                        return Err("shutdown".into());
                    }
                }
            }
        }
        .await;
        reader.abort();
        let _ = self.wr.shutdown().await;
        result
    }

    async fn flush(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let r = tokio::time::timeout(self.cfg.stall, self.wr.write_all(&self.out)).await;
        self.out.clear();
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("write: {e}")),
            Err(_) => Err(format!("the router took no data for {:?} (RTR-22)", self.cfg.stall)),
        }
    }

    /// Send an Error Report (never in answer to one, RTR-16) and end the session.
    async fn fatal(&mut self, code: ErrorCode, offending: &[u8], why: &str) -> Result<(), End> {
        self.report(code, offending, why).await?;
        Err(format!("{why} (error {})", code as u16))
    }

    async fn report(&mut self, code: ErrorCode, offending: &[u8], why: &str) -> Result<(), End> {
        if offending.get(1) == Some(&pdu::kind::ERROR_REPORT) {
            return Ok(());
        }
        let v = self.version.unwrap_or(offending.first().copied().unwrap_or(0).min(pdu::MAX_VERSION));
        // RTR-17: a code the version does not define becomes the nearest one it does.
        let code = if code.defined_in(v) {
            code
        } else if code == ErrorCode::UnexpectedVersion {
            ErrorCode::UnsupportedVersion
        } else {
            ErrorCode::CorruptData
        };
        self.clients.errors_sent.fetch_add(1, Ordering::Relaxed);
        error_report(v, code, offending, why).encode(&mut self.out);
        self.flush().await
    }

    async fn handle(&mut self, b: &[u8], states: &StateRx) -> Result<(), End> {
        let Some(hdr) = b.first_chunk::<HEADER_LEN>() else { return Err("a frame shorter than a header".into()) };
        let h = Header::parse(hdr);
        match self.version {
            None if h.version > pdu::MAX_VERSION => {
                // RTR-14: answer in our highest version; in v2 this is not fatal.
                if h.kind != pdu::kind::ERROR_REPORT {
                    self.clients.errors_sent.fetch_add(1, Ordering::Relaxed);
                    let text = format!("version {} is not supported; the highest is {}", h.version, pdu::MAX_VERSION);
                    error_report(pdu::MAX_VERSION, ErrorCode::UnsupportedVersion, b, &text).encode(&mut self.out);
                    self.flush().await?;
                }
                return Ok(());
            }
            Some(v) if h.version != v => {
                if h.kind == pdu::kind::ERROR_REPORT {
                    return Err("an Error Report in another version".into());
                }
                let why = format!("version {} in a version {v} session", h.version);
                return self.fatal(ErrorCode::UnexpectedVersion, b, &why).await;
            }
            _ => {}
        }
        let pdu = match Pdu::decode(b) {
            Ok(p) => p,
            Err(e) if h.kind == pdu::kind::ERROR_REPORT => return Err(format!("invalid Error Report from the router: {e}")),
            Err(e) => return self.fatal(e.code, b, &e.text).await,
        };
        match pdu {
            Pdu::ResetQuery { version } => {
                self.negotiated(version);
                let state = states.borrow().clone();
                match state {
                    Some(st) => self.send_full(&st, version).await,
                    None => self.report(ErrorCode::NoDataAvailable, b, "no data yet: the first validation run is not complete").await,
                }
            }
            Pdu::SerialQuery { version, session, serial } => {
                self.negotiated(version);
                let state = states.borrow().clone();
                let Some(st) = state else {
                    return self.report(ErrorCode::NoDataAvailable, b, "no data yet: the first validation run is not complete").await;
                };
                if session != st.session(version) {
                    if self.synced {
                        return self.fatal(ErrorCode::CorruptData, b, "Serial Query with another session ID").await;
                    }
                    return self.cache_reset(version).await;
                }
                if serial == st.serial {
                    return self.send_items(&st, version, std::iter::empty()).await;
                }
                match st.diff_from(serial).cloned() {
                    Some(d) => self.send_items(&st, version, diff_items(&d, version)).await,
                    None => self.cache_reset(version).await,
                }
            }
            Pdu::ErrorReport { version, code, text, .. } => {
                tracing::info!("RTR: the router reports error {code}: {text}");
                match ErrorCode::from_u16(code) {
                    Some(c) if !c.is_fatal(version) => Ok(()),
                    _ => Err(format!("the router reported error {code}")),
                }
            }
            _ => {
                let why = format!("PDU type {} is not a router's to send", h.kind);
                self.fatal(ErrorCode::InvalidRequest, b, &why).await
            }
        }
    }

    fn negotiated(&mut self, version: u8) {
        if self.version.is_none() {
            self.version = Some(version);
            self.clients.set(self.id, |c| c.version = Some(version));
        }
    }

    async fn cache_reset(&mut self, version: u8) -> Result<(), End> {
        Pdu::CacheReset { version }.encode(&mut self.out);
        self.flush().await
    }

    async fn send_full(&mut self, st: &State, version: u8) -> Result<(), End> {
        let items = full_items(&st.snapshot, version);
        self.send_items(st, version, items).await
    }

    /// Cache Response, the payload PDUs, End of Data (RTR-6, RTR-11).
    async fn send_items<'a>(&mut self, st: &State, version: u8, items: impl Iterator<Item = Item<'a>>) -> Result<(), End> {
        let session = st.session(version);
        Pdu::CacheResponse { version, session }.encode(&mut self.out);
        for item in items {
            item.encode(version, &mut self.out);
            if self.out.len() >= CHUNK {
                self.flush().await?;
            }
        }
        pdu::end_of_data(&mut self.out, version, session, st.serial, &st.timers);
        self.flush().await?;
        self.synced = true;
        let serial = st.serial;
        self.clients.set(self.id, |c| c.serial = Some(serial));
        Ok(())
    }
}
