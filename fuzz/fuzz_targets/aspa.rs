//! ASPAs (draft-ietf-sidrops-aspa-profile): the signed object and the eContent alone.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::aspa::{Aspa, AspaContent};

fuzz_target!(|data: &[u8]| {
    let _ = Aspa::decode(data);
    let _ = AspaContent::decode(data);
});
