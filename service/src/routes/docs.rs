//! `/openapi.json` and the Swagger UI at `/docs`, served from assets compiled into the binary
//! so the page works without internet access.

use std::sync::{Arc, LazyLock};

use utoipa_swagger_ui::Config;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header;
use warp::reply::{Reply, Response};

use crate::error::ApiError;
use crate::openapi::openapi_json;

static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> =
    LazyLock::new(|| Arc::new(Config::from("/openapi.json")));

pub fn routes() -> BoxedFilter<(Response,)> {
    let spec = warp::path!("openapi.json").and(warp::get()).map(|| {
        warp::reply::with_header(openapi_json(), header::CONTENT_TYPE, "application/json")
            .into_response()
    });
    let index = warp::path!("docs")
        .and(warp::get())
        .map(|| swagger_file("index.html"));
    let asset = warp::path("docs")
        .and(warp::path::tail())
        .and(warp::get())
        .map(|tail: warp::path::Tail| swagger_file(tail.as_str()));
    spec.or(index).unify().or(asset).unify().boxed()
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
