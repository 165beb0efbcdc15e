//! The OpenAPI document is generated from the route table and the contract's
//! types: every route is in it with its access rule, every reference resolves,
//! and the bodies are the contract's schemas.

use rpkit_ca::api::{self, Access};
use serde_json::Value;

fn doc() -> Value {
    serde_json::to_value(api::document()).unwrap()
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_route_is_documented_with_its_access_rule() {
    let d = doc();
    assert!(d["openapi"].as_str().unwrap().starts_with("3."), "{}", d["openapi"]);
    let routes = api::routes();
    assert!(routes.len() >= 16, "{routes:?}");
    let mut documented = 0;
    for (path, access, methods) in &routes {
        assert!(!methods.is_empty(), "{path} has no method");
        for m in methods {
            let op = &d["paths"][path][m.to_lowercase()];
            assert!(op.is_object(), "{m} {path} is not in the document");
            documented += 1;
            let secured = op["security"].as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
            assert_eq!(secured, *access != Access::Public, "{m} {path}: security {}", op["security"]);
            let text = op["description"].as_str().unwrap_or("");
            assert!(text.contains("Authorization: "), "{m} {path}: {text}");
            if *access == Access::Admin {
                assert!(text.contains("admin token only"), "{m} {path}: {text}");
            }
            if *access != Access::Public {
                for status in ["401", "403"] {
                    assert_eq!(op["responses"][status]["$ref"], "#/components/responses/Error", "{m} {path} {status}");
                }
            }
        }
    }
    // Nothing in the document that the router does not serve.
    let in_doc: usize = d["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    assert_eq!(in_doc, documented, "operations in the document vs routes in the table");
}

#[test]
fn every_reference_resolves_and_bodies_are_the_contract_types() {
    let d = doc();
    let mut all = Vec::new();
    refs(&d, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let ptr = r.strip_prefix('#').unwrap_or_else(|| panic!("external reference {r}"));
        assert!(d.pointer(ptr).is_some(), "{r} does not resolve");
    }
    let body = |path: &str, m: &str| d["paths"][path][m]["requestBody"]["content"]["application/json"]["schema"]["$ref"].clone();
    assert_eq!(body("/api/v1/members/{handle}/roas/delta", "post"), "#/components/schemas/RoaDelta");
    assert_eq!(body("/api/v1/members", "post"), "#/components/schemas/NewMember");
    assert_eq!(body("/api/v1/members/{handle}/aspas/{customer}", "put"), "#/components/schemas/Providers");
    // A ROA is the route-origin triple, in the form the CLI and the server share.
    let ro = &d["components"]["schemas"]["RouteOrigin"];
    for field in ["prefix", "max_length", "asn"] {
        assert!(ro["properties"][field].is_object(), "RouteOrigin.{field}: {ro}");
    }
    let required: Vec<&str> = ro["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(required, ["prefix", "asn"], "max_length is optional (ROA-6)");
    let err = &d["components"]["schemas"]["ErrorBody"];
    assert!(err["properties"]["rejected"]["items"]["$ref"].as_str().is_some_and(|r| r.ends_with("/Rejection")), "{err}");
    let list = &d["paths"]["/api/v1/members/{handle}/roas"]["get"]["responses"]["200"];
    assert!(list["headers"]["ETag"].is_object(), "{list}");
}
