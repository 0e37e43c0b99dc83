//! Helpers shared by the service's tests, the e2e harness and the benchmark, so each exists once:
//! throwaway PostgreSQL servers, JWT minting, and waiting with a deadline.

pub mod jwt;
pub mod postgres;
pub mod wait;
