//! AppState: what every handler may use, shared by all requests (a clone is one reference count).

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use warp::http::HeaderValue;

use crate::auth::Authenticator;
use crate::db::Database;
use crate::db::tasks::TaskStore;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

/// What an [`AppState`] holds, given once at start-up.
pub struct AppStateParts {
    pub db: Database,
    pub tasks: TaskStore,
    pub auth: Arc<Authenticator>,
    pub metrics: Metrics,
    pub lifecycle: Lifecycle,
    pub pod_name: Arc<str>,
    /// `X-Served-By` of every answer: the pod name as a header value.
    pub served_by: HeaderValue,
    /// The OpenAPI document served at `/openapi.json`.
    pub openapi: Arc<str>,
}

impl AppState {
    pub fn new(parts: AppStateParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
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
