//! The API: a request resolved to its route in the table, answered by that route's handler,
//! given its CORS headers, and observed (request id, pod name, metrics, log line) whatever the
//! outcome.

use std::convert::Infallible;

use hyper::body::Incoming;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, Method, Request, StatusCode, header};
use warp::reply::Response;

use super::cors::CorsPolicy;
use super::error::ApiError;
use super::observe::Observation;
use super::routes::{self, Resolution, UNMATCHED_ROUTE};
use super::server::Handler;
use super::state::AppState;

pub struct Api {
    state: AppState,
    cors: CorsPolicy,
    /// Each route's filter, in the order of [`routes::all`].
    filters: Vec<BoxedFilter<(Response,)>>,
}

impl Api {
    pub fn new(state: AppState, cors: CorsPolicy) -> Api {
        let filters = routes::all()
            .iter()
            .map(|route| route.filter(state.clone()))
            .collect();
        Api {
            state,
            cors,
            filters,
        }
    }
}

impl Handler for Api {
    async fn handle(&self, mut request: Request<Incoming>) -> Response {
        let observation = Observation::start(&self.state, &request);
        let cors = self.cors.classify(request.method(), request.headers());
        let (route, mut response) = match routes::resolve(request.method(), observation.path()) {
            Resolution::Route(index, captures) => {
                request.extensions_mut().insert(captures);
                let filter = self.filters[index].clone();
                (routes::all()[index].path, call(filter, request).await)
            }
            // Every route's path answers OPTIONS (RFC 9110 9.3.7), without a token: that is
            // what a browser's CORS preflight sends.
            Resolution::MethodNotAllowed(template) if request.method() == Method::OPTIONS => {
                let mut response = Response::default();
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
                    .headers_mut()
                    .insert(header::ALLOW, allow(template));
                (template, response)
            }
            Resolution::MethodNotAllowed(template) => {
                let mut response = ApiError::MethodNotAllowed.into_response();
                // RFC 9110 15.5.6: a 405 says which methods the resource does support.
                response
                    .headers_mut()
                    .insert(header::ALLOW, allow(template));
                (template, response)
            }
            Resolution::NotFound => (UNMATCHED_ROUTE, ApiError::NotFound.into_response()),
        };
        cors.apply(&mut response, &routes::allowed_methods(route));
        observation.finish(&self.state, route, response)
    }
}

/// The `Allow` header for a route's path: its methods, and OPTIONS.
fn allow(template: &str) -> HeaderValue {
    let mut methods = routes::allowed_methods(template);
    methods.push(Method::OPTIONS.as_str());
    HeaderValue::from_str(&methods.join(", ")).unwrap_or(HeaderValue::from_static("OPTIONS"))
}

async fn call(filter: BoxedFilter<(Response,)>, request: Request<Incoming>) -> Response {
    use tower_service::Service;
    let mut service = warp::service(filter);
    match service.call(request).await {
        Ok(response) => response,
        Err(never) => {
            let never: Infallible = never;
            match never {}
        }
    }
}
