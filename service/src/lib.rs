//! The todo-chatbot backend: a tasks API behind JWT auth, on PostgreSQL, with health, metrics
//! and OpenAPI docs.
//!
//! Dependencies point one way, from the top of this list down:
//! - [`App`] (`app.rs`): wires configuration, database and HTTP together and runs them;
//!   `main.rs` serves with it, and [`cli`] holds the binary's other commands;
//! - `config`: the environment, read once into typed settings owned by the parts below;
//! - `http`: the transport (`http/server/`) and the API (`http/api/`: routes, handlers,
//!   extractors, the one error type, CORS, observation);
//! - `auth` (verifies tokens);
//! - `domain`: tasks, titles, descriptions, user ids: types that can only hold valid values;
//! - `db`: the pool, the tasks table (`db/tasks.rs`), the shared read connections, the health
//!   connection, migrations, TLS, the database URL;
//! - `metrics`, `telemetry`, `build_info`, `shutdown`: used by any of the above.
//!
//! A request, `GET /api/tasks/{id}`, from the socket to the SQL: `http/server/connection.rs`
//! (hyper) -> `http/api/mod.rs` (`Api::handle`: observation, CORS, the route table) ->
//! `http/api/tasks.rs` (the resource and `get_task`) -> `db/tasks.rs` (`TaskStore::get`).

mod app;
mod auth;
mod build_info;
pub mod cli;
mod config;
mod db;
mod domain;
mod http;
mod metrics;
mod shutdown;
mod telemetry;

pub use self::app::{App, BuildError, Stopped};
pub use self::build_info::VERSION;
pub use self::config::{Config, ConfigError, ConfigErrors};
pub use self::db::MIGRATION_LOCK_KEY;
pub use self::http::{Lifecycle, Route, openapi_json, routes};
pub use self::shutdown::install as install_signal_handlers;
pub use self::telemetry::{LogFlushGuard, init as init_logging, log_panics};
