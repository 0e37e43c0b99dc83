//! The frontend can use the API: its Better Auth server's URL and the browser's origins reach the
//! service through the ConfigMap, and the backend may reach that server for its JWKS.

use std::collections::BTreeMap;

use e2e::helm::Render;
use e2e::manifests::Manifests;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule};

use crate::support::{BACKEND, defaults, ports, render, render_error, skip_without_helm, tcp};

fn config(manifests: &Manifests) -> BTreeMap<String, String> {
    manifests
        .get::<ConfigMap>("todo-chatbot-backend-config")
        .data
        .unwrap()
}

fn egress(manifests: &Manifests) -> Vec<NetworkPolicyEgressRule> {
    manifests
        .get::<NetworkPolicy>(BACKEND)
        .spec
        .unwrap()
        .egress
        .unwrap()
}

/// The rules that open `port` to any address.
fn open_anywhere(manifests: &Manifests, port: i32) -> Vec<NetworkPolicyEgressRule> {
    egress(manifests)
        .into_iter()
        .filter(|rule| rule.to.is_none() && ports(rule).contains(&tcp(port)))
        .collect()
}

#[test]
fn by_default_the_nextjs_dev_server_on_the_host_may_call_the_api_and_no_better_auth_is_set() {
    skip_without_helm!();
    let data = config(defaults());
    assert_eq!(data["CORS_ALLOWED_ORIGINS"], "http://localhost:3000");
    // Empty means unset to the service: HS256 tokens with BETTER_AUTH_SECRET only.
    assert!(
        data.get("BETTER_AUTH_URL").is_none_or(String::is_empty),
        "{data:?}"
    );
    assert!(!data.contains_key("BETTER_AUTH_JWKS_URL"), "{data:?}");
}

#[test]
fn the_better_auth_url_and_the_allowed_origins_reach_the_configmap() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("backend.auth.betterAuthUrl", "https://app.example.com")
            .set_json(
                "backend.cors.allowedOrigins",
                r#"["https://app.example.com","http://localhost:3000"]"#,
            ),
    );
    let data = config(&manifests);
    assert_eq!(data["BETTER_AUTH_URL"], "https://app.example.com");
    assert_eq!(
        data["CORS_ALLOWED_ORIGINS"],
        "https://app.example.com,http://localhost:3000"
    );
    let none = render(Render::new().set_json("backend.cors.allowedOrigins", "[]"));
    assert!(
        config(&none)
            .get("CORS_ALLOWED_ORIGINS")
            .is_none_or(String::is_empty)
    );
}

#[test]
fn a_jwks_url_overrides_where_the_keys_are_fetched() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("backend.auth.betterAuthUrl", "https://app.example.com")
            .set(
                "backend.auth.jwksUrl",
                "http://todo-frontend.web:3000/api/auth/jwks",
            ),
    );
    assert_eq!(
        config(&manifests)["BETTER_AUTH_JWKS_URL"],
        "http://todo-frontend.web:3000/api/auth/jwks"
    );
    let error = render_error(Render::new().set("backend.auth.jwksUrl", "https://keys.example.com"));
    assert!(error.contains("backend.auth.betterAuthUrl"), "{error}");
}

#[test]
fn origins_must_be_exact_as_a_browser_sends_them() {
    skip_without_helm!();
    for origin in [
        "*",
        "http://localhost:3000/",
        "http://localhost:3000/app",
        "localhost:3000",
        "HTTP://LOCALHOST:3000",
        "http://localhost:80",
        "https://app.example.com:443",
    ] {
        let error = render_error(Render::new().set_json(
            "backend.cors.allowedOrigins",
            &serde_json::to_string(&[origin]).unwrap(),
        ));
        assert!(error.contains("allowedOrigins"), "{origin}: {error}");
    }
    render(Render::new().set_json(
        "backend.cors.allowedOrigins",
        r#"["http://localhost:3000","https://app.example.com","http://[::1]:3000","http://127.0.0.1:5173"]"#,
    ));
}

#[test]
fn the_better_auth_url_is_a_base_url() {
    skip_without_helm!();
    for url in [
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/",
    ] {
        let error = render_error(Render::new().set("backend.auth.betterAuthUrl", url));
        assert!(error.contains("betterAuthUrl"), "{url}: {error}");
    }
    render(Render::new().set("backend.auth.betterAuthUrl", "http://todo-frontend:3000"));
}

#[test]
fn env_cannot_set_what_the_auth_and_cors_values_set() {
    skip_without_helm!();
    for (key, value) in [
        ("BETTER_AUTH_URL", "backend.auth.betterAuthUrl"),
        ("BETTER_AUTH_JWKS_URL", "backend.auth.jwksUrl"),
        ("CORS_ALLOWED_ORIGINS", "backend.cors.allowedOrigins"),
    ] {
        let error = render_error(Render::new().set(&format!("backend.env.{key}"), "x"));
        assert!(error.contains(value), "{key}: {error}");
    }
}

#[test]
fn outbound_https_is_open_by_default_as_the_contract_says() {
    skip_without_helm!();
    // "Egress Rules: Allow outbound HTTPS (443) for database and API calls".
    assert_eq!(
        open_anywhere(defaults(), 443).len(),
        1,
        "{:?}",
        egress(defaults())
    );
    let narrowed = render(Render::new().set("backend.networkPolicy.https.enabled", "false"));
    assert!(open_anywhere(&narrowed, 443).is_empty());
    // DNS and the database remain.
    assert_eq!(egress(&narrowed).len(), 2, "{:?}", egress(&narrowed));
}

#[test]
fn a_better_auth_server_on_another_port_is_reachable() {
    skip_without_helm!();
    // An in-cluster frontend: its Service port (80 for http:// without one).
    for (url, port) in [
        ("http://todo-frontend:3000", 3000),
        ("http://todo-frontend", 80),
    ] {
        let manifests = render(Render::new().set("backend.auth.betterAuthUrl", url));
        assert_eq!(
            open_anywhere(&manifests, port).len(),
            1,
            "{url}: {:?}",
            egress(&manifests)
        );
    }
    // A hosted one on 443 needs its port even with HTTPS narrowed.
    let manifests = render(
        Render::new()
            .set("backend.networkPolicy.https.enabled", "false")
            .set("backend.auth.betterAuthUrl", "https://app.example.com"),
    );
    assert_eq!(open_anywhere(&manifests, 443).len(), 1);
    // 443 is not opened twice.
    let manifests =
        render(Render::new().set("backend.auth.betterAuthUrl", "https://app.example.com"));
    assert_eq!(open_anywhere(&manifests, 443).len(), 1);
}

#[test]
fn the_jwks_urls_port_is_the_one_opened() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("backend.networkPolicy.https.enabled", "false")
            .set("backend.auth.betterAuthUrl", "https://app.example.com")
            .set("backend.auth.jwksUrl", "http://keys.internal:8080/jwks"),
    );
    assert_eq!(open_anywhere(&manifests, 8080).len(), 1);
    assert!(
        open_anywhere(&manifests, 443).is_empty(),
        "{:?}",
        egress(&manifests)
    );
}
