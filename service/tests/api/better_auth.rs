//! The frontend's tokens: Better Auth's JWT plugin signs them with a key of its own and publishes
//! the public half at `{BETTER_AUTH_URL}/api/auth/jwks`; the service checks them against it.
//! A stand-in auth server (testkit) plays Better Auth: keys rotate, it fails, it starts late.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::auth_server::{AuthServer, Mode};
use testkit::jwt::{Alg, SigningKey, better_auth_claims};

use crate::support::{SECRET, TestApp, assert_error, task_path};

/// The app trusting `auth`'s JWKS, refetching for unknown key ids at most every
/// `min_refetch`.
async fn app_trusting(auth: &AuthServer, min_refetch: Duration) -> TestApp {
    let database_url = testkit::postgres::fresh_database()
        .await
        .expect("a fresh test database");
    let url = auth.url();
    TestApp::spawn_adjusted(&database_url, &[("BETTER_AUTH_URL", &url)], |config| {
        let better_auth = config.tokens.better_auth.as_mut().expect("BETTER_AUTH_URL");
        better_auth.jwks.min_refetch_interval = min_refetch;
    })
    .await
}

/// A token as the plugin mints it for `user`, for a frontend whose base URL is `auth`'s.
fn plugin_token(key: &SigningKey, auth: &AuthServer, user: &str) -> String {
    key.token(&better_auth_claims(user, &auth.url()))
}

async fn tasks_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/tasks", Some(token)).await.status()
}

#[tokio::test]
async fn plugin_tokens_of_every_algorithm_read_and_write_tasks() {
    let auth = AuthServer::start().await;
    let keys: Vec<SigningKey> = Alg::ASYMMETRIC
        .iter()
        .map(|&alg| SigningKey::generate(alg, &format!("key-{}", alg.name())))
        .collect();
    auth.publish(&keys.iter().collect::<Vec<_>>());
    let app = app_trusting(&auth, Duration::from_secs(10)).await;
    for key in &keys {
        let user = format!("user-{}", key.alg().name());
        let token = plugin_token(key, &auth, &user);
        let task = app.create_task(&token, "Water the plants").await;
        let path = task_path(&task);
        let fetched: Value = app.get(&path, Some(&token)).await.json().await.unwrap();
        assert_eq!(fetched["title"], "Water the plants", "{:?}", key.alg());
        let updated = app.patch(&path, &token, &json!({"completed": true})).await;
        assert_eq!(updated.status(), StatusCode::OK, "{:?}", key.alg());
        let list = app.task_list(&token).await;
        assert_eq!(list["total"], 1, "{:?}: only this user's task", key.alg());
        assert_eq!(
            app.delete(&path, &token).await.status(),
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(auth.fetches(), 1, "one fetch served every key");
}

#[tokio::test]
async fn contract_hs256_tokens_keep_working_beside_the_jwks() {
    let auth = AuthServer::start().await;
    auth.set_mode(Mode::Failing(StatusCode::SERVICE_UNAVAILABLE));
    let app = app_trusting(&auth, Duration::from_secs(10)).await;
    assert_eq!(
        tasks_status(&app, &app.token("alice")).await,
        StatusCode::OK
    );
    let self_signed = testkit::jwt::better_auth(SECRET, "bob", &auth.url());
    assert_eq!(tasks_status(&app, &self_signed).await, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_without_a_restart() {
    let auth = AuthServer::start().await;
    let first = SigningKey::generate(Alg::EdDSA, "2026-01");
    auth.publish(&[&first]);
    let app = app_trusting(&auth, Duration::ZERO).await;
    assert_eq!(
        tasks_status(&app, &plugin_token(&first, &auth, "u")).await,
        StatusCode::OK
    );
    // Better Auth rotates: a new key signs, the old one stays for its grace period.
    let second = SigningKey::generate(Alg::EdDSA, "2026-02");
    auth.publish(&[&first, &second]);
    assert_eq!(
        tasks_status(&app, &plugin_token(&second, &auth, "u")).await,
        StatusCode::OK
    );
    assert_eq!(
        tasks_status(&app, &plugin_token(&first, &auth, "u")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn made_up_key_ids_do_not_become_a_flood_of_jwks_requests() {
    let auth = AuthServer::start().await;
    let real = SigningKey::generate(Alg::EdDSA, "real");
    auth.publish(&[&real]);
    let app = app_trusting(&auth, Duration::from_secs(10)).await;
    assert_eq!(
        tasks_status(&app, &plugin_token(&real, &auth, "u")).await,
        StatusCode::OK
    );
    let fetches_before = auth.fetches();
    for n in 0..100 {
        let forger = SigningKey::generate(Alg::EdDSA, &format!("made-up-{n}"));
        let mut claims = better_auth_claims("victim", &auth.url());
        // Issued before the service's last fetch: its key should have been listed.
        claims["iat"] = json!(testkit::jwt::now() - 60);
        let status = tasks_status(&app, &forger.token(&claims)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "made-up kid {n}");
    }
    let spent = auth.fetches() - fetches_before;
    assert!(spent <= 2, "100 made-up kids cost {spent} JWKS fetches");
}

#[tokio::test]
async fn wrong_issuer_audience_expiry_and_algorithm_confusion_are_401() {
    let auth = AuthServer::start().await;
    let key = SigningKey::generate(Alg::ES256, "k");
    auth.publish(&[&key]);
    let app = app_trusting(&auth, Duration::from_secs(10)).await;
    let mut claims = better_auth_claims("u", &auth.url());
    claims["iss"] = json!("https://evil.example");
    let mut audience = better_auth_claims("u", &auth.url());
    audience["aud"] = json!("https://other-app.example");
    let mut expired = better_auth_claims("u", &auth.url());
    expired["exp"] = json!(testkit::jwt::now() - 120);
    for (what, token) in [
        ("issuer", key.token(&claims)),
        ("audience", key.token(&audience)),
        ("expired", key.token(&expired)),
        (
            "EdDSA claimed for an ES256 key",
            key.token_with_header(
                &json!({"alg": "EdDSA", "kid": "k"}),
                &better_auth_claims("u", &auth.url()),
            ),
        ),
    ] {
        let response = app.get("/api/tasks", Some(&token)).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{what}"
        );
        assert_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn a_jwks_that_cannot_be_fetched_is_503_with_retry_after_within_seconds() {
    let auth = AuthServer::start().await;
    auth.set_mode(Mode::Hanging);
    let app = app_trusting(&auth, Duration::ZERO).await;
    let key = SigningKey::generate(Alg::EdDSA, "k");
    let started = Instant::now();
    let response = app
        .get("/api/tasks", Some(&plugin_token(&key, &auth, "u")))
        .await;
    let elapsed = started.elapsed();
    assert!(
        response.headers().contains_key("retry-after"),
        "{:?}",
        response.headers()
    );
    assert_error(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert!(
        elapsed < Duration::from_secs(8),
        "answered after {elapsed:?}"
    );
    let health = app.get("/api/health/ready", None).await;
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "readiness ignores the JWKS"
    );
}

#[tokio::test]
async fn a_better_auth_that_starts_after_the_backend_is_picked_up_without_a_restart() {
    // A free port, with nothing listening on it yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let app = TestApp::spawn_adjusted(&database_url, &[("BETTER_AUTH_URL", &url)], |config| {
        config
            .tokens
            .better_auth
            .as_mut()
            .unwrap()
            .jwks
            .min_refetch_interval = Duration::from_millis(200);
    })
    .await;
    let key = SigningKey::generate(Alg::EdDSA, "k");
    let token = key.token(&better_auth_claims("u", &url));
    assert_eq!(
        tasks_status(&app, &token).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "Better Auth is not up yet"
    );
    assert_eq!(tasks_status(&app, &app.token("u")).await, StatusCode::OK);
    let auth = AuthServer::start_on(port).await;
    auth.publish(&[&key]);
    let status = testkit::wait::until(
        "the plugin token to be accepted once Better Auth is up",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || async { (tasks_status(&app, &token).await == StatusCode::OK).then_some(()) },
    )
    .await;
    assert!(status.is_ok(), "{status:?}");
}

#[tokio::test]
async fn jwks_fetches_and_keys_are_in_the_metrics() {
    let auth = AuthServer::start().await;
    let (one, two) = (
        SigningKey::generate(Alg::EdDSA, "one"),
        SigningKey::generate(Alg::RS256, "two"),
    );
    auth.publish(&[&one, &two]);
    let app = app_trusting(&auth, Duration::from_secs(10)).await;
    assert_eq!(
        tasks_status(&app, &plugin_token(&one, &auth, "u")).await,
        StatusCode::OK
    );
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains("\njwks_keys 2\n"), "{metrics}");
    assert!(
        metrics.contains(r#"jwks_fetches_total{outcome="success"}"#),
        "{metrics}"
    );
}
