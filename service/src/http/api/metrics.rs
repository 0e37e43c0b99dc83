//! `/metrics` in the Prometheus text format.

use warp::Filter;
use warp::http::header;
use warp::reply::{Reply, Response};

use super::error::ApiError;
use super::extract;
use super::routes::Table;
use super::state::AppState;

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn declare(table: &mut Table) {
    table
        .resource("/metrics", warp::path!("metrics").map(|| ()))
        .route(__path_metrics, extract::nothing(), metrics)
        .finish();
}

/// Prometheus metrics of this process.
#[utoipa::path(
    get,
    path = "/metrics",
    // The operation id of 0.1.0, kept so that generated clients keep their method names.
    operation_id = "metrics_doc",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn metrics(state: AppState, _: (), _: ()) -> Result<Response, ApiError> {
    let body = state
        .metrics
        .render(state.db.pool_status(), state.db.reads_in_flight());
    Ok(warp::reply::with_header(body, header::CONTENT_TYPE, TEXT_FORMAT).into_response())
}
