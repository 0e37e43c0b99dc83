//! Around every request: a request id, the serving pod's name, metrics and one log line (at
//! DEBUG for the platform's own successful probes and scrapes, see [`is_routine`]).

use std::time::Instant;

use tracing::{debug, error, info, warn};
use uuid::Uuid;
use warp::http::{HeaderName, HeaderValue, Method, Request, Uri};
use warp::reply::Response;

use super::error::InternalCause;
use super::state::AppState;
use crate::metrics::InFlight;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Names the pod that served the response, so load spreading can be seen from outside.
pub const SERVED_BY_HEADER: HeaderName = HeaderName::from_static("x-served-by");

/// One request, from its arrival to its answer: started when it arrives, finished with the
/// response it gets, whatever route (or none) answered it.
pub struct Observation {
    started: Instant,
    method: Method,
    path: Uri,
    request_id: String,
    _in_flight: InFlight,
}

impl Observation {
    pub fn start<B>(state: &AppState, request: &Request<B>) -> Observation {
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
            _in_flight: state.metrics.track_in_flight(),
        }
    }

    pub fn path(&self) -> &str {
        self.path.path()
    }
}

/// The routes the platform calls by itself on every pod: the kubelet's probes (every 10 s, two
/// probes) and Prometheus' scrape. Their successful answers are access-log noise at INFO, as in
/// most servers, and they crowded out everything else: `kubectl logs -l ...` shows each pod's
/// last 10 lines, which were all probes and scrapes. A failed one is not routine and stays INFO.
const ROUTINE_ROUTES: &[&str] = &[
    "/api/health",
    "/api/health/live",
    "/api/health/ready",
    "/metrics",
];

/// Whether a request's log line goes at DEBUG: a routine route answered with success.
fn is_routine(route: &str, status: u16) -> bool {
    ROUTINE_ROUTES.contains(&route) && (200..300).contains(&status)
}

/// A client's id is kept if it is short and plain, so it can't forge log lines or bloat them.
fn is_acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl Observation {
    /// Counts and logs the request, labelled with its route's template, and adds the headers
    /// every answer carries.
    pub fn finish(self, state: &AppState, route: &'static str, mut response: Response) -> Response {
        let elapsed = self.started.elapsed();
        let status = response.status();
        state
            .metrics
            .observe_request(&self.method, route, status, elapsed);

        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        headers.insert(SERVED_BY_HEADER, state.served_by.clone());

        let cause = response.extensions_mut().remove::<InternalCause>();
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let (method, path, request_id) = (self.method.as_str(), self.path.path(), &self.request_id);
        let status = status.as_u16();
        match cause {
            Some(InternalCause(cause)) if status >= 500 && status != 503 => error!(
                method,
                route, path, status, latency_ms, request_id, cause, "request failed"
            ),
            Some(InternalCause(cause)) => warn!(
                method,
                route, path, status, latency_ms, request_id, cause, "request failed"
            ),
            None if is_routine(route, status) => debug!(
                method,
                route, path, status, latency_ms, request_id, "request"
            ),
            None => info!(
                method,
                route, path, status, latency_ms, request_id, "request"
            ),
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::{ROUTINE_ROUTES, is_acceptable_request_id, is_routine};
    use crate::http::routes;

    #[test]
    fn successful_probes_and_scrapes_are_routine_and_everything_else_is_not() {
        for route in [
            "/api/health",
            "/api/health/live",
            "/api/health/ready",
            "/metrics",
        ] {
            assert!(is_routine(route, 200), "{route}");
        }
        assert!(!is_routine("/api/health", 503), "a failed probe is news");
        assert!(!is_routine("/api/health/ready", 503));
        assert!(!is_routine("/metrics", 500));
        assert!(!is_routine("/api/tasks", 200));
        assert!(!is_routine("/api/tasks/{id}", 200));
        assert!(!is_routine("/docs", 200));
        assert!(!is_routine(routes::UNMATCHED_ROUTE, 404));
    }

    #[test]
    fn every_routine_route_is_a_route_of_the_table() {
        for route in ROUTINE_ROUTES {
            assert!(
                routes::all().iter().any(|r| r.path == *route),
                "{route} is not a route template"
            );
        }
    }

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
}
