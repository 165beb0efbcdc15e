//! `rpkit up` as the tests run it: a scratch directory, free loopback ports,
//! and a start that waits until the system is up.

#![allow(dead_code)]

use crate::peers::{free_port, Proc};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rpkit");

/// An empty directory of this test process.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rpkit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Settings for a run on free ports (the RRDP port is kept for restarts: it is in the URIs).
pub fn port_settings() -> Vec<String> {
    ["ca.listen", "publication.listen", "publication.rrdp_listen", "validator.rtr", "validator.http"]
        .iter()
        .map(|k| format!("{k}=127.0.0.1:{}", free_port()))
        .collect()
}

pub struct Up {
    pub proc: Proc,
    pub json: Value,
}

/// Start `rpkit up` and wait for its up.json.
pub fn start(data: &Path, sets: &[String], log: &Path) -> Up {
    start_cmd(up_command(data, sets, None), data, log)
}

/// `rpkit up` on `data` with `sets`, under `umask` (a shell's `umask` operand) if given.
pub fn up_command(data: &Path, sets: &[String], umask: Option<&str>) -> Command {
    let mut cmd = match umask {
        Some(m) => {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("umask {m} && exec \"$0\" \"$@\""), BIN]);
            c
        }
        None => Command::new(BIN),
    };
    cmd.args(["up", "--data"]).arg(data).env("RPKIT_VALIDATOR_REFRESH_SECS", "1");
    for s in sets {
        cmd.args(["--set", s]);
    }
    cmd
}

/// Spawn `cmd` (an `rpkit up`) and wait for its up.json and its banner.
pub fn start_cmd(mut cmd: Command, data: &Path, log: &Path) -> Up {
    let mut proc = Proc::spawn(&mut cmd, log);
    let t0 = Instant::now();
    let up_json = data.join("up.json");
    while !up_json.exists() {
        if let Some(st) = proc.exited() {
            panic!("rpkit up exited ({st}) before it was up:\n{}", proc.log_text());
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "no up.json after 300 s:\n{}", proc.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    proc.wait_line("rpkit is up");
    let json = serde_json::from_str(&std::fs::read_to_string(&up_json).unwrap()).unwrap();
    Up { proc, json }
}
