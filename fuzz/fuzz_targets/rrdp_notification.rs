//! RRDP notification files (RFC 8182 §3.5.1), with the origin rules of RFC 9674.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_validator::rrdp::parse_notification;

fuzz_target!(|data: &[u8]| {
    let _ = parse_notification(data, "https://rpki.example.net/rrdp/notification.xml");
});
