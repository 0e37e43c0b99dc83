use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::TestApp;

const COMMITTED_OPENAPI: &str = include_str!("../../openapi.json");

#[tokio::test]
async fn docs_serves_swagger_ui_html_without_internet() {
    let app = TestApp::spawn().await;
    for path in ["/docs", "/docs/"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = response.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{html}");
        assert!(html.contains("<base href=\"/docs/\">"), "{html}");
    }
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.get(asset, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
    }
    let initializer = app
        .get("/docs/swagger-initializer.js", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"), "{initializer}");
}

#[tokio::test]
async fn served_openapi_matches_the_committed_document() {
    let app = TestApp::spawn().await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let served = response.text().await.unwrap();
    assert!(
        served == COMMITTED_OPENAPI,
        "service/openapi.json is stale: regenerate it with `make openapi` and commit it"
    );
}

#[test]
fn openapi_describes_every_api_route_and_bearer_auth() {
    let document: Value = serde_json::from_str(COMMITTED_OPENAPI).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let documented: BTreeSet<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served: BTreeSet<&str> = backend::routes()
        .iter()
        .map(|route| route.path)
        .filter(|route| !route.starts_with("/docs") && *route != "/openapi.json")
        .collect();
    assert_eq!(documented, served);
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for operation in ["get", "post"] {
        assert_eq!(
            document["paths"]["/api/tasks"][operation]["security"][0]["bearer"],
            serde_json::json!([])
        );
    }
    for status in ["400", "401", "413", "415", "422", "503"] {
        assert!(
            document["paths"]["/api/tasks"]["post"]["responses"][status].is_object(),
            "{status}"
        );
    }
}
