//! SoftHSM2 tokens for the tests of the PKCS#11 signer: each test gets a token
//! directory and configuration of its own (`SOFTHSM2_CONF`). SoftHSM2 is
//! installed once per run by the test script; a test installs it if it is
//! missing and it may (root), and under `CI=true` its absence fails the run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The module Debian's `softhsm2` installs.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const SO_PIN: &str = "5678";

/// An initialised token in a directory of its own.
pub struct Token {
    pub conf: PathBuf,
    pub label: String,
    pub pin: String,
    /// The user PIN in a file (mode 0600), as `--pkcs11-pin-file` takes it.
    pub pin_file: PathBuf,
}

/// SoftHSM2 is there (installed now if missing and we are root); `false`
/// means skip, which `CI=true` does not allow.
pub fn available() -> bool {
    if !Path::new(MODULE).exists() && crate::peers::is_root() {
        let st = Command::new(crate::peers::workspace().join("scripts/apt-install.sh")).arg("softhsm2").status();
        assert!(st.is_ok_and(|s| s.success()), "installing softhsm2 failed");
    }
    let there = Path::new(MODULE).exists();
    if !there {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "SoftHSM2 ({MODULE}) is missing: scripts/test.sh installs it");
        eprintln!("SKIPPED: SoftHSM2 is not installed (apt-get install softhsm2)");
    }
    there
}

impl Token {
    /// A fresh token `label` with user PIN `pin`, its files below `dir`.
    pub fn new(dir: &Path, label: &str, pin: &str) -> Token {
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(&conf, format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display()))
            .unwrap();
        let t = Token { conf, label: label.to_string(), pin: pin.to_string(), pin_file: dir.join(format!("{label}.pin")) };
        t.add_token(label, pin);
        std::fs::write(&t.pin_file, format!("{pin}\n")).unwrap();
        std::fs::set_permissions(&t.pin_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        t
    }

    /// Another token in the same configuration.
    pub fn add_token(&self, label: &str, pin: &str) {
        let out = self
            .util()
            .args(["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", pin])
            .output()
            .expect("softhsm2-util runs");
        assert!(out.status.success(), "softhsm2-util --init-token: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Remove a token (a token pulled out of the HSM).
    pub fn delete_token(&self, label: &str) {
        let out = self.util().args(["--delete-token", "--token", label]).output().expect("softhsm2-util runs");
        assert!(out.status.success(), "softhsm2-util --delete-token: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `softhsm2-util` on this token's configuration.
    pub fn util(&self) -> Command {
        let mut c = Command::new("softhsm2-util");
        c.env("SOFTHSM2_CONF", &self.conf);
        c
    }

    /// The token directory (SoftHSM2 keeps one folder per token in it).
    pub fn tokens_dir(&self) -> PathBuf {
        self.conf.parent().unwrap().join("tokens")
    }
}
