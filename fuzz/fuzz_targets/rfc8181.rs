//! RFC 8181 publication protocol messages: queries (server side) and replies (CA side).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::rfc8181::{Query, Reply};

fuzz_target!(|data: &[u8]| {
    let _ = Query::decode(data);
    let _ = Reply::decode(data);
});
