use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{POD_NAME, TestApp};

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
