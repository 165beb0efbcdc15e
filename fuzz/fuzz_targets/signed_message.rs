//! CMS-signed protocol messages (RFC 6492 §3.1, as used by RFC 8181 §3.1).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::signed_message::SignedMessage;

fuzz_target!(|data: &[u8]| {
    let _ = SignedMessage::decode(data);
});
