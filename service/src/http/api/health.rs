//! Health endpoints for Kubernetes probes and load balancers.
//!
//! `/api/health` and `/api/health/ready` make one round trip to the database; they answer 503
//! when it is unreachable or when the process is draining before shutdown. `/api/health/live`
//! only says the process is serving, so a liveness probe on it does not restart pods because
//! the database is down.

use serde::Serialize;
use utoipa::ToSchema;
use warp::Filter;
use warp::http::{StatusCode, header};
use warp::reply::{Reply, Response};

use super::error::{ApiError, LoggedCause};
use super::extract;
use super::routes::Table;
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

/// The probes: `/api/health` (the contract's), `/api/health/ready` and `/api/health/live`.
pub fn declare(table: &mut Table) {
    table
        .resource("/api/health", warp::path!("api" / "health").map(|| ()))
        .route(__path_health, extract::nothing(), health)
        .finish();
    table
        .resource(
            "/api/health/ready",
            warp::path!("api" / "health" / "ready").map(|| ()),
        )
        .route(__path_ready, extract::nothing(), ready)
        .finish();
    table
        .resource(
            "/api/health/live",
            warp::path!("api" / "health" / "live").map(|| ()),
        )
        .route(__path_live, extract::nothing(), live)
        .finish();
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
pub async fn health(state: AppState, _: (), _: ()) -> Result<Response, ApiError> {
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
    let mut response = uncached(warp::reply::with_status(warp::reply::json(&report), code));
    if code != StatusCode::OK {
        // The probe's log line says why the pod is out of the Service's endpoints.
        let cause = if draining {
            "shutting down"
        } else {
            "the database did not answer the health check"
        };
        response
            .extensions_mut()
            .insert(LoggedCause(cause.to_owned()));
    }
    Ok(response)
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
pub async fn ready(state: AppState, _: (), _: ()) -> Result<Response, ApiError> {
    health(state, (), ()).await
}

/// Liveness: the process is up and serving HTTP. Never touches the database.
#[utoipa::path(
    get,
    path = "/api/health/live",
    responses((status = 200, description = "Process is serving", body = HealthReport))
)]
pub async fn live(state: AppState, _: (), _: ()) -> Result<Response, ApiError> {
    let report = HealthReport {
        status: "ok",
        database: None,
        pod: state.pod_name.to_string(),
        version: VERSION,
    };
    Ok(uncached(warp::reply::json(&report)))
}

fn uncached(reply: impl Reply) -> Response {
    warp::reply::with_header(reply, header::CACHE_CONTROL, "no-store").into_response()
}
