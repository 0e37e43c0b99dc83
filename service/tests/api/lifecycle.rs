//! Start-up and shutdown of the real binary.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{SECRET, ServiceProcess, connect};

/// Waits until some query of the service is blocked on a lock held by the test.
async fn wait_for_blocked_query(database_url: &str) {
    let observer = connect(database_url).await;
    testkit::wait::until(
        "a service query waiting on the test's lock",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            let observer = &observer;
            async move {
                let row = observer
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = 'todo-chatbot-backend' AND wait_event_type = 'Lock'",
                        &[],
                    )
                    .await
                    .ok()?;
                (row.get::<_, i64>(0) > 0).then_some(())
            }
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_zero() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut service =
        ServiceProcess::start(&database_url, &[("SHUTDOWN_GRACE_PERIOD_SECS", "15")]).await;
    let client = reqwest::Client::new();
    let token = testkit::jwt::mint(SECRET, "alice", 300);
    let created = client
        .post(service.url("/api/tasks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "survives shutdown"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // Hold a lock so the next request stays in flight until the test lets go.
    let mut locker = connect(&database_url).await;
    let lock = locker.transaction().await.unwrap();
    lock.batch_execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let in_flight = tokio::spawn(
        client
            .get(service.url("/api/tasks"))
            .bearer_auth(&token)
            .send(),
    );
    wait_for_blocked_query(&database_url).await;

    service.terminate();
    // New connections are refused once draining starts.
    testkit::wait::until(
        "the listener to close",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            let url = service.url("/api/health");
            async move {
                reqwest::get(url)
                    .await
                    .err()
                    .filter(|e| e.is_connect())
                    .map(|_| ())
            }
        },
    )
    .await
    .unwrap();
    lock.rollback().await.unwrap();

    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request is answered");
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total"], 1);

    let status = service.wait_for_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "exit status {status}");
    let logs = service.logs().join("\n");
    assert!(logs.contains("shutdown requested"), "{logs}");
}

#[tokio::test]
async fn a_slow_reader_of_a_large_answer_gets_every_byte_across_sigterm() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut service =
        ServiceProcess::start(&database_url, &[("SHUTDOWN_GRACE_PERIOD_SECS", "20")]).await;
    let path = "/docs/swagger-ui-bundle.js";
    let expected = reqwest::get(service.url(path))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(expected.len() > 1_000_000, "{} bytes", expected.len());

    // A client that reads a few KiB at a time through a small receive buffer, so most of the
    // answer is still in the server's hands when SIGTERM arrives.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address: std::net::SocketAddr = service.base.trim_start_matches("http://").parse().unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    while received.len() < 64 * 1024 {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the answer stopped before SIGTERM");
        received.extend_from_slice(&chunk[..n]);
    }
    service.terminate();
    loop {
        let n = stream.read(&mut chunk).await.unwrap();
        if n == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..n]);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let head_end = received
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a response head")
        + 4;
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(
        received.len() - head_end,
        expected.len(),
        "every byte of the answer arrived"
    );
    assert!(received[head_end..] == expected[..]);
    let status = service.wait_for_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn two_processes_starting_together_migrate_an_empty_database_once() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let (first, second) = tokio::join!(
        ServiceProcess::start(&database_url, &[]),
        ServiceProcess::start(&database_url, &[])
    );
    for service in [&first, &second] {
        let response = reqwest::get(service.url("/api/health")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let client = connect(&database_url).await;
    let rows = client
        .query(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version",
            &[],
        )
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for row in rows {
        assert_eq!(
            row.get::<_, i64>(1),
            1,
            "migration {} recorded once",
            row.get::<_, i32>(0)
        );
    }
    let applied = [&first, &second]
        .iter()
        .flat_map(|service| service.logs())
        .filter(|line| line.contains("applied database migration"))
        .count();
    assert_eq!(applied, 1, "exactly one process applies the migration");
}

#[tokio::test]
async fn startup_logs_the_database_connection_as_json_without_the_password() {
    let admin = testkit::postgres::shared_admin_url().unwrap();
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let client = connect(&admin).await;
    client
        .batch_execute("DO $$ BEGIN CREATE ROLE app_user LOGIN PASSWORD 'pw-never-logged'; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        .await
        .unwrap();
    let database = database_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    client
        .batch_execute(&format!("ALTER DATABASE {database} OWNER TO app_user"))
        .await
        .unwrap();
    let with_password = database_url.replacen("postgres@", "app_user:pw-never-logged@", 1);
    let service = ServiceProcess::start(&with_password, &[]).await;
    let logs = service.logs();
    assert!(
        logs.iter()
            .all(|line| serde_json::from_str::<Value>(line).is_ok()),
        "{logs:?}"
    );
    let connected = logs
        .iter()
        .find(|line| line.contains("connected to database"))
        .expect("a log line saying the database connection succeeded");
    assert!(connected.contains("app_user@127.0.0.1"), "{connected}");
    assert!(!logs.join("\n").contains("pw-never-logged"));
}

#[tokio::test]
async fn a_service_starting_while_another_holds_the_migration_lock_waits_and_comes_up() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut holder = connect(&database_url).await;
    let held = holder.transaction().await.unwrap();
    held.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&backend::MIGRATION_LOCK_KEY],
    )
    .await
    .unwrap();
    // The pool's statement timeout (1 s here) must not bound the wait for the lock.
    let starting = tokio::spawn({
        let database_url = database_url.clone();
        async move {
            ServiceProcess::start(
                &database_url,
                &[
                    ("DB_STATEMENT_TIMEOUT_MS", "1000"),
                    ("DB_STARTUP_TIMEOUT_SECS", "30"),
                ],
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(
        !starting.is_finished(),
        "the service must wait for the lock"
    );
    held.rollback().await.unwrap();

    let service = starting.await.unwrap();
    let response = reqwest::get(service.url("/api/health")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn debug_logging_never_writes_user_data() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let service = ServiceProcess::start(&database_url, &[("LOG_LEVEL", "debug")]).await;
    let token = testkit::jwt::mint(SECRET, "private-user-id", 300);
    let response = reqwest::Client::new()
        .post(service.url("/api/tasks"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"title": "my secret plans", "description": "between us"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    reqwest::Client::new()
        .get(service.url(&format!("/api/tasks/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    // Logs are written in batches: wait for the line of the second request.
    testkit::wait::until(
        "the request log lines",
        Duration::from_secs(5),
        Duration::from_millis(20),
        || {
            let logs = service.logs();
            async move {
                logs.iter()
                    .any(|line| line.contains("/api/tasks/"))
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    let logs = service.logs().join("\n");
    assert!(
        logs.contains("effective configuration"),
        "debug lines are written at all:\n{logs}"
    );
    for private in ["my secret plans", "between us", "private-user-id"] {
        assert!(!logs.contains(private), "{private:?} is in the logs");
    }
}
