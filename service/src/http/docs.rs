//! `/openapi.json` and the Swagger UI at `/docs`, served from assets compiled into the binary
//! so the page works without internet access.

use std::sync::{Arc, LazyLock};

use utoipa_swagger_ui::Config;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::extract::{self, Captures, Matched};
use super::state::AppState;

static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::from("/openapi.json")));

pub fn wire_openapi(state: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched
        .and(extract::state(state))
        .map(|_, state: AppState| {
            warp::reply::with_header(
                state.openapi.to_string(),
                header::CONTENT_TYPE,
                "application/json",
            )
            .into_response()
        })
        .boxed()
}

pub fn wire_index(_: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched.map(|_| swagger_file("index.html")).boxed()
}

pub fn wire_asset(_: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched
        .map(|captures: Captures| swagger_file(captures.get(0).unwrap_or("")))
        .boxed()
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
