//! CA settings: names, URIs and validity periods.

use crate::signer::SignerSettings;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct CaConfig {
    /// Base of every publication point: `rsync://HOST/MODULE/`.
    pub rsync_base: String,
    /// RRDP notification URI put in every CA certificate's SIA.
    pub rrdp_notify: Option<String>,
    /// https URI of the TA certificate, listed first in the TAL (TA-5).
    pub ta_https_uri: Option<String>,
    /// Handle of the trust anchor's publication point.
    pub ta_handle: String,
    /// Handle of the RIR's online CA.
    pub rir_handle: String,
    /// Validity of the TA certificate (TA-9: at most a year).
    pub ta_validity_days: i64,
    /// Validity of CA certificates (RIR CA and member CAs).
    pub ca_validity_days: i64,
    /// Validity of ROA and ASPA EE certificates.
    pub ee_validity_days: i64,
    /// Manifest and CRL nextUpdate, after thisUpdate.
    pub next_update_secs: i64,
    /// Re-issue a manifest and CRL when less than this remains before nextUpdate.
    pub reissue_margin_secs: i64,
    /// Renew certificates (CA, ROA, ASPA) when less than this remains.
    pub renew_before_days: i64,
    /// notBefore and thisUpdate lie this far in the past, for clock skew.
    pub backdate_secs: i64,
    /// A member's ROAs hold one prefix each (RFC 9455) until it has this many;
    /// from there, one ROA per ASN holds up to `roa_max_prefixes` (ROA-10, MFT-20).
    pub roa_aggregate_threshold: usize,
    /// Back to one prefix per ROA below this many (at most the threshold).
    pub roa_deaggregate_threshold: usize,
    /// Most prefixes in one aggregated ROA.
    pub roa_max_prefixes: usize,
    /// One-time keys kept ready in the pool (generated in the background on all cores).
    pub key_pool_target: usize,
    /// Most keys per background fill round (and at most one per core, so that
    /// requests never queue behind a long round).
    pub key_pool_batch: usize,
    /// API requests a second per token (and per client address without a
    /// valid token), on average; 0 turns the limit off.
    pub api_rate_per_sec: u32,
    /// API requests a token may make in a burst.
    pub api_rate_burst: u32,
    /// Largest API request body (a whole ROA set of 100,000 entries is about 7 MB).
    pub api_max_body_bytes: usize,
    /// Largest delegated-extended file an import takes.
    pub api_max_import_bytes: usize,
    /// Where the CA's keys live (software, or a PKCS#11 token).
    pub signer: SignerSettings,
    /// A key roll's staging time: how long the next key is published, certified
    /// but unused, before it takes over (RFC 6489 section 2 asks for 24 hours).
    pub keyroll_staging_seconds: i64,
    /// Roll every CA key (RIR and members) this many days after it took over;
    /// 0 turns scheduled rolls off.
    pub keyroll_interval_days: i64,
    /// Most CAs a scheduled or migration roll starts or activates in one change,
    /// so that many rolls are spread over the key pool and the repository.
    pub keyroll_batch: usize,
    /// The trust anchor is offline, reached by signed files (`offline_ta.rs`):
    /// this CA never signs as the TA.
    pub ta_offline: bool,
    /// How long a request to the offline TA (and its answer) stays valid.
    pub ta_request_validity_days: i64,
    /// Warn this long before the offline TA's manifest and CRL run out: the
    /// next signing session is due then.
    pub ta_warn_days: i64,
    /// A TA key roll's staging time (RFC 9691): how long the successor key is
    /// announced in TAK objects before it takes over. Relying parties that
    /// follow TAKs wait 30 days before they move; the default gives them that.
    pub ta_keyroll_staging_seconds: i64,
    /// Where delegated children reach this CA over RFC 6492, as their
    /// parent_response names it: `BASE/rfc6492/HANDLE`. Unset, the address the
    /// operator's `add-child` request came to is used.
    pub updown_base_uri: Option<String>,
    /// Up-down messages a child may send a minute.
    pub updown_rate_per_minute: u32,
    /// Certificates a child may hold at once in its class: its current key and
    /// the next one of a key roll (RFC 6489).
    pub updown_max_keys: usize,
    /// This CA's top CA is the child of a parent reached over RFC 6492 (an
    /// RIR's CA, Krill): no trust anchor here (`parent.rs`).
    pub updown_parent: bool,
    /// Seconds between syncs with that parent (each with up to a fifth more, at random).
    pub updown_sync_secs: u64,
    /// PEM files of TLS roots trusted besides the public ones: an https
    /// parent's, and the RRDP servers of delegated children's repositories.
    pub tls_roots: Vec<String>,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            rsync_base: "rsync://rpki.test/repo/".into(),
            rrdp_notify: Some("https://rpki.test/rrdp/notification.xml".into()),
            ta_https_uri: Some("https://rpki.test/repo/ta.cer".into()),
            ta_handle: "ta".into(),
            rir_handle: "rir".into(),
            ta_validity_days: 365,
            ca_validity_days: 365,
            ee_validity_days: 365,
            next_update_secs: 24 * 3600,
            reissue_margin_secs: 8 * 3600,
            renew_before_days: 30,
            backdate_secs: 300,
            roa_aggregate_threshold: 10_000,
            roa_deaggregate_threshold: 9_000,
            roa_max_prefixes: 500,
            key_pool_target: 64,
            key_pool_batch: 16,
            api_rate_per_sec: 50,
            api_rate_burst: 500,
            api_max_body_bytes: 16 << 20,
            api_max_import_bytes: 64 << 20,
            signer: SignerSettings::default(),
            keyroll_staging_seconds: 24 * 3600,
            keyroll_interval_days: 0,
            keyroll_batch: 100,
            ta_offline: false,
            ta_request_validity_days: 14,
            ta_warn_days: 7,
            ta_keyroll_staging_seconds: 30 * 86400,
            updown_base_uri: None,
            updown_rate_per_minute: 60,
            updown_max_keys: 2,
            updown_parent: false,
            updown_sync_secs: 600,
            tls_roots: Vec::new(),
        }
    }
}

impl CaConfig {
    /// `rsync://HOST/MODULE/<handle>/`
    pub fn pp_uri(&self, handle: &str) -> String {
        format!("{}{handle}/", self.rsync_base)
    }

    /// rsync URI of the TA certificate (outside every publication point).
    pub fn ta_cert_uri(&self) -> String {
        format!("{}{}.cer", self.rsync_base, self.ta_handle)
    }

    /// A TAL's URIs for the TA certificate at rsync URI `rsync`: https first
    /// (the configured https URI's directory, the same file name), then rsync (TA-5).
    pub fn ta_uris(&self, rsync: &str) -> Vec<String> {
        let name = rsync.rsplit('/').next().unwrap_or_default();
        let https = self.ta_https_uri.as_ref().and_then(|u| u.rsplit_once('/')).map(|(dir, _)| format!("{dir}/{name}"));
        https.into_iter().chain([rsync.to_string()]).collect()
    }
}
