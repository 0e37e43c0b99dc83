//! What every route does besides its own method, from the route table: HEAD for GET
//! (RFC 9110 9.3.2), OPTIONS, and request bodies that are not JSON objects.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error, task_path};

/// A concrete path for a route's template.
fn concrete(template: &str, task: &Value) -> String {
    template
        .replace("{id}", task["id"].as_str().unwrap())
        .replace("{file}", "swagger-ui.css")
}

#[tokio::test]
async fn every_get_route_answers_head_like_get_without_a_body() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let task = app.create_task(&token, "for HEAD").await;
    let gets: Vec<_> = backend::routes()
        .iter()
        .filter(|route| route.method.as_str() == "GET")
        .collect();
    assert!(gets.len() >= 8, "{} GET routes", gets.len());
    for route in gets {
        let url = app.url(&concrete(route.path, &task));
        let get = app
            .client()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let head = app
            .client()
            .head(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), get.status(), "HEAD {}", route.path);
        assert!(
            get.status().is_success(),
            "GET {}: {}",
            route.path,
            get.status()
        );
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {}",
            route.path
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {} has no body",
            route.path
        );
    }
    let unauthenticated = app
        .client()
        .head(app.url("/api/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn head_is_counted_under_its_own_method() {
    let app = TestApp::spawn().await;
    app.client()
        .head(app.url("/api/health"))
        .send()
        .await
        .unwrap();
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics
            .contains(r#"http_requests_total{method="HEAD",route="/api/health",status="200"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn every_route_answers_options_with_allow_and_no_token() {
    let app = TestApp::spawn().await;
    let task = json!({"id": uuid::Uuid::now_v7().to_string()});
    for route in backend::routes() {
        let response = app
            .client()
            .request(Method::OPTIONS, app.url(&concrete(route.path, &task)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{}", route.path);
        let allow = response.headers()["allow"].to_str().unwrap();
        assert!(
            allow.contains(route.method.as_str()) && allow.ends_with("OPTIONS"),
            "{}: {allow}",
            route.path
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let task = app.create_task(&token, "unchanged").await;
    for body in [json!([]), json!(["t", true]), json!("title"), json!(null)] {
        let response = app.patch(&task_path(&task), &token, &body).await;
        let error = assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error["error"]["details"][0]["field"], "body", "{body}");
        let response = app.post("/api/tasks", &token, &body).await;
        assert_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    let now: Value = app
        .get(&task_path(&task), Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now, task, "not even updated_at moved");
    let list = app.task_list(&token).await;
    assert_eq!(list["total"], 1, "no task was created from an array");
}

#[tokio::test]
async fn an_authorization_header_that_is_not_ascii_is_the_documented_401() {
    let app = TestApp::spawn().await;
    let value = reqwest::header::HeaderValue::from_bytes("Bearer t\u{f6}ken".as_bytes()).unwrap();
    for method in [Method::GET, Method::DELETE] {
        let path = if method == Method::GET {
            "/api/tasks".to_owned()
        } else {
            format!("/api/tasks/{}", uuid::Uuid::now_v7())
        };
        let response = app
            .client()
            .request(method.clone(), app.url(&path))
            .header("authorization", value.clone())
            .send()
            .await
            .unwrap();
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(r#"error="invalid_request""#),
            "{method}: {challenge}"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}
