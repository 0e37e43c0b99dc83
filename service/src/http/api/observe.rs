//! Around every request: a request id, the serving pod's name, metrics and one log line, for
//! every request that arrives, whatever becomes of it: answered by a route, refused, a panic
//! turned into a 500, or abandoned before its answer (dropped unfinished: the client went
//! away, or the process stopped).

use std::time::Instant;

use tracing::{debug, error, info, warn};
use uuid::Uuid;
use warp::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use warp::reply::Response;

use super::error::LoggedCause;
use super::routes::{RouteTemplate, UNMATCHED_ROUTE};
use super::state::Lifecycle;
use crate::metrics::{InFlight, Metrics};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Names the pod that served the response, so load spreading can be seen from outside.
pub const SERVED_BY_HEADER: HeaderName = HeaderName::from_static("x-served-by");

/// The `status` label of a request whose client went away before its answer (nginx's 499).
pub const CLIENT_CLOSED: StatusCode = match StatusCode::from_u16(499) {
    Ok(status) => status,
    Err(_) => panic!("499 is a valid status code"),
};

/// One request, from its arrival to its answer.
pub struct Observation<'a> {
    started: Instant,
    method: Method,
    path: Uri,
    request_id: String,
    metrics: &'a Metrics,
    lifecycle: &'a Lifecycle,
    /// Until [`Observation::finish`]: a request dropped before that is still counted.
    pending: Option<InFlight>,
}

impl<'a> Observation<'a> {
    pub fn start<B>(
        metrics: &'a Metrics,
        lifecycle: &'a Lifecycle,
        request: &Request<B>,
    ) -> Observation<'a> {
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_acceptable_request_id(id))
            .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
        Observation {
            started: Instant::now(),
            method: request.method().clone(),
            path: request.uri().clone(),
            request_id,
            metrics,
            lifecycle,
            pending: Some(metrics.track_in_flight()),
        }
    }

    /// Counts and logs the request, labelled with the template of the route that answered,
    /// and adds the headers every answer carries.
    pub fn finish(mut self, served_by: &HeaderValue, mut response: Response) -> Response {
        self.pending = None;
        let route = response
            .extensions()
            .get::<RouteTemplate>()
            .map_or(UNMATCHED_ROUTE, |template| template.0);
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        headers.insert(SERVED_BY_HEADER, served_by.clone());
        let cause = response
            .extensions_mut()
            .remove::<LoggedCause>()
            .map(|cause| cause.0);
        self.record(route, response.status(), cause.as_deref());
        response
    }

    fn record(&self, route: &'static str, status: StatusCode, cause: Option<&str>) {
        let elapsed = self.started.elapsed();
        self.metrics
            .observe_request(&self.method, route, status, elapsed);
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let (method, path, request_id) = (self.method.as_str(), self.path.path(), &self.request_id);
        let status = status.as_u16();
        let cause = cause.unwrap_or("");
        if status >= 500 && status != 503 {
            error!(
                method,
                route, path, status, latency_ms, request_id, cause, "request failed"
            );
        } else if status == 503 || status == CLIENT_CLOSED.as_u16() {
            warn!(
                method,
                route, path, status, latency_ms, request_id, cause, "request failed"
            );
        } else if status < 400 && is_routine(route) {
            // Probes and scrapes arrive every few seconds from kubelet and Prometheus: at INFO
            // they would bury every other line (the contract's `kubectl logs | grep database`).
            debug!(
                method,
                route, path, status, latency_ms, request_id, "request"
            );
        } else if cause.is_empty() {
            info!(
                method,
                route, path, status, latency_ms, request_id, "request"
            );
        } else {
            info!(
                method,
                route, path, status, latency_ms, request_id, cause, "request"
            );
        }
    }
}

impl Drop for Observation<'_> {
    /// A request dropped before its answer: cut off by the process stopping (counted as 503),
    /// or abandoned by its client (499).
    fn drop(&mut self) {
        if self.pending.take().is_none() {
            return;
        }
        let (status, cause) = if self.lifecycle.is_draining() {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "cut off: the grace period of the shutdown ran out",
            )
        } else {
            (
                CLIENT_CLOSED,
                "abandoned: the connection closed before the answer",
            )
        };
        self.record(UNMATCHED_ROUTE, status, Some(cause));
    }
}

/// The routes the platform calls by itself on every pod: the kubelet's probes (every 10 s, two
/// probes) and Prometheus' scrape. Their successful answers are access-log noise at INFO, as in
/// most servers, and they crowded out everything else: `kubectl logs -l ...` shows each pod's
/// last 10 lines, which were all probes and scrapes. A failed one is news and stays at INFO.
const ROUTINE_ROUTES: &[&str] = &[
    "/api/health",
    "/api/health/live",
    "/api/health/ready",
    "/metrics",
];

fn is_routine(route: &str) -> bool {
    ROUTINE_ROUTES.contains(&route)
}

/// A client's id is kept if it is short and plain, so it can't forge log lines or bloat them.
fn is_acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    use super::{ROUTINE_ROUTES, is_acceptable_request_id, is_routine};

    #[test]
    fn plain_request_ids_are_kept_and_others_replaced() {
        assert!(is_acceptable_request_id(
            "3f2c9a1e-7b44-4c1d-9d7a-2f0c5c1a9b10"
        ));
        assert!(is_acceptable_request_id("trace:abc.123_x"));
        assert!(!is_acceptable_request_id(""));
        assert!(!is_acceptable_request_id("line\nbreak"));
        assert!(!is_acceptable_request_id(&"a".repeat(129)));
    }

    #[test]
    fn probes_and_scrapes_are_routine_and_the_api_is_not() {
        for route in [
            "/api/health",
            "/api/health/ready",
            "/api/health/live",
            "/metrics",
        ] {
            assert!(is_routine(route), "{route}");
        }
        for route in ["/api/tasks", "/api/tasks/{id}", "/docs", "unmatched"] {
            assert!(!is_routine(route), "{route}");
        }
    }

    #[test]
    fn every_routine_route_is_a_route_of_the_table() {
        for route in ROUTINE_ROUTES {
            assert!(
                crate::http::routes().iter().any(|r| r.path == *route),
                "{route} is no route: the probes' log lines would be INFO again"
            );
        }
    }
}
