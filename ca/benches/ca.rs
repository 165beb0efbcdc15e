//! CA benchmarks (issue figures), each next to bare RSA key generation measured
//! in the same run:
//! - bulk add of N ROAs to one member through the REST API, with an empty and
//!   with a warm key pool;
//! - `GET` of all of that member's ROAs, and the process's peak RSS;
//! - scheduled re-issue of the manifests and CRLs of M member CAs.
//!
//! Run: `cargo bench -p rpkit-ca --bench ca -- [--roas N] [--members M]`
//! (defaults 1000 and 500; the record sizes are 1,000 and 10,000).

use rpkit_ca::api::{self, AppState};
use rpkit_ca::publisher::MemoryPublisher;
use rpkit_ca::{Ca, CaConfig};
use rpkit_objects::crypto::generate_rsa_keys;
use rpkit_objects::der::Time;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        / 1024.0
}

/// A CA with one member holding 10.0.0.0/8 (room for many /24 ROAs), served on loopback.
fn ca_with_api(rt: &tokio::runtime::Runtime) -> (Arc<Ca>, String, Arc<Mutex<Time>>) {
    let mut ca = Ca::open(None, CaConfig { key_pool_target: 0, ..CaConfig::default() }, Arc::new(MemoryPublisher::new())).unwrap();
    let clock = Arc::new(Mutex::new(Time::now()));
    let c = clock.clone();
    ca.set_clock(Arc::new(move || *c.lock().unwrap()));
    ca.init(&"AS0-AS4294967295, 0.0.0.0/0, ::/0".parse().unwrap()).unwrap();
    ca.add_member("bulk", &"AS64496, 10.0.0.0/8".parse().unwrap(), None).unwrap();
    let ca = Arc::new(ca);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState { ca: ca.clone(), admin_token: "bench-admin".into() };
    rt.spawn(api::serve(listener, state, std::time::Duration::from_secs(3600), std::future::pending()));
    (ca, url, clock)
}

fn roa_batch(n: usize, offset: usize) -> Value {
    let added: Vec<Value> =
        (0..n).map(|i| json!({"prefix": format!("10.{}.{}.0/24", (offset + i) / 256, (offset + i) % 256), "asn": 64496})).collect();
    json!({ "added": added })
}

fn main() {
    let n = arg("--roas", 1000);
    let members = arg("--members", 500);
    let cores = rayon::current_num_threads();
    println!("machine: {cores} cores; ROAs: {n}; member CAs: {members}");

    let t = Instant::now();
    generate_rsa_keys(n.min(200)).unwrap();
    let keys_per_s = n.min(200) as f64 / t.elapsed().as_secs_f64();
    println!("bare RSA-2048 key generation, all cores: {keys_per_s:.1} keys/s ({:.0} ms/key)", 1000.0 / keys_per_s);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let http = reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(7200)).build().unwrap();
    let post = |url: &str, body: &Value| {
        let r = http.post(format!("{url}/api/v1/members/bulk/roas/delta")).bearer_auth("bench-admin").json(body).send().unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap());
    };

    // Bulk add, empty pool: keys are generated as part of the request.
    let (ca, url, _) = ca_with_api(&rt);
    let t = Instant::now();
    post(&url, &roa_batch(n, 0));
    let cold = t.elapsed().as_secs_f64();
    let bound = n as f64 / keys_per_s;
    println!("bulk add of {n} ROAs via the API, empty key pool: {cold:.1} s ({:.1} ms/ROA); key generation alone needs {bound:.1} s: ratio {:.2}", cold * 1000.0 / n as f64, cold / bound);

    // Bulk add, warm pool (filled beforehand, as the background filler does).
    ca.fill_key_pool(n + 1).unwrap();
    let t = Instant::now();
    post(&url, &roa_batch(n, n));
    let warm = t.elapsed().as_secs_f64();
    println!("bulk add of {n} ROAs via the API, warm key pool:  {warm:.2} s ({:.2} ms/ROA)", warm * 1000.0 / n as f64);

    let t = Instant::now();
    let r = http.get(format!("{url}/api/v1/members/bulk/roas")).bearer_auth("bench-admin").send().unwrap();
    let listed: Vec<Value> = r.json().unwrap();
    println!("GET of all {} ROAs of one member: {:.1} ms", listed.len(), t.elapsed().as_secs_f64() * 1000.0);
    println!("peak RSS so far: {:.0} MB", peak_rss_mb());
    drop(ca);

    // Scheduled re-issue of M member CAs' manifests and CRLs.
    let (ca, _, clock) = ca_with_api(&rt);
    let text = rpkit_test_vectors::delegated::generate(members, 1);
    ca.import_delegated(&text).unwrap();
    let later = clock.lock().unwrap().add_secs(17 * 3600);
    *clock.lock().unwrap() = later;
    let t = Instant::now();
    let done = ca.reissue_due().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let bound = done as f64 / keys_per_s;
    println!(
        "scheduled re-issue of {done} CAs' manifests and CRLs: {secs:.1} s; key generation alone needs {bound:.1} s: ratio {:.2}",
        secs / bound
    );
    println!("peak RSS: {:.0} MB", peak_rss_mb());
}
