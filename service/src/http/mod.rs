//! The HTTP edge: the server ([`server`]), the API it serves ([`api`]: each request resolved
//! to its route in the table of [`routes`], given CORS headers by [`cors`] and observed by
//! [`observe`]), the handlers the table lists ([`health`], [`tasks`], [`metrics`], [`docs`]),
//! the extractors they use ([`extract`]), and the one error type every failure becomes
//! ([`error`]).

mod api;
mod cors;
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

pub use self::api::Api;
pub use self::cors::CorsPolicy;
pub use self::openapi::openapi_json;
pub use self::routes::Route;
pub use self::server::{HttpLimits, raise_open_file_limit, serve};
pub use self::state::{AppState, Lifecycle, Shared as AppStateParts};

/// Every route of the table.
pub fn routes() -> &'static [Route] {
    routes::all()
}
