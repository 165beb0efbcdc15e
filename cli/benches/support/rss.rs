//! Resident memory of a benchmarked process tree, read from /proc.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Resident memory of a process and all its descendants, in KiB.
pub fn tree_rss(root: u32) -> u64 {
    let mut parent: BTreeMap<u32, u32> = BTreeMap::new();
    let mut rss: BTreeMap<u32, u64> = BTreeMap::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // Fields after the parenthesised command: state, ppid, ...
        let Some(after) = stat.rsplit_once(')').map(|(_, a)| a) else { continue };
        let ppid = after.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
        let pages: u64 = std::fs::read_to_string(e.path().join("statm"))
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        parent.insert(pid, ppid);
        rss.insert(pid, pages * 4);
    }
    let in_tree = |mut p: u32| {
        for _ in 0..64 {
            if p == root {
                return true;
            }
            match parent.get(&p) {
                Some(&pp) if pp != 0 => p = pp,
                _ => return false,
            }
        }
        false
    };
    rss.iter().filter(|(p, _)| in_tree(**p)).map(|(_, r)| r).sum()
}

/// Samples a server's RSS every 50 ms until dropped; `peak` in KiB.
#[allow(dead_code)]
pub struct RssWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

#[allow(dead_code)]
impl RssWatch {
    pub fn start(pid: u32) -> RssWatch {
        let (peak, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(tree_rss(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssWatch { peak, stop }
    }
    pub fn peak_mib(&self) -> f64 {
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
