//! Opening one connection, with a deadline on the whole of it.
//!
//! tokio-postgres bounds only the TCP connect with `connect_timeout`; TLS, authentication and
//! session setup then wait as long as the server takes. A frozen server (or a partition after
//! the TCP handshake) would hold them forever, so [`Connector::open`] puts one deadline on
//! everything from the first packet to the connection being usable.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::timeout;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::telemetry::error_chain;

/// How long a peer may leave sent data unacknowledged, or answer no keepalive probe, before the
/// kernel drops the connection: keepalives alone do not probe while data is unacknowledged, so
/// without `TCP_USER_TIMEOUT` a query sent into a partition retransmits for about 15 minutes.
/// The same 30 s as the keepalives' idle time plus their three unanswered probes.
const DEAD_PEER_AFTER: Duration = Duration::from_secs(30);
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;

/// Opens connections to the database: the driver's settings, TLS, and the deadline.
#[derive(Clone)]
pub(super) struct Connector {
    driver_config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    deadline: Duration,
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnectError {
    #[error("{}", error_chain(.0))]
    Driver(tokio_postgres::Error),
    #[error("no answer within {0:?}")]
    NoAnswer(Duration),
}

/// The task that drives an open connection: it ends when the connection does, and stopping it
/// drops the socket at once, whether or not the server answers.
pub(super) struct Driver {
    pub stop: AbortHandle,
    /// Resolves (with an error) when the task has ended, however it ended.
    pub ended: oneshot::Receiver<()>,
}

impl Driver {
    fn spawn(
        connection: impl Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    ) -> Driver {
        let (ended_sender, ended) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = connection.await;
            drop(ended_sender);
        });
        Driver {
            stop: task.abort_handle(),
            ended,
        }
    }
}

impl Connector {
    /// `driver_config` with the TCP settings that notice a vanished peer; each connection (TCP,
    /// TLS, authentication and `setup`) must be ready within `deadline`.
    pub(super) fn new(
        driver_config: &tokio_postgres::Config,
        tls: MakeRustlsConnect,
        deadline: Duration,
    ) -> Connector {
        let mut driver_config = driver_config.clone();
        driver_config
            .connect_timeout(deadline)
            .tcp_user_timeout(DEAD_PEER_AFTER)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        Connector {
            driver_config,
            tls,
            deadline,
        }
    }

    /// The driver's settings, for the pool's connections.
    pub(super) fn driver_config(&self) -> &tokio_postgres::Config {
        &self.driver_config
    }

    pub(super) fn tls(&self) -> MakeRustlsConnect {
        self.tls.clone()
    }

    pub(super) fn deadline(&self) -> Duration {
        self.deadline
    }

    /// A new connection, with `setup` (session settings) run on it, within the deadline.
    pub(super) async fn open(&self, setup: Option<&str>) -> Result<(Client, Driver), ConnectError> {
        let mut driver = None;
        let opening = async {
            let (client, connection) = self.driver_config.connect(self.tls.clone()).await?;
            driver = Some(Driver::spawn(connection));
            if let Some(setup) = setup {
                client.batch_execute(setup).await?;
            }
            Ok::<_, tokio_postgres::Error>(client)
        };
        let opened = timeout(self.deadline, opening).await;
        match (opened, driver) {
            (Ok(Ok(client)), Some(driver)) => Ok((client, driver)),
            (failed, driver) => {
                // Half open (set up too slowly, or refused its settings): closed, not leaked.
                if let Some(driver) = driver {
                    driver.stop.abort();
                }
                Err(match failed {
                    Ok(Err(error)) => ConnectError::Driver(error),
                    _ => ConnectError::NoAnswer(self.deadline),
                })
            }
        }
    }
}
