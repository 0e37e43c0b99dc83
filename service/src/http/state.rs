//! AppState: what every handler may use, cheap to clone into each request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::auth::Authenticator;
use crate::db::Database;
use crate::metrics::Metrics;
use crate::store::TaskStore;

#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub tasks: TaskStore,
    pub auth: Arc<Authenticator>,
    pub metrics: Metrics,
    pub lifecycle: Lifecycle,
    pub pod_name: Arc<str>,
    /// The OpenAPI document served at `/openapi.json`.
    pub openapi: Arc<str>,
}

/// Whether the process has been asked to stop; readiness reports 503 from that moment on.
#[derive(Clone, Default)]
pub struct Lifecycle(Arc<AtomicBool>);

impl Lifecycle {
    pub fn start_draining(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
