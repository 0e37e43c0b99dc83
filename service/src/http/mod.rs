//! The HTTP edge, in two parts:
//! - [`server`]: the transport. Accepts connections, runs HTTP/1.1 on hyper with the limits a
//!   port open to anyone needs (timeouts, caps, drain), and hands each request to the API;
//! - [`api`]: what happens to a request: routing and extraction (warp), the handlers, the one
//!   error type, CORS and the request's metrics and log line.
//!
//! `GET /api/tasks/{id}` from the socket to the SQL, in four files:
//! 1. `server/connection.rs`: hyper reads the head off the connection and calls `Api::handle`;
//! 2. `api/mod.rs`: `Api::handle` observes it, applies CORS, and runs the route table
//!    (`api/routes.rs` holds what every route shares: HEAD, OPTIONS, 405, 404);
//! 3. `api/tasks.rs`: the `/api/tasks/{id}` resource extracts the caller (`api/extract.rs`,
//!    which verifies the token with `auth`) and calls `get_task`;
//! 4. `db/tasks.rs`: `TaskStore::get` runs the SELECT.

mod api;
mod server;

pub use self::api::{
    Api, AppState, AppStateParts, CorsPolicy, Lifecycle, Route, openapi_json, routes,
};
pub use self::server::{HttpLimits, raise_open_file_limit, serve};
