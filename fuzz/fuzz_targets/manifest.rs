//! Manifests (RFC 9286): the signed object and the eContent alone.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::manifest::{Manifest, ManifestContent};

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::decode(data);
    let _ = ManifestContent::decode(data);
});
