//! PKCS#10 certification requests (RFC 2986). A router (or its operator)
//! asks for a BGPsec router certificate (RFC 8209 section 5) with an ECDSA
//! P-256 key (RFC 8608, BGPSEC-1); a child CA asks its parent for a CA
//! certificate (RFC 6492 §3.4.1) with an RSA key and the SIA of its
//! publication point (RFC 6487 §6). The signature by the requested key is
//! checked (proof of possession); the requested subject is not used: the CA
//! names the subject.

use crate::cert::Sia;
use crate::crypto::{KeyAlgorithm, PublicKey};
use crate::der::{Reader, Tag};
use crate::error::{reject, Error, Kind, Result};
use crate::oid;
use base64::Engine;

/// Largest request taken (a P-256 request is about 300 octets).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// A verified certification request.
#[derive(Clone, Debug)]
pub struct CertRequest {
    pub public_key: PublicKey,
}

/// A verified request for a CA certificate (RFC 6492 §3.4.1, RFC 6487 §6):
/// an RSA key and the publication point its CA will use.
#[derive(Clone, Debug)]
pub struct CaCertRequest {
    pub public_key: PublicKey,
    /// The SIA asked for: caRepository and rpkiManifest (rsync), rpkiNotify.
    pub sia: Sia,
}

/// What every request holds once its signature is checked.
struct Parsed {
    public_key: PublicKey,
    extensions: Vec<u8>,
}

impl CertRequest {
    /// Decode a router's request in DER or PEM (`-----BEGIN CERTIFICATE
    /// REQUEST-----`) and verify its signature: the key must be P-256 (BGPSEC-1).
    pub fn decode(input: &[u8]) -> Result<CertRequest> {
        if input.len() > MAX_REQUEST_BYTES {
            return reject("PKCS10", format!("request of {} octets (at most {MAX_REQUEST_BYTES})", input.len()));
        }
        let der = match std::str::from_utf8(input) {
            Ok(text) if text.contains("-----BEGIN") => pem_body(text)?,
            _ => input.to_vec(),
        };
        let p = parse(&der, (oid::ECDSA_WITH_SHA256, "ecdsa-with-SHA256"), "BGPSEC-1")?;
        if p.public_key.algorithm() != KeyAlgorithm::EcP256 {
            return reject("BGPSEC-1", "the request's key is not ECDSA P-256");
        }
        Ok(CertRequest { public_key: p.public_key })
    }

    /// Decode a request given as text: PEM, or its DER in base64 (a JSON body).
    pub fn decode_text(text: &str) -> Result<CertRequest> {
        if text.contains("-----BEGIN") {
            return Self::decode(text.as_bytes());
        }
        let b64: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| Error::new("PKCS10", format!("neither PEM nor base64 DER: {e}")))?;
        Self::decode(&der)
    }
}

const CA_RULE: &str = "RFC 6487 §6 (CA request)";

impl CaCertRequest {
    /// Decode a CA's request (DER), verify its signature and read the SIA it
    /// asks for: rsync caRepository and rpkiManifest, the manifest inside the
    /// repository, an https rpkiNotify if any.
    pub fn decode(der: &[u8]) -> Result<CaCertRequest> {
        if der.len() > MAX_REQUEST_BYTES {
            return reject(CA_RULE, format!("request of {} octets (at most {MAX_REQUEST_BYTES})", der.len()));
        }
        let p = parse(der, (oid::SHA256_WITH_RSA, "sha256WithRSAEncryption"), CA_RULE)?;
        if p.public_key.algorithm() != KeyAlgorithm::Rsa {
            return reject(CA_RULE, "the request's key is not RSA-2048");
        }
        let mut sia = None;
        let mut r = Reader::new(&p.extensions);
        while !r.is_empty() {
            let mut e = r.sequence("Extension")?;
            let id = e.oid("extnID")?;
            if e.peek_tag() == Some(Tag::BOOLEAN) {
                e.boolean("critical")?;
            }
            let value = e.octet_string("extnValue")?;
            if id == oid::PE_SIA {
                let mut s = Sia::default();
                for (method, uri) in crate::cert::access_descriptions(value, CA_RULE)? {
                    match crate::der::Oid(method) {
                        oid::AD_CA_REPOSITORY => s.ca_repository.push(uri),
                        oid::AD_RPKI_MANIFEST => s.rpki_manifest.push(uri),
                        oid::AD_RPKI_NOTIFY => s.rpki_notify.push(uri),
                        _ => {}
                    }
                }
                sia = Some(s);
            }
        }
        let sia = sia.ok_or_else(|| Error::new(CA_RULE, "the request has no SIA extension"))?;
        let repo = sia.rsync_repository().ok_or_else(|| Error::new(CA_RULE, "the SIA has no rsync caRepository"))?;
        let mft = sia.rsync_manifest().ok_or_else(|| Error::new(CA_RULE, "the SIA has no rsync rpkiManifest"))?;
        if !repo.ends_with('/') || !mft.starts_with(repo) || mft[repo.len()..].contains('/') {
            return reject(CA_RULE, format!("the manifest {mft} is not directly in the repository {repo}"));
        }
        if let Some(n) = sia.notify() {
            if !n.starts_with("https://") {
                return reject(CA_RULE, format!("rpkiNotify {n} is not an https URI"));
            }
        }
        Ok(CaCertRequest { public_key: p.public_key, sia })
    }

    /// A request for a CA certificate for `key` (RSA, in `signer`) with this SIA.
    pub fn build(
        signer: &dyn crate::crypto::Signer,
        key: &crate::crypto::KeyId,
        repository: &str,
        manifest: &str,
        notify: Option<&str>,
    ) -> std::result::Result<Vec<u8>, crate::error::BuildError> {
        use crate::der;
        let public = signer.public_key(key)?;
        let subject = crate::name::Name::new(&key.hex(), None)?.der;
        let mut ads = vec![crate::cert::access(oid::AD_CA_REPOSITORY, repository), crate::cert::access(oid::AD_RPKI_MANIFEST, manifest)];
        if let Some(n) = notify {
            ads.push(crate::cert::access(oid::AD_RPKI_NOTIFY, n));
        }
        let exts = der::sequence(&[
            &crate::cert::ext(oid::CE_BASIC_CONSTRAINTS, true, &der::sequence(&[&der::boolean(true)])),
            &crate::cert::ext(oid::CE_KEY_USAGE, true, &[0x03, 0x02, 0x01, 0x06]),
            &crate::cert::ext(oid::PE_SIA, false, &der::tlv(Tag::SEQUENCE, &ads.concat())),
        ]);
        let attr = der::sequence(&[&der::oid(oid::EXTENSION_REQUEST.0), &der::tlv(Tag::SET, &exts)]);
        let info = der::sequence(&[&der::integer_u64(0), &subject, public.spki(), &der::tlv(Tag::ctx_cons(0), &attr)]);
        let sig = signer.sign(key, &info)?;
        Ok(crate::x509::assemble(&info, &sig))
    }
}

/// Parse a request signed with `alg`, check its signature by its own key
/// (proof of possession) and return the key and the extensions it asks for.
fn parse(der: &[u8], (alg, alg_name): (crate::der::Oid<'static>, &str), rule: &'static str) -> Result<Parsed> {
    let mut outer = Reader::new(der);
    let mut req = outer.sequence("CertificationRequest")?;
    outer.finish()?;
    let info = req.expect(Tag::SEQUENCE, "certificationRequestInfo")?;
    let mut alg_r = req.sequence("signatureAlgorithm")?;
    let sig = req.bit_string("signature")?;
    req.finish()?;
    let alg_oid = alg_r.oid("signatureAlgorithm")?;
    if alg_oid != alg {
        return reject(rule, format!("the request is signed with {}, not {alg_name}", oid::describe(&alg_oid)));
    }
    if alg == oid::SHA256_WITH_RSA && alg_r.peek_tag() == Some(Tag::NULL) {
        alg_r.any()?;
    }
    // RFC 5758 section 3.2: no parameters for ECDSA.
    alg_r.finish()?;
    let mut r = Reader::new(info.value);
    let version = r.integer("version")?;
    if !version.is_zero() {
        return reject("PKCS10", "version is not v1 (0)");
    }
    r.sequence("subject")?;
    let spki = r.expect(Tag::SEQUENCE, "subjectPKInfo")?;
    let mut attrs = r.nested(Tag::ctx_cons(0), "attributes")?;
    r.finish()?;
    let mut extensions = Vec::new();
    while !attrs.is_empty() {
        let mut a = attrs.sequence("Attribute")?;
        let ty = a.oid("type")?;
        let mut values = a.nested(Tag::SET, "values")?;
        if ty == oid::EXTENSION_REQUEST {
            extensions = values.expect(Tag::SEQUENCE, "Extensions")?.value.to_vec();
        }
    }
    let public_key = PublicKey::decode(spki.raw)?;
    let signature = sig.octets("signature")?;
    let ok = match public_key.algorithm() {
        KeyAlgorithm::EcP256 => ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key.key_bits())
            .verify(info.raw, signature)
            .is_ok(),
        _ => public_key.verify(info.raw, signature).is_ok(),
    };
    if !ok {
        return Err(Error::new("PKCS10", "the request's signature does not verify with its key").of_kind(Kind::Signature));
    }
    Ok(Parsed { public_key, extensions })
}

/// The DER inside the first PEM block of a certification request.
fn pem_body(text: &str) -> Result<Vec<u8>> {
    let begin = ["-----BEGIN CERTIFICATE REQUEST-----", "-----BEGIN NEW CERTIFICATE REQUEST-----"];
    let Some((start, marker)) = begin.iter().find_map(|m| text.find(m).map(|i| (i, *m))) else {
        return reject("PKCS10", "a PEM file, but not a CERTIFICATE REQUEST");
    };
    let body = &text[start + marker.len()..];
    let end = body.find("-----END").ok_or_else(|| Error::new("PKCS10", "PEM block without an END line"))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| Error::new("PKCS10", format!("PEM body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `openssl ecparam -name prime256v1 -genkey` and `openssl req -new`.
    const P256: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIHMMHUCAQAwEzERMA8GA1UEAwwIcm91dGVyLTEwWTATBgcqhkjOPQIBBggqhkjO\nPQMBBwNCAAQcy2d6o0e9ZcI0pVcM5XWHFfHvlGYGKRUPN6TwvAm0bJ+nvmpxMOeN\njmbqzs5fROonGHW07urKe1g5YGI4+tQ/oAAwCgYIKoZIzj0EAwIDRwAwRAIgZmfI\n0k5A0Mv/qwI25R5bRjC/uzmraxyFpQdVfofi4AQCIHTtQw99Rb8stemToqr1aToF\nSd0NyDKrTqXb7p6GEbGJ\n-----END CERTIFICATE REQUEST-----";
    /// The same on secp384r1.
    const P384: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBCjCBkgIBADATMREwDwYDVQQDDAhyb3V0ZXItMjB2MBAGByqGSM49AgEGBSuB\nBAAiA2IABN5cy+m9HB7N8U3Qu9veoKQEsi4D3RjPSgfRZ29BWiZR6ybjfWmHaRBM\ngcuUyUHXjMsktzaR/Ls+c6NOM3F1SNAX9ACWEo1Xn09+/AFxEh8lJZY9y5LjckyT\nLllfnm8FDaAAMAoGCCqGSM49BAMCA2cAMGQCMGCUsbQ44D7sDSj9Bw8ByM6OI9Hh\nOueqZfNdmIm1SWZM/qlBxAY3mPAzzDjhe4uP4wIwcqPVP+FdZsFKDBo+rqgvKhSn\nvDHBjc31aEZfy2rPF41zQV9Lw/fNSu/7YihzZS6B\n-----END CERTIFICATE REQUEST-----";
    /// An RSA-2048 request (`openssl req -newkey rsa:2048`).
    const RSA: &str = "-----BEGIN CERTIFICATE REQUEST-----\nMIICUTCCATkCAQAwDDEKMAgGA1UEAwwBeDCCASIwDQYJKoZIhvcNAQEBBQADggEP\nADCCAQoCggEBAMRp3k0sW1BlVL0IrRFu+0w6EL+JJM6ihbdgFjKsQFu7Bz1B6PPS\nBB/CdwBhshn/ZOhWYKmvagx9u+euXKJv9k8RCNJ8LWlopxZkY6o0jkACrFF0JHJ/\n2cYKwuByiSPYyHA87g7TsfHzBjb8N1+vH47AMnXtjX7VAEs3MYP/H6AwnHSGRI0k\nAHIgZ4AQFeSoaLwp01cVvKqjJM/b9b+ZjaUe8mTsj/YO4Mu0qxHTq68Ua0cnxfK0\nPMimkqHojG8yU8INfYXL318cTnDi/Skxv2aSJ96eYiOZ/UQX2OcDZw+AV73TCu8X\npX93cbM4lzVUae0QQR65C49jSsyMqYB/vacCAwEAAaAAMA0GCSqGSIb3DQEBCwUA\nA4IBAQCqz6eaop+DfvSzxf31RMqIv2A7Arj60OIs5QNy1fKBFi3ijB9XrYeum67U\nio5rbH7Eax1RiNlpqU77zCLLKEqmN6hYpGeHIluIBNq3+WTLadIb80STylZ4FlZn\n5QKr5t1HW00YKGqTMsyvPpyKVdUyYQIEDu7fZ+CgtvrTj3kNPptdzAPDJhquyiSO\nRc4wnDe7qO9kJMtbZfZRDLdhMZ/9wrFKt7PVlbP401IgUhVzM/aTLrRo6WA29+xB\n34OuTEHgMKVN+JDwhj/ljs7J1GbUUFv0DEbsUblg+K6Vi9+m1Xisn19Rz9SR5SC7\nUXzggbNVGrKgGiMNgvb3OTzQ77ys\n-----END CERTIFICATE REQUEST-----";

    #[test]
    fn bgpsec_1_a_p256_request_verifies_and_others_are_refused() {
        let r = CertRequest::decode(P256.as_bytes()).unwrap();
        assert_eq!(r.public_key.algorithm(), KeyAlgorithm::EcP256);
        // The same request in DER.
        let der = pem_body(P256).unwrap();
        assert_eq!(CertRequest::decode(&der).unwrap().public_key, r.public_key);
        // A changed octet in the signed part: the proof of possession fails.
        let mut bad = der.clone();
        let at = bad.len() - 80;
        bad[at] ^= 1;
        let e = CertRequest::decode(&bad).unwrap_err();
        assert!(e.to_string().contains("does not verify") || e.to_string().contains("BGPSEC-1"), "{e}");
        let e = CertRequest::decode(P384.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("BGPSEC-1") && e.contains("not P-256"), "{e}");
        let e = CertRequest::decode(RSA.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("BGPSEC-1") && e.contains("not ecdsa-with-SHA256"), "{e}");
    }

    #[test]
    fn hostile_input_is_refused_with_a_reason() {
        for (input, want) in [
            (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(), "not a CERTIFICATE REQUEST"),
            (b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n".to_vec(), "PEM body"),
            (vec![0x30, 0x80], "indefinite"),
            (vec![0u8; MAX_REQUEST_BYTES + 1], "at most"),
        ] {
            let e = CertRequest::decode(&input).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn updown_4_a_ca_request_carries_its_key_and_sia() {
        use crate::crypto::Signer;
        let soft = crate::crypto::SoftSigner::new();
        let key = soft.create_key().unwrap();
        let (repo, mft) = ("rsync://rpki.test/repo/child/", "rsync://rpki.test/repo/child/k.mft");
        let der = CaCertRequest::build(&soft, &key, repo, mft, Some("https://rpki.test/rrdp/notification.xml")).unwrap();
        let r = CaCertRequest::decode(&der).unwrap();
        assert_eq!(r.public_key, soft.public_key(&key).unwrap());
        assert_eq!(r.sia.rsync_repository(), Some(repo));
        assert_eq!(r.sia.rsync_manifest(), Some(mft));
        assert_eq!(r.sia.notify(), Some("https://rpki.test/rrdp/notification.xml"));
        // A router's request is not a CA's, and the other way round.
        assert!(CertRequest::decode(&der).unwrap_err().to_string().contains("not ecdsa-with-SHA256"));
        let p256 = pem_body(P256).unwrap();
        assert!(CaCertRequest::decode(&p256).unwrap_err().to_string().contains("not sha256WithRSAEncryption"));
        // An altered request, and a manifest outside the repository, are refused.
        let mut bad = der.clone();
        let at = bad.len() - 300;
        bad[at] ^= 1;
        assert!(CaCertRequest::decode(&bad).is_err());
        let elsewhere = CaCertRequest::build(&soft, &key, repo, "rsync://rpki.test/repo/other/k.mft", None).unwrap();
        assert!(CaCertRequest::decode(&elsewhere).unwrap_err().to_string().contains("not directly in the repository"));
        let http = CaCertRequest::build(&soft, &key, repo, mft, Some("http://rpki.test/n.xml")).unwrap();
        assert!(CaCertRequest::decode(&http).unwrap_err().to_string().contains("not an https URI"));
    }
}
