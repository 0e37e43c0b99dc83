use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{DatabaseProxy, POD_NAME, TestApp};

#[tokio::test]
async fn health_is_ok_with_database_pod_and_version() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/health", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["pod"], POD_NAME);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn ready_and_live_answer_200() {
    let app = TestApp::spawn().await;
    let ready = app.get("/api/health/ready", None).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let live = app.get("/api/health/live", None).await;
    assert_eq!(live.status(), StatusCode::OK);
    let body: Value = live.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(
        body.get("database").is_none(),
        "liveness must not report the database: {body}"
    );
}

#[tokio::test]
async fn draining_makes_readiness_503_but_keeps_liveness_200() {
    let app = TestApp::spawn().await;
    app.lifecycle.start_draining();
    let health = app.get("/api/health", None).await;
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    assert_eq!(
        app.get("/api/health/ready", None).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        app.get("/api/health/live", None).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_response_names_the_serving_pod() {
    let app = TestApp::spawn().await;
    for path in ["/api/health", "/api/tasks", "/no/such/route"] {
        let response = app.get(path, None).await;
        assert_eq!(response.headers()["x-served-by"], POD_NAME, "{path}");
    }
}

#[tokio::test]
async fn request_id_is_kept_when_sent_and_generated_otherwise() {
    let app = TestApp::spawn().await;
    let response = app
        .client()
        .get(app.url("/api/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");

    let generated = app.get("/api/health", None).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let forged = app
        .client()
        .get(app.url("/api/health"))
        .header("x-request-id", "evil\"} injected")
        .send()
        .await
        .unwrap();
    assert_ne!(forged.headers()["x-request-id"], "evil\"} injected");
}

#[tokio::test]
async fn an_idle_app_stops_gracefully() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/api/health", None).await.status(), StatusCode::OK);
    assert_eq!(app.stop().await, backend::Stopped::Gracefully);
}

#[tokio::test]
async fn a_flood_of_health_checks_all_answer_200_while_the_database_is_fine() {
    // Each round trip takes 20 ms, as to a database a network hop away: checks that queued for
    // one connection, one after another, would run out of their 2 s long before 2000 were done.
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let database = DatabaseProxy::slow(&database_url, Duration::from_millis(20)).await;
    let app = TestApp::spawn_on(&database.database_url, &[("HTTP_MAX_CONNECTIONS", "4096")]).await;
    let client = reqwest::Client::new();
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..2000 {
        let request = client.get(app.url("/api/health")).send();
        flood.spawn(async move {
            let response = request.await.map_err(|error| error.to_string())?;
            let status = response.status();
            let body: Value = response.json().await.map_err(|error| error.to_string())?;
            Ok::<_, String>((status, body))
        });
    }
    let mut failures = Vec::new();
    while let Some(answer) = flood.join_next().await {
        match answer.unwrap() {
            Ok((StatusCode::OK, _)) => {}
            other => failures.push(format!("{other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 2000 health checks failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
}

#[tokio::test]
async fn a_successful_probe_is_not_logged_at_info() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut service = crate::support::ServiceProcess::start(&database_url, &[]).await;
    let ready = reqwest::get(service.url("/api/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    service.terminate();
    let _ = service
        .wait_for_exit(std::time::Duration::from_secs(20))
        .await;
    let logs = service.logs();
    assert!(
        !logs.iter().any(|line| line.contains("/api/health/ready")),
        "a successful probe is DEBUG, not INFO: {logs:#?}"
    );
}

#[tokio::test]
async fn an_unready_answer_says_why_in_its_log_line() {
    let mut server = testkit::postgres::PgServer::start().unwrap();
    let database_url = testkit::postgres::create_database(&server.url("postgres"))
        .await
        .unwrap();
    let mut service = crate::support::ServiceProcess::start(&database_url, &[]).await;
    server.stop().unwrap();
    let ready = reqwest::get(service.url("/api/health/ready"))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let line = service
        .stop_and_find_log(&["/api/health/ready", "503"])
        .await;
    assert!(line.contains("did not answer the health check"), "{line}");
}
