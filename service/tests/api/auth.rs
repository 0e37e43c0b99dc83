use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::jwt::{better_auth, mint, mint_claims, now, sign};

use crate::support::{SECRET, TestApp, assert_error};

async fn assert_rejected(app: &TestApp, authorization: Option<&str>, rfc6750_error: Option<&str>) {
    let mut request = app.client().get(app.url("/api/tasks"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"todo-chatbot\""),
        "{challenge}"
    );
    match rfc6750_error {
        Some(code) => assert!(
            challenge.contains(&format!("error=\"{code}\"")),
            "{challenge}"
        ),
        None => assert!(!challenge.contains("error="), "{challenge}"),
    }
    assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

/// A syntactically bearer token that must be refused as an invalid token.
async fn assert_token_rejected(app: &TestApp, token: &str) {
    assert_rejected(app, Some(&format!("Bearer {token}")), Some("invalid_token")).await;
}

#[tokio::test]
async fn missing_token_is_rejected_with_401_and_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    assert_rejected(&app, None, None).await;
}

#[tokio::test]
async fn non_bearer_authorization_is_rejected_with_401() {
    let app = TestApp::spawn().await;
    assert_rejected(
        &app,
        Some("Basic YWxpY2U6c2VjcmV0"),
        Some("invalid_request"),
    )
    .await;
}

#[tokio::test]
async fn malformed_token_is_rejected_with_401() {
    let app = TestApp::spawn().await;
    assert_rejected(&app, Some("Bearer not-a-jwt"), Some("invalid_token")).await;
    assert_rejected(&app, Some("Bearer a.b.c"), Some("invalid_token")).await;
}

#[tokio::test]
async fn token_with_bad_signature_is_rejected_with_401() {
    let app = TestApp::spawn().await;
    let forged = mint("some-other-secret-some-other-secret-00", "alice", 300);
    assert_token_rejected(&app, &forged).await;
}

#[tokio::test]
async fn expired_token_is_rejected_with_401() {
    let app = TestApp::spawn().await;
    let expired = mint(SECRET, "alice", -3600);
    assert_token_rejected(&app, &expired).await;
}

#[tokio::test]
async fn alg_none_token_is_rejected_with_401() {
    let app = TestApp::spawn().await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(json!({"sub": "alice", "exp": now() + 300}).to_string());
    assert_rejected(
        &app,
        Some(&format!("Bearer {header}.{claims}.")),
        Some("invalid_token"),
    )
    .await;
}

#[tokio::test]
async fn other_algorithms_are_rejected_with_401() {
    let app = TestApp::spawn().await;
    let claims = json!({"sub": "alice", "exp": now() + 300});
    for algorithm in ["HS384", "HS512"] {
        let token = sign(&json!({"alg": algorithm, "typ": "JWT"}), &claims, SECRET);
        assert_token_rejected(&app, &token).await;
    }
}

/// The base URL Better Auth's JWT plugin puts in `iss` and `aud` by default.
const FRONTEND: &str = "https://todo.example.com";

async fn tasks_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/tasks", Some(token)).await.status()
}

#[tokio::test]
async fn better_auth_tokens_are_accepted_without_issuer_or_audience_settings() {
    let app = TestApp::spawn().await;
    let token = better_auth(SECRET, "ba-user-1", FRONTEND);
    let task = app.create_task(&token, "from the frontend").await;
    assert_eq!(task["title"], "from the frontend");
    assert_eq!(tasks_status(&app, &token).await, StatusCode::OK);
}

#[tokio::test]
async fn jwt_issuer_when_set_accepts_only_its_issuers() {
    let app = TestApp::spawn_with(&[(
        "JWT_ISSUER",
        "https://other.example, https://todo.example.com",
    )])
    .await;
    assert_eq!(
        tasks_status(&app, &better_auth(SECRET, "u", FRONTEND)).await,
        StatusCode::OK
    );
    assert_token_rejected(&app, &better_auth(SECRET, "u", "https://evil.example")).await;
    // Without `iss` at all: refused once an issuer is required.
    assert_token_rejected(&app, &mint(SECRET, "u", 300)).await;
}

#[tokio::test]
async fn jwt_audience_when_set_accepts_only_its_audiences() {
    let app = TestApp::spawn_with(&[("JWT_AUDIENCE", "mobile,https://todo.example.com")]).await;
    assert_eq!(
        tasks_status(&app, &better_auth(SECRET, "u", FRONTEND)).await,
        StatusCode::OK
    );
    assert_token_rejected(&app, &better_auth(SECRET, "u", "https://evil.example")).await;
    let several = mint_claims(
        SECRET,
        json!({"sub": "u", "exp": now() + 300, "aud": ["https://admin.example", "mobile"]}),
    );
    assert_eq!(
        tasks_status(&app, &several).await,
        StatusCode::OK,
        "one of several audiences is ours"
    );
    assert_token_rejected(&app, &mint(SECRET, "u", 300)).await;
}

#[tokio::test]
async fn a_sub_with_control_characters_is_a_401_not_a_500() {
    let app = TestApp::spawn().await;
    for subject in ["nul\0byte", "tab\there", "esc\u{1b}[31m"] {
        let token = mint_claims(SECRET, json!({"sub": subject, "exp": now() + 300}));
        let response = app.post("/api/tasks", &token, &json!({"title": "x"})).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn tokens_without_exp_or_sub_are_rejected_with_401() {
    let app = TestApp::spawn().await;
    for claims in [
        json!({"sub": "alice"}),
        json!({"exp": now() + 300}),
        json!({"sub": "", "exp": now() + 300}),
    ] {
        let token = mint_claims(SECRET, claims);
        assert_token_rejected(&app, &token).await;
    }
}

#[tokio::test]
async fn every_task_route_requires_a_token() {
    let app = TestApp::spawn().await;
    let id = uuid::Uuid::now_v7();
    for (method, path) in [
        ("GET", "/api/tasks".to_owned()),
        ("POST", "/api/tasks".to_owned()),
        ("GET", format!("/api/tasks/{id}")),
        ("PATCH", format!("/api/tasks/{id}")),
        ("DELETE", format!("/api/tasks/{id}")),
    ] {
        let response = app
            .client()
            .request(method.parse().unwrap(), app.url(&path))
            .json(&json!({"title": "x"}))
            .send()
            .await
            .unwrap();
        let body: Value = assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        assert!(!body.to_string().contains(SECRET));
    }
}

#[tokio::test]
async fn a_refused_token_is_logged_with_the_reason() {
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let mut service = crate::support::ServiceProcess::start(&database_url, &[]).await;
    let forged = mint("some-other-secret-some-other-secret-00", "alice", 300);
    let response = reqwest::Client::new()
        .get(service.url("/api/tasks"))
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let line = service.stop_and_find_log(&["\"status\":401"]).await;
    assert!(line.contains("bad signature"), "{line}");
}
