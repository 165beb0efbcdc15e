//! Manifests (RFC 9286, RFC 9981; CHECKLIST 3.3): content codec, the manifest EE
//! checks, and building a signed manifest.

use crate::der::{self, Reader, Tag, Time, DER};
use crate::error::{reject, reject_as, BuildError, Error, Kind, Result};
use crate::limits::MAX_MANIFEST_ENTRIES as MAX_ENTRIES;
use crate::oid;
use crate::resources::CertResources;
use crate::serial::Serial;
use crate::signed_object::{self, EeSpec, Issuer, SignedObject};
use crate::valid_ca::ValidCa;
use std::collections::HashSet;

/// One FileAndHash entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileAndHash {
    pub file: String,
    pub hash: [u8; 32],
}

/// The Manifest eContent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestContent {
    pub manifest_number: Serial,
    pub this_update: Time,
    pub next_update: Time,
    pub files: Vec<FileAndHash>,
}

/// Check a manifest file name: `^[a-zA-Z0-9_-]+\.[a-z]{3}$` with a registered
/// extension (MFT-7, PIT-5). Safe to call before any other use of the name.
pub fn check_file_name(name: &str) -> Result<()> {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return reject("MFT-7", format!("file name '{}' has no extension", name.escape_default()));
    };
    let stem_ok = !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let ext_ok = ext.len() == 3 && ext.bytes().all(|b| b.is_ascii_lowercase());
    if !stem_ok || !ext_ok {
        return reject("MFT-7", format!("file name '{}' is not of the form [a-zA-Z0-9_-]+.ext", name.escape_default()));
    }
    if crate::file_type::FileType::from_extension(ext).is_none() {
        return reject("MFT-7", format!("file name '{name}' has an unregistered extension"));
    }
    Ok(())
}

impl ManifestContent {
    pub fn encode(&self) -> Vec<u8> {
        let files: Vec<Vec<u8>> =
            self.files.iter().map(|f| der::sequence(&[&der::ia5_string(&f.file), &der::bit_string(0, &f.hash)])).collect();
        der::sequence(&[
            &self.manifest_number.encode(),
            &self.this_update.encode_generalized(),
            &self.next_update.encode_generalized(),
            &der::oid(oid::SHA256.0),
            &der::tlv(Tag::SEQUENCE, &files.concat()),
        ])
    }

    /// Strict decode (MFT-2 .. MFT-8, MFT-20).
    pub fn decode(content: &[u8]) -> Result<Self> {
        let mut outer = Reader::new(content);
        let mut r = outer.sequence("Manifest")?;
        outer.finish().map_err(|e| e.with_rule("CMS-3"))?;
        if let Some(v) = r.optional(Tag::ctx_cons(0))? {
            let mut vr = r.child(v.value)?;
            if vr.integer("version")?.is_zero() {
                return reject(DER, "version 0 must be omitted (DEFAULT)");
            }
            return reject("MFT-2", "manifest version must be 0");
        }
        let manifest_number = Serial::from_integer(&r.integer("manifestNumber")?, "MFT-3")?;
        let this_update = Time::read_generalized(&mut r, "thisUpdate")?;
        let next_update = Time::read_generalized(&mut r, "nextUpdate")?;
        if this_update >= next_update {
            return reject("MFT-4", "thisUpdate is not before nextUpdate");
        }
        if r.oid("fileHashAlg")? != oid::SHA256 {
            return reject("MFT-5", "fileHashAlg must be id-sha256");
        }
        let mut list = r.sequence("fileList")?;
        r.finish()?;
        // Each entry takes at least 43 octets (32-octet hash, 5-character name).
        let cap = (list.remaining() / 43).min(MAX_ENTRIES);
        let mut files = Vec::with_capacity(cap);
        let mut names: HashSet<&str> = HashSet::with_capacity(cap);
        let mut hashes: HashSet<&[u8]> = HashSet::with_capacity(cap);
        while !list.is_empty() {
            if files.len() >= MAX_ENTRIES {
                return reject("MFT-20", format!("more than {MAX_ENTRIES} manifest entries"));
            }
            let mut fh = list.sequence("FileAndHash")?;
            let name = fh.expect(Tag::IA5_STRING, "file")?.value;
            let hash = fh.bit_string("hash")?;
            fh.finish()?;
            let name = std::str::from_utf8(name).map_err(|_| Error::new("MFT-7", "file name is not ASCII"))?;
            check_file_name(name)?;
            let hash_bytes = hash.octets("hash").ok().filter(|h| h.len() == 32);
            let hash_bytes = hash_bytes.ok_or_else(|| Error::new("MFT-5", format!("hash of '{name}' is not 256 bits")))?;
            let mut hash = [0u8; 32];
            hash.copy_from_slice(hash_bytes);
            if !names.insert(name) {
                return reject("MFT-8", format!("'{name}' is listed twice"));
            }
            if !hashes.insert(hash_bytes) {
                return reject("MFT-8", format!("the hash of '{name}' is listed twice"));
            }
            files.push(FileAndHash { file: name.to_string(), hash });
        }
        if files.is_empty() {
            return reject("MFT-20", "empty fileList (a manifest lists at least its CRL)");
        }
        Ok(ManifestContent { manifest_number, this_update, next_update, files })
    }
}

/// A decoded manifest with the EE checks of MFT-10 done.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub signed: SignedObject,
    pub content: ManifestContent,
    pub warnings: Vec<Error>,
}

impl Manifest {
    /// The checks of the manifest of `ca`, published at `uri`, at `now`, beyond
    /// decoding (RFC 9286 §6): signatures, the EE's issuer (CERT-5), its
    /// location (MFT-16), thisUpdate and nextUpdate (MFT-13), the EE valid now
    /// (CERT-6). Revocation needs the CRL the manifest lists: the caller's.
    pub fn check(&self, uri: &str, ca: &ValidCa, now: Time) -> Result<()> {
        let ee = &self.signed.ee;
        self.signed.verify_signature().and_then(|_| ee.verify_signature(&ca.public_key)).map_err(|e| e.context("manifest signature"))?;
        if !ca.is_issuer_of(&ee.issuer, ee.aki.as_ref()) {
            return reject("CERT-5", "the manifest's EE certificate is not issued by this CA");
        }
        if ee.sia.rsync_signed_object() != Some(uri) {
            return reject("MFT-16", "the manifest's signedObject URI is not the CA's rpkiManifest (RFC 9981 §4)");
        }
        if now < self.content.this_update {
            return reject_as(Kind::Time, "MFT-13", "the manifest's thisUpdate is in the future (RFC 9286 §6.3)");
        }
        if now > self.content.next_update {
            let next = self.content.next_update.rfc3339();
            return reject_as(Kind::Time, "MFT-13", format!("the manifest is stale: nextUpdate {next} has passed (RFC 9286 §6.3)"));
        }
        if !ee.is_current(now) {
            return reject_as(Kind::Time, "CERT-6", "the manifest's EE certificate is not valid now");
        }
        Ok(())
    }

    pub fn decode(bytes: &[u8]) -> Result<Self> {
        Self::from_signed(SignedObject::decode(bytes)?)
    }

    /// The checks and content of this type on an already decoded signed object.
    pub fn from_signed(signed: SignedObject) -> Result<Self> {
        signed.expect_type(oid::CT_MANIFEST, "MFT-1")?;
        let content = ManifestContent::decode(signed.content())?;
        let res = &signed.ee.resources;
        let explicit = [
            res.ipv4.as_ref().map(|c| c.blocks().is_some()),
            res.ipv6.as_ref().map(|c| c.blocks().is_some()),
            res.asn.as_ref().map(|c| c.blocks().is_some()),
        ];
        if explicit.contains(&Some(true)) {
            return reject("MFT-10", "the manifest EE certificate must use inherit for its resources");
        }
        let warnings = signed.warnings.clone();
        Ok(Manifest { signed, content, warnings })
    }

    /// Build a manifest; the EE is valid exactly from thisUpdate to nextUpdate and
    /// inherits every family the issuer holds (MFT-9).
    pub fn build(content: &ManifestContent, issuer: &Issuer<'_>, ee_serial: Serial, manifest_uri: &str) -> Result<Self, BuildError> {
        let key = issuer.signer.one_time_key()?;
        let ee = EeSpec {
            serial: ee_serial,
            not_before: content.this_update,
            not_after: content.next_update,
            object_uri: manifest_uri.to_string(),
        };
        let so =
            signed_object::build(oid::CT_MANIFEST, &content.encode(), content.this_update, &ee, key, CertResources::inherit_all(), issuer)?;
        Ok(Manifest::from_signed(so)?)
    }
}
