//! RFC 6492 up-down messages, and the PKCS#10 requests they carry.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_objects::pkcs10::CaCertRequest;
use rpkit_objects::up_down::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::decode(data) {
        // What decodes encodes back to the same message.
        assert_eq!(Message::decode(m.encode().as_bytes()).ok().as_ref(), Some(&m));
    }
    let _ = CaCertRequest::decode(data);
});
