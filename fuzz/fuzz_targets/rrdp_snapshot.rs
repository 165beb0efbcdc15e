//! RRDP snapshot files (RFC 8182 §3.5.2), read as the client streams them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::rrdp::read::read;
use rpkit_objects::rrdp::Kind;

fuzz_target!(|data: &[u8]| {
    let _ = read(data, data.len() as u64, Kind::Snapshot, |_| Ok(()));
});
