//! Fault tests on the real binary: the database going away under traffic, SIGTERM under load,
//! and more slow requests than the pool holds. Bounded in time; nothing is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::support::{SECRET, ServiceProcess, connect};

/// What one request of the background traffic got.
#[derive(Debug, Clone)]
struct Outcome {
    started: Instant,
    latency: Duration,
    result: Result<(StatusCode, Option<String>), String>,
}

/// Clients sending requests back to back until stopped, recording every outcome.
struct Traffic {
    running: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    workers: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// `clients` loops, each alternating a read of `existing` and a create.
    fn start(base: &str, clients: usize, existing: Uuid) -> Traffic {
        let running = Arc::new(AtomicBool::new(true));
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let token = testkit::jwt::mint(SECRET, "traffic", 600);
        let workers = (0..clients)
            .map(|worker| {
                let (running, outcomes, token) = (running.clone(), outcomes.clone(), token.clone());
                let base = base.to_owned();
                tokio::spawn(async move {
                    let client = reqwest::Client::builder()
                        .timeout(Duration::from_secs(10))
                        .build()
                        .unwrap();
                    let mut n = 0u64;
                    while running.load(Ordering::SeqCst) {
                        n += 1;
                        let request = if n.is_multiple_of(2) {
                            client
                                .post(format!("{base}/api/tasks"))
                                .json(&json!({ "title": format!("traffic {worker}-{n}") }))
                        } else {
                            client.get(format!("{base}/api/tasks/{existing}"))
                        };
                        let started = Instant::now();
                        let result = request.bearer_auth(&token).send().await;
                        let result = match result {
                            Ok(response) => Ok((
                                response.status(),
                                response
                                    .headers()
                                    .get("retry-after")
                                    .and_then(|v| v.to_str().ok())
                                    .map(str::to_owned),
                            )),
                            Err(error) => Err(format!("{error:?}")),
                        };
                        outcomes.lock().await.push(Outcome {
                            started,
                            latency: started.elapsed(),
                            result,
                        });
                    }
                })
            })
            .collect();
        Traffic {
            running,
            outcomes,
            workers,
        }
    }

    /// Waits until `count` requests have been answered (or failed).
    async fn wait_for_answers(&self, count: usize) {
        testkit::wait::until(
            &format!("{count} requests of traffic"),
            Duration::from_secs(10),
            Duration::from_millis(10),
            || async move { (self.outcomes.lock().await.len() >= count).then_some(()) },
        )
        .await
        .unwrap();
    }

    async fn count_started_after(&self, moment: Instant) -> usize {
        self.outcomes
            .lock()
            .await
            .iter()
            .filter(|outcome| outcome.started >= moment)
            .count()
    }

    async fn stop(self) -> Vec<Outcome> {
        self.running.store(false, Ordering::SeqCst);
        for worker in self.workers {
            worker.await.unwrap();
        }
        Arc::try_unwrap(self.outcomes).unwrap().into_inner()
    }
}

async fn create_tasks(base: &str, count: usize) -> Vec<Uuid> {
    let client = reqwest::Client::new();
    let token = testkit::jwt::mint(SECRET, "traffic", 600);
    let mut ids = Vec::new();
    for n in 0..count {
        let response = client
            .post(format!("{base}/api/tasks"))
            .bearer_auth(&token)
            .json(&json!({ "title": format!("before outage {n}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let task: Value = response.json().await.unwrap();
        ids.push(task["id"].as_str().unwrap().parse().unwrap());
    }
    ids
}

async fn health_status(base: &str) -> Option<StatusCode> {
    reqwest::get(format!("{base}/api/health"))
        .await
        .ok()
        .map(|r| r.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_fast_503s_and_recovers_without_restart() {
    let mut server = testkit::postgres::PgServer::start().unwrap();
    let database_url = testkit::postgres::create_database(&server.url("postgres"))
        .await
        .unwrap();
    let service = ServiceProcess::start(
        &database_url,
        &[
            ("DB_POOL_TIMEOUT_MS", "500"),
            ("DB_CONNECT_TIMEOUT_MS", "1000"),
        ],
    )
    .await;
    let before_outage = create_tasks(&service.base, 20).await;
    let traffic = Traffic::start(&service.base, 4, before_outage[0]);
    traffic.wait_for_answers(50).await;

    let outage = Instant::now();
    server.stop().unwrap();
    testkit::wait::until(
        "/api/health to answer 503",
        Duration::from_secs(2),
        Duration::from_millis(20),
        || {
            let base = service.base.clone();
            async move {
                (health_status(&base).await == Some(StatusCode::SERVICE_UNAVAILABLE)).then_some(())
            }
        },
    )
    .await
    .unwrap();
    let settled = outage + Duration::from_secs(2);
    testkit::wait::until(
        "40 requests during the outage",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let traffic = &traffic;
            async move { (traffic.count_started_after(settled).await >= 40).then_some(()) }
        },
    )
    .await
    .unwrap();

    let back = Instant::now();
    server.resume().unwrap();
    testkit::wait::until(
        "/api/health to recover",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            let base = service.base.clone();
            async move { (health_status(&base).await == Some(StatusCode::OK)).then_some(()) }
        },
    )
    .await
    .unwrap();
    testkit::wait::until(
        "tasks to be served again",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            let traffic = &traffic;
            async move {
                let outcomes = traffic.outcomes.lock().await;
                outcomes
                    .iter()
                    .any(|o| {
                        o.started > back
                            && matches!(o.result, Ok((status, _)) if status.is_success())
                    })
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    let outcomes = traffic.stop().await;

    for outcome in &outcomes {
        let (status, retry_after) = outcome
            .result
            .clone()
            .unwrap_or_else(|error| panic!("request failed outright: {error}"));
        assert!(
            status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE,
            "{outcome:?}"
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(
                retry_after.is_some(),
                "503 without Retry-After: {outcome:?}"
            );
        }
        // No request hangs: the pool wait timeout (500 ms) bounds every answer, with slack for
        // a loaded 2-core machine.
        assert!(outcome.latency < Duration::from_millis(1500), "{outcome:?}");
    }
    let during: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.started >= settled && o.started < back)
        .collect();
    assert!(during.len() >= 40);
    let not_503: Vec<_> = during
        .iter()
        .filter(|o| !matches!(o.result, Ok((StatusCode::SERVICE_UNAVAILABLE, _))))
        .collect();
    assert!(
        not_503.is_empty(),
        "every request from 2 s into the outage gets 503: {not_503:?}"
    );

    let client = reqwest::Client::new();
    let token = testkit::jwt::mint(SECRET, "traffic", 600);
    for id in &before_outage {
        let response = client
            .get(format!("{}/api/tasks/{id}", service.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "task {id} written before the outage"
        );
    }
    let created = outcomes
        .iter()
        .filter(|o| matches!(o.result, Ok((StatusCode::CREATED, _))))
        .count() as i64;
    let page: Value = client
        .get(format!("{}/api/tasks?limit=1", service.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], json!(20 + created), "every 201 is stored");
    assert!(!service.logs().join("\n").contains("start-up failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_completes_every_accepted_request() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut service =
        ServiceProcess::start(&database_url, &[("SHUTDOWN_GRACE_PERIOD_SECS", "10")]).await;
    let existing = create_tasks(&service.base, 1).await[0];
    let traffic = Traffic::start(&service.base, 8, existing);
    traffic.wait_for_answers(100).await;

    let terminated = Instant::now();
    service.terminate();
    let status = service.wait_for_exit(Duration::from_secs(10)).await;
    let exit_took = terminated.elapsed();
    let outcomes = traffic.stop().await;

    assert!(status.success(), "exit status {status}");
    assert!(
        exit_took < Duration::from_secs(10),
        "exit took {exit_took:?}"
    );
    let answered: Vec<StatusCode> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().ok().map(|(s, _)| *s))
        .collect();
    assert!(
        answered.iter().all(StatusCode::is_success),
        "only 2xx answers: {answered:?}"
    );
    for outcome in outcomes.iter().filter(|o| o.result.is_err()) {
        assert!(
            outcome.started + Duration::from_millis(50) >= terminated,
            "failed before SIGTERM: {outcome:?}"
        );
    }
    // Every request the service read was logged when it was answered; clients got exactly as many.
    let served = service
        .logs()
        .iter()
        .filter(|line| line.contains("\"message\":\"request\"") && line.contains("/api/tasks"))
        .count();
    assert_eq!(
        served,
        answered.len() + 1,
        "requests served vs. answers received (+1 setup create)"
    );
}

/// Sends ten requests at once while every query on `tasks` is blocked by the test's table
/// lock; `held` of them take the connections (or places) the service has, the others must get
/// fast 503s. Once the lock goes, the held ones are answered 200 (201) and the service serves
/// normally again.
async fn more_slow_requests_than_the_limit_get_fast_503s(
    settings: &[(&str, &str)],
    held: usize,
    request: impl Fn(&reqwest::Client, &str, &str) -> reqwest::RequestBuilder,
    success: StatusCode,
) {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut settings = settings.to_vec();
    settings.extend([
        ("DB_POOL_TIMEOUT_MS", "300"),
        ("DB_STATEMENT_TIMEOUT_MS", "20000"),
    ]);
    let service = ServiceProcess::start(&database_url, &settings).await;
    let id = create_tasks(&service.base, 1).await[0].to_string();
    let token = testkit::jwt::mint(SECRET, "traffic", 600);

    let mut locker = connect(&database_url).await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let client = reqwest::Client::new();
    let requests: Vec<_> = (0..10)
        .map(|_| {
            let request = request(&client, &service.base, &id).bearer_auth(&token);
            tokio::spawn(async move {
                let started = Instant::now();
                let response = request.send().await.unwrap();
                (response.status(), started.elapsed())
            })
        })
        .collect();

    // Health has a connection of its own, so a saturated service does not make the pod unready.
    assert_eq!(health_status(&service.base).await, Some(StatusCode::OK));

    let rejected_count = 10 - held;
    testkit::wait::until(
        &format!("{rejected_count} of 10 requests to be answered"),
        Duration::from_secs(3),
        Duration::from_millis(10),
        || {
            let finished = requests.iter().filter(|r| r.is_finished()).count();
            async move { (finished >= rejected_count).then_some(()) }
        },
    )
    .await
    .unwrap();
    let (done, pending): (Vec<_>, Vec<_>) = requests.into_iter().partition(|r| r.is_finished());
    let mut rejected = Vec::new();
    for request in done {
        rejected.push(request.await.unwrap());
    }
    assert_eq!(
        pending.len(),
        held,
        "requests held by the service's capacity"
    );
    assert_eq!(rejected.len(), rejected_count);
    for (status, took) in &rejected {
        assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            *took < Duration::from_millis(1000),
            "rejected after {took:?}"
        );
    }

    lock.rollback().await.unwrap();
    for request in pending {
        let (status, _) = request.await.unwrap();
        assert_eq!(status, success);
    }
    for _ in 0..10 {
        let response = request(&client, &service.base, &id)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), success);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_slow_reads_than_the_read_limit_get_fast_503s() {
    more_slow_requests_than_the_limit_get_fast_503s(
        &[("DB_MAX_READS_IN_FLIGHT", "2")],
        2,
        |client, base, id| client.get(format!("{base}/api/tasks/{id}")),
        StatusCode::OK,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_slow_writes_than_the_pool_holds_get_fast_503s() {
    more_slow_requests_than_the_limit_get_fast_503s(
        &[("DB_POOL_SIZE", "2")],
        2,
        |client, base, _| {
            client
                .post(format!("{base}/api/tasks"))
                .json(&json!({"title": "held"}))
        },
        StatusCode::CREATED,
    )
    .await;
}
