//! `/openapi.json` and the Swagger UI at `/docs`, served from assets compiled into the binary
//! so the page works without internet access.

use std::sync::{Arc, LazyLock};

use utoipa_swagger_ui::Config;
use warp::Filter;
use warp::http::{Method, header};
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::extract;
use super::routes::Table;
use super::state::AppState;

static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::from("/openapi.json")));

/// `/openapi.json`, and Swagger UI at `/docs` (served from the binary, so it works offline).
pub fn declare(table: &mut Table) {
    table
        .resource("/openapi.json", warp::path!("openapi.json").map(|| ()))
        .undocumented(Method::GET, extract::nothing(), openapi)
        .finish();
    table
        .resource("/docs", warp::path!("docs").map(|| ()))
        .undocumented(Method::GET, extract::nothing(), |_, _, _| async {
            Ok(swagger_file("index.html"))
        })
        .finish();
    table
        .resource("/docs/{file}", warp::path!("docs" / String))
        .undocumented(
            Method::GET,
            extract::nothing(),
            |_, file: String, _| async move { Ok(swagger_file(&file)) },
        )
        .finish();
}

async fn openapi(state: AppState, _: (), _: ()) -> Result<Response, ApiError> {
    Ok(warp::reply::with_header(
        state.openapi.to_string(),
        header::CONTENT_TYPE,
        "application/json",
    )
    .into_response())
}

fn swagger_file(name: &str) -> Response {
    let file = match utoipa_swagger_ui::serve(name, SWAGGER_CONFIG.clone()) {
        Ok(Some(file)) => file,
        Ok(None) => return ApiError::NotFound.into_response(),
        Err(error) => return ApiError::Internal(format!("swagger ui: {error}")).into_response(),
    };
    let bytes = if name == "index.html" || name.is_empty() {
        // Served at /docs (no trailing slash) as well, where the page's relative asset links
        // would otherwise resolve against / instead of /docs/.
        String::from_utf8_lossy(&file.bytes)
            .replacen("<head>", "<head>\n    <base href=\"/docs/\">", 1)
            .into_bytes()
    } else {
        file.bytes.into_owned()
    };
    warp::reply::with_header(bytes, header::CONTENT_TYPE, file.content_type).into_response()
}
