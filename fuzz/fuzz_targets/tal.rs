//! Trust anchor locators (RFC 8630).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::tal::Tal;

fuzz_target!(|data: &[u8]| {
    let _ = Tal::parse(data);
});
