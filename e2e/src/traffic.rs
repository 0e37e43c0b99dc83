//! Steady traffic while the cluster changes under it: requests at a fixed pace, with a bound on
//! how many are in flight and on how many are sent in all.
//!
//! Each request of the rolling-restart check opens a new TCP connection (so it goes through the
//! Service's current endpoints like a new client). Through Kind's port mapping every one of
//! them costs a local port that then sits in TIME_WAIT for 60 s, so requests sent back to back
//! run the ephemeral range (Linux: 32768-60999, Documentation/networking/ip-sysctl) dry within
//! seconds and the proxy starts refusing clients. At 20 requests a second about 1,200 ports are
//! in TIME_WAIT at any time, and a rollout is still observed dozens of times per pod.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::MissedTickBehavior;

/// How fast and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Requests started per second, in total.
    pub per_second: u32,
    /// Requests waiting for an answer at once; at the bound, the next start waits.
    pub max_in_flight: usize,
    /// Requests sent in all; after that the traffic stops by itself.
    pub max_requests: usize,
}

/// What the traffic saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub sent: usize,
    pub failures: Vec<String>,
    /// True if it stopped because `max_requests` were sent, not because it was told to.
    pub budget_spent: bool,
}

/// Running traffic. Dropping it stops it (without waiting for answers).
pub struct Traffic {
    stop: watch::Sender<bool>,
    sent: Arc<AtomicUsize>,
    task: Option<JoinHandle<Outcome>>,
}

impl Traffic {
    /// Starts sending: `request` is called once per request and says what failed, if anything.
    pub fn start<F, Fut>(pace: Pace, request: F) -> Traffic
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        assert!(pace.per_second > 0 && pace.max_in_flight > 0);
        let (stop, mut stopped) = watch::channel(false);
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = sent.clone();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs(1) / pace.per_second);
            // After a stall, carry on at the pace instead of catching up in a burst.
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let slots = Arc::new(Semaphore::new(pace.max_in_flight));
            let mut in_flight = JoinSet::new();
            let mut outcome = Outcome::default();
            loop {
                if counter.load(Ordering::SeqCst) >= pace.max_requests {
                    outcome.budget_spent = true;
                    break;
                }
                let slot = tokio::select! {
                    _ = stopped.changed() => break,
                    slot = async {
                        ticker.tick().await;
                        slots.clone().acquire_owned().await
                    } => slot.expect("the semaphore is never closed"),
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let call = request();
                in_flight.spawn(async move {
                    let result = call.await;
                    drop(slot);
                    result
                });
                while let Some(done) = in_flight.try_join_next() {
                    record(&mut outcome, done);
                }
            }
            while let Some(done) = in_flight.join_next().await {
                record(&mut outcome, done);
            }
            outcome.sent = counter.load(Ordering::SeqCst);
            outcome
        });
        Traffic {
            stop,
            sent,
            task: Some(task),
        }
    }

    /// Requests started so far.
    pub fn sent(&self) -> usize {
        self.sent.load(Ordering::SeqCst)
    }

    /// Stops starting requests, waits for the ones in flight, and reports.
    pub async fn stop(mut self) -> Outcome {
        let _ = self.stop.send(true);
        let task = self.task.take().expect("stopped once");
        task.await.unwrap_or_else(|error| Outcome {
            failures: vec![format!("the traffic task failed: {error}")],
            ..Outcome::default()
        })
    }
}

fn record(outcome: &mut Outcome, done: Result<Result<(), String>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(failure)) => outcome.failures.push(failure),
        Err(error) => outcome
            .failures
            .push(format!("request task failed: {error}")),
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    //! Virtual time (tokio's paused clock): counts are exact, and nothing here waits for real.

    use super::*;

    fn pace(per_second: u32, max_in_flight: usize, max_requests: usize) -> Pace {
        Pace {
            per_second,
            max_in_flight,
            max_requests,
        }
    }

    async fn ok() -> Result<(), String> {
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn sends_at_the_pace_not_back_to_back() {
        let traffic = Traffic::start(pace(20, 8, 10_000), ok);
        tokio::time::sleep(Duration::from_millis(9_990)).await;
        let outcome = traffic.stop().await;
        // One request at once, then one every 50 ms: 200 in just under ten seconds.
        assert_eq!(outcome.sent, 200);
        assert!(outcome.failures.is_empty());
        assert!(!outcome.budget_spent);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_by_itself_after_max_requests() {
        let traffic = Traffic::start(pace(1000, 8, 50), ok);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(traffic.sent(), 50);
        let outcome = traffic.stop().await;
        assert_eq!(outcome.sent, 50);
        assert!(outcome.budget_spent);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_answers_hold_back_new_requests() {
        let traffic = Traffic::start(pace(100, 4, 10_000), || async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(traffic.sent(), 4, "only max_in_flight wait at once");
        let outcome = traffic.stop().await;
        assert_eq!(outcome.sent, 4);
        assert!(outcome.failures.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_reported_with_what_went_wrong() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let traffic = Traffic::start(pace(10, 2, 10), move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n % 5 == 4 {
                    Err(format!("HTTP 502 on request {n}"))
                } else {
                    Ok(())
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut outcome = traffic.stop().await;
        outcome.failures.sort();
        assert_eq!(outcome.sent, 10);
        assert_eq!(
            outcome.failures,
            ["HTTP 502 on request 4", "HTTP 502 on request 9"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_traffic_stops_it() {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let traffic = Traffic::start(pace(10, 2, 10_000), move || {
            counter.fetch_add(1, Ordering::SeqCst);
            ok()
        });
        tokio::time::sleep(Duration::from_millis(250)).await;
        drop(traffic);
        let before = calls.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(calls.load(Ordering::SeqCst), before);
    }
}
