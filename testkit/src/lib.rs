//! Helpers shared by the service's tests, the e2e harness and the benchmark, so each exists once:
//! throwaway PostgreSQL servers, JWT minting (HS256, and Better Auth's JWT plugin keys), a
//! stand-in for Better Auth's JWKS endpoint, waiting with a deadline, and skipping a test loudly
//! when what it needs is missing.

pub mod auth_server;
pub mod jwt;
pub mod postgres;
pub mod skip;
pub mod wait;
