//! `GET /api/v1/openapi.json`: the API described in OpenAPI 3.

use serde_json::{json, Value};

fn op(summary: &str, admin_only: bool) -> Value {
    let who = if admin_only { "admin token" } else { "admin token or the member's own token" };
    json!({ "summary": summary, "description": format!("Authorization: Bearer ({who})."), "responses": {
        "200": {"description": "OK"}, "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"} } })
}

pub fn document() -> Value {
    let roa = json!({"type": "object", "required": ["prefix", "asn"], "properties": {
        "prefix": {"type": "string", "example": "192.0.2.0/24"},
        "max_length": {"type": "integer", "example": 24},
        "asn": {"type": "integer", "example": 64496}}});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "rpkit CA API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Roa": roa,
                "RoaDelta": {"type": "object", "properties": {
                    "added": {"type": "array", "items": {"$ref": "#/components/schemas/Roa"}},
                    "removed": {"type": "array", "items": {"$ref": "#/components/schemas/Roa"}}}},
                "Error": {"type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "rejected": {"type": "array", "items": {"type": "object", "properties": {
                        "entry": {"type": "string"}, "code": {"type": "string"}, "reason": {"type": "string"}}}}}}
            },
            "responses": {"Error": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/tal": {"get": op("The trust anchor locator (text)", false)},
            "/api/v1/whoami": {"get": op("Who the token belongs to: {member: handle} or {admin: true}", false)},
            "/api/v1/export": {"get": op("Everything the CA publishes (uri, sha256, ca) and the ROAs and ASPAs behind it, for `rpkit audit --expect`", true)},
            "/api/v1/members": {"get": op("List members", true), "post": op("Add a member: {handle, resources, opaque_id?}", true)},
            "/api/v1/members/import": {"post": op("Apply a delegated-extended statistics file (request body) and report the differences", true)},
            "/api/v1/members/{handle}": {"get": op("Show a member", false), "delete": op("Remove a member: revoke its CA and withdraw its objects", true)},
            "/api/v1/members/{handle}/resources": {"put": op("Set a member's resources: {resources}", true)},
            "/api/v1/members/{handle}/tokens": {"post": op("Create a bearer token for the member (shown once)", true)},
            "/api/v1/members/{handle}/roas": {
                "get": op("List ROAs; the ETag header tags the set", false),
                "post": op("Add one ROA or a list (?dry_run=true to preview; If-Match supported)", false),
                "delete": op("Remove one ROA or a list (body as for POST)", false)},
            "/api/v1/members/{handle}/roas/delta": {"post": op("Apply {added, removed} all or nothing; 422 lists every rejected entry", false)},
            "/api/v1/members/{handle}/aspas": {"get": op("List ASPAs", false)},
            "/api/v1/members/{handle}/aspas/{customer}": {"put": op("Create or replace the ASPA of a customer AS: {providers: [..]}", false), "delete": op("Remove the ASPA", false)}
        }
    })
}
