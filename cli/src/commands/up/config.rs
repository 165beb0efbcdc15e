//! The settings of `rpkit up`: one TOML file, `DATA/rpkit.toml`, over built-in
//! defaults; each key can be overridden by an environment variable
//! (`RPKIT_<SECTION>_<KEY>`, e.g. `RPKIT_VALIDATOR_REFRESH_SECS=5`) and by a
//! flag (`--set validator.refresh_secs=5`), in that order of precedence.
//! `rpkit config` prints the effective result.

use crate::error::{CliError, Result};
use rpkit_ca::signer::SignerSettings;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Everything `rpkit up` runs with.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(default, deny_unknown_fields)]
pub struct UpConfig {
    /// Host name in every URI the CA certifies (RRDP, rsync, the TAL); the TLS
    /// certificate covers it. Fixed when DATA is first set up.
    pub host: String,
    pub ca: CaSection,
    pub publication: PublicationSection,
    pub validator: ValidatorSection,
    pub demo: DemoSection,
    /// Where the CA's keys live: software, or a PKCS#11 token (an HSM).
    pub signer: SignerSettings,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct CaSection {
    /// REST API address.
    pub listen: String,
    /// Seconds between checks for manifests, CRLs and certificates due for re-issue.
    pub reissue_interval_secs: u64,
    /// One-time keys kept ready (generated in the background).
    pub key_pool: usize,
    /// A key roll's staging time (RFC 6489: 24 hours); `rpkit members keyroll`.
    pub keyroll_staging_seconds: i64,
    /// Roll every CA key this many days after it took over; 0: only on request.
    pub keyroll_interval_days: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct PublicationSection {
    /// RFC 8181 and the operator API (plain HTTP, loopback).
    pub listen: String,
    /// RRDP and the TA certificate over HTTPS; its port goes into the URIs.
    pub rrdp_listen: String,
    /// Milliseconds between RRDP serials at most.
    pub interval_ms: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSection {
    /// RTR (RFC 8210) address.
    pub rtr: String,
    /// HTTP address: /json, /csv, /api/v1/validity, /metrics, /status, /health.
    pub http: String,
    /// Seconds between validation runs; also the RTR Refresh timer.
    pub refresh_secs: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct DemoSection {
    /// A delegated-extended file to import instead of the bundled demo RIR's.
    pub delegated: Option<PathBuf>,
    /// The member whose token `rpkit up` prints.
    pub member: String,
}

impl Default for UpConfig {
    fn default() -> Self {
        UpConfig {
            host: "localhost".into(),
            ca: CaSection {
                listen: "127.0.0.1:3000".into(),
                reissue_interval_secs: 60,
                key_pool: 8,
                keyroll_staging_seconds: 24 * 3600,
                keyroll_interval_days: 0,
            },
            publication: PublicationSection { listen: "127.0.0.1:8181".into(), rrdp_listen: "127.0.0.1:8443".into(), interval_ms: 500 },
            validator: ValidatorSection { rtr: "127.0.0.1:3323".into(), http: "127.0.0.1:8323".into(), refresh_secs: 2 },
            demo: DemoSection { delegated: None, member: "demo-isp".into() },
            signer: SignerSettings::default(),
        }
    }
}

impl UpConfig {
    /// Port of the RRDP listener, which the URIs carry.
    pub fn rrdp_port(&self) -> Result<u16> {
        let port = self.publication.rrdp_listen.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok());
        port.filter(|p| *p != 0).ok_or_else(|| {
            CliError::input(format!(
                "publication.rrdp_listen = {:?}: want HOST:PORT with a fixed port (it goes into the URIs)",
                self.publication.rrdp_listen
            ))
        })
    }
    /// `https://HOST:PORT/`: RRDP below `rrdp/`, objects at their rsync paths.
    pub fn https_base(&self) -> Result<String> {
        Ok(format!("https://{}:{}/", self.host, self.rrdp_port()?))
    }
    pub fn rsync_base(&self) -> String {
        format!("rsync://{}/repo/", self.host)
    }
}

/// The file's path in a data directory.
pub fn path(data: &Path) -> PathBuf {
    data.join("rpkit.toml")
}

/// Defaults, then `DATA/rpkit.toml`, then the environment, then `--set` flags.
pub fn load(data: &Path, sets: &[String]) -> Result<UpConfig> {
    let mut doc = toml::Table::try_from(UpConfig::default()).map_err(CliError::internal)?;
    let file = path(data);
    if let Ok(text) = std::fs::read_to_string(&file) {
        let t: toml::Table = text.parse().map_err(|e| CliError::parse(&file, e))?;
        merge(&mut doc, t);
        // Unknown keys and wrong types are named here, with the file.
        UpConfig::deserialize(toml::Value::Table(doc.clone())).map_err(|e| CliError::parse(&file, e))?;
    }
    for (key, value) in leaves(&UpConfig::default())? {
        let var = format!("RPKIT_{}", key.replace('.', "_").to_uppercase());
        if let Ok(v) = std::env::var(&var) {
            set(&mut doc, &key, &v, &value).map_err(|e| e.during(var))?;
        }
    }
    let known = leaves(&UpConfig::default())?;
    for s in sets {
        let (key, v) =
            s.split_once('=').ok_or_else(|| CliError::input(format!("--set {s}: want KEY=VALUE, e.g. validator.refresh_secs=5")))?;
        let key = key.trim();
        let like = known.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).ok_or_else(|| {
            let all = known.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ");
            CliError::input(format!("--set {s}: no setting {key:?} (settings: {all})"))
        })?;
        set(&mut doc, key, v.trim(), &like).map_err(|e| e.during(format!("--set {s}")))?;
    }
    UpConfig::deserialize(toml::Value::Table(doc)).map_err(|e| CliError::input(e.to_string()))
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Every setting as `section.key` with its default value (options without a
/// default count as strings).
fn leaves(c: &UpConfig) -> Result<Vec<(String, toml::Value)>> {
    let t = toml::Table::try_from(c).map_err(CliError::internal)?;
    let mut out = Vec::new();
    for (k, v) in t {
        match v {
            toml::Value::Table(inner) => out.extend(inner.into_iter().map(|(k2, v2)| (format!("{k}.{k2}"), v2))),
            v => out.push((k, v)),
        }
    }
    for optional in ["demo.delegated", "signer.module", "signer.token_label", "signer.pin_file"] {
        out.push((optional.into(), toml::Value::String(String::new())));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// Set `section.key` to `text`, read as the type of `like`.
fn set(doc: &mut toml::Table, key: &str, text: &str, like: &toml::Value) -> Result<()> {
    let not = |what: &str| CliError::input(format!("{text:?} is not {what}"));
    let value = match like {
        toml::Value::Integer(_) => toml::Value::Integer(text.parse().map_err(|_| not("a whole number"))?),
        toml::Value::Boolean(_) => toml::Value::Boolean(text.parse().map_err(|_| not("true or false"))?),
        _ => toml::Value::String(text.to_string()),
    };
    let mut table = doc;
    let mut parts = key.split('.').peekable();
    while let Some(p) = parts.next() {
        if parts.peek().is_none() {
            table.insert(p.to_string(), value);
            return Ok(());
        }
        table = match table.entry(p.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new())) {
            toml::Value::Table(t) => t,
            _ => return Err(CliError::input(format!("{p} is not a section"))),
        };
    }
    Ok(())
}

/// The file written on first `rpkit up`: every setting at its default, commented.
pub fn template() -> String {
    let d = UpConfig::default();
    format!(
        "# rpkit up: settings. Each key can be overridden by RPKIT_<SECTION>_<KEY> in the\n\
         # environment or by `--set section.key=value`; `rpkit config` prints the result.\n\
         \n\
         # Host name in the certified URIs (RRDP, rsync, TAL). Fixed once the CA exists.\n\
         host = {:?}\n\
         \n\
         [ca]\n\
         listen = {:?}                # REST API\n\
         reissue_interval_secs = {}   # checks for manifests/CRLs due for re-issue\n\
         key_pool = {}                 # one-time keys kept ready\n\
         \n\
         [publication]\n\
         listen = {:?}                # RFC 8181 and operator API (plain HTTP)\n\
         rrdp_listen = {:?}           # RRDP over HTTPS; its port is in the URIs\n\
         interval_ms = {}             # at most one RRDP serial per interval\n\
         \n\
         [validator]\n\
         rtr = {:?}                   # RTR for routers\n\
         http = {:?}                  # /json /api/v1/validity /metrics /status\n\
         refresh_secs = {}              # seconds between validation runs\n\
         \n\
         [demo]\n\
         member = {:?}               # the member whose token is printed\n\
         # delegated = \"/path/to/delegated-extended\"   # instead of the bundled demo RIR\n\
         \n\
         [signer]\n\
         kind = {:?}              # or \"pkcs11\": the CA's keys in an HSM\n\
         one_time_keys = {:?}     # ROA, ASPA and manifest EE keys: \"software\" or \"hsm\"\n\
         # module = \"/usr/lib/softhsm/libsofthsm2.so\"   # the HSM vendor's PKCS#11 library\n\
         # token_label = \"rpkit\"\n\
         # pin_file = \"/etc/rpkit/hsm.pin\"\n",
        d.host,
        d.ca.listen,
        d.ca.reissue_interval_secs,
        d.ca.key_pool,
        d.publication.listen,
        d.publication.rrdp_listen,
        d.publication.interval_ms,
        d.validator.rtr,
        d.validator.http,
        d.validator.refresh_secs,
        d.demo.member,
        "software",
        "software",
    )
}

/// Where `rpkit up` keeps its state without `--data`: `$XDG_DATA_HOME/rpkit/up`,
/// else `~/.local/share/rpkit/up`, else `./rpkit-up`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("rpkit/up");
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/rpkit/up"),
        None => PathBuf::from("rpkit-up"),
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Data directory of `rpkit up` (default: $XDG_DATA_HOME/rpkit/up or ~/.local/share/rpkit/up).
    #[arg(long, env = "RPKIT_UP_DATA")]
    pub data: Option<PathBuf>,
    /// Override a setting: `section.key=value` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// toml or json.
    #[arg(long, default_value = "toml", value_parser = ["toml", "json"])]
    pub format: String,
}

/// `rpkit config`: the effective settings of `rpkit up` for a data directory.
pub fn run(a: Args) -> Result<ExitCode> {
    let data = a.data.unwrap_or_else(default_data_dir);
    let c = load(&data, &a.sets)?;
    if a.format == "json" {
        super::super::print_json(&c)?;
    } else {
        println!("# effective settings for {} (defaults < {} < RPKIT_* < --set)", data.display(), path(&data).display());
        print!("{}", toml::to_string(&c).map_err(CliError::internal)?);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_env_and_flags_override_in_order() {
        let d = std::env::temp_dir().join(format!("rpkit-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(path(&d), "[validator]\nrefresh_secs = 7\nrtr = \"127.0.0.1:9999\"\n[ca]\nkey_pool = 3\n").unwrap();
        let c = load(&d, &[]).unwrap();
        assert_eq!((c.validator.refresh_secs, c.validator.rtr.as_str(), c.ca.key_pool), (7, "127.0.0.1:9999", 3));
        assert_eq!(c.ca.listen, "127.0.0.1:3000", "untouched keys keep their default");
        let c = load(&d, &["validator.refresh_secs=9".into(), "host=rpki.example".into()]).unwrap();
        assert_eq!((c.validator.refresh_secs, c.host.as_str()), (9, "rpki.example"));
        for (bad, want) in [
            ("validator.refresh=9", "no setting \"validator.refresh\""),
            ("validator.refresh_secs=soon", "is not a whole number"),
            ("novalue", "want KEY=VALUE"),
        ] {
            let e = load(&d, &[bad.into()]).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
        std::fs::write(path(&d), "[validator]\nrefresh = 7\n").unwrap();
        let e = load(&d, &[]).unwrap_err().to_string();
        assert!(e.contains("rpkit.toml") && e.contains("refresh"), "{e}");
        std::fs::write(path(&d), template()).unwrap();
        let t = load(&d, &[]).unwrap();
        assert_eq!(toml::to_string(&t).unwrap(), toml::to_string(&UpConfig::default()).unwrap(), "the template holds the defaults");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
