//! Trust Anchor Locators (RFC 8630 §2.2, TA-1): optional `#` comments, one or more
//! URIs, an empty line, and the base64 SubjectPublicKeyInfo (possibly wrapped).

use crate::crypto::PublicKey;
use crate::error::{reject, Error, Result};
use base64::Engine;

/// A parsed TAL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tal {
    pub comments: Vec<String>,
    /// rsync and https URIs, in the file's order (other schemes are skipped).
    pub uris: Vec<String>,
    pub key: PublicKey,
}

impl Tal {
    pub fn parse(data: &[u8]) -> Result<Self> {
        if data.len() > crate::limits::MAX_TAL_SIZE {
            return reject("TA-1", "TAL file too large");
        }
        let text = std::str::from_utf8(data).map_err(|_| Error::new("TA-1", "TAL is not UTF-8 text"))?;
        let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).peekable();
        let mut comments = Vec::new();
        while let Some(l) = lines.peek() {
            match l.strip_prefix('#') {
                Some(c) => {
                    comments.push(c.trim().to_string());
                    lines.next();
                }
                None => break,
            }
        }
        let mut uris = Vec::new();
        let mut any_uri = false;
        for line in lines.by_ref() {
            if line.is_empty() {
                break;
            }
            let uri = line.trim();
            if uri.is_empty() || uri.contains(char::is_whitespace) || !uri.is_ascii() || !uri.contains("://") {
                return reject("TA-1", format!("'{}' is not a URI line", line.escape_default()));
            }
            any_uri = true;
            let lower = uri.to_ascii_lowercase();
            if lower.starts_with("rsync://") || lower.starts_with("https://") {
                if uri.ends_with('/') {
                    return reject("TA-2", format!("TA URI '{uri}' names a directory, not a certificate"));
                }
                uris.push(uri.to_string());
            }
        }
        if !any_uri {
            return reject("TA-1", "no TA URI before the empty line");
        }
        if uris.is_empty() {
            return reject("TA-1", "no rsync or https TA URI");
        }
        let b64: String = lines.flat_map(|l| l.chars()).filter(|c| !c.is_whitespace()).collect();
        if b64.is_empty() {
            return reject("TA-1", "no public key after the empty line");
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| Error::new("TA-1", format!("public key is not valid base64: {e}")))?;
        let key = PublicKey::decode(&der).map_err(|e| e.context("TAL public key"))?;
        Ok(Tal { comments, uris, key })
    }

    /// The TAL text: comments, URIs (https first if given so), blank line, key
    /// wrapped at 64 columns.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for c in &self.comments {
            out.push_str(&format!("# {c}\n"));
        }
        for u in &self.uris {
            out.push_str(u);
            out.push('\n');
        }
        out.push('\n');
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.key.spki());
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}
