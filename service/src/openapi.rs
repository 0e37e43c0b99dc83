//! The OpenAPI document, generated from the handlers' annotations.
//!
//! A copy is committed as `service/openapi.json`; a test fails when the two differ, so API
//! changes show up in review.

use std::sync::LazyLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{health, metrics, tasks};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "todo-chatbot backend",
        description = "Tasks API of todo-chatbot. Task routes need `Authorization: Bearer <JWT>` (HS256, signed with BETTER_AUTH_SECRET, `sub` = user id, `exp` required). Errors are `{\"error\": {\"code\", \"message\", \"details\"?}}`."
    ),
    paths(
        health::health,
        health::ready_doc,
        health::live,
        tasks::create_task,
        tasks::list_tasks,
        tasks::get_task,
        tasks::update_task,
        tasks::delete_task,
        metrics::metrics_doc,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail, crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "tasks", description = "The caller's tasks"),
        (name = "health", description = "Probes"),
        (name = "operations", description = "Metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

static OPENAPI_JSON: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes")
        + "\n"
});

/// The document as served at `/openapi.json`.
pub fn openapi_json() -> String {
    OPENAPI_JSON.clone()
}
