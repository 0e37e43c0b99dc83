//! The API that [`super::server`] serves: what happens to a request once its head has arrived.
//!
//! [`Api::handle`] is the one way through, for every request:
//! 1. [`observe`] starts its observation (request id, in-flight gauge);
//! 2. [`cors`] classifies it by its `Origin`;
//! 3. the route table ([`table`]: warp filters declared by [`tasks`], [`health`], [`metrics`]
//!    and [`docs`] the way [`routes`] says, with their extractors from [`extract`]) answers
//!    it; a handler's error, a refused input or a panic becomes the JSON error of [`error`];
//! 4. [`cors`] adds its headers, and [`observe`] counts and logs the answer with its route's
//!    template.

mod cors;
mod docs;
mod error;
mod extract;
mod health;
mod metrics;
mod observe;
mod openapi;
mod routes;
mod state;
mod table;
mod tasks;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use hyper::body::Incoming;
use warp::filters::BoxedFilter;
use warp::http::Request;
use warp::reply::Response;

pub use self::cors::CorsPolicy;
use self::error::ApiError;
use self::observe::Observation;
pub use self::openapi::openapi_json;
pub use self::routes::Route;
pub use self::state::{AppState, AppStateParts, Lifecycle};
pub use self::table::all as routes;
use super::server::Handler;
use crate::telemetry::panic_message;

/// Longest a handler may take to produce an answer. Database calls have deadlines of their own
/// well below this; it bounds what nothing else does, so every request is answered (and
/// counted), well inside the server's cap on a request's whole life.
const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// `Retry-After` of a 503 for a handler that ran out of time.
const RETRY_AFTER_TIMEOUT: u32 = 5;

pub struct Api {
    state: AppState,
    cors: CorsPolicy,
    routes: BoxedFilter<(Response,)>,
}

impl Api {
    pub fn new(state: AppState, cors: CorsPolicy) -> Api {
        Api {
            state,
            cors,
            routes: table::filter(),
        }
    }
}

impl Handler for Api {
    async fn handle(&self, request: Request<Incoming>) -> Response {
        self.respond(request).await
    }
}

impl Api {
    async fn respond<B>(&self, mut request: Request<B>) -> Response
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let observation = Observation::start(&self.state.metrics, &self.state.lifecycle, &request);
        let cors = self.cors.classify(request.method(), request.headers());
        request.extensions_mut().insert(self.state.clone());
        let mut response = answer(self.routes.clone(), request).await;
        cors.apply(&mut response);
        observation.finish(&self.state.served_by, response)
    }
}

/// The route table's answer, or a 500 if a handler panicked, or a 503 if it ran out of time.
async fn answer<B>(routes: BoxedFilter<(Response,)>, request: Request<B>) -> Response
where
    B: hyper::body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use tower_service::Service;
    let mut service = warp::service(routes);
    let call = AssertUnwindSafe(service.call(request)).catch_unwind();
    match tokio::time::timeout(HANDLER_TIMEOUT, call).await {
        Ok(Ok(Ok(response))) => response,
        Ok(Ok(Err(never))) => match never {},
        Ok(Err(panic)) => ApiError::Internal(format!(
            "handler panicked: {}",
            panic_message(panic.as_ref())
        ))
        .into_response(),
        Err(_) => ApiError::Unavailable {
            message: "the request took too long; retry later",
            retry_after: RETRY_AFTER_TIMEOUT,
            cause: format!("no answer within {HANDLER_TIMEOUT:?}"),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Empty;
    use warp::Filter;
    use warp::http::{HeaderValue, StatusCode};

    use crate::metrics::Metrics;

    fn request(path: &str) -> Request<Empty<bytes::Bytes>> {
        Request::get(path).body(Empty::new()).unwrap()
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_without_its_cause() {
        let panicky = warp::path!("boom")
            .map(|| -> Response { panic!("handler bug") })
            .boxed();
        let response = answer(panicky, request("/boom")).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let cause = response.extensions().get::<error::LoggedCause>().unwrap();
        assert!(
            cause.0.contains("handler bug"),
            "the log line gets the cause"
        );
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(!String::from_utf8_lossy(&body).contains("handler bug"));
    }

    /// What `Api::respond` does with a request, with `routes` instead of the table's.
    async fn observed(
        routes: BoxedFilter<(Response,)>,
        path: &str,
        lifecycle: &Lifecycle,
    ) -> Metrics {
        let metrics = Metrics::new("test");
        let request = request(path);
        let observation = Observation::start(&metrics, lifecycle, &request);
        let response = answer(routes, request).await;
        let response = observation.finish(&HeaderValue::from_static("test-pod"), response);
        assert!(response.headers().contains_key("x-request-id"));
        metrics
    }

    #[tokio::test]
    async fn a_panic_is_counted_and_logged_like_any_answer() {
        let panicky = warp::path!("boom")
            .map(|| -> Response { panic!("handler bug") })
            .boxed();
        let metrics = observed(panicky, "/boom", &Lifecycle::default()).await;
        let text = metrics.text();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="unmatched",status="500"} 1"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_before_its_answer_is_counted() {
        let stuck = || warp::any().then(std::future::pending::<Response>).boxed();
        for (lifecycle, status) in [(Lifecycle::default(), "499"), (draining(), "503")] {
            let metrics = Metrics::new("test");
            let request = request("/slow");
            let observation = Observation::start(&metrics, &lifecycle, &request);
            let in_flight = async {
                let response = answer(stuck(), request).await;
                observation.finish(&HeaderValue::from_static("test-pod"), response)
            };
            // Polled until it waits for its answer, then dropped, as hyper drops it.
            let waited = tokio::time::timeout(Duration::from_millis(50), in_flight).await;
            assert!(waited.is_err(), "the stuck route never answers");
            let text = metrics.text();
            assert!(
                text.contains(&format!(r#"status="{status}"}} 1"#)),
                "{status}: {text}"
            );
        }
    }

    fn draining() -> Lifecycle {
        let lifecycle = Lifecycle::default();
        lifecycle.start_draining();
        lifecycle
    }

    #[test]
    fn the_release_build_unwinds_panics_instead_of_aborting() {
        // With panic = "abort" one panicking request would take the pod down, unflushed logs
        // and all; `answer` needs unwinding to turn a panic into a 500.
        let manifest =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml")).unwrap();
        assert!(!manifest.replace(' ', "").contains("panic=\"abort\""));
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_that_never_answers_is_503_after_the_timeout() {
        let stuck = warp::any().then(std::future::pending::<Response>).boxed();
        let response = answer(stuck, request("/")).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key("retry-after"));
    }
}
