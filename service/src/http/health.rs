//! Health endpoints for Kubernetes probes and load balancers.
//!
//! `/api/health` and `/api/health/ready` make one round trip to the database; they answer 503
//! when it is unreachable or when the process is draining before shutdown. `/api/health/live`
//! only says the process is serving, so a liveness probe on it does not restart pods because
//! the database is down.

use serde::Serialize;
use utoipa::ToSchema;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

use super::extract::{self, Matched};
use super::state::AppState;
use crate::build_info::VERSION;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// `ok`, `unavailable` (database unreachable) or `draining` (shutting down).
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `ok` or `unreachable`; absent from the liveness answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "ok")]
    pub database: Option<&'static str>,
    /// The pod (host) that answered.
    pub pod: String,
    pub version: &'static str,
}

pub fn wire_health(state: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched
        .and(extract::state(state))
        .then(|_, state| health(state))
        .boxed()
}

pub fn wire_ready(state: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched
        .and(extract::state(state))
        .then(|_, state| ready(state))
        .boxed()
}

pub fn wire_live(state: AppState, matched: Matched) -> BoxedFilter<(Response,)> {
    matched
        .and(extract::state(state))
        .map(|_, state| live(state))
        .boxed()
}

/// Liveness and readiness: 200 when the database answers and the process is not draining.
#[utoipa::path(
    get,
    path = "/api/health",
    responses(
        (status = 200, description = "Serving, database reachable", body = HealthReport),
        (status = 503, description = "Database unreachable or shutting down", body = HealthReport),
    )
)]
pub async fn health(state: AppState) -> Response {
    let database_ok = state.db.is_reachable().await;
    state.metrics.set_db_up(database_ok);
    let draining = state.lifecycle.is_draining();
    let (status, code) = match (draining, database_ok) {
        (true, _) => ("draining", StatusCode::SERVICE_UNAVAILABLE),
        (false, true) => ("ok", StatusCode::OK),
        (false, false) => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
    };
    let report = HealthReport {
        status,
        database: Some(if database_ok { "ok" } else { "unreachable" }),
        pod: state.pod_name.to_string(),
        version: VERSION,
    };
    uncached(warp::reply::with_status(warp::reply::json(&report), code))
}

/// Readiness, under the name Kubernetes users expect; same check as `/api/health`.
#[utoipa::path(
    get,
    path = "/api/health/ready",
    // The operation id of 0.1.0, kept so that generated clients keep their method names.
    operation_id = "ready_doc",
    responses(
        (status = 200, description = "Ready for traffic", body = HealthReport),
        (status = 503, description = "Database unreachable or shutting down", body = HealthReport),
    )
)]
pub async fn ready(state: AppState) -> Response {
    health(state).await
}

/// Liveness: the process is up and serving HTTP. Never touches the database.
#[utoipa::path(
    get,
    path = "/api/health/live",
    responses((status = 200, description = "Process is serving", body = HealthReport))
)]
pub fn live(state: AppState) -> Response {
    let report = HealthReport {
        status: "ok",
        database: None,
        pod: state.pod_name.to_string(),
        version: VERSION,
    };
    uncached(warp::reply::json(&report))
}

fn uncached(reply: impl Reply) -> Response {
    warp::reply::with_header(reply, header::CACHE_CONTROL, "no-store").into_response()
}
