//! The ROA request formats of `rpkit roa apply --file` and the API: lines of
//! `[+|-]PREFIX[-MAXLEN] AS<N>` and JSON deltas, each entry then checked
//! against a member's resources as the CA does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_ca::contract::RoaDelta;
use rpkit_ca::requests::check_roa;
use rpkit_objects::resources::ResourceSet;

fuzz_target!(|data: &[u8]| {
    let held: ResourceSet = "AS64496-AS64511, 192.0.2.0/24, 10.0.0.0/8, 2001:db8::/32".parse().expect("resources");
    let deltas =
        [std::str::from_utf8(data).ok().and_then(|t| RoaDelta::parse_lines(t).ok()), serde_json::from_slice::<RoaDelta>(data).ok()];
    for d in deltas.into_iter().flatten() {
        for s in d.added.iter().chain(&d.removed) {
            let _ = check_roa(s, &held);
        }
    }
});
