//! The NRO delegated-extended statistics format, as `rpkit members import` reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rpkit_ca::delegated::parse(text);
    }
});
