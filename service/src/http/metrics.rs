//! `/metrics` in the Prometheus text format.

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::header;
use warp::reply::{Reply, Response};

use super::extract::{self, Matched};
use super::state::AppState;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn wire_metrics(state: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched
        .and(extract::state(state))
        .map(|_, state| metrics(state))
        .boxed()
}

/// Prometheus metrics of this process.
#[utoipa::path(
    get,
    path = "/metrics",
    // The operation id of 0.1.0, kept so that generated clients keep their method names.
    operation_id = "metrics_doc",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub fn metrics(state: AppState) -> Response {
    let body = state
        .metrics
        .render(state.db.pool_status(), state.db.reads_in_flight());
    warp::reply::with_header(body, header::CONTENT_TYPE, TEXT_FORMAT).into_response()
}
