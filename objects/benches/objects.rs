//! Benchmarks for the objects crate (issue acceptance "Benchmarks"): decode and
//! verify a ROA and a 1,000-entry manifest against a bare RSA-2048 verify measured
//! in the same run; key generation on one core and on all cores; signing.
//!
//! Run: `cargo bench -p rpkit-objects --bench objects [-- --quick]`. Besides
//! criterion's own output, the medians and ratios go to `target/bench/objects.md`.

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use rpkit_objects::cert::{CertBuilder, SiaSpec};
use rpkit_objects::crypto::{generate_rsa_keys, sha256, KeyPair, Signer, SoftSigner};
use rpkit_objects::der::Time;
use rpkit_objects::manifest::{FileAndHash, Manifest, ManifestContent};
use rpkit_objects::name::Name;
use rpkit_objects::resources::{Asn, CertResources, ResourceSet};
use rpkit_objects::roa::{Roa, RoaContent, RoaPrefix};
use rpkit_objects::serial::Serial;
use rpkit_objects::signed_object::{EeSpec, Issuer};

struct Setup {
    signer: SoftSigner,
    key: rpkit_objects::crypto::KeyId,
    ca: rpkit_objects::cert::Cert,
}

fn setup() -> Setup {
    let signer = SoftSigner::new();
    let key = signer.create_key().unwrap();
    let name = Name::new(&key.hex(), None).unwrap();
    let now = Time::now();
    let res: ResourceSet = "AS64496-AS64511, 10.0.0.0/8, 2001:db8::/32".parse().unwrap();
    let ca = CertBuilder {
        serial: Serial::from_u64(1),
        issuer: name.clone(),
        subject: name,
        not_before: now.add_secs(-60),
        not_after: now.add_secs(86400),
        public_key: signer.public_key(&key).unwrap(),
        ca: true,
        aki: None,
        crl_uri: None,
        ca_issuer: None,
        sia: SiaSpec::Ca { repository: "rsync://b.test/r/".into(), manifest: "rsync://b.test/r/m.mft".into(), notify: None },
        resources: CertResources::explicit(&res),
        bgpsec_router: false,
    }
    .sign(&signer, &key)
    .unwrap();
    Setup { signer, key, ca }
}

fn issuer(s: &Setup) -> Issuer<'_> {
    Issuer {
        signer: &s.signer,
        key: s.key,
        cert: &s.ca,
        cert_uri: "rsync://b.test/ca.cer".into(),
        crl_uri: "rsync://b.test/r/c.crl".into(),
    }
}

fn verify(c: &mut Criterion) {
    let s = setup();
    let now = Time::now();
    let ee = EeSpec {
        serial: Serial::from_u64(2),
        not_before: now,
        not_after: now.add_secs(86400),
        object_uri: "rsync://b.test/r/a.roa".into(),
    };
    let roa_content =
        RoaContent { asn: Asn(64496), prefixes: vec![RoaPrefix { prefix: "10.1.0.0/16".parse().unwrap(), max_length: Some(24) }] };
    let roa = Roa::build(&roa_content, &issuer(&s), &ee, s.signer.one_time_key().unwrap(), now).unwrap();
    let roa_der = roa.signed.to_der().to_vec();
    let mft_content = ManifestContent {
        manifest_number: Serial::from_u64(1),
        this_update: now,
        next_update: now.add_secs(86400),
        files: (0..1000).map(|i| FileAndHash { file: format!("object-{i:05}.roa"), hash: sha256(&(i as u32).to_be_bytes()) }).collect(),
    };
    let mft = Manifest::build(&mft_content, &issuer(&s), Serial::from_u64(3), "rsync://b.test/r/m.mft").unwrap();
    let mft_der = mft.signed.to_der().to_vec();
    let pk = s.ca.public_key.clone();
    let msg = b"benchmark message".to_vec();
    let sig = s.signer.sign(&s.key, &msg).unwrap();

    let mut g = c.benchmark_group("verify");
    g.bench_function("rsa2048_verify_baseline", |b| b.iter(|| pk.verify(&msg, &sig).unwrap()));
    g.bench_function("roa_decode_and_cms_verify", |b| {
        b.iter(|| {
            let r = Roa::decode(&roa_der).unwrap();
            r.signed.verify_signature().unwrap();
        })
    });
    g.bench_function("roa_decode_and_verify_cms_and_ee", |b| {
        b.iter(|| {
            let r = Roa::decode(&roa_der).unwrap();
            r.signed.verify_signature().unwrap();
            r.signed.ee.verify_signature(&pk).unwrap();
        })
    });
    g.bench_function("manifest_1000_decode_and_cms_verify", |b| {
        b.iter(|| {
            let m = Manifest::decode(&mft_der).unwrap();
            m.signed.verify_signature().unwrap();
        })
    });
    g.bench_function("manifest_1000_decode_and_verify_cms_and_ee", |b| {
        b.iter(|| {
            let m = Manifest::decode(&mft_der).unwrap();
            m.signed.verify_signature().unwrap();
            m.signed.ee.verify_signature(&pk).unwrap();
        })
    });
    // Where a manifest's time goes: the message digest over its content, and the
    // content decoder (1,000 entries: names checked, duplicates looked up).
    let content = mft.signed.content().to_vec();
    g.bench_function("manifest_1000_sha256_of_content", |b| b.iter(|| sha256(&content)));
    g.bench_function("manifest_1000_content_decode", |b| b.iter(|| ManifestContent::decode(&content).unwrap()));
    g.finish();
}

fn keys(c: &mut Criterion) {
    let mut g = c.benchmark_group("keys");
    g.sample_size(10);
    let threads = rayon::current_num_threads() as u64;
    g.throughput(Throughput::Elements(1));
    g.bench_function("rsa2048_keygen_1_core", |b| b.iter(|| KeyPair::generate().unwrap()));
    g.throughput(Throughput::Elements(threads * 2));
    g.bench_function("rsa2048_keygen_all_cores", |b| b.iter(|| generate_rsa_keys(threads as usize * 2).unwrap()));
    g.finish();
    let k = KeyPair::generate().unwrap();
    let mut g = c.benchmark_group("sign");
    g.throughput(Throughput::Elements(1));
    g.bench_function("rsa2048_sha256_sign", |b| {
        b.iter_batched(|| b"data to sign".to_vec(), |d| k.sign(&d).unwrap(), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(benches, verify, keys);

/// Criterion's median of one benchmark, in nanoseconds, from its estimates file.
fn median_ns(id: &str) -> Option<f64> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(p).ok()?;
    let i = text.find("\"median\"")?;
    let rest = &text[i..];
    let j = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    rest[j..].split([',', '}']).next()?.trim().parse().ok()
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    let quick = std::env::args().any(|a| a == "--quick");
    let base = median_ns("verify/rsa2048_verify_baseline").unwrap_or(f64::NAN);
    let mut out = String::from(
        "## Objects: decoding and verifying, keys and signatures\n\n\
         Criterion medians. The baseline, measured in the same run: one bare RSA-2048 signature verification.\n\n\
         | benchmark | median | ÷ bare RSA verify |\n|---|---:|---:|\n",
    );
    for id in [
        "verify/rsa2048_verify_baseline",
        "verify/roa_decode_and_cms_verify",
        "verify/roa_decode_and_verify_cms_and_ee",
        "verify/manifest_1000_decode_and_cms_verify",
        "verify/manifest_1000_decode_and_verify_cms_and_ee",
        "verify/manifest_1000_sha256_of_content",
        "verify/manifest_1000_content_decode",
        "keys/rsa2048_keygen_1_core",
        "keys/rsa2048_keygen_all_cores",
        "sign/rsa2048_sha256_sign",
    ] {
        let Some(ns) = median_ns(id) else { continue };
        let shown = if ns >= 1e6 { format!("{:.1} ms", ns / 1e6) } else { format!("{:.1} µs", ns / 1e3) };
        out.push_str(&format!("| `{id}` | {shown} | {:.2}× |\n", ns / base));
    }
    let threads = rayon::current_num_threads() as f64;
    if let (Some(one), Some(all)) = (median_ns("keys/rsa2048_keygen_1_core"), median_ns("keys/rsa2048_keygen_all_cores")) {
        out.push_str(&format!(
            "\nKey generation: {:.1} keys/s on one core, {:.1} keys/s on all {threads} cores.\n",
            1e9 / one,
            threads * 2.0 * 1e9 / all
        ));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(if quick { "objects-quick.md" } else { "objects.md" }), out).unwrap();
}
