//! Resource certificates (RFC 6487) and BPKI identity certificates (RFC 8183 §2.1).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::bpki::IdCert;
use rpkit_objects::cert::Cert;

fuzz_target!(|data: &[u8]| {
    let _ = Cert::decode(data);
    let _ = IdCert::decode(data);
});
