//! The CMS signed-object template (RFC 6488) and the by-type dispatcher that
//! the validator and `rpkit inspect` use.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::object::Object;
use rpkit_objects::signed_object::SignedObject;

fuzz_target!(|data: &[u8]| {
    let _ = SignedObject::decode(data);
    let _ = Object::decode(data);
});
