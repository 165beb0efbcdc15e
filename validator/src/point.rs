//! A CA's publication point read through its manifest (RFC 9286 §6): the
//! manifest valid and current, every listed file present with its hash, exactly
//! one valid current CRL. Any failure fails the whole point (MFT-13); the
//! caller then falls back to the last validated copy (MFT-14). A new manifest
//! must also move forward from the cached one (MFT-16).

use crate::store::Store;
use rpkit_objects::crl::Crl;
use rpkit_objects::crypto::sha256;
use rpkit_objects::der::Time;
use rpkit_objects::file_type::FileType;
use rpkit_objects::manifest::Manifest;
use rpkit_objects::serial::Serial;
use rpkit_objects::valid_ca::ValidCa;
use std::collections::BTreeMap;

/// Why a point failed: the URI at fault, the rule and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{uri}: {detail} [{rule}]")]
pub struct Failure {
    pub uri: String,
    pub rule: &'static str,
    pub detail: String,
}

/// A publication point whose manifest, CRL and listed files all check out.
pub struct Point {
    pub mft_uri: String,
    pub mft_der: Vec<u8>,
    pub mft: Manifest,
    pub crl: Crl,
    /// Listed files by name, hash-checked.
    pub files: BTreeMap<String, Vec<u8>>,
}

fn fail<T>(uri: &str, rule: &'static str, detail: impl Into<String>) -> Result<T, Failure> {
    Err(Failure { uri: uri.to_string(), rule, detail: detail.into() })
}

/// Read and check the point of `ca` (caRepository `dir`, ending in `/`) from `store`.
pub fn load(store: &dyn Store, ca: &ValidCa, dir: &str, mft_uri: &str, now: Time) -> Result<Point, Failure> {
    let Some(mft_der) = store.get(mft_uri) else {
        if store.too_large(mft_uri) {
            let limit = crate::store::MAX_OBJECT;
            return fail(mft_uri, "MFT-20", format!("the manifest is larger than the {limit}-octet object limit"));
        }
        return fail(mft_uri, "MFT-13", "the manifest is missing (RFC 9286 §6.2)");
    };
    let mft = match Manifest::decode(&mft_der) {
        Ok(m) => m,
        Err(e) => return fail(mft_uri, e.rule, format!("invalid manifest: {}", e.detail)),
    };
    if let Err(e) = mft.check(mft_uri, ca, now) {
        return fail(mft_uri, e.rule, e.detail);
    }
    // Every listed file present with its hash (RFC 9286 §6.4, §6.5), whatever its type (MFT-19).
    let mut files = BTreeMap::new();
    for f in &mft.content.files {
        let uri = format!("{dir}{}", f.file);
        let Some(der) = store.get(&uri) else {
            if store.too_large(&uri) {
                let limit = crate::store::MAX_OBJECT;
                return fail(&uri, "MFT-13", format!("{} is larger than the {limit}-octet object limit (PIT-23)", f.file));
            }
            return fail(&uri, "MFT-13", format!("{} is listed on the manifest but missing (RFC 9286 §6.4)", f.file));
        };
        if sha256(&der) != f.hash {
            return fail(&uri, "MFT-13", format!("{} does not match its manifest hash (RFC 9286 §6.5)", f.file));
        }
        files.insert(f.file.clone(), der);
    }
    // Exactly one CRL, listed, valid and current (CRL-6, MFT-13).
    let crls: Vec<&String> = files.keys().filter(|n| FileType::of_name(n) == Some(FileType::Crl)).collect();
    if crls.len() != 1 {
        return fail(mft_uri, "MFT-13", format!("the manifest lists {} CRLs, not one (RFC 9286 §6.1)", crls.len()));
    }
    let crl_uri = format!("{dir}{}", crls[0]);
    let crl = match Crl::decode(&files[crls[0]]) {
        Ok(c) => c,
        Err(e) => return fail(&crl_uri, e.rule, format!("invalid CRL: {}", e.detail)),
    };
    if let Err(e) = crl.check(ca, now) {
        return fail(&crl_uri, e.rule, e.detail);
    }
    if crl.is_revoked(&mft.signed.ee.serial) {
        return fail(mft_uri, "MFT-13", "the manifest's EE certificate is revoked (RFC 9286 §6.1)");
    }
    Ok(Point { mft_uri: mft_uri.to_string(), mft_der, mft, crl, files })
}

/// MFT-16 (RFC 9286 §4.2.1): a new manifest at the same URI must have a higher
/// number than the last validated one, and a thisUpdate no earlier; the same
/// number means the same manifest.
pub fn moves_forward(fresh: &Point, cached_der: &[u8]) -> Result<(), Failure> {
    if cached_der == fresh.mft_der.as_slice() {
        return Ok(());
    }
    // The cached copy was validated by an earlier run; a copy that no longer decodes constrains nothing.
    let Ok(cached) = Manifest::decode(cached_der) else { return Ok(()) };
    let (new, old) = (&fresh.mft.content, &cached.content);
    successor(&new.manifest_number, new.this_update, &old.manifest_number, old.this_update)
        .or_else(|why| fail(&fresh.mft_uri, "MFT-16", why))
}

/// Whether a manifest (number, thisUpdate) may follow the last validated one.
/// An equal thisUpdate is not a step back: a CA that issues two manifests
/// within one second (Krill does, its times having whole seconds) gives both
/// the same, and rpki-client takes the higher number as newer then too.
fn successor(number: &Serial, this_update: Time, last_number: &Serial, last_update: Time) -> Result<(), String> {
    if number < last_number {
        return Err(format!("manifest number {number} is below the last validated {last_number} (a replay)"));
    }
    if number == last_number {
        return Err(format!("manifest number {number} is reused with different content"));
    }
    if this_update < last_update {
        return Err("the manifest's thisUpdate is earlier than the last validated one's".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::successor;
    use rpkit_objects::der::Time;
    use rpkit_objects::serial::Serial;

    /// MFT-16: the number must grow; thisUpdate may stay within the same second, never go back.
    #[test]
    fn mft_16_a_successor_has_a_higher_number_and_no_earlier_this_update() {
        let (n, t) = (Serial::from_u64(7), Time(1_000_000));
        assert!(successor(&Serial::from_u64(8), Time(1_000_001), &n, t).is_ok());
        assert!(successor(&Serial::from_u64(8), t, &n, t).is_ok(), "two manifests in one second");
        assert!(successor(&Serial::from_u64(8), Time(999_999), &n, t).unwrap_err().contains("earlier"));
        assert!(successor(&Serial::from_u64(6), Time(1_000_001), &n, t).unwrap_err().contains("a replay"));
        assert!(successor(&n, Time(1_000_001), &n, t).unwrap_err().contains("reused"));
    }
}
