//! The database: a connection pool for requests, a separate connection for health checks, and
//! the start-up sequence (connect, retry within a deadline, migrate).

pub mod migrations;
mod tls;
mod url;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Status,
    TimeoutType,
};
use tokio::sync::Mutex;
use tokio::time::{Instant, timeout};
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::{info, warn};

use crate::config::DatabaseConfig;

pub use self::url::{DatabaseUrl, TlsMode};

/// A pooled connection.
pub type Connection = deadpool_postgres::Object;

/// Below the Kubernetes probes' 5 s timeout, so a slow database fails the check instead of the
/// probe timing out first.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a database operation failed, as far as the HTTP edge needs to know.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached or is refusing work; retrying later may succeed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Every pooled connection stayed busy for the whole pool wait timeout.
    #[error("no database connection became free within {0:?}")]
    PoolExhausted(Duration),
    /// Anything else: a bug or a schema mismatch.
    #[error("database error: {0}")]
    Query(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> DbError {
        let transient = error.is_closed()
            || error.code().is_some_and(|code| {
                code.code().starts_with("08") // connection exception
                    || *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::CRASH_SHUTDOWN
                    || *code == SqlState::CANNOT_CONNECT_NOW
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || *code == SqlState::QUERY_CANCELED // statement_timeout
            })
            || std::error::Error::source(&error)
                .is_some_and(|source| source.is::<std::io::Error>());
        if transient {
            DbError::Unavailable(error.to_string())
        } else {
            DbError::Query(error)
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database TLS configuration: {0}")]
    Tls(String),
    #[error("database {url} unreachable after {waited:?}: {reason}")]
    Unreachable {
        url: String,
        waited: Duration,
        reason: String,
    },
    #[error("database pool: {0}")]
    Pool(String),
    #[error("database migration failed: {0}")]
    Migration(tokio_postgres::Error),
}

#[derive(Clone)]
pub struct Database {
    pool: Pool,
    pool_timeout: Duration,
    health: Arc<HealthConnection>,
}

impl Database {
    /// Connects, retrying until `config.startup_timeout` has passed, then applies migrations.
    pub async fn connect(config: &DatabaseConfig) -> Result<Database, StartupError> {
        let tls = tls::connector(
            config.url.tls_mode(),
            config.url.root_cert().map(|path| path.as_path()),
        )
        .map_err(StartupError::Tls)?;
        let mut driver_config = config.url.driver_config().clone();
        driver_config
            .connect_timeout(config.connect_timeout)
            // Notice a vanished peer within about half a minute instead of the kernel's two hours.
            .keepalives_idle(Duration::from_secs(15))
            .keepalives_interval(Duration::from_secs(5))
            .keepalives_retries(3);

        let pool = build_pool(&driver_config, tls.clone(), config)?;
        let health = Arc::new(HealthConnection {
            driver_config,
            tls,
            client: Mutex::new(None),
        });

        let started = Instant::now();
        let mut retry_delay = Duration::from_millis(250);
        let mut connection = loop {
            match pool.get().await {
                Ok(connection) => break connection,
                Err(error) if started.elapsed() + retry_delay < config.startup_timeout => {
                    warn!(database = %config.url, error = %error, "database not reachable yet; retrying");
                    tokio::time::sleep(retry_delay).await;
                    retry_delay = (retry_delay * 2).min(Duration::from_secs(5));
                }
                Err(error) => {
                    return Err(StartupError::Unreachable {
                        url: config.url.to_string(),
                        waited: started.elapsed(),
                        reason: error.to_string(),
                    });
                }
            }
        };
        info!(database = %config.url, tls = ?config.url.tls_mode(), "connected to database");

        migrations::run(&mut connection)
            .await
            .map_err(StartupError::Migration)?;
        info!("database schema is up to date");

        Ok(Database {
            pool,
            pool_timeout: config.pool_timeout,
            health,
        })
    }

    /// A pooled connection, or an error within the pool wait timeout: requests never queue
    /// longer than that, whether the pool is busy or the database is gone.
    pub async fn acquire(&self) -> Result<Connection, DbError> {
        match timeout(self.pool_timeout, self.pool.get()).await {
            Err(_) | Ok(Err(PoolError::Timeout(TimeoutType::Wait))) => {
                let status = self.pool.status();
                if status.available == 0 && status.size >= status.max_size {
                    Err(DbError::PoolExhausted(self.pool_timeout))
                } else {
                    Err(DbError::Unavailable("connecting took too long".into()))
                }
            }
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(PoolError::Backend(error))) => Err(error.into()),
            Ok(Err(error)) => Err(DbError::Unavailable(error.to_string())),
        }
    }

    /// One cheap round trip on the health connection.
    pub async fn is_reachable(&self) -> bool {
        self.health.check().await
    }

    pub fn pool_status(&self) -> Status {
        self.pool.status()
    }

    /// Closes the pool: idle connections are dropped and new requests for one fail at once.
    pub fn close(&self) {
        self.pool.close();
    }
}

fn build_pool(
    driver_config: &tokio_postgres::Config,
    tls: MakeRustlsConnect,
    config: &DatabaseConfig,
) -> Result<Pool, StartupError> {
    let manager = Manager::from_config(
        driver_config.clone(),
        tls,
        ManagerConfig {
            // A closed connection (database restarted) is replaced on checkout; an open one is
            // trusted, which saves a round trip per request.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let statement_timeout = format!(
        "SET statement_timeout = {}",
        config.statement_timeout.as_millis()
    );
    Pool::builder(manager)
        .max_size(config.pool_size)
        .create_timeout(Some(config.connect_timeout))
        .recycle_timeout(Some(config.connect_timeout))
        .runtime(Runtime::Tokio1)
        // A session setting rather than a startup option: connection poolers such as PgBouncer
        // reject unknown startup options.
        .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
            let statement_timeout = statement_timeout.clone();
            Box::pin(async move {
                client
                    .batch_execute(&statement_timeout)
                    .await
                    .map_err(HookError::Backend)
            })
        }))
        .build()
        .map_err(|error| StartupError::Pool(error.to_string()))
}

/// A connection of its own for health checks, so that a pool saturated by slow requests does
/// not make a healthy pod look unready.
struct HealthConnection {
    driver_config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    client: Mutex<Option<tokio_postgres::Client>>,
}

impl HealthConnection {
    async fn check(&self) -> bool {
        let round_trip = async {
            let mut client = self.client.lock().await;
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                let (new_client, connection) = self.driver_config.connect(self.tls.clone()).await?;
                tokio::spawn(connection);
                *client = Some(new_client);
            }
            let result = client
                .as_ref()
                .expect("just connected")
                .simple_query("SELECT 1")
                .await;
            if result.is_err() {
                *client = None;
            }
            result.map(|_| ())
        };
        matches!(timeout(HEALTH_CHECK_TIMEOUT, round_trip).await, Ok(Ok(())))
    }
}
