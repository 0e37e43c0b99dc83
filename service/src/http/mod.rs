//! The HTTP edge: the server ([`server`]), the route table ([`routes`]) and the handlers it
//! lists ([`health`], [`tasks`], [`metrics`], [`docs`]), the extractors they use
//! ([`extract`]), the one error type every failure becomes ([`error`]), and the observation
//! of every request ([`observe`]).

mod docs;
mod error;
mod extract;
mod health;
mod metrics;
mod observe;
mod openapi;
mod routes;
mod server;
mod state;
mod tasks;

use warp::Filter;
use warp::filters::BoxedFilter;
use warp::reply::Response;

pub use self::openapi::openapi_json;
pub use self::routes::Route;
pub use self::server::{HttpLimits, raise_open_file_limit, serve};
pub use self::state::{AppState, Lifecycle};

/// Every route of the table.
pub fn routes() -> &'static [Route] {
    routes::all()
}

/// The whole API as one filter that always answers: the routes in table order, every
/// rejection turned into a JSON error, every request observed.
pub fn api(state: AppState) -> BoxedFilter<(Response,)> {
    let routes = routes::all()
        .iter()
        .map(|route| route.filter(state.clone()))
        .reduce(|all, route| all.or(route).unify().boxed())
        .expect("the route table is not empty")
        .recover(error::recover)
        .unify()
        .boxed();
    observe::observed(state, routes)
}
