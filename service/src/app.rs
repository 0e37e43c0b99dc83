//! Building and running the service. `main` and every integration test go through [`App`], so
//! tests exercise the real wiring.

use std::future::Future;
use std::net::{Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::{debug, error, info, warn};
use warp::http::HeaderValue;

use crate::auth::Authenticator;
use crate::build_info::VERSION;
use crate::config::Config;
use crate::db::tasks::TaskStore;
use crate::db::{Database, StartupError};
use crate::http::{self, AppState, AppStateParts, HttpLimits, Lifecycle};
use crate::metrics::Metrics;

/// A started service: database connected and migrated, listener bound, not yet serving.
pub struct App {
    listener: TcpListener,
    state: AppState,
    config: Config,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every in-flight request finished within the grace period.
    Gracefully,
    /// The grace period ran out; remaining connections were dropped.
    GracePeriodExceeded,
    /// The server task panicked (a bug): the process must not report a clean exit.
    ServerFailed,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Database(#[from] StartupError),
    #[error("cannot listen on port {port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot set up the JWKS client for BETTER_AUTH_URL: {0}")]
    Jwks(String),
}

impl App {
    /// Connects to the database (retrying within its start-up timeout), applies migrations and
    /// binds the port (0 picks a free one).
    pub async fn build(config: Config) -> Result<App, BuildError> {
        if let Err(problem) = http::raise_open_file_limit(config.http.max_connections) {
            warn!(problem, "open-file limit");
        }
        let db = Database::connect(&config.database).await?;
        let listener = bind(config.port).await?;
        let metrics = Metrics::new(VERSION);
        let auth = Authenticator::new(&config.tokens, &metrics).map_err(BuildError::Jwks)?;
        let state = AppState::new(AppStateParts {
            tasks: TaskStore::new(db.clone()),
            db,
            auth: Arc::new(auth),
            metrics,
            lifecycle: Lifecycle::default(),
            pod_name: Arc::from(config.pod_name.as_str()),
            // Pod names are DNS labels, always valid header values; the fallback is for odd
            // host names.
            served_by: HeaderValue::from_str(&config.pod_name)
                .unwrap_or(HeaderValue::from_static("unknown")),
            openapi: Arc::from(http::openapi_json()),
        });
        Ok(App {
            listener,
            state,
            config,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    /// The drain flag, for tests that check readiness during shutdown.
    pub fn lifecycle(&self) -> Lifecycle {
        self.state.lifecycle.clone()
    }

    /// Serves until `shutdown` resolves, then drains: readiness turns 503, the listener closes,
    /// connections without a request in flight close, in-flight requests get the grace period
    /// to finish, and the pool closes.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Stopped {
        let App {
            listener,
            state,
            config,
        } = self;
        debug!(
            pool_timeout_ms = config.database.pool_timeout.as_millis() as u64,
            statement_timeout_ms = config.database.statement_timeout.as_millis() as u64,
            startup_timeout_secs = config.database.startup_timeout.as_secs(),
            header_read_timeout_secs = config.http.header_read_timeout.as_secs(),
            idle_timeout_secs = config.http.idle_timeout.as_secs(),
            max_connections = config.http.max_connections,
            jwt_issuers = ?config.tokens.secret_claims.issuers,
            jwt_audiences = ?config.tokens.secret_claims.audiences,
            better_auth = ?config.tokens.better_auth,
            cors = ?config.cors,
            shutdown_grace_period_secs = config.shutdown_grace_period.as_secs(),
            "effective configuration"
        );
        info!(
            port = listener
                .local_addr()
                .map(|a| a.port())
                .unwrap_or(config.port),
            environment = config.environment.as_str(),
            pool_size = config.database.pool_size,
            version = VERSION,
            "listening"
        );

        let lifecycle = state.lifecycle.clone();
        let db = state.db.clone();
        let metrics = state.metrics.clone();
        let limits: HttpLimits = config.http;
        let (drain_started, drain_signal) = tokio::sync::oneshot::channel::<()>();
        let api = Arc::new(http::Api::new(state, config.cors.clone()));
        let server = http::serve(listener, api, limits, metrics, async {
            let _ = drain_signal.await;
        });
        let server = tokio::spawn(server);

        shutdown.await;
        lifecycle.start_draining();
        info!(
            grace_period_secs = config.shutdown_grace_period.as_secs(),
            "shutdown requested; finishing in-flight requests"
        );
        let _ = drain_started.send(());
        let stopped = match tokio::time::timeout(config.shutdown_grace_period, server).await {
            Ok(Ok(())) => Stopped::Gracefully,
            Ok(Err(failure)) => {
                error!(error = %failure, "the server task failed");
                Stopped::ServerFailed
            }
            Err(_) => {
                error!("grace period exceeded; dropping the remaining connections");
                Stopped::GracePeriodExceeded
            }
        };
        db.close();
        info!("stopped");
        stopped
    }
}

/// The listening socket on `port` (0: any free one): dual-stack where the kernel allows it, so
/// both IPv4 and IPv6 probes reach the pod; IPv4 alone where IPv6 is off (the reason is logged).
async fn bind(port: u16) -> Result<TcpListener, BuildError> {
    let ipv6 = match TcpListener::bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))).await {
        Ok(listener) => return Ok(listener),
        Err(error) => error,
    };
    match TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await {
        Ok(listener) => {
            debug!(error = %ipv6, "no IPv6 listener; listening on IPv4 only");
            Ok(listener)
        }
        Err(source) => Err(BuildError::Bind {
            port,
            source: std::io::Error::new(source.kind(), format!("{source} (IPv6: {ipv6})")),
        }),
    }
}
