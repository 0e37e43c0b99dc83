//! values/production.yaml: managed PostgreSQL over TLS, autoscaling and guard rails on.

use std::sync::OnceLock;

use e2e::helm::Render;
use e2e::manifests::Manifests;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::support::{
    BACKEND, assert_dns_only, backend_container, backend_deployment, pod_spec, ports, render,
    render_error, skip_without_helm, tcp,
};

fn production() -> &'static Manifests {
    static RENDERED: OnceLock<Manifests> = OnceLock::new();
    RENDERED.get_or_init(|| render(Render::new().values("values/production.yaml")))
}

#[test]
fn uses_an_existing_secret_and_no_bundled_postgres() {
    skip_without_helm!();
    assert!(
        production()
            .find::<StatefulSet>("todo-chatbot-postgres")
            .is_none()
    );
    assert!(
        production()
            .find::<Secret>("todo-chatbot-backend-secret")
            .is_none()
    );
    let container = backend_container(&backend_deployment(production()));
    let url = container
        .env
        .unwrap()
        .into_iter()
        .find(|var| var.name == "DATABASE_URL")
        .unwrap();
    assert_eq!(
        url.value_from.unwrap().secret_key_ref.unwrap().name,
        "todo-chatbot-backend-secret-prod"
    );
}

#[test]
fn liveness_checks_the_process_only_and_readiness_the_database() {
    skip_without_helm!();
    let container = backend_container(&backend_deployment(production()));
    assert_eq!(
        container
            .liveness_probe
            .unwrap()
            .http_get
            .unwrap()
            .path
            .as_deref(),
        Some("/api/health/live")
    );
    assert_eq!(
        container
            .readiness_probe
            .unwrap()
            .http_get
            .unwrap()
            .path
            .as_deref(),
        Some("/api/health")
    );
}

#[test]
fn autoscales_2_to_10_on_cpu_70_and_memory_80_with_fast_up_slow_down() {
    skip_without_helm!();
    let hpa = production().get::<HorizontalPodAutoscaler>(BACKEND);
    let spec = hpa.spec.unwrap();
    assert_eq!(spec.scale_target_ref.kind, "Deployment");
    assert_eq!(spec.scale_target_ref.name, BACKEND);
    assert_eq!(spec.min_replicas, Some(2));
    assert_eq!(spec.max_replicas, 10);
    let targets: Vec<(String, i32)> = spec
        .metrics
        .unwrap()
        .into_iter()
        .map(|metric| {
            let resource = metric.resource.unwrap();
            (resource.name, resource.target.average_utilization.unwrap())
        })
        .collect();
    assert!(targets.contains(&("cpu".into(), 70)), "{targets:?}");
    assert!(targets.contains(&("memory".into(), 80)), "{targets:?}");
    let behavior = spec.behavior.unwrap();
    assert_eq!(
        behavior.scale_down.unwrap().stabilization_window_seconds,
        Some(300)
    );
    assert_eq!(
        behavior.scale_up.unwrap().stabilization_window_seconds,
        Some(0)
    );
    // The HPA owns the replica count.
    assert_eq!(
        backend_deployment(production()).spec.unwrap().replicas,
        None
    );
}

#[test]
fn has_a_disruption_budget_network_policy_and_topology_spread() {
    skip_without_helm!();
    assert!(production().find::<PodDisruptionBudget>(BACKEND).is_some());
    let policy = production().get::<NetworkPolicy>(BACKEND).spec.unwrap();
    let types = policy.policy_types.unwrap();
    assert!(types.contains(&"Ingress".to_owned()) && types.contains(&"Egress".to_owned()));
    // DNS to the cluster DNS, the managed PostgreSQL (TLS on 5432, any address) and the
    // contract's outbound HTTPS, nothing else.
    let egress = policy.egress.unwrap();
    assert_eq!(egress.len(), 3, "{egress:?}");
    assert_dns_only(&egress[0]);
    assert_eq!(ports(&egress[1]), [tcp(5432)]);
    assert!(egress[1].to.is_none(), "any address: {:?}", egress[1]);
    assert_eq!(ports(&egress[2]), [tcp(443)]);
    assert!(egress[2].to.is_none(), "any address: {:?}", egress[2]);
    assert!(
        pod_spec(&backend_deployment(production()))
            .topology_spread_constraints
            .is_some()
    );
}

#[test]
fn the_pods_fit_the_databases_connection_limit_and_the_render_checks_it() {
    skip_without_helm!();
    // values/production.yaml gives the limit, so a pool that would not fit fails the render.
    let error = render_error(
        Render::new()
            .values("values/production.yaml")
            .set_string("backend.env.DB_POOL_SIZE", "10"),
    );
    assert!(
        error.contains("backend.database.maxConnections (100)"),
        "{error}"
    );
    assert!(error.contains("= 143"), "{error}");
}

#[test]
fn no_node_port_anywhere_the_api_is_behind_a_cluster_ip_and_an_ingress_with_tls() {
    skip_without_helm!();
    for service in production().all::<Service>() {
        let spec = service.spec.unwrap();
        let name = service.metadata.name.unwrap();
        assert_eq!(spec.type_.as_deref(), Some("ClusterIP"), "{name}");
        assert!(
            spec.ports
                .unwrap_or_default()
                .iter()
                .all(|port| port.node_port.is_none()),
            "{name}"
        );
    }
    let ingress = production().get::<Ingress>(BACKEND);
    let annotations = ingress.metadata.annotations.clone().unwrap();
    assert!(
        annotations.contains_key("cert-manager.io/cluster-issuer"),
        "{annotations:?}"
    );
    let spec = ingress.spec.unwrap();
    let tls = spec.tls.unwrap();
    let hosts: Vec<String> = spec
        .rules
        .unwrap()
        .into_iter()
        .map(|rule| rule.host.unwrap())
        .collect();
    assert!(!hosts.is_empty());
    for host in &hosts {
        assert!(
            tls.iter().any(|tls| tls.secret_name.is_some()
                && tls.hosts.as_ref().is_some_and(|names| names.contains(host))),
            "{host} has a certificate: {tls:?}"
        );
    }
}

#[test]
fn pins_an_image_tag() {
    skip_without_helm!();
    let image = backend_container(&backend_deployment(production()))
        .image
        .unwrap();
    assert!(!image.ends_with(":latest"), "{image}");
}

/// The Prometheus Operator's API versions, as a cluster with kube-prometheus-stack serves them.
const OPERATOR_APIS: [&str; 2] = [
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
];

#[test]
fn with_the_prometheus_operator_production_gets_its_objects_and_the_dashboard() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .values("values/production.yaml")
            .api_version(OPERATOR_APIS[0])
            .api_version(OPERATOR_APIS[1]),
    );
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        let object = manifests
            .raw(kind, "todo-chatbot-monitoring")
            .unwrap_or_else(|| panic!("a {kind}"));
        // kube-prometheus-stack selects them by its Helm release's label.
        assert_eq!(
            object["metadata"]["labels"]["release"], "kube-prometheus-stack",
            "{kind}"
        );
    }
    let dashboards = manifests.get::<ConfigMap>("todo-chatbot-dashboards");
    assert_eq!(
        dashboards.metadata.labels.unwrap()["grafana_dashboard"],
        "1",
        "for the Grafana sidecar"
    );
}

#[test]
fn without_the_operator_production_renders_the_dashboard_but_no_operator_objects() {
    skip_without_helm!();
    assert!(
        production()
            .raw("ServiceMonitor", "todo-chatbot-monitoring")
            .is_none()
    );
    assert!(
        production()
            .raw("PrometheusRule", "todo-chatbot-monitoring")
            .is_none()
    );
    production().get::<ConfigMap>("todo-chatbot-dashboards");
}

#[test]
fn the_charts_own_prometheus_and_grafana_are_off() {
    skip_without_helm!();
    let names = e2e::names::Names::for_release(e2e::RELEASE);
    for name in [&names.prometheus, &names.grafana] {
        assert!(
            production()
                .find::<k8s_openapi::api::apps::v1::Deployment>(name)
                .is_none(),
            "{name}"
        );
    }
}

#[test]
fn guard_rails_are_off_in_the_defaults() {
    skip_without_helm!();
    let defaults = crate::support::defaults();
    assert!(defaults.find::<HorizontalPodAutoscaler>(BACKEND).is_none());
    assert!(defaults.find::<PodDisruptionBudget>(BACKEND).is_none());
    assert!(
        pod_spec(&backend_deployment(defaults))
            .topology_spread_constraints
            .is_none()
    );
}
