//! Connections shared by concurrent requests, for single-statement reads.
//!
//! A pooled connection serves one request at a time: every query is its own write to the socket
//! and its own read, and the database wakes once per query. tokio-postgres lets many tasks send
//! queries on one client at once and pipelines them: the queries of every request waiting at
//! that moment leave in one write, and their results come back in one read. Point reads (get
//! by id) go through a few shared connections. Writes keep exclusive pooled connections, since
//! a write can wait on a row lock and would hold up every read queued behind it; so do list
//! pages, whose execution, not their round trip, is most of their cost: queued behind each
//! other on two shared connections they gained throughput but lost half again in p99 latency
//! (bench/README.md).
//!
//! What bounds the load: at most [`SharedConfig::max_queries`] reads are in flight on the shared
//! connections together; a read that finds no place within the wait timeout gets
//! [`DbError::Busy`] (503), so overload gives fast answers rather than a queue. Each shared
//! connection has a task of its own that replaces it as soon as it breaks, retrying with a
//! growing pause (up to [`MAX_RECONNECT_PAUSE`]) while the database is away; meanwhile reads use
//! the connections that are open, and with none open an exclusive pooled connection, so reads
//! recover from an outage as soon as writes do.
//!
//! A frozen or cut-off database does not break a connection: it stops answering. A read that
//! gets no answer within its deadline closes its shared connection, which fails every read
//! queued on it at once (they would wait just as long) and gets it replaced.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};
use tracing::{info, warn};

use super::connect::{ConnectError, Connector};
use super::error::DbError;

const FIRST_RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between attempts to replace a broken shared connection: the service is back
/// within about this long after the database is.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// How many shared connections, and how many reads they carry at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedConfig {
    pub connections: usize,
    pub max_queries: usize,
}

pub(super) struct SharedConnections {
    slots: Vec<Slot>,
    next: AtomicUsize,
    queries: Arc<Semaphore>,
    max_queries: usize,
    wait: Duration,
    opener: Opener,
    closed: AtomicBool,
}

/// What it takes to open one shared connection: the connector, and the session setting every
/// connection of the service carries.
#[derive(Clone)]
pub(super) struct Opener {
    pub connector: Connector,
    pub statement_timeout: Duration,
}

/// Resolves when its connection has ended.
type Ended = oneshot::Receiver<()>;

impl Opener {
    async fn open(&self) -> Result<(Arc<ReadConnection>, Ended), ConnectError> {
        let setup = format!(
            "SET statement_timeout = {}",
            self.statement_timeout.as_millis()
        );
        let (client, driver) = self.connector.open(Some(&setup)).await?;
        let shared = Arc::new(ReadConnection {
            client,
            statements: Mutex::new(HashMap::new()),
            driver: driver.stop,
            stopped: AtomicBool::new(false),
        });
        Ok((shared, driver.ended))
    }
}

/// A read's place among those in flight, and the shared connection to use: none when none is
/// open (the database is away, or they are being replaced).
pub(super) struct Turn {
    _place: tokio::sync::OwnedSemaphorePermit,
    pub connection: Option<Arc<ReadConnection>>,
}

/// One shared connection and the statements prepared on it.
pub(super) struct ReadConnection {
    client: Client,
    statements: Mutex<HashMap<&'static str, Statement>>,
    /// Stops the connection's task, which closes the connection at once.
    driver: AbortHandle,
    /// Set when the task is stopped, which takes effect when the runtime next gets to it: no read
    /// is sent on the connection in between.
    stopped: AtomicBool,
}

impl ReadConnection {
    /// The rows of `sql`, or [`DbError::no_answer`] after `deadline`, which also closes this
    /// connection (its task ends, and with it every read queued on it).
    pub async fn query(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
        deadline: Duration,
    ) -> Result<Vec<Row>, DbError> {
        let answer = async {
            let statement = self.statement(sql).await?;
            self.client.query(&statement, params).await
        };
        match timeout(deadline, answer).await {
            Ok(rows) => Ok(rows?),
            Err(_) => {
                self.stopped.store(true, Ordering::SeqCst);
                self.driver.abort();
                Err(DbError::no_answer(deadline))
            }
        }
    }

    /// `sql` prepared on this connection: once, then from the cache.
    async fn statement(&self, sql: &'static str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql)
        {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql, statement.clone());
        Ok(statement)
    }
}

#[derive(Default)]
struct Slot {
    /// None while the connection is being replaced.
    current: RwLock<Option<Arc<ReadConnection>>>,
}

impl Slot {
    fn open_connection(&self) -> Option<Arc<ReadConnection>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|shared| !shared.stopped.load(Ordering::SeqCst) && !shared.client.is_closed())
    }

    fn set(&self, shared: Option<Arc<ReadConnection>>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = shared;
    }
}

impl SharedConnections {
    /// Opens every shared connection; the first failure is the caller's to report.
    pub(super) async fn open(
        config: SharedConfig,
        wait: Duration,
        opener: Opener,
    ) -> Result<Arc<SharedConnections>, ConnectError> {
        let mut slots = Vec::with_capacity(config.connections);
        let mut ends = Vec::with_capacity(config.connections);
        for _ in 0..config.connections {
            let (shared, ended) = opener.open().await?;
            let slot = Slot::default();
            slot.set(Some(shared));
            slots.push(slot);
            ends.push(ended);
        }
        let connections = Arc::new(SharedConnections {
            slots,
            next: AtomicUsize::new(0),
            queries: Arc::new(Semaphore::new(config.max_queries)),
            max_queries: config.max_queries,
            wait,
            opener,
            closed: AtomicBool::new(false),
        });
        for (slot, ended) in ends.into_iter().enumerate() {
            tokio::spawn(keep_open(Arc::downgrade(&connections), slot, ended));
        }
        Ok(connections)
    }

    /// Reads in flight on the shared connections.
    pub(super) fn queries_in_flight(&self) -> usize {
        self.max_queries - self.queries.available_permits()
    }

    pub(super) fn max_queries(&self) -> usize {
        self.max_queries
    }

    /// A place among the reads in flight (or [`DbError::Busy`] after the wait timeout), on the
    /// next open shared connection in turn if there is one.
    pub(super) async fn turn(&self) -> Result<Turn, DbError> {
        let permit = self.place().await?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let connection = (0..self.slots.len())
            .map(|offset| (start + offset) % self.slots.len())
            .find_map(|slot| self.slots[slot].open_connection());
        Ok(Turn {
            _place: permit,
            connection,
        })
    }

    async fn place(&self) -> Result<tokio::sync::OwnedSemaphorePermit, DbError> {
        // Without a timer when a place is free, as it almost always is.
        let permit = match self.queries.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                match tokio::time::timeout(self.wait, self.queries.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    Ok(Err(_)) => {
                        return Err(DbError::Unavailable("the database is closing".into()));
                    }
                    Err(_) => return Err(DbError::Busy(self.wait)),
                }
            }
        };
        Ok(permit)
    }
    /// Closes every shared connection: reads that follow fail at once.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.queries.close();
        for slot in &self.slots {
            slot.set(None);
        }
    }
}

/// Replaces the connection of `slot` each time it ends, until the connections are closed or
/// gone.
async fn keep_open(connections: Weak<SharedConnections>, slot: usize, mut ended: Ended) {
    loop {
        let _ = (&mut ended).await;
        let mut pause = FIRST_RECONNECT_PAUSE;
        ended = loop {
            let Some(this) = connections.upgrade() else {
                return;
            };
            if this.closed.load(Ordering::SeqCst) {
                return;
            }
            this.slots[slot].set(None);
            // Bounded by the connector's deadline, so a frozen database cannot hold this loop.
            match this.opener.open().await {
                Ok((shared, ended)) => {
                    this.slots[slot].set(Some(shared));
                    info!(slot, "shared database connection replaced");
                    break ended;
                }
                Err(error) => {
                    warn!(slot, error = %error, "replacing a shared database connection failed");
                }
            }
            drop(this);
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
        };
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::{Duration, Instant};

    use testkit::postgres::PgServer;

    use super::{Opener, SharedConfig, SharedConnections};
    use crate::db::connect::Connector;
    use crate::db::error::DbError;
    use crate::db::tls;
    use crate::db::url::TlsMode;

    #[tokio::test]
    async fn a_read_a_frozen_database_leaves_unanswered_closes_its_connection_for_a_new_one() {
        let mut server = PgServer::start().unwrap();
        let driver_config = tokio_postgres::Config::from_str(&server.url("postgres")).unwrap();
        let tls = tls::connector(TlsMode::Disable, None).unwrap();
        let opener = Opener {
            connector: Connector::new(&driver_config, tls, Duration::from_millis(500)),
            statement_timeout: Duration::from_secs(5),
        };
        let config = SharedConfig {
            connections: 1,
            max_queries: 16,
        };
        let shared = SharedConnections::open(config, Duration::from_millis(100), opener)
            .await
            .unwrap();
        let deadline = Duration::from_millis(300);
        let connection = shared.turn().await.unwrap().connection.expect("open");
        connection.query("SELECT 1", &[], deadline).await.unwrap();

        server.freeze().unwrap();
        let asked = Instant::now();
        let error = connection
            .query("SELECT 1", &[], deadline)
            .await
            .unwrap_err();
        assert!(matches!(error, DbError::Unavailable(_)), "{error}");
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "{:?}",
            asked.elapsed()
        );
        assert!(
            shared.turn().await.unwrap().connection.is_none(),
            "the stuck connection is closed, and no new one opens while the database is frozen"
        );

        server.thaw().unwrap();
        let replaced = testkit::wait::until(
            "the shared connection to be replaced",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || async { shared.turn().await.ok()?.connection },
        )
        .await
        .unwrap();
        assert!(!std::sync::Arc::ptr_eq(&replaced, &connection));
        replaced.query("SELECT 1", &[], deadline).await.unwrap();
    }
}
