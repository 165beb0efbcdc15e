//! The local TLS of `rpkit up`: a private root and a server certificate for the
//! configured host (plus `localhost` and 127.0.0.1), so RRDP runs over real
//! HTTPS and the validator trusts exactly this root. Made once per data
//! directory; the root's key is not kept.

use crate::error::{CliError, Result};
use rpkit_serve::data_dir;
use std::path::{Path, PathBuf};

pub struct Files {
    /// The root certificate (PEM) a relying party is given.
    pub ca: PathBuf,
    /// Server certificate chain, leaf first.
    pub chain: PathBuf,
    /// The server's private key (mode 0600).
    pub key: PathBuf,
}

impl Files {
    pub fn in_dir(dir: &Path) -> Files {
        Files { ca: dir.join("ca.pem"), chain: dir.join("chain.pem"), key: dir.join("key.pem") }
    }
}

/// The files in `dir`, created when missing.
pub fn ensure(dir: &Path, host: &str) -> Result<Files> {
    let f = Files::in_dir(dir);
    if f.ca.exists() && f.chain.exists() && f.key.exists() {
        return Ok(f);
    }
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
    let e = |e: rcgen::Error| CliError::internal(format!("TLS certificate: {e}"));
    // Whole years around today: a root for ten years, the server for two.
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(CliError::internal)?.as_secs();
    let year = 1970 + (secs / 31_556_952) as i32;
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "rpkit up local root");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    ca.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let ca_cert = ca.self_signed(&ca_key).map_err(e)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().map_err(e)?;
    let mut names = vec![host.to_string()];
    if host != "localhost" {
        names.push("localhost".into());
    }
    let mut leaf = CertificateParams::new(names).map_err(e)?;
    leaf.subject_alt_names.push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    leaf.distinguished_name.push(DnType::CommonName, host);
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    leaf.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(e)?;
    data_dir::create_dir(dir, data_dir::PRIVATE_DIR).map_err(|err| CliError::io(dir, err))?;
    let write = |p: &Path, text: String, secret: bool| -> Result<()> {
        let written = if secret { data_dir::write_secret(p, text.as_bytes()) } else { std::fs::write(p, text) };
        written.map_err(|err| CliError::io(p, err))
    };
    write(&f.key, leaf_key.serialize_pem(), true)?;
    write(&f.chain, format!("{}{}", leaf_cert.pem(), ca_cert.pem()), false)?;
    // The root last: its presence says the set is complete.
    write(&f.ca, ca_cert.pem(), false)?;
    Ok(f)
}
