//! `/metrics` in the Prometheus text format.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header;
use warp::reply::{Reply, Response};

use crate::state::AppState;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes(state: AppState) -> BoxedFilter<(Response,)> {
    warp::path!("metrics")
        .and(warp::get())
        .map(move || {
            let body = state.metrics.render(state.db.pool_status());
            warp::reply::with_header(body, header::CONTENT_TYPE, TEXT_FORMAT).into_response()
        })
        .boxed()
}

/// Prometheus metrics of this process.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
#[allow(dead_code)]
pub fn metrics_doc() {}
