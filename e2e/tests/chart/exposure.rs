//! How the API is reached from outside the cluster: the contract's NodePort on Kind (the
//! defaults), an Ingress or a Gateway API HTTPRoute in front of a ClusterIP Service elsewhere.
//! Both route the API and its docs only: `/metrics` stays inside the cluster.

use e2e::helm::Render;
use e2e::manifests::Manifests;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::Value;

use crate::support::{BACKEND, defaults, render, render_error, skip_without_helm};

/// The paths that reach the API from outside: its routes, the Swagger UI and the document.
const PUBLIC_PATHS: [&str; 3] = ["/api", "/docs", "/openapi.json"];

const GATEWAY_API: &str = "gateway.networking.k8s.io/v1/HTTPRoute";

fn with_ingress() -> Render {
    Render::new()
        .set("backend.service.type", "ClusterIP")
        .set("backend.ingress.enabled", "true")
        .set("backend.ingress.className", "nginx")
        .set_json("backend.ingress.hosts", r#"["api.example.com"]"#)
        .set_json(
            "backend.ingress.tls",
            r#"[{"secretName":"api-tls","hosts":["api.example.com"]}]"#,
        )
}

fn with_http_route() -> Render {
    Render::new()
        .set("backend.service.type", "ClusterIP")
        .set("backend.httpRoute.enabled", "true")
        .set_json(
            "backend.httpRoute.parentRefs",
            r#"[{"name":"public","namespace":"gateway-system","sectionName":"https"}]"#,
        )
        .set_json("backend.httpRoute.hostnames", r#"["api.example.com"]"#)
}

fn http_route(manifests: &Manifests) -> Option<&Value> {
    manifests.raw("HTTPRoute", BACKEND)
}

#[test]
fn neither_an_ingress_nor_a_route_by_default() {
    skip_without_helm!();
    assert!(defaults().find::<Ingress>(BACKEND).is_none());
    assert!(http_route(defaults()).is_none());
}

#[test]
fn an_ingress_routes_the_api_and_its_docs_to_the_service_and_never_metrics() {
    skip_without_helm!();
    let ingress = render(with_ingress()).get::<Ingress>(BACKEND);
    let spec = ingress.spec.unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let tls = spec.tls.unwrap();
    assert_eq!(tls[0].secret_name.as_deref(), Some("api-tls"));
    assert_eq!(
        tls[0].hosts.as_deref(),
        Some(&["api.example.com".to_owned()][..])
    );
    let rules = spec.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].host.as_deref(), Some("api.example.com"));
    let paths = rules[0].http.clone().unwrap().paths;
    let routed: Vec<&str> = paths
        .iter()
        .map(|path| path.path.as_deref().unwrap())
        .collect();
    assert_eq!(routed, PUBLIC_PATHS);
    for path in &paths {
        assert_eq!(path.path_type, "Prefix");
        let service = path.backend.service.clone().unwrap();
        assert_eq!(service.name, BACKEND);
        assert_eq!(service.port.unwrap().number, Some(8000));
    }
}

#[test]
fn an_ingress_without_hosts_answers_on_any_host() {
    skip_without_helm!();
    let ingress = render(
        Render::new()
            .set("backend.ingress.enabled", "true")
            .set_json("backend.ingress.hosts", "[]"),
    )
    .get::<Ingress>(BACKEND);
    let rules = ingress.spec.unwrap().rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].host, None);
    assert_eq!(
        rules[0].http.clone().unwrap().paths.len(),
        PUBLIC_PATHS.len()
    );
}

#[test]
fn ingress_annotations_reach_the_ingress_for_cert_manager() {
    skip_without_helm!();
    let ingress = render(with_ingress().set(
        "backend.ingress.annotations.cert-manager\\.io/cluster-issuer",
        "letsencrypt",
    ))
    .get::<Ingress>(BACKEND);
    assert_eq!(
        ingress.metadata.annotations.unwrap()["cert-manager.io/cluster-issuer"],
        "letsencrypt"
    );
}

#[test]
fn an_http_route_attaches_to_the_gateway_and_routes_the_api_and_its_docs() {
    skip_without_helm!();
    let manifests = render(with_http_route().api_version(GATEWAY_API));
    let route = http_route(&manifests).expect("an HTTPRoute");
    assert_eq!(route["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(route["metadata"]["namespace"], e2e::NAMESPACE);
    let spec = &route["spec"];
    assert_eq!(spec["parentRefs"][0]["name"], "public");
    assert_eq!(spec["parentRefs"][0]["sectionName"], "https");
    assert_eq!(spec["hostnames"][0], "api.example.com");
    let rules = spec["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    let matched: Vec<(&str, &str)> = rules[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"]["type"].as_str().unwrap(),
                m["path"]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        PUBLIC_PATHS.map(|path| ("PathPrefix", path)),
        "{rules:?}"
    );
    assert_eq!(rules[0]["backendRefs"][0]["name"], BACKEND);
    assert_eq!(rules[0]["backendRefs"][0]["port"], 8000);
}

#[test]
fn an_http_route_where_the_cluster_has_no_gateway_api_fails_naming_it() {
    skip_without_helm!();
    let error = render_error(with_http_route());
    assert!(error.contains("backend.httpRoute.enabled"), "{error}");
    assert!(error.contains(GATEWAY_API), "{error}");
}

#[test]
fn an_http_route_needs_a_gateway_to_attach_to() {
    skip_without_helm!();
    let error = render_error(
        with_http_route()
            .set_json("backend.httpRoute.parentRefs", "[]")
            .api_version(GATEWAY_API),
    );
    assert!(error.contains("backend.httpRoute.parentRefs"), "{error}");
}
