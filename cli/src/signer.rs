//! Where the CA's keys live, from the command line: `--pkcs11-module PATH
//! --pkcs11-token LABEL --pkcs11-pin-file FILE` (or `RPKIT_PKCS11_MODULE`,
//! `RPKIT_PKCS11_TOKEN`, `RPKIT_PKCS11_PIN_FILE`) put the CA's keys in an HSM;
//! without them the keys are in software. The settings are kept in the CA's
//! `ca.json` (the PIN stays in its file).

use crate::error::{CliError, Result};
use rpkit_ca::signer::{OneTimeKeys, SignerKind, SignerSettings};
use rpkit_objects::crypto::{Pkcs11Signer, SignError, Signer};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct SignerArgs {
    /// The HSM vendor's PKCS#11 library: the CA's keys are made and kept in its token.
    #[arg(long, env = "RPKIT_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the token holding the CA's keys.
    #[arg(long, env = "RPKIT_PKCS11_TOKEN")]
    pub pkcs11_token: Option<String>,
    /// A file holding the token's user PIN (mode 0600).
    #[arg(long, env = "RPKIT_PKCS11_PIN_FILE")]
    pub pkcs11_pin_file: Option<PathBuf>,
    /// Where one-time EE keys (ROAs, ASPAs, manifests) are made: in software
    /// (default, as Krill does) or in the HSM.
    #[arg(long, value_parser = ["software", "hsm"])]
    pub one_time_keys: Option<String>,
}

/// The HSM of `settings`, opened, for the keys outside the CA's database (its
/// RFC 8181/8183 identity); `None` with software keys.
pub fn token(settings: &SignerSettings) -> Result<Option<Arc<dyn Signer>>> {
    let err = |e: SignError| CliError::Ca(rpkit_ca::CaError::Sign(e));
    let token = settings.pkcs11().map_err(err)?.map(Pkcs11Signer::open).transpose().map_err(err)?;
    Ok(token.map(|t| Arc::new(t) as Arc<dyn Signer>))
}

impl SignerArgs {
    /// Whether any flag was given.
    pub fn given(&self) -> bool {
        self.pkcs11_module.is_some() || self.pkcs11_token.is_some() || self.pkcs11_pin_file.is_some() || self.one_time_keys.is_some()
    }

    /// `settings` with the flags applied: all three PKCS#11 flags, or none.
    pub fn apply(&self, settings: &mut SignerSettings) -> Result<()> {
        match (&self.pkcs11_module, &self.pkcs11_token, &self.pkcs11_pin_file) {
            (Some(m), Some(t), Some(p)) => {
                let pin_file = std::path::absolute(p).map_err(|e| CliError::io(p, e))?;
                let module = std::path::absolute(m).map_err(|e| CliError::io(m, e))?;
                *settings = SignerSettings {
                    kind: SignerKind::Pkcs11,
                    module: Some(module),
                    token_label: Some(t.clone()),
                    pin_file: Some(pin_file),
                    ..settings.clone()
                };
            }
            (None, None, None) => {}
            _ => {
                return Err(CliError::input(
                    "--pkcs11-module, --pkcs11-token and --pkcs11-pin-file go together (or RPKIT_PKCS11_MODULE, _TOKEN, _PIN_FILE)",
                ))
            }
        }
        match self.one_time_keys.as_deref() {
            Some("hsm") => settings.one_time_keys = OneTimeKeys::Hsm,
            Some(_) => settings.one_time_keys = OneTimeKeys::Software,
            None => {}
        }
        Ok(())
    }
}
