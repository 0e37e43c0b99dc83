//! The todo-chatbot backend: a tasks API behind JWT auth, on PostgreSQL, with health, metrics
//! and OpenAPI docs.
//!
//! Dependencies point one way, from the top of this list down:
//! - [`App`] (`app.rs`): wires configuration, database and HTTP together and runs them;
//! - `config`: the environment, read once into typed settings owned by the parts below;
//! - `http`: the server, the route table, the handlers, extractors and the one error type;
//! - `auth` (verifies tokens) and `db::tasks` (the tasks table, `TaskStore`);
//! - `domain`: tasks, titles, descriptions, user ids: types that can only hold valid values;
//! - `db`: the pool, the shared read connections, the health connection, migrations, TLS, the
//!   database URL;
//! - `metrics`, `telemetry`, `build_info`: used by any of the above.
//!
//! The binary's other commands (`healthcheck`, `identity`, `openapi`, `token`) have a module
//! each.

mod app;
mod auth;
mod build_info;
mod config;
mod db;
mod domain;
mod healthcheck;
mod http;
mod identity;
mod metrics;
mod shutdown;
mod telemetry;
mod token;

pub use self::app::{App, BuildError, Stopped};
pub use self::build_info::VERSION;
pub use self::config::{Config, ConfigError};
pub use self::db::MIGRATION_LOCK_KEY;
pub use self::healthcheck::check as check_health;
pub use self::http::{Lifecycle, Route, openapi_json, routes};
pub use self::identity::describe as describe_identity;
pub use self::shutdown::install as install_signal_handlers;
pub use self::telemetry::{LogFlushGuard, init as init_logging, log_panics};
pub use self::token::{TokenError, token};
