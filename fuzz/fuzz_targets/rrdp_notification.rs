//! RRDP notification files (RFC 8182 §3.5.1), with the origin rules of RFC 9674.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_validator::rrdp::notification::Notification;

fuzz_target!(|data: &[u8]| {
    let _ = Notification::parse(data, "https://rpki.example.net/rrdp/notification.xml");
});
