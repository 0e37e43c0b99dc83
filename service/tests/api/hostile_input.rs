//! Property tests of request parsing and validation with hostile input: whatever arrives, the
//! answer is never a 5xx and an error body is always well-formed JSON.

use proptest::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::TestApp;

const CASES: u32 = 96;

/// Runs `case` against one app for every generated input.
fn check_all<T: std::fmt::Debug>(
    strategy: impl Strategy<Value = T>,
    case: impl Fn(
        &TestApp,
        T,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), TestCaseError>> + '_>>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(TestApp::spawn());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&strategy, |input| runtime.block_on(case(&app, input)))
        .unwrap();
}

async fn assert_sane(response: reqwest::Response) -> Result<(), TestCaseError> {
    let status = response.status();
    prop_assert!(!status.is_server_error(), "server error {status}");
    if status.is_client_error() {
        let body = response.bytes().await.unwrap();
        let json: Value = serde_json::from_slice(&body)
            .map_err(|e| TestCaseError::fail(format!("error body is not JSON ({e}): {body:?}")))?;
        prop_assert!(json["error"]["code"].is_string(), "{json}");
        prop_assert!(json["error"]["message"].is_string(), "{json}");
    }
    Ok(())
}

/// JSON documents of any shape: deep, wide, odd numbers and strings.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "\\PC{0,300}".prop_map(Value::from),
    ];
    leaf.prop_recursive(8, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::hash_map(
                prop_oneof![
                    Just("title".to_owned()),
                    Just("description".to_owned()),
                    Just("completed".to_owned()),
                    any::<String>()
                ],
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

#[test]
fn arbitrary_json_bodies_never_cause_a_server_error() {
    check_all((any_json(), any::<bool>()), |app, (body, patch)| {
        Box::pin(async move {
            let token = app.token("fuzzer");
            let response = if patch {
                let id = app.create_task(&token, "target").await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                app.patch(&format!("/api/tasks/{id}"), &token, &body).await
            } else {
                app.post("/api/tasks", &token, &body).await
            };
            assert_sane(response).await
        })
    });
}

#[test]
fn arbitrary_bytes_as_a_body_never_cause_a_server_error() {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        (1usize..5000)
            .prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        (1usize..3000).prop_map(|depth| format!(
            "{}1{}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        )
        .into_bytes()),
    ];
    check_all(bytes, |app, body| {
        Box::pin(async move {
            let response = app
                .client()
                .post(app.url("/api/tasks"))
                .bearer_auth(app.token("fuzzer"))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_sane(response).await
        })
    });
}

#[test]
fn arbitrary_query_strings_never_cause_a_server_error() {
    let value = prop_oneof![
        any::<String>(),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u128>().prop_map(|n| n.to_string()),
        "-?[0-9]{15,30}",
    ];
    check_all(
        (value.clone(), value, any::<String>()),
        |app, (limit, offset, junk)| {
            Box::pin(async move {
                let query = url_encode(&[("limit", &limit), ("offset", &offset), (&junk, "x")]);
                let response = app
                    .get(&format!("/api/tasks?{query}"), Some(&app.token("fuzzer")))
                    .await;
                let status = response.status();
                assert_sane(response).await?;
                prop_assert!(
                    [
                        StatusCode::OK,
                        StatusCode::BAD_REQUEST,
                        StatusCode::UNPROCESSABLE_ENTITY
                    ]
                    .contains(&status),
                    "{status}"
                );
                Ok(())
            })
        },
    );
}

#[test]
fn arbitrary_authorization_headers_never_cause_a_server_error() {
    let header = prop_oneof![
        "[ -~]{0,600}",
        "Bearer [A-Za-z0-9_.=-]{0,600}",
        "Bearer [A-Za-z0-9_-]{1,80}\\.[A-Za-z0-9_-]{1,200}\\.[A-Za-z0-9_-]{0,80}",
    ];
    check_all(header, |app, header| {
        Box::pin(async move {
            let response = app
                .client()
                .get(app.url("/api/tasks"))
                .header("authorization", header)
                .send()
                .await
                .unwrap();
            prop_assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_sane(response).await
        })
    });
}

#[test]
fn arbitrary_paths_and_methods_never_cause_a_server_error() {
    let method = prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PATCH),
        Just(Method::DELETE),
        Just(Method::PUT),
        Just(Method::OPTIONS)
    ];
    let segments = prop::collection::vec(any::<String>(), 0..5);
    check_all(
        (method, segments, any::<bool>()),
        |app, (method, segments, api_prefix)| {
            Box::pin(async move {
                let mut path = if api_prefix {
                    "/api/tasks".to_owned()
                } else {
                    String::new()
                };
                for segment in &segments {
                    path.push('/');
                    path.push_str(&url_encode_component(segment));
                }
                if path.is_empty() {
                    path.push('/');
                }
                let response = app
                    .request(method, &path, Some(&app.token("fuzzer")), None)
                    .await;
                assert_sane(response).await
            })
        },
    );
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| {
            format!(
                "{}={}",
                url_encode_component(key),
                url_encode_component(value)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn url_encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
