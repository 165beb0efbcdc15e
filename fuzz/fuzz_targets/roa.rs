//! ROAs (RFC 9582): the whole signed object, and the eContent alone so that
//! mutations reach the ROA decoder past the CMS wrapper.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::roa::{Roa, RoaContent};

fuzz_target!(|data: &[u8]| {
    let _ = Roa::decode(data);
    let _ = RoaContent::decode(data, &mut Vec::new());
});
