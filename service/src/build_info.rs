//! What the running build is.

/// The version reported by `/api/health`, `backend_build_info` and `backend --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
