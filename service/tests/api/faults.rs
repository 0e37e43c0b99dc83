//! Fault tests on the real binary: the database going away under traffic (stopped, frozen,
//! cut off by the network), SIGTERM under load, and more slow requests than the pool holds.
//! Bounded in time; nothing is lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use uuid::Uuid;

use testkit::postgres::{PgServer, create_database};

use crate::support::{DatabaseProxy, SECRET, ServiceProcess, connect};

/// What one request of the background traffic got.
#[derive(Debug, Clone)]
struct Outcome {
    started: Instant,
    latency: Duration,
    result: Result<(StatusCode, Option<String>), String>,
    /// The task a 201 acknowledged.
    created: Option<Uuid>,
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
                        let (result, created) = answer(request.bearer_auth(&token)).await;
                        outcomes.lock().await.push(Outcome {
                            started,
                            latency: started.elapsed(),
                            result,
                            created,
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

    /// Waits until `count` requests that started after `moment` have been answered (or failed).
    async fn wait_for_answers_after(&self, moment: Instant, count: usize, within: Duration) {
        testkit::wait::until(
            &format!("{count} requests of traffic after the fault began"),
            within,
            Duration::from_millis(20),
            || async move {
                let outcomes = self.outcomes.lock().await;
                let after = outcomes.iter().filter(|o| o.started >= moment).count();
                (after >= count).then_some(())
            },
        )
        .await
        .unwrap();
    }

    /// Waits until a request that started after `moment` has succeeded.
    async fn wait_for_success_after(&self, moment: Instant, within: Duration) {
        testkit::wait::until(
            "tasks to be served again",
            within,
            Duration::from_millis(20),
            || async move {
                let outcomes = self.outcomes.lock().await;
                outcomes
                    .iter()
                    .any(|o| {
                        o.started > moment
                            && matches!(o.result, Ok((status, _)) if status.is_success())
                    })
                    .then_some(())
            },
        )
        .await
        .unwrap();
    }

    async fn stop(self) -> Vec<Outcome> {
        self.running.store(false, Ordering::SeqCst);
        for worker in self.workers {
            worker.await.unwrap();
        }
        Arc::try_unwrap(self.outcomes).unwrap().into_inner()
    }
}

/// The status and `Retry-After` of an answer (or why there was none), and the task a 201
/// created.
async fn answer(
    request: reqwest::RequestBuilder,
) -> (Result<(StatusCode, Option<String>), String>, Option<Uuid>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return (Err(format!("{error:?}")), None),
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(error) => {
            return (
                Err(format!("{status}, then the body failed: {error:?}")),
                None,
            );
        }
    };
    let created = (status == StatusCode::CREATED)
        .then(|| serde_json::from_slice::<Value>(&body).ok())
        .flatten()
        .and_then(|task| task["id"].as_str()?.parse().ok());
    (Ok((status, retry_after)), created)
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

/// Waits until readiness answers `status`.
async fn wait_for_readiness(base: &str, status: StatusCode, within: Duration) {
    testkit::wait::until(
        &format!("/api/health/ready to answer {status}"),
        within,
        Duration::from_millis(20),
        || async move {
            let answered = reqwest::get(format!("{base}/api/health/ready"))
                .await
                .ok()
                .map(|r| r.status());
            (answered == Some(status)).then_some(())
        },
    )
    .await
    .unwrap();
}

/// How the database goes away, and comes back.
enum Fault {
    /// Shut down (fast shutdown: clients are disconnected), then started again.
    Stopped(PgServer),
    /// SIGSTOP of the postmaster and every backend, then SIGCONT: connections stay open and
    /// nothing answers.
    Frozen(PgServer),
    /// Cut off by the network: every byte dropped, nothing closed, then forwarded again.
    Blackholed(DatabaseProxy),
}

impl Fault {
    fn begin(&mut self) {
        match self {
            Fault::Stopped(server) => server.stop().unwrap(),
            Fault::Frozen(server) => server.freeze().unwrap(),
            Fault::Blackholed(proxy) => proxy.blackhole(),
        }
    }

    fn end(&mut self) {
        match self {
            Fault::Stopped(server) => server.resume().unwrap(),
            Fault::Frozen(server) => server.thaw().unwrap(),
            Fault::Blackholed(proxy) => proxy.restore(),
        }
    }
}

/// The service's settings for the fault tests: waits and deadlines short enough for a test.
/// A request that needs the database is answered within [`OUTAGE_ANSWER_BOUND`]: at most
/// DB_POOL_TIMEOUT_MS for its turn or a connection (twice for a read that falls back from the
/// shared connections to the pool), plus the client-side deadline of a query, 1 s past
/// DB_STATEMENT_TIMEOUT_MS.
const OUTAGE_SETTINGS: &[(&str, &str)] = &[
    ("DB_POOL_TIMEOUT_MS", "500"),
    ("DB_CONNECT_TIMEOUT_MS", "1000"),
    ("DB_STATEMENT_TIMEOUT_MS", "1000"),
];
/// 0.5 + 0.5 + 2 s, with a second of slack for a loaded 2-core machine.
const OUTAGE_ANSWER_BOUND: Duration = Duration::from_secs(4);

/// Traffic of reads and creates runs while `fault` takes the database away and brings it back.
/// Every request is answered, within `bound`, with success or 503 and `Retry-After`; from
/// `settle` into the outage every request gets 503; readiness turns 503 during the outage and
/// 200 after it; the same process serves again without a restart, and every task it
/// acknowledged with 201, before or during the outage, is there.
async fn outage_under_traffic(
    database_url: &str,
    mut fault: Fault,
    settle: Duration,
    bound: Duration,
) {
    let service = ServiceProcess::start(database_url, OUTAGE_SETTINGS).await;
    let before_outage = create_tasks(&service.base, 20).await;
    let traffic = Traffic::start(&service.base, 4, before_outage[0]);
    traffic.wait_for_answers(50).await;

    let outage = Instant::now();
    fault.begin();
    wait_for_readiness(
        &service.base,
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(5),
    )
    .await;
    let settled = outage + settle;
    traffic
        .wait_for_answers_after(settled, 40, Duration::from_secs(30))
        .await;

    let back = Instant::now();
    fault.end();
    wait_for_readiness(&service.base, StatusCode::OK, Duration::from_secs(5)).await;
    traffic
        .wait_for_success_after(back, Duration::from_secs(5))
        .await;
    let outcomes = traffic.stop().await;

    assert_every_answer_within(&outcomes, bound);
    assert_every_answer_during_the_outage_is_503(&outcomes, settled, back);
    assert_acknowledged_tasks_kept(&service.base, &before_outage, &outcomes).await;
    assert!(!service.logs().join("\n").contains("start-up failed"));
}

/// Every request got an answer within `bound`: success, or 503 with `Retry-After`.
fn assert_every_answer_within(outcomes: &[Outcome], bound: Duration) {
    for outcome in outcomes {
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
        assert!(
            outcome.latency < bound,
            "answered after {bound:?}: {outcome:?}"
        );
    }
}

/// Requests started once the outage had `settled` and answered before the database came
/// `back` all got 503 (one still waiting when it came back may well succeed).
fn assert_every_answer_during_the_outage_is_503(
    outcomes: &[Outcome],
    settled: Instant,
    back: Instant,
) {
    let during: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.started >= settled && o.started + o.latency < back)
        .collect();
    assert!(
        during.len() >= 40,
        "{} answers during the outage",
        during.len()
    );
    let not_503: Vec<_> = during
        .iter()
        .filter(|o| !matches!(o.result, Ok((StatusCode::SERVICE_UNAVAILABLE, _))))
        .collect();
    assert!(
        not_503.is_empty(),
        "every request answered during the settled outage gets 503: {not_503:?}"
    );
}

/// Every task acknowledged with 201, before the outage or under traffic, can be read.
async fn assert_acknowledged_tasks_kept(base: &str, before_outage: &[Uuid], outcomes: &[Outcome]) {
    let client = reqwest::Client::new();
    let token = testkit::jwt::mint(SECRET, "traffic", 600);
    let acknowledged = outcomes.iter().filter_map(|o| o.created);
    for (id, when) in before_outage
        .iter()
        .map(|id| (*id, "before the outage"))
        .chain(acknowledged.map(|id| (id, "by a 201 under traffic")))
    {
        let response = client
            .get(format!("{base}/api/tasks/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "task {id} acknowledged {when}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_fast_503s_and_recovers_without_restart() {
    let server = PgServer::start().unwrap();
    let database_url = create_database(&server.url("postgres")).await.unwrap();
    // A stopped server refuses at once: no request waits longer than the pool wait timeout
    // (500 ms), with slack for a loaded 2-core machine.
    outage_under_traffic(
        &database_url,
        Fault::Stopped(server),
        Duration::from_secs(2),
        Duration::from_millis(1500),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_database_gives_bounded_503s_and_recovers_without_restart() {
    let server = PgServer::start().unwrap();
    let database_url = create_database(&server.url("postgres")).await.unwrap();
    // Settled once the queries that were in flight have passed their deadline (2 s) and the
    // pool wait (0.5 s).
    outage_under_traffic(
        &database_url,
        Fault::Frozen(server),
        Duration::from_secs(3),
        OUTAGE_ANSWER_BOUND,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackholed_database_gives_bounded_503s_and_recovers_without_restart() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let proxy = DatabaseProxy::start(&database_url).await;
    let database_url = proxy.database_url.clone();
    outage_under_traffic(
        &database_url,
        Fault::Blackholed(proxy),
        Duration::from_secs(3),
        OUTAGE_ANSWER_BOUND,
    )
    .await;
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
