//! Integration tests of the service over HTTP, against a real PostgreSQL (one fresh database per
//! test), plus tests of the real binary as a process. One test binary, one module per area.

mod auth;
mod better_auth;
mod browser;
mod cli;
mod connections;
mod cors;
mod docs;
mod errors;
mod faults;
mod health;
mod hostile_input;
mod lifecycle;
mod methods;
mod metrics;
mod startup;
mod support;
mod tasks;
mod tls;
