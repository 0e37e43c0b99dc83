//! The binary's command line and environment handling, run as a process.

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;

use crate::support::{SECRET, TestApp};

fn backend() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backend"));
    command.env_clear().timeout(Duration::from_secs(30));
    command
}

fn configured() -> Command {
    let mut command = backend();
    command
        .env(
            "DATABASE_URL",
            "postgres://app:db-password-xyz@127.0.0.1:1/app",
        )
        .env("BETTER_AUTH_SECRET", SECRET)
        .env("DB_STARTUP_TIMEOUT_SECS", "1");
    command
}

#[test]
fn missing_database_url_exits_78_naming_it() {
    backend()
        .env("BETTER_AUTH_SECRET", SECRET)
        .assert()
        .code(78)
        .stderr(predicate::str::contains("DATABASE_URL: is required"));
}

#[test]
fn missing_auth_secret_exits_78_naming_it() {
    backend()
        .env("DATABASE_URL", "postgres://db/app")
        .assert()
        .code(78)
        .stderr(predicate::str::contains("BETTER_AUTH_SECRET: is required"));
}

#[test]
fn each_invalid_variable_exits_78_with_one_line_naming_it() {
    for (name, value) in [
        ("PORT", "eighty"),
        ("PORT", "65536"),
        ("DB_POOL_SIZE", "0"),
        ("DB_POOL_TIMEOUT_MS", "soon"),
        ("DB_CONNECT_TIMEOUT_MS", "-5"),
        ("DB_STATEMENT_TIMEOUT_MS", "0"),
        ("DB_STARTUP_TIMEOUT_SECS", "1h"),
        ("SHUTDOWN_GRACE_PERIOD_SECS", "-1"),
        ("LOG_LEVEL", "verbose"),
        ("ENVIRONMENT", "qa"),
        ("BETTER_AUTH_SECRET", "short-secret"),
        ("DATABASE_URL", "mysql://root:db-password-xyz@db/app"),
    ] {
        let output = configured().env(name, value).output().unwrap();
        assert_eq!(output.status.code(), Some(78), "{name}={value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{name}={value}: {stderr}");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
        assert!(!stderr.contains("db-password-xyz"), "{stderr}");
        if name == "BETTER_AUTH_SECRET" {
            assert!(!stderr.contains(value), "the secret is echoed: {stderr}");
        }
    }
}

#[test]
fn unreachable_database_exits_1_without_leaking_the_password() {
    let output = configured().output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("start-up failed"), "{stdout}");
    assert!(stdout.contains("unreachable"), "{stdout}");
    assert!(!stdout.contains("db-password-xyz"), "{stdout}");
}

#[tokio::test]
async fn healthcheck_subcommand_reports_the_probe_result() {
    let app = TestApp::spawn().await;
    let url = app.url("/api/health");
    let ok = tokio::task::spawn_blocking(move || {
        backend().args(["healthcheck", &url]).output().unwrap()
    })
    .await
    .unwrap();
    assert!(ok.status.success(), "{ok:?}");

    let missing = app.url("/no-such-page");
    let not_ok = tokio::task::spawn_blocking(move || {
        backend().args(["healthcheck", &missing]).output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(not_ok.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&not_ok.stderr).contains("404"));
}

/// The image's HEALTHCHECK runs `backend healthcheck` with no URL: it follows PORT.
#[tokio::test]
async fn healthcheck_without_a_url_probes_api_health_at_port() {
    let app = TestApp::spawn().await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let (healthy, missing) = tokio::task::spawn_blocking(move || {
        (
            backend()
                .arg("healthcheck")
                .env("PORT", &port)
                .output()
                .unwrap(),
            backend()
                .args(["healthcheck", "/no-such-page"])
                .env("PORT", &port)
                .output()
                .unwrap(),
        )
    })
    .await
    .unwrap();
    assert!(healthy.status.success(), "{healthy:?}");
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains(&format!("{}/no-such-page: HTTP 404", app.base)),
        "{stderr}"
    );
}

#[test]
fn healthcheck_without_a_url_refuses_an_invalid_port() {
    backend()
        .arg("healthcheck")
        .env("PORT", "http")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("PORT: must be a whole number"));
}

#[test]
fn healthcheck_fails_when_nothing_listens() {
    backend()
        .args(["healthcheck", "http://127.0.0.1:1/api/health"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unhealthy"));
}

#[test]
fn openapi_subcommand_prints_the_committed_document() {
    backend()
        .arg("openapi")
        .assert()
        .success()
        .stdout(include_str!("../../openapi.json"));
}

#[test]
fn unknown_arguments_print_usage_and_exit_2() {
    backend()
        .arg("--frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("usage"));
}

/// The claims of a token, decoded without checking it (the service checks it).
fn claims(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn mint(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = backend();
    command.arg("token").args(args).envs(env.iter().copied());
    command.output().unwrap()
}

#[tokio::test]
async fn token_subcommand_prints_only_a_token_the_service_accepts() {
    let app = TestApp::spawn().await;
    let output =
        tokio::task::spawn_blocking(|| mint(&["dev-user"], &[("BETTER_AUTH_SECRET", SECRET)]))
            .await
            .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "only the token: {stdout}");
    let token = stdout.trim();
    let created = app.create_task(token, "minted by backend token").await;
    assert_eq!(created["title"], "minted by backend token");
    let claims = claims(token);
    assert_eq!(claims["sub"], "dev-user");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600,
        "one hour by default"
    );
}

#[tokio::test]
async fn token_ttl_and_the_configured_issuer_and_audience_are_in_the_token() {
    let app = TestApp::spawn_with(&[
        ("JWT_ISSUER", "https://todo.example.com"),
        ("JWT_AUDIENCE", "https://todo.example.com"),
    ])
    .await;
    let output = tokio::task::spawn_blocking(|| {
        mint(
            &["dev-user", "--ttl", "90s"],
            &[
                ("BETTER_AUTH_SECRET", SECRET),
                ("JWT_ISSUER", "https://todo.example.com"),
                ("JWT_AUDIENCE", "https://todo.example.com"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let claims = claims(&token);
    let now = testkit::jwt::now() as u64;
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 90, "expires when --ttl says");
    assert!(iat.abs_diff(now) <= 5, "issued now");
    assert_eq!(claims["iss"], "https://todo.example.com");
    let response = app.get("/api/tasks", Some(&token)).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
}

#[test]
fn token_without_a_usable_secret_fails_as_start_up_does() {
    for env in [vec![], vec![("BETTER_AUTH_SECRET", "short-secret")]] {
        let token = mint(&["dev-user"], &env);
        let start = backend()
            .envs(env.iter().copied())
            .env("DATABASE_URL", "postgres://app@127.0.0.1:1/app")
            .output()
            .unwrap();
        assert_eq!(token.status.code(), Some(78), "{env:?}");
        assert_eq!(
            token.stderr, start.stderr,
            "the same message as start-up: {env:?}"
        );
        assert!(token.stdout.is_empty());
        assert!(!String::from_utf8_lossy(&token.stderr).contains("short-secret"));
    }
}

#[test]
fn token_refuses_a_bad_subject_or_ttl() {
    for args in [
        vec!["bad\nuser"],
        vec!["dev-user", "--ttl", "soon"],
        vec!["dev-user", "--ttl", "0s"],
        // Past what iat + ttl can hold, and past the year 9999.
        vec!["dev-user", "--ttl", "18446744073709551615s"],
        vec!["dev-user", "--ttl", "9000y"],
    ] {
        let output = mint(&args, &[("BETTER_AUTH_SECRET", SECRET)]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty());
        assert!(!output.stderr.is_empty(), "{args:?}: says why");
    }
}
