//! The deployment contract (../shared/seeds/003_*), clause by clause, with release name
//! `todo-chatbot` and the chart's default values.

use std::collections::BTreeMap;

use e2e::helm::Render;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Probe, Secret, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::support::{
    BACKEND, backend_container, backend_deployment, defaults, pod_annotations, pod_spec, render,
    skip_without_helm,
};

fn labels(map: &Option<BTreeMap<String, String>>) -> BTreeMap<String, String> {
    map.clone().unwrap_or_default()
}

#[test]
fn deployment_is_named_todo_chatbot_backend_with_helm_labels_and_component_backend() {
    skip_without_helm!();
    let deployment = backend_deployment(defaults());
    let labels = labels(&deployment.metadata.labels);
    assert_eq!(labels["app.kubernetes.io/component"], "backend");
    assert_eq!(labels["app.kubernetes.io/instance"], "todo-chatbot");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    assert!(labels.contains_key("app.kubernetes.io/name"));
    assert!(labels.contains_key("app.kubernetes.io/version"));
    assert!(labels["helm.sh/chart"].starts_with("backend-"));
}

#[test]
fn deployment_runs_2_replicas_by_default() {
    skip_without_helm!();
    let spec = backend_deployment(defaults()).spec.unwrap();
    assert_eq!(spec.replicas, Some(2));
}

#[test]
fn replica_count_4_gives_4_replicas() {
    skip_without_helm!();
    let manifests = render(Render::new().set("backend.replicaCount", "4"));
    assert_eq!(
        backend_deployment(&manifests).spec.unwrap().replicas,
        Some(4)
    );
}

#[test]
fn selector_matches_name_and_component_backend_and_the_pod_labels() {
    skip_without_helm!();
    let spec = backend_deployment(defaults()).spec.unwrap();
    let selector = spec.selector.match_labels.unwrap();
    assert_eq!(selector["app.kubernetes.io/component"], "backend");
    assert!(selector.contains_key("app.kubernetes.io/name"));
    assert!(
        !selector.contains_key("app.kubernetes.io/version"),
        "selectors must not change between releases"
    );
    assert!(
        !selector.contains_key("helm.sh/chart"),
        "selectors must not change between releases"
    );
    let pod_labels = labels(&spec.template.metadata.unwrap().labels);
    for (key, value) in &selector {
        assert_eq!(pod_labels.get(key), Some(value), "pod label {key}");
    }
}

#[test]
fn strategy_is_rolling_update_with_max_surge_1_and_max_unavailable_0() {
    skip_without_helm!();
    let strategy = backend_deployment(defaults())
        .spec
        .unwrap()
        .strategy
        .unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.unwrap();
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
}

#[test]
fn container_is_backend_on_port_8000_named_http() {
    skip_without_helm!();
    let container = backend_container(&backend_deployment(defaults()));
    let port = &container.ports.unwrap()[0];
    assert_eq!(port.container_port, 8000);
    assert_eq!(port.name.as_deref(), Some("http"));
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
}

#[test]
fn image_is_repository_colon_tag_with_pull_policy_if_not_present() {
    skip_without_helm!();
    let container = backend_container(&backend_deployment(defaults()));
    assert_eq!(
        container.image.as_deref(),
        Some("todo-chatbot-backend:latest")
    );
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
    let pinned = render(
        Render::new()
            .set("backend.image.repository", "registry.example/todo")
            .set_string("backend.image.tag", "0123abc"),
    );
    let container = backend_container(&backend_deployment(&pinned));
    assert_eq!(
        container.image.as_deref(),
        Some("registry.example/todo:0123abc")
    );
}

#[test]
fn service_is_nodeport_8000_to_8000_on_30081_selecting_the_backend_pods() {
    skip_without_helm!();
    let service = defaults().get::<Service>(BACKEND);
    let labels = labels(&service.metadata.labels);
    assert_eq!(labels["app.kubernetes.io/component"], "backend");
    let spec = service.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.port, 8000);
    assert_eq!(port.target_port, Some(IntOrString::Int(8000)));
    assert_eq!(port.node_port, Some(30081));
    assert_eq!(port.protocol.as_deref(), Some("TCP"));
    let pod_labels = labels_of_pods();
    for (key, value) in spec.selector.unwrap() {
        assert_eq!(pod_labels.get(&key), Some(&value), "selector {key}");
    }
}

fn labels_of_pods() -> BTreeMap<String, String> {
    let spec = backend_deployment(defaults()).spec.unwrap();
    labels(&spec.template.metadata.unwrap().labels)
}

#[test]
fn configmap_todo_chatbot_backend_config_holds_environment_and_log_level() {
    skip_without_helm!();
    let config = defaults().get::<ConfigMap>("todo-chatbot-backend-config");
    let data = config.data.unwrap();
    assert_eq!(data["ENVIRONMENT"], "development");
    assert_eq!(data["LOG_LEVEL"], "INFO");
    assert_eq!(data["PORT"], "8000");
    for secret in ["DATABASE_URL", "BETTER_AUTH_SECRET", "DATABASE_PASSWORD"] {
        assert!(
            !data.contains_key(secret),
            "{secret} must not be in a ConfigMap"
        );
    }
}

#[test]
fn secret_todo_chatbot_backend_secret_is_opaque_with_database_url_and_auth_secret() {
    skip_without_helm!();
    let secret = defaults().get::<Secret>("todo-chatbot-backend-secret");
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let data = secret.data.unwrap();
    assert!(data.contains_key("DATABASE_URL"));
    assert!(data["BETTER_AUTH_SECRET"].0.len() >= 32);
}

#[test]
fn pods_read_the_configmap_and_the_secret_by_reference() {
    skip_without_helm!();
    let container = backend_container(&backend_deployment(defaults()));
    let from_config = container.env_from.unwrap_or_default().iter().any(|source| {
        source
            .config_map_ref
            .as_ref()
            .is_some_and(|r| r.name == "todo-chatbot-backend-config")
    });
    assert!(from_config, "envFrom the ConfigMap");
    for key in ["DATABASE_URL", "BETTER_AUTH_SECRET"] {
        let var = container
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|var| var.name == key)
            .expect(key);
        let reference = var
            .value_from
            .as_ref()
            .and_then(|from| from.secret_key_ref.as_ref())
            .expect("a secretKeyRef");
        assert_eq!(reference.name, "todo-chatbot-backend-secret");
        assert_eq!(reference.key, key);
    }
}

#[test]
fn resources_are_requests_500m_512mi_and_limits_1000m_1gi() {
    skip_without_helm!();
    let resources = backend_container(&backend_deployment(defaults()))
        .resources
        .unwrap();
    let requests = resources.requests.unwrap();
    let limits = resources.limits.unwrap();
    assert_eq!(requests["cpu"], Quantity("500m".into()));
    assert_eq!(requests["memory"], Quantity("512Mi".into()));
    assert_eq!(limits["cpu"], Quantity("1000m".into()));
    assert_eq!(limits["memory"], Quantity("1Gi".into()));
}

fn assert_contract_probe(probe: Option<Probe>, path: &str) {
    let probe = probe.expect("probe present");
    let http = probe.http_get.expect("an HTTP GET probe");
    assert_eq!(http.path.as_deref(), Some(path));
    assert_eq!(http.port, IntOrString::Int(8000));
    assert_eq!(probe.initial_delay_seconds, Some(15));
    assert_eq!(probe.period_seconds, Some(10));
    assert_eq!(probe.timeout_seconds, Some(5));
    assert_eq!(probe.success_threshold, Some(1));
    assert_eq!(probe.failure_threshold, Some(3));
}

#[test]
fn liveness_probe_is_get_api_health_15s_10s_5s_1_3() {
    skip_without_helm!();
    assert_contract_probe(
        backend_container(&backend_deployment(defaults())).liveness_probe,
        "/api/health",
    );
}

#[test]
fn readiness_probe_is_get_api_health_15s_10s_5s_1_3() {
    skip_without_helm!();
    assert_contract_probe(
        backend_container(&backend_deployment(defaults())).readiness_probe,
        "/api/health",
    );
}

#[test]
fn liveness_can_point_at_the_process_only_endpoint() {
    skip_without_helm!();
    let manifests = render(Render::new().set("backend.livenessProbe.path", "/api/health/live"));
    let container = backend_container(&backend_deployment(&manifests));
    assert_contract_probe(container.liveness_probe, "/api/health/live");
    assert_contract_probe(container.readiness_probe, "/api/health");
}

#[test]
fn startup_probe_is_optional_and_off_by_default() {
    skip_without_helm!();
    assert!(
        backend_container(&backend_deployment(defaults()))
            .startup_probe
            .is_none()
    );
    let manifests = render(Render::new().set("backend.startupProbe.enabled", "true"));
    assert!(
        backend_container(&backend_deployment(&manifests))
            .startup_probe
            .is_some()
    );
}

#[test]
fn pod_runs_as_uid_1001_non_root_with_seccomp_runtime_default() {
    skip_without_helm!();
    let context = pod_spec(&backend_deployment(defaults()))
        .security_context
        .unwrap();
    assert_eq!(context.run_as_non_root, Some(true));
    assert_eq!(context.run_as_user, Some(1001));
    assert_eq!(context.seccomp_profile.unwrap().type_, "RuntimeDefault");
}

#[test]
fn container_drops_all_capabilities_without_privilege_escalation_on_a_read_only_root() {
    skip_without_helm!();
    let deployment = backend_deployment(defaults());
    let context = backend_container(&deployment).security_context.unwrap();
    assert_eq!(context.allow_privilege_escalation, Some(false));
    assert_eq!(
        context.capabilities.unwrap().drop.unwrap(),
        vec!["ALL".to_owned()]
    );
    assert_eq!(context.read_only_root_filesystem, Some(true));
    assert_eq!(context.run_as_non_root, Some(true));
    assert_eq!(context.run_as_user, Some(1001));
    let mounts = backend_container(&deployment).volume_mounts.unwrap();
    assert!(
        mounts.iter().any(|mount| mount.mount_path == "/tmp"),
        "a writable /tmp"
    );
    let volumes = pod_spec(&deployment).volumes.unwrap();
    assert!(
        volumes
            .iter()
            .any(|volume| volume.name == "tmp" && volume.empty_dir.is_some())
    );
}

#[test]
fn service_account_token_is_not_mounted() {
    skip_without_helm!();
    assert_eq!(
        pod_spec(&backend_deployment(defaults())).automount_service_account_token,
        Some(false)
    );
}

#[test]
fn changing_the_config_or_the_secret_changes_the_pod_template() {
    skip_without_helm!();
    let annotations = pod_annotations;
    let secret = "a-fixed-secret-that-is-long-enough-0123456789";
    let base = render(Render::new().set("backend.secrets.BETTER_AUTH_SECRET", secret));
    let config_changed = render(
        Render::new()
            .set("backend.secrets.BETTER_AUTH_SECRET", secret)
            .set("backend.env.LOG_LEVEL", "DEBUG"),
    );
    let secret_changed = render(Render::new().set(
        "backend.secrets.BETTER_AUTH_SECRET",
        &format!("{secret}-rotated"),
    ));
    assert_ne!(
        annotations(&base)["checksum/config"],
        annotations(&config_changed)["checksum/config"]
    );
    assert_eq!(
        annotations(&base)["checksum/secret"],
        annotations(&config_changed)["checksum/secret"]
    );
    assert_ne!(
        annotations(&base)["checksum/secret"],
        annotations(&secret_changed)["checksum/secret"]
    );
}

#[test]
fn termination_grace_covers_the_pre_stop_pause_and_the_service_drain() {
    skip_without_helm!();
    let deployment = backend_deployment(defaults());
    let grace = pod_spec(&deployment)
        .termination_grace_period_seconds
        .unwrap();
    let container = backend_container(&deployment);
    let pause = container
        .lifecycle
        .unwrap()
        .pre_stop
        .unwrap()
        .sleep
        .unwrap()
        .seconds;
    let config = defaults()
        .get::<ConfigMap>("todo-chatbot-backend-config")
        .data
        .unwrap();
    let drain: i64 = config["SHUTDOWN_GRACE_PERIOD_SECS"].parse().unwrap();
    assert!(pause > 0 && drain > 0);
    assert!(
        pause + drain < grace,
        "preStop {pause}s + drain {drain}s must end before SIGKILL at {grace}s"
    );
}

#[test]
fn pod_name_reaches_the_service_through_the_downward_api() {
    skip_without_helm!();
    let container = backend_container(&backend_deployment(defaults()));
    let pod_name = container
        .env
        .unwrap()
        .into_iter()
        .find(|var| var.name == "POD_NAME")
        .unwrap();
    assert_eq!(
        pod_name.value_from.unwrap().field_ref.unwrap().field_path,
        "metadata.name"
    );
}

#[test]
fn helm_test_hook_checks_api_health_through_the_service() {
    skip_without_helm!();
    // Every part has a test hook now (hooks.rs); this one is the API's.
    let job = defaults().get::<Job>("todo-chatbot-backend-test-health");
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()["helm.sh/hook"],
        "test"
    );
    let container = &job
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    let mut command = container.command.clone().unwrap_or_default();
    command.extend(container.args.clone().unwrap_or_default());
    assert_eq!(
        command[..2],
        [
            "/usr/local/bin/backend".to_owned(),
            "healthcheck".to_owned()
        ]
    );
    assert_eq!(command[2], "http://todo-chatbot-backend:8000/api/health");
}

#[test]
fn every_object_lands_in_the_release_namespace() {
    skip_without_helm!();
    for namespace in [e2e::NAMESPACE, "shop"] {
        let manifests = render(Render::new().namespace(namespace));
        for (kind, name) in manifests.kinds_and_names() {
            let object = manifests.raw(&kind, &name).unwrap();
            assert_eq!(object["metadata"]["namespace"], namespace, "{kind} {name}");
        }
    }
}

/// Kinds checkov's CKV_K8S_21 ("the default namespace should not be used") inspects (checkov
/// 3.3.30, checkov/kubernetes/checks/resource/k8s/DefaultNamespace.py).
const DEFAULT_NAMESPACE_CHECKED_KINDS: &[&str] = &[
    "Pod",
    "Deployment",
    "DaemonSet",
    "StatefulSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "Service",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Ingress",
];

fn default_namespace_skips(object: &serde_json::Value) -> Vec<String> {
    object["metadata"]["annotations"]
        .as_object()
        .map(|annotations| {
            annotations
                .iter()
                .filter(|(key, _)| key.starts_with("checkov.io/skip"))
                .filter_map(|(_, value)| value.as_str())
                .filter(|value| value.starts_with("CKV_K8S_21="))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn in_the_default_namespace_every_checked_object_carries_the_contracts_skip() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("backend.serviceAccount.enabled", "true")
            .set("monitoring.enabled", "true"),
    );
    let mut checked = 0;
    for (kind, name) in manifests.kinds_and_names() {
        if !DEFAULT_NAMESPACE_CHECKED_KINDS.contains(&kind.as_str()) {
            continue;
        }
        let skips = default_namespace_skips(manifests.raw(&kind, &name).unwrap());
        assert_eq!(skips.len(), 1, "{kind} {name}: {skips:?}");
        assert!(skips[0].contains("contract"), "{kind} {name}: {}", skips[0]);
        // checkov splits the annotation at '=' into id and reason: one '=' only.
        assert_eq!(skips[0].matches('=').count(), 1, "{}", skips[0]);
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} objects checked");
}

#[test]
fn in_another_namespace_nothing_skips_the_default_namespace_check() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .namespace("shop")
            .set("backend.serviceAccount.enabled", "true")
            .set("monitoring.enabled", "true"),
    );
    for (kind, name) in manifests.kinds_and_names() {
        let skips = default_namespace_skips(manifests.raw(&kind, &name).unwrap());
        assert!(skips.is_empty(), "{kind} {name}: {skips:?}");
    }
}
