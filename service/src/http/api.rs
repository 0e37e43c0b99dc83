//! The API: a request resolved to its route in the table, answered by that route's handler,
//! and observed (request id, pod name, metrics, log line) whatever the outcome.

use std::convert::Infallible;

use hyper::body::Incoming;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, Request, header};
use warp::reply::Response;

use super::error::ApiError;
use super::observe::Observation;
use super::routes::{self, Resolution, UNMATCHED_ROUTE};
use super::server::Handler;
use super::state::AppState;

pub struct Api {
    state: AppState,
    /// Each route's filter, in the order of [`routes::all`].
    filters: Vec<BoxedFilter<(Response,)>>,
}

impl Api {
    pub fn new(state: AppState) -> Api {
        let filters = routes::all()
            .iter()
            .map(|route| route.filter(state.clone()))
            .collect();
        Api { state, filters }
    }
}

impl Handler for Api {
    async fn handle(&self, mut request: Request<Incoming>) -> Response {
        let observation = Observation::start(&self.state, &request);
        let (route, response) = match routes::resolve(request.method(), observation.path()) {
            Resolution::Route(index, captures) => {
                request.extensions_mut().insert(captures);
                let filter = self.filters[index].clone();
                (routes::all()[index].path, call(filter, request).await)
            }
            Resolution::MethodNotAllowed(template) => {
                let mut response = ApiError::MethodNotAllowed.into_response();
                // RFC 9110 15.5.6: a 405 says which methods the resource does support.
                if let Ok(allow) =
                    HeaderValue::from_str(&routes::allowed_methods(template).join(", "))
                {
                    response.headers_mut().insert(header::ALLOW, allow);
                }
                (template, response)
            }
            Resolution::NotFound => (UNMATCHED_ROUTE, ApiError::NotFound.into_response()),
        };
        observation.finish(&self.state, route, response)
    }
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
