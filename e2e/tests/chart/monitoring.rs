//! The monitoring chart's objects as rendered (its Prometheus config, rules and dashboard are
//! checked by `tests/monitoring.rs`).

use std::collections::BTreeSet;

use e2e::helm::Render;
use e2e::monitoring::{MonitoringFiles, panels};
use e2e::names::Names;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::Role;

use crate::support::{defaults, render, render_error};

fn names() -> Names {
    Names::for_release(e2e::RELEASE)
}

#[test]
fn prometheus_may_list_and_watch_pods_of_its_namespace_and_nothing_else() {
    // The backend job's discovery is `role: pod` in the release namespace: a pod informer, which
    // lists and watches pods there (Prometheus 3.5, discovery/kubernetes).
    let files = MonitoringFiles::from_render(defaults(), &names()).unwrap();
    let config = files.config().unwrap();
    let discovery = &config.job("backend").unwrap()["kubernetes_sd_configs"];
    assert_eq!(discovery[0]["role"], "pod", "{discovery}");
    assert!(discovery[0].get("attach_metadata").is_none(), "{discovery}");

    let role = defaults().get::<Role>(&names().prometheus);
    assert_eq!(
        role.metadata.namespace.as_deref(),
        Some(e2e::NAMESPACE),
        "a Role of the release namespace"
    );
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].api_groups.as_deref(), Some(&[String::new()][..]));
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["pods".to_owned()][..])
    );
    assert_eq!(
        rules[0].verbs,
        ["list".to_owned(), "watch".to_owned()],
        "no get: informers only list and watch"
    );
    assert!(rules[0].resource_names.is_none());
}

// -- The dashboard for a Grafana the release does not deploy -------------------------------

const DASHBOARDS: &str = "todo-chatbot-dashboards";

fn dashboard_file() -> serde_json::Value {
    let path =
        e2e::repo_root().join("charts/todo-chatbot/charts/monitoring/files/backend-dashboard.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The dashboard in a ConfigMap, parsed.
fn dashboard_in(configmap: &ConfigMap) -> serde_json::Value {
    let data = configmap.data.clone().unwrap();
    serde_json::from_str(&data["backend-dashboard.json"]).unwrap()
}

/// Every datasource uid the dashboard's panels and their queries refer to.
fn datasource_uids(dashboard: &serde_json::Value) -> BTreeSet<String> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            std::iter::once(panel["datasource"]["uid"].clone()).chain(
                panel["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|target| target["datasource"]["uid"].clone()),
            )
        })
        .filter_map(|uid| uid.as_str().map(str::to_owned))
        .collect()
}

fn without_bundled_grafana() -> Render {
    Render::new().set("monitoring.grafana.enabled", "false")
}

#[test]
fn with_the_bundled_grafana_the_dashboard_is_provisioned_there_and_not_as_a_sidecar_configmap() {
    assert!(defaults().find::<ConfigMap>(DASHBOARDS).is_none());
    let grafana = defaults().get::<ConfigMap>(&names().grafana);
    assert_eq!(dashboard_in(&grafana), dashboard_file());
}

#[test]
fn without_the_bundled_grafana_the_dashboard_is_a_configmap_labelled_for_the_sidecar() {
    let manifests = render(without_bundled_grafana());
    assert!(manifests.find::<Deployment>(&names().grafana).is_none());
    let configmap = manifests.get::<ConfigMap>(DASHBOARDS);
    let labels = configmap.metadata.labels.clone().unwrap();
    // The Grafana chart's sidecar.dashboards.label and kube-prometheus-stack's labelValue.
    assert_eq!(labels["grafana_dashboard"], "1");
    assert_eq!(labels["app.kubernetes.io/instance"], "todo-chatbot");
    assert_eq!(labels["app.kubernetes.io/component"], "dashboards");
    let annotations = configmap.metadata.annotations.clone().unwrap();
    // k8s-sidecar's default FOLDER_ANNOTATION.
    assert_eq!(annotations["k8s-sidecar-target-directory"], "todo-chatbot");
    assert_eq!(
        configmap.metadata.namespace.as_deref(),
        Some(e2e::NAMESPACE)
    );
    let dashboard = dashboard_in(&configmap);
    assert_eq!(
        dashboard,
        dashboard_file(),
        "the same dashboard, uid prometheus"
    );
    assert_eq!(
        datasource_uids(&dashboard),
        BTreeSet::from(["prometheus".to_owned()])
    );
}

#[test]
fn the_sidecar_label_folder_and_datasource_are_configurable() {
    let manifests = render(
        without_bundled_grafana()
            .set(
                "monitoring.dashboardConfigMap.label",
                "dashboards.example.com/load",
            )
            .set_string("monitoring.dashboardConfigMap.labelValue", "yes")
            .set(
                "monitoring.dashboardConfigMap.folderAnnotation",
                "grafana_folder",
            )
            .set("monitoring.dashboardConfigMap.folder", "Apps")
            .set("monitoring.dashboardConfigMap.datasourceUid", "my-prom"),
    );
    let configmap = manifests.get::<ConfigMap>(DASHBOARDS);
    let labels = configmap.metadata.labels.clone().unwrap();
    assert_eq!(labels["dashboards.example.com/load"], "yes");
    assert!(!labels.contains_key("grafana_dashboard"));
    let annotations = configmap.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["grafana_folder"], "Apps");
    assert!(!annotations.contains_key("k8s-sidecar-target-directory"));
    let dashboard = dashboard_in(&configmap);
    assert_eq!(
        datasource_uids(&dashboard),
        BTreeSet::from(["my-prom".to_owned()])
    );
    assert_eq!(
        dashboard["uid"], "todo-chatbot-backend",
        "only datasource uids change"
    );
    // The bundled Grafana's copy is not affected (it is off here; on, it keeps its own uid).
    let both = render(
        Render::new()
            .set("monitoring.dashboardConfigMap.enabled", "true")
            .set("monitoring.dashboardConfigMap.datasourceUid", "my-prom"),
    );
    assert_eq!(
        datasource_uids(&dashboard_in(&both.get::<ConfigMap>(&names().grafana))),
        BTreeSet::from(["prometheus".to_owned()])
    );
}

#[test]
fn an_empty_folder_leaves_the_folder_annotation_out() {
    let manifests =
        render(without_bundled_grafana().set("monitoring.dashboardConfigMap.folder", ""));
    let annotations = manifests
        .get::<ConfigMap>(DASHBOARDS)
        .metadata
        .annotations
        .unwrap_or_default();
    assert!(
        annotations.keys().all(|key| key.starts_with("checkov.io/")),
        "{annotations:?}"
    );
}

#[test]
fn enabled_true_or_false_overrides_auto() {
    let always = render(Render::new().set("monitoring.dashboardConfigMap.enabled", "true"));
    assert!(always.find::<ConfigMap>(DASHBOARDS).is_some());
    let never =
        render(without_bundled_grafana().set("monitoring.dashboardConfigMap.enabled", "false"));
    assert!(never.find::<ConfigMap>(DASHBOARDS).is_none());
}

#[test]
fn impossible_sidecar_settings_are_rejected() {
    for (key, value) in [
        ("monitoring.dashboardConfigMap.enabled", "sometimes"),
        (
            "monitoring.dashboardConfigMap.label",
            "app.kubernetes.io/name",
        ),
        ("monitoring.dashboardConfigMap.label", "not a label"),
        (
            "monitoring.dashboardConfigMap.datasourceUid",
            "a uid with spaces",
        ),
    ] {
        let error = render_error(Render::new().set(key, value));
        assert!(
            error.contains("dashboardConfigMap"),
            "{key}={value}: {error}"
        );
    }
}
