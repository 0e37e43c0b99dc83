//! The health check's own connection.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::sync::Mutex;
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout};
use tokio_postgres::Client;

use super::connect::Connector;

/// Below the Kubernetes probes' 5 s timeout, so a slow database fails the check instead of the
/// probe timing out first.
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection of its own for health checks, so that a pool saturated by slow requests does
/// not make a healthy pod look unready.
///
/// Concurrent checks share one round trip: a flood of probes or health requests makes at most
/// one query in flight, and a result up to [`HEALTH_RESULT_MAX_AGE`] old is answered without
/// one. Waiting for that shared round trip never counts as the database being slow; only the
/// round trip itself failing or exceeding [`HEALTH_CHECK_TIMEOUT`] reports it unreachable, and
/// then its connection is closed, so that a connection a frozen or cut-off database left
/// hanging is not asked again.
pub(super) struct HealthConnection {
    connector: Connector,
    /// Used by the one round trip in flight only; the task that drives it, to close it.
    connection: Mutex<Option<(Client, AbortHandle)>>,
    latest: std::sync::Mutex<HealthState>,
}

#[derive(Default)]
struct HealthState {
    last: Option<(Instant, bool)>,
    in_flight: Option<Shared<BoxFuture<'static, bool>>>,
}

/// How old a health result may be and still be answered; probes come every few seconds, so
/// this only ever merges bursts.
const HEALTH_RESULT_MAX_AGE: Duration = Duration::from_secs(1);

impl HealthConnection {
    pub(super) fn new(connector: Connector) -> Self {
        HealthConnection {
            connector,
            connection: Mutex::new(None),
            latest: std::sync::Mutex::new(HealthState::default()),
        }
    }

    pub(super) async fn check(self: &Arc<Self>) -> bool {
        let round_trip = {
            let mut state = self.latest.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, reachable)) = state.last
                && at.elapsed() < HEALTH_RESULT_MAX_AGE
            {
                return reachable;
            }
            match &state.in_flight {
                Some(round_trip) => round_trip.clone(),
                None => {
                    let this = self.clone();
                    // Spawned, so a caller that goes away does not cancel it for the others.
                    let task = tokio::spawn(async move {
                        let reachable = this.round_trip().await;
                        let mut state = this.latest.lock().unwrap_or_else(|e| e.into_inner());
                        state.last = Some((Instant::now(), reachable));
                        state.in_flight = None;
                        reachable
                    });
                    let round_trip = async move { task.await.unwrap_or(false) }.boxed().shared();
                    state.in_flight = Some(round_trip.clone());
                    round_trip
                }
            }
        };
        round_trip.await
    }

    async fn round_trip(&self) -> bool {
        let mut connection = self.connection.lock().await;
        let round_trip = async {
            if connection
                .as_ref()
                .is_none_or(|(client, _)| client.is_closed())
            {
                let (client, driver) = self.connector.open(None).await.ok()?;
                *connection = Some((client, driver.stop));
            }
            let (client, _) = connection.as_ref()?;
            client.simple_query("SELECT 1").await.ok()
        };
        let answered = matches!(timeout(HEALTH_CHECK_TIMEOUT, round_trip).await, Ok(Some(_)));
        if !answered && let Some((_, driver)) = connection.take() {
            driver.abort();
        }
        answered
    }
}
