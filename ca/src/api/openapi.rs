//! `GET /api/v1/openapi.json`: the API described in OpenAPI 3.1, generated from
//! the route table: each handler's operation and body types (`#[utoipa::path]`
//! on the types of `crate::contract`), with the table's access rule added as
//! the operation's security, its description and its error responses.

use super::Access;
use crate::contract::{ErrorBody, Rejection};
use utoipa::openapi::path::{Operation, PathItem, Paths};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, Content, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, ResponseBuilder, Schema};

/// The operations of a path, by method.
pub fn methods(item: &PathItem) -> Vec<(&'static str, &Operation)> {
    let all = [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete), ("PATCH", &item.patch)];
    all.into_iter().filter_map(|(m, op)| op.as_ref().map(|o| (m, o))).collect()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().filter_map(Option::as_mut)
}

/// Who may call, in words.
fn who(access: Access) -> &'static str {
    match access {
        Access::Public => "anyone, without a token",
        Access::AnyToken => "any valid token",
        Access::Admin => "the admin token only",
        Access::MemberOrAdmin => "the admin token, or the token of the member named in the path (never another member's)",
    }
}

/// The table's rule on one operation: security, description, error responses.
fn describe(op: &mut Operation, access: Access) {
    let line = format!("Authorization: {}.", who(access));
    op.description = Some(match op.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{line}"),
        _ => line,
    });
    let mut errors = vec!["500"];
    if access != Access::Public {
        op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        errors.extend(["400", "401", "403", "404", "429"]);
    }
    for status in errors {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| RefOr::Ref(Ref::from_response_name("Error")));
    }
}

/// The document of `entries` (access, schemas, paths).
pub fn document(entries: impl Iterator<Item = (Access, Vec<(String, RefOr<Schema>)>, Paths)>) -> OpenApi {
    let error = ResponseBuilder::new()
        .description("An error: a stable code, a message, and for a bulk request each rejected entry")
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
        .build();
    let mut components = ComponentsBuilder::new()
        .security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
        .schema_from::<ErrorBody>()
        .schema_from::<Rejection>()
        .response("Error", error)
        .build();
    let mut paths = Paths::new();
    for (access, schemas, mut p) in entries {
        components.schemas.extend(schemas);
        for item in p.paths.values_mut() {
            operations_mut(item).for_each(|op| describe(op, access));
        }
        paths.merge(p);
    }
    let info = InfoBuilder::new()
        .title("rpkit CA API")
        .version("1")
        .description(Some("The hosted CA: the RIR operator manages members; each member manages its own ROAs and ASPAs."))
        .build();
    OpenApiBuilder::new().info(info).paths(paths).components(Some(components)).build()
}
