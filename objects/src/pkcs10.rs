//! PKCS#10 certification requests (RFC 2986), as a router (or its operator)
//! asks for a BGPsec router certificate (RFC 8209 section 5): the CA takes the
//! subject public key, which must be ECDSA P-256 (RFC 8608, BGPSEC-1), and
//! checks the request's signature by that key (proof of possession). The
//! requested subject and attributes are not used: the CA names the router.

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

impl CertRequest {
    /// Decode a request in DER or PEM (`-----BEGIN CERTIFICATE REQUEST-----`)
    /// and verify its signature.
    pub fn decode(input: &[u8]) -> Result<CertRequest> {
        if input.len() > MAX_REQUEST_BYTES {
            return reject("PKCS10", format!("request of {} octets (at most {MAX_REQUEST_BYTES})", input.len()));
        }
        let der = match std::str::from_utf8(input) {
            Ok(text) if text.contains("-----BEGIN") => pem_body(text)?,
            _ => input.to_vec(),
        };
        Self::decode_der(&der)
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

    fn decode_der(der: &[u8]) -> Result<CertRequest> {
        let mut outer = Reader::new(der);
        let mut req = outer.sequence("CertificationRequest")?;
        outer.finish()?;
        let info = req.expect(Tag::SEQUENCE, "certificationRequestInfo")?;
        let mut alg = req.sequence("signatureAlgorithm")?;
        let sig = req.bit_string("signature")?;
        req.finish()?;
        let alg_oid = alg.oid("signatureAlgorithm")?;
        if alg_oid != oid::ECDSA_WITH_SHA256 {
            return reject("BGPSEC-1", format!("the request is signed with {}, not ecdsa-with-SHA256", oid::describe(&alg_oid)));
        }
        // RFC 5758 section 3.2: no parameters.
        alg.finish()?;
        let mut r = Reader::new(info.value);
        let version = r.integer("version")?;
        if !version.is_zero() {
            return reject("PKCS10", "version is not v1 (0)");
        }
        r.sequence("subject")?;
        let spki = r.expect(Tag::SEQUENCE, "subjectPKInfo")?;
        // attributes [0] IMPLICIT SET OF Attribute: read over, not used.
        r.nested(Tag::ctx_cons(0), "attributes")?;
        r.finish()?;
        let public_key = PublicKey::decode(spki.raw)?;
        if public_key.algorithm() != KeyAlgorithm::EcP256 {
            return reject("BGPSEC-1", "the request's key is not ECDSA P-256");
        }
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, public_key.key_bits())
            .verify(info.raw, sig.octets("signature")?)
            .map_err(|_| Error::new("PKCS10", "the request's signature does not verify with its key").of_kind(Kind::Signature))?;
        Ok(CertRequest { public_key })
    }
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
}
