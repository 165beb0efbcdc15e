//! CRLs (RFC 6487 §5).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::crl::Crl;

fuzz_target!(|data: &[u8]| {
    let _ = Crl::decode(data);
});
