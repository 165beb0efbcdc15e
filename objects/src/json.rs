//! JSON views of decoded objects, as `rpkit inspect` prints them.

use crate::aspa::Aspa;
use crate::cert::Cert;
use crate::crl::Crl;
use crate::error::Error;
use crate::manifest::Manifest;
use crate::object::Object;
use crate::resources::{CertResources, Choice};
use crate::roa::Roa;
use crate::signed_object::SignedObject;
use crate::tal::Tal;
use base64::Engine;
use serde_json::{json, Value};

pub fn object(o: &Object) -> Value {
    let mut v = match o {
        Object::Cert(c) => cert(c),
        Object::Crl(c) => crl(c),
        Object::Manifest(m) => manifest(m),
        Object::Roa(r) => roa(r),
        Object::Aspa(a) => aspa(a),
        Object::Signed(s) => signed(s),
        Object::Tal(t) => tal(t),
    };
    if let Some(m) = v.as_object_mut() {
        m.insert("type".into(), json!(o.type_name()));
    }
    v
}

fn warnings(w: &[Error]) -> Value {
    w.iter().map(|e| json!(e.to_string())).collect()
}

pub fn resources(r: &CertResources) -> Value {
    let ip = |c: &Option<Choice<crate::resources::IpBlocks>>| match c {
        None => Value::Null,
        Some(Choice::Inherit) => json!("inherit"),
        Some(Choice::Blocks(b)) => json!(b.to_strings()),
    };
    json!({
        "asn": match &r.asn {
            None => Value::Null,
            Some(Choice::Inherit) => json!("inherit"),
            Some(Choice::Blocks(b)) => json!(b.to_strings()),
        },
        "ipv4": ip(&r.ipv4),
        "ipv6": ip(&r.ipv6),
    })
}

pub fn cert(c: &Cert) -> Value {
    json!({
        "kind": c.kind,
        "serial": c.serial.hex(),
        "issuer": c.issuer.to_string(),
        "subject": c.subject.to_string(),
        "not_before": c.not_before.rfc3339(),
        "not_after": c.not_after.rfc3339(),
        "public_key": {
            "algorithm": format!("{:?}", c.public_key.algorithm()),
            "spki": base64::engine::general_purpose::STANDARD.encode(c.public_key.spki()),
        },
        "ski": c.ski.hex(),
        "aki": c.aki.map(|a| a.hex()),
        "crl_distribution_points": c.crl_uris,
        "ca_issuers": c.ca_issuers,
        "sia": {
            "ca_repository": c.sia.ca_repository,
            "rpki_manifest": c.sia.rpki_manifest,
            "rpki_notify": c.sia.rpki_notify,
            "signed_object": c.sia.signed_object,
        },
        "resources": resources(&c.resources),
        "extended_key_usage": c.eku,
        "cps": c.cps_uri,
        "warnings": warnings(&c.warnings),
    })
}

pub fn crl(c: &Crl) -> Value {
    json!({
        "issuer": c.issuer.to_string(),
        "aki": c.aki.hex(),
        "crl_number": c.crl_number.hex(),
        "this_update": c.this_update.rfc3339(),
        "next_update": c.next_update.rfc3339(),
        "revoked": c.revoked.iter().map(|r| json!({"serial": r.serial.hex(), "date": r.revocation_date.rfc3339()})).collect::<Vec<_>>(),
        "warnings": warnings(&c.warnings),
    })
}

pub fn signed(s: &SignedObject) -> Value {
    json!({
        "content_type": s.content_type,
        "signing_time": s.signing_time.rfc3339(),
        "cms_signature_valid": s.verify_signature().is_ok(),
        "ee_certificate": cert(&s.ee),
        "warnings": warnings(&s.warnings),
    })
}

fn with(mut base: Value, extra: Value, w: &[Error]) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
        b.insert("warnings".into(), warnings(w));
    }
    base
}

pub fn roa(r: &Roa) -> Value {
    let prefixes: Vec<Value> = r
        .content
        .prefixes
        .iter()
        .map(|p| json!({"prefix": p.prefix.to_string(), "max_length": p.max_len(), "max_length_encoded": p.max_length.is_some()}))
        .collect();
    with(signed(&r.signed), json!({"asn": r.content.asn.0, "prefixes": prefixes}), &r.warnings)
}

pub fn manifest(m: &Manifest) -> Value {
    let c = &m.content;
    let files: Vec<Value> = c.files.iter().map(|f| json!({"file": f.file, "hash": crate::hex::lower(&f.hash)})).collect();
    with(
        signed(&m.signed),
        json!({
            "manifest_number": c.manifest_number.hex(),
            "this_update": c.this_update.rfc3339(),
            "next_update": c.next_update.rfc3339(),
            "file_hash_algorithm": "sha256",
            "files": files,
        }),
        &m.warnings,
    )
}

pub fn aspa(a: &Aspa) -> Value {
    with(
        signed(&a.signed),
        json!({
            "customer_asid": a.content.customer.0,
            "providers": a.content.providers.iter().map(|p| p.0).collect::<Vec<_>>(),
        }),
        &a.warnings,
    )
}

pub fn tal(t: &Tal) -> Value {
    json!({
        "comments": t.comments,
        "uris": t.uris,
        "public_key": {
            "algorithm": format!("{:?}", t.key.algorithm()),
            "ski": t.key.key_id().hex(),
            "spki": base64::engine::general_purpose::STANDARD.encode(t.key.spki()),
        },
    })
}
