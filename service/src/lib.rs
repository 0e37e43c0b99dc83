//! The todo-chatbot backend: a tasks API behind JWT auth, on PostgreSQL, with health, metrics
//! and OpenAPI docs. `main.rs` wires config -> telemetry -> [`App`] (database, routes) -> serve.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod healthcheck;
pub mod identity;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod server;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod telemetry;

pub use app::{App, Stopped};
pub use config::Config;
