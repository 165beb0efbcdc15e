//! The cache's serial state (RTR-3, RTR-4, RTR-5): a random session per
//! start, a serial that grows by one per changed run and wraps (RFC 1982),
//! and for each of the last `keep` serials the minimal change from it to now.

use super::payload::{Diff, Snapshot};
use super::pdu::Timers;
use std::sync::Arc;

/// What the server answers from at one moment: immutable, shared.
#[derive(Debug)]
pub struct State {
    session_base: u16,
    pub serial: u32,
    pub snapshot: Arc<Snapshot>,
    /// (older serial, change from it to `serial`), newest first.
    pub history: Vec<(u32, Arc<Diff>)>,
    pub timers: Timers,
}

impl State {
    /// The session ID of a version: one per version, so that an ID is never
    /// shared across protocol versions (RTR-3).
    pub fn session(&self, version: u8) -> u16 {
        self.session_base.wrapping_add(version as u16)
    }

    /// The change from `serial` to now; `None` when it is not kept (Cache Reset).
    pub fn diff_from(&self, serial: u32) -> Option<&Arc<Diff>> {
        self.history.iter().find(|(s, _)| *s == serial).map(|(_, d)| d)
    }
}

/// RFC 1982 §3.2 for 32-bit serials: whether `a` precedes `b`.
pub fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

/// A random 16-bit session ID, never derived from the clock (RTR-3).
pub fn random_session() -> u16 {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 2];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        // The standard library's per-process random hash keys, as a fallback.
        use std::hash::{BuildHasher, Hasher};
        return std::collections::hash_map::RandomState::new().build_hasher().finish() as u16;
    }
    u16::from_be_bytes(b)
}

/// Builds the successive states.
pub struct Cache {
    current: Option<Arc<State>>,
    session_base: u16,
    first_serial: u32,
    keep: usize,
    timers: Timers,
}

impl Cache {
    /// `keep`: how many older serials get an incremental answer.
    pub fn new(keep: usize, timers: Timers) -> Cache {
        Cache { current: None, session_base: random_session(), first_serial: 0, keep, timers }
    }

    /// Start counting at `serial` (to exercise the wrap in tests).
    pub fn starting_at(mut self, serial: u32) -> Cache {
        self.first_serial = serial;
        self
    }

    pub fn current(&self) -> Option<&Arc<State>> {
        self.current.as_ref()
    }

    /// Take a complete new payload set. Returns the new state when it differs
    /// from the current one (the serial then grows by one), else `None`.
    pub fn update(&mut self, snapshot: Snapshot) -> Option<Arc<State>> {
        let next = match &self.current {
            None => State {
                session_base: self.session_base,
                serial: self.first_serial,
                snapshot: Arc::new(snapshot),
                history: Vec::new(),
                timers: self.timers,
            },
            Some(cur) => {
                let diff = Diff::between(&cur.snapshot, &snapshot);
                if diff.is_empty() {
                    return None;
                }
                let mut history = Vec::with_capacity(self.keep);
                if self.keep > 0 {
                    history.push((cur.serial, Arc::new(diff.clone())));
                    history.extend(cur.history.iter().take(self.keep - 1).map(|(s, d)| (*s, Arc::new(d.then(&diff)))));
                }
                State {
                    session_base: self.session_base,
                    serial: cur.serial.wrapping_add(1),
                    snapshot: Arc::new(snapshot),
                    history,
                    timers: self.timers,
                }
            }
        };
        let next = Arc::new(next);
        self.current = Some(next.clone());
        Some(next)
    }
}
