use reqwest::StatusCode;

use crate::support::{SECRET, TestApp};

#[tokio::test]
async fn metrics_label_requests_by_route_template() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let task = app.create_task(&token, "count me").await;
    let id = task["id"].as_str().unwrap();
    app.get(&format!("/api/tasks/{id}"), Some(&token)).await;
    app.get("/api/tasks", None).await;
    app.get("/totally/unknown/path", None).await;

    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/tasks/{id}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="POST",route="/api/tasks",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/api/tasks",status="401"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(!text.contains(id), "raw ids must not become labels");
    assert!(!text.contains("/totally/unknown/path"));
}

#[tokio::test]
async fn metrics_cover_latency_in_flight_pool_db_and_process() {
    let app = TestApp::spawn().await;
    app.get("/api/health", None).await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    for expected in [
        "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/health\",le=\"0.001\"}",
        "http_requests_in_flight 1",
        "db_pool_connections{state=\"max\"} 10",
        "db_pool_connections{state=\"in_use\"}",
        "db_pool_connections{state=\"waiting\"}",
        "db_up 1",
        "backend_build_info{version=",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(text.contains(expected), "missing {expected}:\n{text}");
    }
}

#[tokio::test]
async fn secrets_never_appear_in_metrics() {
    let app = TestApp::spawn().await;
    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains(SECRET));
    assert!(!text.contains(&app.database_url));
}

/// The `method` label values of `http_requests_total`.
fn method_labels(metrics: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .filter_map(|line| line.split("method=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn invented_methods_do_not_create_metric_series() {
    let app = TestApp::spawn().await;
    app.get("/api/health", None).await;
    let client = app.client();
    // One invented method first, so the catch-all label exists before the flood.
    let first = reqwest::Method::from_bytes(b"INVENTED").unwrap();
    client
        .request(first, app.url("/api/health"))
        .send()
        .await
        .unwrap();
    let before = method_labels(&app.get("/metrics", None).await.text().await.unwrap());
    for n in 0..100 {
        let method = reqwest::Method::from_bytes(format!("X-METHOD-{n}").as_bytes()).unwrap();
        let response = client
            .request(method, app.url("/api/tasks"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    let after = method_labels(&app.get("/metrics", None).await.text().await.unwrap());
    assert_eq!(before, after);
    assert!(after.contains("other"), "{after:?}");
    assert!(after.iter().all(|label| !label.starts_with("X-METHOD")));
}
