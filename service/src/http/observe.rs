//! Around every request: a request id, the serving pod's name, metrics and one log line.

use std::time::Instant;

use tracing::{error, info, warn};
use uuid::Uuid;
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use warp::reply::Response;

use super::error::InternalCause;
use super::routes;
use super::state::AppState;
use crate::metrics::{InFlight, Metrics};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// Names the pod that served the response, so load spreading can be seen from outside.
pub const SERVED_BY_HEADER: HeaderName = HeaderName::from_static("x-served-by");

struct RequestContext {
    started: Instant,
    method: Method,
    path: warp::path::FullPath,
    request_id: String,
    metrics: Metrics,
    served_by: HeaderValue,
    _in_flight: InFlight,
}

pub fn observed(state: AppState, routes: BoxedFilter<(Response,)>) -> BoxedFilter<(Response,)> {
    // Pod names are DNS labels, always valid header values; the fallback is for odd host names.
    let served_by =
        HeaderValue::from_str(&state.pod_name).unwrap_or(HeaderValue::from_static("unknown"));
    let client_request_id = warp::header::optional::<String>("x-request-id")
        .or(warp::any().map(|| None))
        .unify();
    warp::method()
        .and(warp::path::full())
        .and(client_request_id)
        .map(
            move |method, path, request_id: Option<String>| RequestContext {
                started: Instant::now(),
                method,
                path,
                request_id: request_id
                    .filter(|id| is_acceptable_request_id(id))
                    .unwrap_or_else(|| Uuid::new_v4().to_string()),
                metrics: state.metrics.clone(),
                served_by: served_by.clone(),
                _in_flight: state.metrics.track_in_flight(),
            },
        )
        .and(routes)
        .map(|context: RequestContext, response: Response| context.finish(response))
        .boxed()
}

/// A client's id is kept if it is short and plain, so it can't forge log lines or bloat them.
fn is_acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

impl RequestContext {
    fn finish(self, mut response: Response) -> Response {
        let elapsed = self.started.elapsed();
        let route = routes::template(self.path.as_str());
        let status = response.status();
        self.metrics
            .observe_request(&self.method, route, status, elapsed);

        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        headers.insert(SERVED_BY_HEADER, self.served_by);
        // RFC 9110 15.5.6: a 405 says which methods the resource does support.
        if status == StatusCode::METHOD_NOT_ALLOWED
            && let Ok(allow) =
                HeaderValue::from_str(&routes::allowed_methods(self.path.as_str()).join(", "))
        {
            headers.insert(header::ALLOW, allow);
        }

        let cause = response.extensions_mut().remove::<InternalCause>();
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        let (method, path, request_id) =
            (self.method.as_str(), self.path.as_str(), &self.request_id);
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
    use super::is_acceptable_request_id;

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
