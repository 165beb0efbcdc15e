//! SLURM files (RFC 8416).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_validator::slurm::Slurm;

fuzz_target!(|data: &[u8]| {
    let _ = Slurm::parse(data);
});
