//! The database: a connection pool for requests, a separate connection for health checks
//! ([`health`]), the start-up sequence (connect, retry within a deadline, migrate), and the
//! tasks table ([`tasks::TaskStore`]).

mod error;
mod health;
mod migrations;
mod shared;
pub mod tasks;
mod tls;
mod url;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Status,
    TimeoutType,
};
use tokio::time::{Instant, timeout};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;
use tracing::{info, warn};

pub use self::error::DbError;
use self::health::HealthConnection;
pub use self::migrations::MIGRATION_LOCK_KEY;
pub use self::shared::SharedConfig;
use self::shared::{Opener, SharedConnections};
pub use self::url::DatabaseUrl;

/// Everything needed to open and size the connections.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    /// Exclusive connections, for writes.
    pub pool_size: usize,
    /// Connections shared by reads, and how many reads they carry at once.
    pub shared: SharedConfig,
    /// Longest a request waits for a pooled connection, or a read for its place, before it is
    /// answered with 503.
    pub pool_timeout: Duration,
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// How long start-up may take: connecting (retrying an unreachable database) and applying
    /// migrations, including the wait for another replica's migration lock.
    pub startup_timeout: Duration,
}

/// A pooled connection.
pub type Connection = deadpool_postgres::Object;

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
    Migration(#[from] migrations::MigrationError),
    #[error(
        "database migrations did not finish within the start-up deadline of {0:?} \
         (DB_STARTUP_TIMEOUT_SECS); another replica may be holding the migration lock"
    )]
    MigrationDeadline(Duration),
}

#[derive(Clone)]
pub struct Database {
    pool: Pool,
    pool_timeout: Duration,
    shared: Arc<SharedConnections>,
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
        let health = Arc::new(HealthConnection::new(driver_config.clone(), tls.clone()));

        // Migrations run on a connection of their own, outside the pool: the pool's connections
        // carry the statement timeout, which would also bound the wait for the migration lock
        // while another replica migrates. The start-up deadline bounds both instead.
        let started = Instant::now();
        let deadline = started + config.startup_timeout;
        let mut retry_delay = Duration::from_millis(250);
        let mut client = loop {
            match driver_config.connect(tls.clone()).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    break client;
                }
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

        match tokio::time::timeout_at(deadline, migrations::run(&mut client)).await {
            Ok(result) => result?,
            // Dropping the client closes its connection; the server rolls the migration back.
            Err(_) => return Err(StartupError::MigrationDeadline(config.startup_timeout)),
        };
        info!("database schema is up to date");
        // One pooled connection and the shared ones now, so connections that cannot be opened
        // (their session settings refused, say) fail start-up rather than the first request.
        match tokio::time::timeout_at(deadline, pool.get()).await {
            Ok(Ok(_first)) => {}
            Ok(Err(error)) => return Err(StartupError::Pool(error.to_string())),
            Err(_) => {
                return Err(StartupError::Pool(
                    "no pooled connection within the start-up deadline".into(),
                ));
            }
        }
        let opener = Opener {
            driver_config,
            tls,
            statement_timeout: config.statement_timeout,
        };
        let shared = match tokio::time::timeout_at(
            deadline,
            SharedConnections::open(config.shared, config.pool_timeout, opener),
        )
        .await
        {
            Ok(Ok(shared)) => shared,
            Ok(Err(error)) => {
                return Err(StartupError::Pool(format!("shared connections: {error}")));
            }
            Err(_) => {
                return Err(StartupError::Pool(
                    "no shared connections within the start-up deadline".into(),
                ));
            }
        };

        Ok(Database {
            pool,
            pool_timeout: config.pool_timeout,
            shared,
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
                    Err(DbError::Busy(self.pool_timeout))
                } else {
                    Err(DbError::Unavailable("connecting took too long".into()))
                }
            }
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(PoolError::Backend(error))) => Err(error.into()),
            Ok(Err(error)) => Err(DbError::Unavailable(error.to_string())),
        }
    }

    /// The first row, if any, of [`Database::read`].
    pub async fn read_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.read(sql, params).await?.into_iter().next())
    }

    /// The rows of a single-statement read on a shared connection (a pooled one while none is
    /// open).
    pub async fn read(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        let turn = self.shared.turn().await?;
        Ok(match &turn.connection {
            Some(shared) => {
                let statement = shared.statement(sql).await?;
                shared.client.query(&statement, params).await?
            }
            None => {
                let connection = self.acquire().await?;
                let statement = connection.prepare_cached(sql).await?;
                connection.query(&statement, params).await?
            }
        })
    }

    /// Reads in flight on the shared connections, and how many may be.
    pub fn reads_in_flight(&self) -> (usize, usize) {
        (self.shared.queries_in_flight(), self.shared.max_queries())
    }

    /// One cheap round trip on the health connection.
    pub async fn is_reachable(&self) -> bool {
        self.health.check().await
    }

    pub fn pool_status(&self) -> Status {
        self.pool.status()
    }

    /// Closes the pool and the shared connections: idle connections are dropped and new
    /// requests for one fail at once.
    pub fn close(&self) {
        self.pool.close();
        self.shared.close();
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
