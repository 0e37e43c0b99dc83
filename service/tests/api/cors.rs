//! CORS as a browser meets it: the frontend's origin (CORS_ALLOWED_ORIGINS) gets preflights
//! answered and every answer, errors included, readable; any other origin gets no CORS headers.
//! (`browser.rs` has a real browser make the calls.)

use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::jwt::{Alg, SigningKey, better_auth_claims};

use crate::support::TestApp;

const FRONTEND: &str = "http://localhost:3000";

async fn app() -> TestApp {
    TestApp::spawn_with(&[(
        "CORS_ALLOWED_ORIGINS",
        "http://localhost:3000,https://todo.example.com",
    )])
    .await
}

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.client()
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

fn cors_headers(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn a_preflight_from_the_frontend_is_204_with_the_routes_methods_and_no_token() {
    let app = app().await;
    let id = uuid::Uuid::now_v7();
    for (path, methods) in [
        ("/api/tasks".to_owned(), "GET, HEAD, POST"),
        (format!("/api/tasks/{id}"), "GET, HEAD, PATCH, DELETE"),
    ] {
        let response = preflight(&app, &path, FRONTEND, "PATCH").await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(FRONTEND)
        );
        assert_eq!(
            header(&response, "access-control-allow-methods"),
            Some(methods)
        );
        let allowed = header(&response, "access-control-allow-headers").unwrap();
        assert!(
            allowed.contains("authorization") && allowed.contains("content-type"),
            "{allowed}"
        );
        assert_eq!(header(&response, "access-control-max-age"), Some("7200"));
        assert!(header(&response, "vary").unwrap().contains("origin"));
        assert_eq!(header(&response, "access-control-allow-credentials"), None);
    }
}

#[tokio::test]
async fn answers_to_the_frontend_carry_cors_headers_errors_included() {
    let app = app().await;
    let token = app.token("alice");
    let get = |path: &'static str, token: Option<String>| {
        let mut request = app.client().get(app.url(path)).header("origin", FRONTEND);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let created = app
        .client()
        .post(app.url("/api/tasks"))
        .header("origin", FRONTEND)
        .bearer_auth(&token)
        .json(&json!({"title": "from the browser"}))
        .send()
        .await
        .unwrap();
    let invalid = app
        .client()
        .post(app.url("/api/tasks"))
        .header("origin", FRONTEND)
        .bearer_auth(&token)
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    for (status, response) in [
        (StatusCode::CREATED, created),
        (StatusCode::UNPROCESSABLE_ENTITY, invalid),
        (
            StatusCode::OK,
            get("/api/tasks", Some(token.clone())).await.unwrap(),
        ),
        (
            StatusCode::UNAUTHORIZED,
            get("/api/tasks", None).await.unwrap(),
        ),
        (StatusCode::NOT_FOUND, get("/nowhere", None).await.unwrap()),
    ] {
        assert_eq!(response.status(), status);
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some(FRONTEND),
            "{status}"
        );
        let exposed = header(&response, "access-control-expose-headers").unwrap();
        for name in [
            "x-request-id",
            "retry-after",
            "location",
            "www-authenticate",
        ] {
            assert!(exposed.contains(name), "{status}: {exposed}");
        }
        assert_eq!(header(&response, "vary"), Some("origin"), "{status}");
    }
}

#[tokio::test]
async fn a_503_to_the_frontend_is_readable_too() {
    // A plugin token while Better Auth is down: the service cannot check it yet.
    let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", down.local_addr().unwrap());
    drop(down);
    let app = TestApp::spawn_with(&[
        ("CORS_ALLOWED_ORIGINS", FRONTEND),
        ("BETTER_AUTH_URL", &url),
    ])
    .await;
    let key = SigningKey::generate(Alg::EdDSA, "k");
    let response = app
        .client()
        .get(app.url("/api/tasks"))
        .header("origin", FRONTEND)
        .bearer_auth(key.token(&better_auth_claims("alice", &url)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(FRONTEND)
    );
    assert!(header(&response, "retry-after").is_some());
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers_at_all() {
    let app = app().await;
    let response = preflight(&app, "/api/tasks", "http://evil.example", "GET").await;
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "OPTIONS is answered"
    );
    assert_eq!(cors_headers(&response), Vec::<String>::new());
    let response = app
        .client()
        .get(app.url("/api/tasks"))
        .header("origin", "http://evil.example")
        .bearer_auth(app.token("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(cors_headers(&response), Vec::<String>::new());
}

#[tokio::test]
async fn without_allowed_origins_there_is_no_cors_and_options_still_answers() {
    let app = TestApp::spawn().await;
    let response = preflight(&app, "/api/tasks", FRONTEND, "GET").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&response, "allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(cors_headers(&response), Vec::<String>::new());
    assert_eq!(header(&response, "vary"), None);
}

#[tokio::test]
async fn options_is_counted_like_any_method() {
    let app = app().await;
    preflight(&app, "/api/tasks", FRONTEND, "POST").await;
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics
            .contains(r#"http_requests_total{method="OPTIONS",route="/api/tasks",status="204"} 1"#),
        "{metrics}"
    );
}
