//! Start-up against a database that is there but particular: DATABASE_URL's options reach the
//! server as the user encoded them.

use reqwest::StatusCode;
use serde_json::json;
use testkit::postgres::fresh_database;

use crate::support::{TestApp, connect};

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
