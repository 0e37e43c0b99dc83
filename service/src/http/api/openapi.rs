//! The OpenAPI document: the API's description and its shared schemas here, its paths from the
//! route table (each documented route's `#[utoipa::path]`).
//!
//! A copy is committed as `service/openapi.json`; a test fails when the two differ, so API
//! changes show up in review.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::{ErrorBody, ErrorDetail, FieldError};
use super::health::HealthReport;
use super::table;
use super::tasks::{CreateTask, TaskList, UpdateTask};
use crate::domain::Task;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "todo-chatbot backend",
        description = "Tasks API of todo-chatbot. Task routes need `Authorization: Bearer <JWT>` (see the `bearer` security scheme for the tokens accepted). Browsers may call it from the origins in CORS_ALLOWED_ORIGINS. Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`."
    ),
    // The schemas the routes' docs refer to; a test checks that every reference resolves.
    components(schemas(
        CreateTask,
        ErrorBody,
        ErrorDetail,
        FieldError,
        HealthReport,
        Task,
        TaskList,
        UpdateTask
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "tasks", description = "The caller's tasks"),
        (name = "health", description = "Probes"),
        (name = "operations", description = "Metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

/// The tokens `auth` accepts, for the document's readers.
const BEARER_TOKENS: &str = "A JWT of one of two kinds. (1) HS256, signed with BETTER_AUTH_SECRET (the secret shared with the frontend); `iss` and `aud` are checked only when JWT_ISSUER / JWT_AUDIENCE are set. (2) When BETTER_AUTH_URL is set: a token of Better Auth's JWT plugin (`authClient.token()` or the `set-auth-jwt` header), signed EdDSA (Ed25519, the plugin's default), ES256, ES512, RS256 or PS256 with the key its header's `kid` names in `{BETTER_AUTH_URL}/api/auth/jwks`; `iss` and `aud` must be BETTER_AUTH_URL (or JWT_ISSUER / JWT_AUDIENCE). Both: `sub` is the user id that owns the tasks, `exp` is required (30 s leeway), `nbf` is honoured. 401 when the token is refused; 503 with Retry-After when its signing key cannot be fetched yet.";

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(BEARER_TOKENS))
                    .build(),
            ),
        );
    }
}

static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    let mut document = ApiDoc::openapi();
    for route in table::all() {
        if let Some(docs) = &route.docs {
            document.paths.add_path_operation(
                route.path,
                vec![docs.method.clone()],
                docs.operation.clone(),
            );
        }
    }
    document
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
        + "\n"
});

/// The document as served at `/openapi.json`.
pub fn openapi_json() -> &'static str {
    &OPENAPI_JSON
}

#[cfg(test)]
mod tests {
    use super::*;

    fn references(value: &serde_json::Value, found: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", serde_json::Value::String(target)) => found.push(target.clone()),
                        _ => references(value, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let document: serde_json::Value = serde_json::from_str(openapi_json()).unwrap();
        let mut found = Vec::new();
        references(&document, &mut found);
        assert!(!found.is_empty());
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{target} is referenced but not in components(schemas(...)) of ApiDoc"
            );
        }
    }

    #[test]
    fn every_documented_route_is_in_the_document_once() {
        let document: serde_json::Value = serde_json::from_str(openapi_json()).unwrap();
        for route in table::all() {
            let operation = &document["paths"][route.path][route.method.as_str().to_lowercase()];
            assert_eq!(
                operation.is_object(),
                route.docs.is_some(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
