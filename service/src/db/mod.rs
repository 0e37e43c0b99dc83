//! The database: a connection pool for requests, connections shared by reads ([`shared`]), a
//! separate connection for health checks ([`health`]), the start-up sequence (connect, retry
//! within a deadline, migrate: [`startup`]), and the tasks table ([`tasks::TaskStore`]).
//!
//! Every call that waits on the database has a deadline of its own, because a frozen or
//! partitioned database does not close connections, it stops answering: opening a connection
//! (`DB_CONNECT_TIMEOUT_MS` for all of it, [`connect`]), waiting for a pooled connection or a
//! read's turn (`DB_POOL_TIMEOUT_MS`), a query ([`QUERY_DEADLINE_MARGIN`] past the server's
//! `statement_timeout`), the health check (2 s), start-up (`DB_STARTUP_TIMEOUT_SECS`).

mod connect;
mod error;
mod health;
mod migrations;
mod shared;
mod startup;
pub mod tasks;
mod tls;
mod url;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime, Status,
    TimeoutType,
};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use tracing::info;

use self::connect::Connector;
pub use self::error::DbError;
use self::health::HealthConnection;
pub use self::migrations::MIGRATION_LOCK_KEY;
pub use self::shared::SharedConfig;
use self::shared::{Opener, SharedConnections};
pub use self::startup::StartupError;
pub use self::url::DatabaseUrl;

/// How long past the server's `statement_timeout` a query may go unanswered before it is
/// given up and its connection closed. A slow statement is cancelled by the server at
/// `statement_timeout` and its error arrives well within this; a query still unanswered after
/// it is held by a database that is frozen, cut off, or stuck where no statement timeout
/// reaches (a synchronous commit waiting for a standby).
pub const QUERY_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

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
    /// Longest the opening of one connection may take, all of it (TCP, TLS, authentication,
    /// session settings).
    pub connect_timeout: Duration,
    pub statement_timeout: Duration,
    /// How long start-up may take: connecting (retrying an unreachable database) and applying
    /// migrations, including the wait for another replica's migration lock.
    pub startup_timeout: Duration,
}

impl DatabaseConfig {
    /// How long a query may go unanswered: see [`QUERY_DEADLINE_MARGIN`].
    pub fn query_deadline(&self) -> Duration {
        self.statement_timeout + QUERY_DEADLINE_MARGIN
    }
}

/// A pooled connection.
type Connection = Object;

#[derive(Clone)]
pub struct Database {
    pool: Pool,
    pool_timeout: Duration,
    query_deadline: Duration,
    shared: Arc<SharedConnections>,
    health: Arc<HealthConnection>,
}

impl Database {
    /// Connects, retrying until `config.startup_timeout` has passed while the database may
    /// still come, then applies migrations and opens the request connections.
    pub async fn connect(config: &DatabaseConfig) -> Result<Database, StartupError> {
        let deadline = Instant::now() + config.startup_timeout;
        let tls = tls::connector(
            config.url.tls_mode(),
            config.url.root_cert().map(|path| path.as_path()),
        )
        .map_err(StartupError::Tls)?;
        let connector = Connector::new(config.url.driver_config(), tls, config.connect_timeout);

        // Migrations run on a connection of their own, outside the pool: the pool's connections
        // carry the statement timeout, which would also bound the wait for the migration lock
        // while another replica migrates. The start-up deadline bounds both instead.
        let mut client = startup::first_connection(&connector, &config.url, deadline).await?;
        info!(database = %config.url, tls = ?config.url.tls_mode(), "connected to database");
        match timeout_at(deadline, migrations::run(&mut client)).await {
            Ok(result) => result?,
            // Dropping the client closes its connection; the server rolls the migration back.
            Err(_) => return Err(StartupError::MigrationDeadline(config.startup_timeout)),
        };
        info!("database schema is up to date");
        drop(client);

        let (pool, shared) = open_request_connections(&connector, config, deadline).await?;
        Ok(Database {
            pool,
            pool_timeout: config.pool_timeout,
            query_deadline: config.query_deadline(),
            shared,
            health: Arc::new(HealthConnection::new(connector)),
        })
    }

    /// A pooled connection, or an error within the pool wait timeout: requests never queue
    /// longer than that, whether the pool is busy or the database is gone.
    async fn acquire(&self) -> Result<Connection, DbError> {
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

    /// Runs `work` on a pooled connection, and gives up on it after the query deadline. The
    /// connection is then closed rather than returned to the pool: a frozen or cut-off database
    /// would keep it waiting, and the next request with it.
    async fn with_connection<T>(
        &self,
        work: impl AsyncFnOnce(&Connection) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        let connection = self.acquire().await?;
        let answer = timeout(self.query_deadline, work(&connection)).await;
        match answer {
            Ok(result) => Ok(result?),
            Err(_) => {
                // Out of the pool; dropping it stops its task, which closes the socket.
                drop(Object::take(connection));
                Err(DbError::no_answer(self.query_deadline))
            }
        }
    }

    /// The first row, if any, of [`Database::read`].
    async fn read_opt(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        Ok(self.read(sql, params).await?.into_iter().next())
    }

    /// The rows of a single-statement read on a shared connection (a pooled one while none is
    /// open), within the query deadline.
    async fn read(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, DbError> {
        let turn = self.shared.turn().await?;
        match &turn.connection {
            Some(shared) => shared.query(sql, params, self.query_deadline).await,
            None => {
                self.with_connection(async |connection| {
                    let statement = connection.prepare_cached(sql).await?;
                    connection.query(&statement, params).await
                })
                .await
            }
        }
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

/// The pool and the shared read connections, with one pooled connection and every shared one
/// open, so that connections that cannot be opened (their session settings refused, say) fail
/// start-up rather than the first request.
async fn open_request_connections(
    connector: &Connector,
    config: &DatabaseConfig,
    deadline: Instant,
) -> Result<(Pool, Arc<SharedConnections>), StartupError> {
    let pool = build_pool(connector, config)?;
    match timeout_at(deadline, pool.get()).await {
        Ok(Ok(_first)) => {}
        Ok(Err(error)) => return Err(StartupError::Pool(error.to_string())),
        Err(_) => {
            return Err(StartupError::Pool(
                "no pooled connection within the start-up deadline".into(),
            ));
        }
    }
    let opener = Opener {
        connector: connector.clone(),
        statement_timeout: config.statement_timeout,
    };
    let opening = SharedConnections::open(config.shared, config.pool_timeout, opener);
    let shared = match timeout_at(deadline, opening).await {
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
    Ok((pool, shared))
}

fn build_pool(connector: &Connector, config: &DatabaseConfig) -> Result<Pool, StartupError> {
    let manager = Manager::from_config(
        connector.driver_config().clone(),
        connector.tls(),
        ManagerConfig {
            // A closed connection (database restarted) is replaced on checkout; an open one is
            // trusted, which saves a round trip per request. One that stops answering is taken
            // out by the query deadline (`Database::with_connection`).
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let statement_timeout = format!(
        "SET statement_timeout = {}",
        config.statement_timeout.as_millis()
    );
    Pool::builder(manager)
        .max_size(config.pool_size)
        .create_timeout(Some(connector.deadline()))
        .recycle_timeout(Some(connector.deadline()))
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
