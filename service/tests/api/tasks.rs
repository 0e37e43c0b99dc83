use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error, task_path};

#[tokio::test]
async fn create_returns_201_with_the_stored_task() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let response = app
        .post(
            "/api/tasks",
            &token,
            &json!({"title": "  Water the plants ", "description": "balcony", "completed": true}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let task: Value = response.json().await.unwrap();
    assert_eq!(task["title"], "Water the plants");
    assert_eq!(task["description"], "balcony");
    assert_eq!(task["completed"], true);
    assert!(uuid::Uuid::parse_str(task["id"].as_str().unwrap()).is_ok());
    assert!(task["created_at"].as_str().unwrap().contains('T'));
    assert_eq!(task["created_at"], task["updated_at"]);
}

#[tokio::test]
async fn create_defaults_description_and_completed() {
    let app = TestApp::spawn().await;
    let task = app.create_task(&app.token("alice"), "Call mum").await;
    assert_eq!(task["description"], Value::Null);
    assert_eq!(task["completed"], false);
}

#[tokio::test]
async fn get_returns_the_callers_task() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let task = app.create_task(&token, "Read").await;
    let response = app
        .get(
            &format!("/api/tasks/{}", task["id"].as_str().unwrap()),
            Some(&token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), task);
}

#[tokio::test]
async fn another_users_task_is_404_for_every_operation() {
    let app = TestApp::spawn().await;
    let task = app.create_task(&app.token("alice"), "Private").await;
    let path = task_path(&task);
    let mallory = app.token("mallory");
    assert_error(
        app.get(&path, Some(&mallory)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.patch(&path, &mallory, &json!({"completed": true}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.delete(&path, &mallory).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Still there, unchanged, for its owner.
    let owner_view: Value = app
        .get(&path, Some(&app.token("alice")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(owner_view, task);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let unknown = format!("/api/tasks/{}", uuid::Uuid::now_v7());
    assert_error(
        app.get(&unknown, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.get("/api/tasks/42", Some(&token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn list_shows_only_the_callers_tasks_newest_first() {
    let app = TestApp::spawn().await;
    let alice = app.token("alice");
    for title in ["first", "second", "third"] {
        app.create_task(&alice, title).await;
    }
    app.create_task(&app.token("bob"), "bob's").await;

    let response = app.get("/api/tasks", Some(&alice)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["third", "second", "first"]);
    assert_eq!(page["total"], 3);
    assert_eq!(page["limit"], 20);
    assert_eq!(page["offset"], 0);
}

#[tokio::test]
async fn list_pages_with_limit_and_offset() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    for n in 1..=5 {
        app.create_task(&token, &format!("task {n}")).await;
    }
    let page: Value = app
        .get("/api/tasks?limit=2&offset=1", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    let titles: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["task 4", "task 3"]);
    assert_eq!(page["total"], 5);

    let past_the_end: Value = app
        .get("/api/tasks?offset=50", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(past_the_end["items"], json!([]));
    assert_eq!(past_the_end["total"], 5);
}

#[tokio::test]
async fn list_for_a_user_without_tasks_is_empty() {
    let app = TestApp::spawn().await;
    let page: Value = app
        .get("/api/tasks", Some(&app.token("nobody")))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn list_limit_must_be_1_to_100_and_offset_non_negative() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    for query in ["limit=1", "limit=100", "offset=0"] {
        let response = app.get(&format!("/api/tasks?{query}"), Some(&token)).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
    ] {
        let body = assert_error(
            app.get(&format!("/api/tasks?{query}"), Some(&token)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["error"]["details"][0]["field"], field, "{query}");
    }
    for query in ["limit=ten", "offset=1.5", "limit=99999999999999999999"] {
        assert_error(
            app.get(&format!("/api/tasks?{query}"), Some(&token)).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
}

#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let created = app
        .create_task_from(&token, &json!({"title": "Draft", "description": "notes"}))
        .await;
    let path = task_path(&created);

    let response = app.patch(&path, &token, &json!({"completed": true})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["completed"], true);
    assert_eq!(updated["title"], "Draft");
    assert_eq!(updated["description"], "notes");
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_ne!(updated["updated_at"], created["updated_at"]);

    let renamed: Value = app
        .patch(&path, &token, &json!({"title": "Final"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["title"], "Final");
    assert_eq!(renamed["completed"], true);
}

#[tokio::test]
async fn patch_with_null_description_clears_it() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let created = app
        .create_task_from(
            &token,
            &json!({"title": "T", "description": "to be removed"}),
        )
        .await;
    let path = task_path(&created);
    let updated: Value = app
        .patch(&path, &token, &json!({"description": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(updated["description"], Value::Null);
}

#[tokio::test]
async fn patch_rejects_null_title_and_invalid_values() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let task = app.create_task(&token, "T").await;
    let path = task_path(&task);
    for body in [
        json!({"title": null}),
        json!({"title": ""}),
        json!({"completed": null}),
        json!({"completed": "yes"}),
        json!({"description": "x".repeat(2001)}),
    ] {
        assert_error(
            app.patch(&path, &token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn delete_returns_204_then_404() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let task = app.create_task(&token, "Temporary").await;
    let path = task_path(&task);
    let response = app.delete(&path, &token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_error(
        app.delete(&path, &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        app.get(&path, Some(&token)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn total_follows_creates_and_deletes() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    let first = app.create_task(&token, "one").await;
    app.create_task(&token, "two").await;
    app.delete(
        &format!("/api/tasks/{}", first["id"].as_str().unwrap()),
        &token,
    )
    .await;
    let page: Value = app
        .get("/api/tasks", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["total"], 1);
}

#[tokio::test]
async fn create_validates_title_and_description() {
    let app = TestApp::spawn().await;
    let token = app.token("alice");
    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (
            json!({"title": "ok", "description": "d".repeat(2001)}),
            "description",
        ),
        (json!({"title": "nul \u{0} inside"}), "title"),
        (json!({}), "body"),
        (json!({"title": 7}), "title"),
        (json!({"title": "ok", "priority": 1}), "priority"),
    ] {
        let error = assert_error(
            app.post("/api/tasks", &token, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(error["error"]["details"][0]["field"], field, "{body}");
    }
    // Limits count characters, not bytes.
    let response = app
        .post("/api/tasks", &token, &json!({"title": "ü".repeat(200)}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
