//! A lean RTR v1 router for the benchmark: Reset Query, then Serial Notify →
//! Serial Query, applying announcements and withdrawals to a count and an
//! order-free checksum (and, when asked, to the whole set). PDUs are framed
//! out of 64 KiB reads and decoded by rpkit's strict decoder.

use rpkit_validator::rtr::pdu::Pdu;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Vrp {
    pub v6: bool,
    pub addr: u128,
    pub len: u8,
    pub max: u8,
    pub asn: u32,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash(v: &Vrp) -> u64 {
    let tail = ((v.v6 as u64) << 48) | ((v.len as u64) << 40) | ((v.max as u64) << 32) | v.asn as u64;
    mix(mix(mix(v.addr as u64) ^ (v.addr >> 64) as u64) ^ tail)
}

/// Sum of the VRPs' hashes: equal sets, equal sums, whatever the order.
pub fn checksum<'a>(vrps: impl Iterator<Item = &'a Vrp>) -> u64 {
    vrps.fold(0u64, |s, v| s.wrapping_add(hash(v)))
}

pub struct Router {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    session: u16,
    pub serial: u32,
    n: usize,
    pub sum: u64,
    pub set: Option<BTreeSet<Vrp>>,
}

impl Router {
    /// Connect and complete a Reset Query; `keep_set` keeps every VRP.
    pub async fn sync(addr: &str, keep_set: bool) -> Result<Router, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("{addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut r = Router {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            session: 0,
            serial: 0,
            n: 0,
            sum: 0,
            set: keep_set.then(BTreeSet::new),
        };
        r.send(Pdu::ResetQuery { version: 1 }).await?;
        r.until_end_of_data().await?;
        Ok(r)
    }

    pub async fn sync_owned(addr: String, keep_set: bool) -> Result<Router, String> {
        Router::sync(&addr, keep_set).await
    }

    pub fn count(&self) -> usize {
        self.n
    }

    /// Wait for Serial Notify of a new serial, query it and apply the
    /// answer; returns when it was applied and when the notify came.
    pub async fn follow(mut self, limit: Duration) -> Result<(Router, Instant, Instant), String> {
        let work = async {
            loop {
                if let Pdu::SerialNotify { serial, .. } = self.next().await? {
                    if serial == self.serial {
                        continue;
                    }
                    let notified = Instant::now();
                    self.send(Pdu::SerialQuery { version: 1, session: self.session, serial: self.serial }).await?;
                    self.until_end_of_data().await?;
                    return Ok::<_, String>((Instant::now(), notified));
                }
            }
        };
        let (applied, notified) = tokio::time::timeout(limit, work).await.map_err(|_| "no new data within the limit".to_string())??;
        Ok((self, applied, notified))
    }

    async fn send(&mut self, p: Pdu) -> Result<(), String> {
        self.stream.write_all(&p.to_bytes()).await.map_err(|e| e.to_string())
    }

    async fn until_end_of_data(&mut self) -> Result<(), String> {
        loop {
            match self.next().await? {
                Pdu::CacheResponse { session, .. } => self.session = session,
                Pdu::Ipv4Prefix { announce, prefix_len, max_len, addr, asn, .. } => {
                    self.apply(announce, Vrp { v6: false, addr: addr as u128, len: prefix_len, max: max_len, asn })
                }
                Pdu::Ipv6Prefix { announce, prefix_len, max_len, addr, asn, .. } => {
                    self.apply(announce, Vrp { v6: true, addr, len: prefix_len, max: max_len, asn })
                }
                Pdu::EndOfData { serial, .. } => {
                    self.serial = serial;
                    return Ok(());
                }
                Pdu::CacheReset { .. } => return Err("Cache Reset instead of an incremental answer".into()),
                Pdu::ErrorReport { code, text, .. } => return Err(format!("Error Report {code}: {text}")),
                _ => {}
            }
        }
    }

    fn apply(&mut self, announce: bool, v: Vrp) {
        let h = hash(&v);
        if announce {
            self.n += 1;
            self.sum = self.sum.wrapping_add(h);
            if let Some(s) = &mut self.set {
                s.insert(v);
            }
        } else {
            self.n -= 1;
            self.sum = self.sum.wrapping_sub(h);
            if let Some(s) = &mut self.set {
                s.remove(&v);
            }
        }
    }

    /// The next PDU, framed out of the read buffer.
    async fn next(&mut self) -> Result<Pdu, String> {
        loop {
            let have = &self.buf[self.start..];
            if have.len() >= 8 {
                let len = u32::from_be_bytes([have[4], have[5], have[6], have[7]]) as usize;
                if !(8..=65_535).contains(&len) {
                    return Err(format!("PDU length {len}"));
                }
                if have.len() >= len {
                    let pdu = Pdu::decode(&have[..len]).map_err(|e| e.to_string())?;
                    self.start += len;
                    return Ok(pdu);
                }
            }
            // Keep the partial PDU, read more behind it.
            self.buf.drain(..self.start);
            self.start = 0;
            let old = self.buf.len();
            self.buf.resize(old + 64 * 1024, 0);
            let got = self.stream.read(&mut self.buf[old..]).await.map_err(|e| e.to_string())?;
            self.buf.truncate(old + got);
            if got == 0 {
                return Err("the server closed the connection".into());
            }
        }
    }
}
