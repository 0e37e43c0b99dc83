//! Start-up against a database that is there but wrong: what retrying cannot fix ends start-up
//! at once with a message that says what failed; and DATABASE_URL's options reach the server
//! as the user encoded them.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use testkit::postgres::{PgOptions, PgServer, fresh_database, replace_database};

use crate::support::{ServiceProcess, TestApp, connect, service_env};

/// Far longer than a refused start-up may take, so a service that retries is caught.
const STARTUP_TIMEOUT_SECS: &str = "30";

/// Runs the binary against `database_url` until it exits; its status, stdout and run time.
fn start_and_wait(database_url: &str) -> (Option<i32>, String, Duration) {
    let vars = service_env(
        database_url,
        &[("DB_STARTUP_TIMEOUT_SECS", STARTUP_TIMEOUT_SECS)],
    );
    let started = Instant::now();
    let output = assert_cmd::Command::from_std(ServiceProcess::command(&vars))
        .timeout(Duration::from_secs(60))
        .output()
        .expect("the backend runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        started.elapsed(),
    )
}

/// A refusal ends start-up with status 1 well before the start-up timeout, saying `what`.
fn assert_refused_at_once(database_url: &str, what: &[&str]) -> String {
    let (status, stdout, took) = start_and_wait(database_url);
    assert_eq!(status, Some(1), "{stdout}");
    assert!(
        took < Duration::from_secs(10),
        "start-up took {took:?}: a refusal is not retried for DB_STARTUP_TIMEOUT_SECS"
    );
    for words in what {
        assert!(stdout.contains(words), "no {words:?} in: {stdout}");
    }
    assert!(stdout.contains("Not retried"), "{stdout}");
    assert!(!stdout.contains("not reachable yet"), "retried: {stdout}");
    stdout
}

#[test]
fn a_wrong_password_ends_start_up_at_once_saying_authentication_failed() {
    let server = PgServer::start_with(PgOptions {
        password: Some("right-password".into()),
        ..PgOptions::default()
    })
    .unwrap();
    let wrong = server
        .url("postgres")
        .replace(":right-password@", ":wrong-password-xyz@");
    let stdout = assert_refused_at_once(
        &wrong,
        &[
            "authentication failed",
            "password authentication failed for user",
            "SQLSTATE 28P01",
            "check the user and password in DATABASE_URL",
        ],
    );
    assert!(!stdout.contains("wrong-password-xyz"), "{stdout}");
}

#[test]
fn a_missing_password_ends_start_up_at_once_saying_authentication_failed() {
    let server = PgServer::start_with(PgOptions {
        password: Some("right-password".into()),
        ..PgOptions::default()
    })
    .unwrap();
    let without = server.url("postgres").replace(":right-password@", "@");
    assert_refused_at_once(&without, &["authentication failed", "password missing"]);
}

#[tokio::test]
async fn an_unknown_database_ends_start_up_at_once_saying_so() {
    let url = replace_database(&fresh_database().await.unwrap(), "no_such_database");
    tokio::task::spawn_blocking(move || {
        assert_refused_at_once(
            &url,
            &[
                "the database does not exist",
                "\\\"no_such_database\\\" does not exist",
                "SQLSTATE 3D000",
            ],
        )
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_setting_the_server_does_not_know_ends_start_up_at_once_saying_so() {
    let url = fresh_database().await.unwrap() + "&options=-c%20work_mem%3Dlots";
    tokio::task::spawn_blocking(move || {
        assert_refused_at_once(
            &url,
            &["the server refused the connection's settings", "work_mem"],
        )
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_encoded_search_path_option_reaches_the_server_intact() {
    let database_url = fresh_database().await.unwrap();
    let admin = connect(&database_url).await;
    admin.batch_execute("CREATE SCHEMA app").await.unwrap();

    // What a user writes for libpq's `options=-c search_path=app`.
    let app = TestApp::spawn_on(
        &format!("{database_url}&options=-c%20search_path%3Dapp"),
        &[],
    )
    .await;
    let token = app.token("search-path-user");
    let response = app
        .post("/api/tasks", &token, &json!({ "title": "in schema app" }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);

    // The service's tables, its migrations' included, went where its search_path said.
    let row = admin
        .query_one(
            "SELECT to_regclass('app.tasks') IS NOT NULL, to_regclass('public.tasks') IS NULL,
                    (SELECT count(*) FROM app.tasks)",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "app.tasks exists");
    assert!(row.get::<_, bool>(1), "nothing in public");
    assert_eq!(row.get::<_, i64>(2), 1);
    assert_eq!(app.stop().await, backend::Stopped::Gracefully);
}
