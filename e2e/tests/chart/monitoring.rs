//! The monitoring chart's objects as rendered (its Prometheus config, rules and dashboard are
//! checked by `tests/monitoring.rs`).

use std::collections::BTreeSet;

use e2e::helm::Render;
use e2e::manifests::Manifests;
use e2e::monitoring::{MonitoringFiles, panels};
use e2e::names::Names;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyEgressRule};
use k8s_openapi::api::rbac::v1::Role;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::fake_api::{FakeApi, endpoint_slice};
use crate::support::{defaults, ports, render, render_error, skip_without_helm, tcp};

fn names() -> Names {
    Names::for_release(e2e::RELEASE)
}

#[test]
fn prometheus_may_list_and_watch_pods_of_its_namespace_and_nothing_else() {
    skip_without_helm!();
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
    skip_without_helm!();
    assert!(defaults().find::<ConfigMap>(DASHBOARDS).is_none());
    let grafana = defaults().get::<ConfigMap>(&names().grafana);
    assert_eq!(dashboard_in(&grafana), dashboard_file());
}

#[test]
fn without_the_bundled_grafana_the_dashboard_is_a_configmap_labelled_for_the_sidecar() {
    skip_without_helm!();
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
    skip_without_helm!();
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
    skip_without_helm!();
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
    skip_without_helm!();
    let always = render(Render::new().set("monitoring.dashboardConfigMap.enabled", "true"));
    assert!(always.find::<ConfigMap>(DASHBOARDS).is_some());
    let never =
        render(without_bundled_grafana().set("monitoring.dashboardConfigMap.enabled", "false"));
    assert!(never.find::<ConfigMap>(DASHBOARDS).is_none());
}

#[test]
fn impossible_sidecar_settings_are_rejected() {
    skip_without_helm!();
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

// -- Service-level objectives ----------------------------------------------------------------

/// The rendered rules file of the bundled Prometheus, parsed.
fn rules_of(manifests: &Manifests) -> serde_json::Value {
    MonitoringFiles::from_render(manifests, &names())
        .unwrap()
        .alert_rules()
        .unwrap()
}

/// The text of the rules file of the bundled Prometheus.
fn rules_text(manifests: &Manifests) -> String {
    MonitoringFiles::from_render(manifests, &names())
        .unwrap()
        .alerts
}

fn rule_names(rules: &serde_json::Value, kind: &str) -> BTreeSet<String> {
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|rule| rule[kind].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_slos_are_recorded_and_alerted_on_and_the_replaced_threshold_alerts_are_gone() {
    skip_without_helm!();
    let rules = rules_of(defaults());
    assert_eq!(
        rules["groups"][0]["name"], "todo-chatbot-backend-slo",
        "recording rules first"
    );
    let recorded = rule_names(&rules, "record");
    for window in ["5m", "30m", "1h", "6h", "3d", "30d"] {
        assert!(
            recorded.contains(&format!("slo:sli_error:ratio_rate{window}")),
            "{window}"
        );
    }
    assert!(recorded.contains("slo:error_budget_remaining:ratio"));
    let alerts = rule_names(&rules, "alert");
    for alert in [
        "BackendAvailabilityErrorBudgetBurn",
        "BackendAvailabilityErrorBudgetSlowBurn",
        "BackendLatencyErrorBudgetBurn",
        "BackendLatencyErrorBudgetSlowBurn",
        "BackendDown",
        "BackendPodRestarting",
        "BackendDatabaseUnreachable",
        "BackendMemoryNearLimit",
    ] {
        assert!(alerts.contains(alert), "{alert}: {alerts:?}");
    }
    for replaced in ["BackendHighErrorRatio", "BackendHighLatencyP95"] {
        assert!(
            !alerts.contains(replaced),
            "{replaced} is replaced by the SLO alerts"
        );
    }
    let text = rules_text(defaults());
    // The workbook's burn rates over a 30-day budget, against the default objectives.
    for expected in [
        "> (14.4 * (1 - 0.999))",
        "> (6 * (1 - 0.999))",
        "> (1 - 0.999)",
        "> (14.4 * (1 - 0.99))",
        r#"le="0.25""#,
        r#"status=~"5..""#,
    ] {
        assert!(text.contains(expected), "{expected}");
    }
}

#[test]
fn objectives_and_the_latency_threshold_are_values() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("monitoring.slo.availability.objective", "0.995")
            .set("monitoring.slo.latency.objective", "0.95")
            .set("monitoring.slo.latency.thresholdSeconds", "1"),
    );
    let text = rules_text(&manifests);
    assert!(text.contains("> (14.4 * (1 - 0.995))"), "{text}");
    assert!(text.contains("> (6 * (1 - 0.95))"), "{text}");
    // Prometheus 3 writes whole bucket bounds as "1.0", Prometheus 2 as "1".
    assert!(text.contains(r#"le=~"1|1\\.0""#), "{text}");
    let half = rules_text(&render(
        Render::new().set("monitoring.slo.latency.thresholdSeconds", "0.5"),
    ));
    assert!(half.contains(r#"le="0.5""#), "{half}");
}

#[test]
fn an_slo_can_be_turned_off() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("monitoring.slo.availability.enabled", "false")
            .set("monitoring.slo.latency.enabled", "false"),
    );
    let rules = rules_of(&manifests);
    assert!(rule_names(&rules, "record").is_empty());
    let alerts = rule_names(&rules, "alert");
    assert!(
        alerts.iter().all(|alert| !alert.contains("ErrorBudget")),
        "{alerts:?}"
    );
    assert!(alerts.contains("BackendDown"));
    let latency_only = rules_of(&render(
        Render::new().set("monitoring.slo.availability.enabled", "false"),
    ));
    let alerts = rule_names(&latency_only, "alert");
    assert!(alerts.contains("BackendLatencyErrorBudgetBurn"));
    assert!(!alerts.contains("BackendAvailabilityErrorBudgetBurn"));
}

#[test]
fn objectives_a_page_could_never_reach_and_thresholds_between_buckets_are_rejected() {
    skip_without_helm!();
    let error = render_error(Render::new().set("monitoring.slo.availability.objective", "0.9"));
    assert!(error.contains("at least 0.9306"), "{error}");
    for value in ["1", "0", "1.5"] {
        let error = render_error(Render::new().set("monitoring.slo.latency.objective", value));
        assert!(error.contains("objective"), "{value}: {error}");
    }
    let error = render_error(Render::new().set("monitoring.slo.latency.thresholdSeconds", "0.3"));
    assert!(error.contains("thresholdSeconds"), "{error}");
}

#[test]
fn the_latency_thresholds_offered_are_exactly_the_services_buckets() {
    let source = std::fs::read_to_string(e2e::repo_root().join("service/src/metrics.rs")).unwrap();
    let buckets: Vec<f64> = source
        .split("const LATENCY_BUCKETS: &[f64] = &[")
        .nth(1)
        .expect("LATENCY_BUCKETS in service/src/metrics.rs")
        .split(']')
        .next()
        .unwrap()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.parse().unwrap())
        .collect();
    assert!(buckets.len() >= 10, "{buckets:?}");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            e2e::repo_root().join("charts/todo-chatbot/charts/monitoring/values.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let offered: Vec<f64> = schema["properties"]["slo"]["properties"]["latency"]["properties"]
        ["thresholdSeconds"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_f64)
        .collect();
    assert_eq!(offered, buckets);
}

#[test]
fn the_operator_prometheus_rule_carries_the_same_rules_as_the_bundled_prometheus() {
    skip_without_helm!();
    let manifests = render(Render::new().set("monitoring.serviceMonitor.force", "true"));
    let rule = manifests
        .raw("PrometheusRule", "todo-chatbot-monitoring")
        .expect("the PrometheusRule");
    assert_eq!(rule["spec"], rules_of(&manifests));
    assert!(!rule_names(&rule["spec"], "record").is_empty());
}

// -- Prometheus' egress to the Kubernetes API ------------------------------------------------

/// The Prometheus policy's rule(s) for the Kubernetes API: those on 443 or 6443.
fn api_rules(manifests: &Manifests) -> Vec<NetworkPolicyEgressRule> {
    manifests
        .get::<NetworkPolicy>(&names().prometheus)
        .spec
        .unwrap()
        .egress
        .unwrap()
        .into_iter()
        .filter(|rule| {
            ports(rule)
                .iter()
                .any(|(_, port)| [tcp(443).1, tcp(6443).1].contains(port))
        })
        .collect()
}

#[test]
fn prometheus_reaches_the_api_server_at_the_addresses_given() {
    skip_without_helm!();
    let manifests = render(Render::new().set_json(
        "monitoring.networkPolicy.kubernetesApi.to",
        r#"[{"ipBlock":{"cidr":"172.18.0.3/32"}}]"#,
    ));
    let rules = api_rules(&manifests);
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(ports(&rules[0]), [tcp(443), tcp(6443)]);
    let peers = rules[0].to.clone().expect("only the given addresses");
    assert_eq!(peers[0].ip_block.as_ref().unwrap().cidr, "172.18.0.3/32");
}

#[test]
fn without_the_cluster_or_addresses_prometheus_reaches_the_api_ports_on_any_address() {
    skip_without_helm!();
    // helm template cannot read the cluster's EndpointSlices.
    let rules = api_rules(defaults());
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(ports(&rules[0]), [tcp(443), tcp(6443)]);
    assert!(rules[0].to.is_none());
}

/// The `kubernetes` EndpointSlice the API server keeps in namespace default (its addresses and
/// port), as `lookup` returns it inside a list, next to another Service's slice.
fn endpoint_slices(addresses: &[&str], port: i32) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSliceList",
        "items": [
            endpoint_slice("kubernetes", addresses, port),
            endpoint_slice("another-service", &["10.0.0.9"], 8443),
        ],
    })
}

/// The egress rules todo-common's helper derives from `slices`, rendered by a small chart that
/// depends on the library (the only way to hand a template what `lookup` would return).
fn api_egress_from(slices: &serde_json::Value) -> Vec<NetworkPolicyEgressRule> {
    // One directory per call, so tests running in parallel never share one.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("todo-common-probe-{}-{call}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("charts")).unwrap();
    std::os::unix::fs::symlink(
        e2e::repo_root().join("charts/todo-chatbot/charts/todo-common"),
        dir.join("charts/todo-common"),
    )
    .unwrap();
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: probe\nversion: 0.1.0\ndependencies:\n  - name: todo-common\n    version: \">=0.0.0-0\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("templates/egress.yaml"),
        "rules:\n  {{- include \"todo-common.networkPolicy.kubernetesApiEgress\" (dict \"to\" list \"ports\" (list 443 6443) \"slices\" .Values.slices) | nindent 2 }}\n",
    )
    .unwrap();
    let values = dir.join("values.json");
    std::fs::write(&values, serde_json::json!({ "slices": slices }).to_string()).unwrap();
    let output = Render::new()
        .without_test_secrets()
        .chart(&dir)
        .values(values.to_str().unwrap())
        .output()
        .unwrap_or_else(|error| panic!("{error:#}"));
    std::fs::remove_dir_all(&dir).unwrap();
    let document: serde_json::Value = serde_saphyr::from_str(
        output
            .split("---")
            .find(|doc| doc.contains("rules:"))
            .unwrap(),
    )
    .unwrap();
    serde_json::from_value(document["rules"].clone()).unwrap()
}

#[test]
fn with_the_cluster_prometheus_reaches_the_api_servers_own_addresses_and_port_only() {
    skip_without_helm!();
    // Kind: one control plane at a node address, on 6443.
    let rules = api_egress_from(&endpoint_slices(&["172.18.0.3"], 6443));
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(ports(&rules[0]), [tcp(6443)]);
    let cidrs: Vec<String> = rules[0]
        .to
        .clone()
        .unwrap()
        .into_iter()
        .map(|peer| peer.ip_block.unwrap().cidr)
        .collect();
    assert_eq!(cidrs, ["172.18.0.3/32"]);

    // EKS: two addresses of the managed control plane, on 443.
    let rules = api_egress_from(&endpoint_slices(&["10.0.12.7", "10.0.44.9"], 443));
    assert_eq!(ports(&rules[0]), [tcp(443)]);
    assert_eq!(rules[0].to.as_ref().unwrap().len(), 2);

    // Nothing found (helm template's lookup stub returns an empty map): any address.
    let rules = api_egress_from(&serde_json::json!({}));
    assert_eq!(ports(&rules[0]), [tcp(443), tcp(6443)]);
    assert!(rules[0].to.is_none());
}

/// The CIDRs of the one rule `rules` holds for the Kubernetes API, and its ports.
fn api_peers(rules: &[NetworkPolicyEgressRule]) -> (Vec<String>, Vec<(String, IntOrString)>) {
    assert_eq!(rules.len(), 1, "one rule for the Kubernetes API: {rules:?}");
    let cidrs = rules[0]
        .to
        .iter()
        .flatten()
        .map(|peer| {
            let block = peer.ip_block.as_ref().expect("an ipBlock peer");
            assert!(block.except.is_none(), "{block:?}");
            block.cidr.clone()
        })
        .collect();
    (cidrs, ports(&rules[0]))
}

#[test]
fn on_a_cluster_prometheus_reaches_only_the_api_servers_endpoint_slice() {
    skip_without_helm!();
    // What `helm install` sees on a cluster with two control-plane nodes on 6443 (an HA Kind
    // cluster): the API server's own EndpointSlice, beside another Service's, read by `lookup`
    // through the fake API's discovery.k8s.io/v1.
    let api = FakeApi::start();
    api.keep(&endpoint_slice(
        "kubernetes",
        &["172.18.0.2", "172.18.0.5"],
        6443,
    ));
    api.keep(&endpoint_slice("another-service", &["10.96.0.9"], 8443));
    let install = render(Render::new().against(api.kubeconfig()));
    assert_eq!(
        api.unexpected(),
        Vec::<String>::new(),
        "Helm asked the fake API what it does not answer"
    );
    assert_eq!(
        api_peers(&api_rules(&install)),
        (
            vec!["172.18.0.2/32".to_owned(), "172.18.0.5/32".to_owned()],
            vec![tcp(6443)]
        )
    );
}

#[test]
fn on_a_cluster_without_endpoint_slices_prometheus_reaches_any_address() {
    skip_without_helm!();
    // `lookup` of a kind the cluster does not serve fails the render: the chart only asks where
    // discovery lists discovery.k8s.io/v1 EndpointSlices.
    let api = FakeApi::start_without("discovery.k8s.io/v1");
    let install = render(Render::new().against(api.kubeconfig()));
    assert_eq!(
        api.unexpected(),
        Vec::<String>::new(),
        "the render asked for EndpointSlices"
    );
    assert_eq!(
        api_peers(&api_rules(&install)),
        (vec![], vec![tcp(443), tcp(6443)])
    );
}

#[test]
fn each_operator_object_needs_its_own_api() {
    skip_without_helm!();
    // A cluster that serves ServiceMonitors but not PrometheusRules would refuse the release.
    let manifests = render(Render::new().api_version("monitoring.coreos.com/v1/ServiceMonitor"));
    assert!(
        manifests
            .raw("ServiceMonitor", "todo-chatbot-monitoring")
            .is_some()
    );
    assert!(
        manifests
            .raw("PrometheusRule", "todo-chatbot-monitoring")
            .is_none()
    );
    let manifests = render(Render::new().api_version("monitoring.coreos.com/v1/PrometheusRule"));
    assert!(
        manifests
            .raw("ServiceMonitor", "todo-chatbot-monitoring")
            .is_none()
    );
    assert!(
        manifests
            .raw("PrometheusRule", "todo-chatbot-monitoring")
            .is_some()
    );
}

// -- The bundled Prometheus' data and alerting --------------------------------------------------

/// The bundled Prometheus' container arguments.
fn prometheus_args(manifests: &Manifests) -> Vec<String> {
    manifests
        .get::<Deployment>(&names().prometheus)
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .containers[0]
        .args
        .clone()
        .unwrap()
}

#[test]
fn the_bundled_prometheus_keeps_data_as_long_as_the_slo_window() {
    skip_without_helm!();
    // slo:error_budget_remaining:ratio reads ratio_rate30d: 30 days of samples.
    assert!(
        prometheus_args(defaults()).contains(&"--storage.tsdb.retention.time=30d".to_owned()),
        "{:?}",
        prometheus_args(defaults())
    );
    let error = render_error(Render::new().set("monitoring.prometheus.retention", "7d"));
    assert!(
        error.contains("monitoring.prometheus.retention (7d)"),
        "{error}"
    );
    assert!(error.contains("30d"), "{error}");
    // Longer, or in other units, is fine; without SLOs any retention is.
    render(Render::new().set("monitoring.prometheus.retention", "1y"));
    render(Render::new().set("monitoring.prometheus.retention", "4w2d"));
    render(
        Render::new()
            .set("monitoring.prometheus.retention", "7d")
            .set("monitoring.slo.availability.enabled", "false")
            .set("monitoring.slo.latency.enabled", "false"),
    );
}

#[test]
fn the_bundled_prometheus_sends_alerts_to_the_alertmanagers_given() {
    skip_without_helm!();
    let files = MonitoringFiles::from_render(defaults(), &names()).unwrap();
    assert!(
        files.config().unwrap().0.get("alerting").is_none(),
        "no Alertmanager by default: alerts show in the UI only"
    );
    let manifests = render(Render::new().set_json(
        "monitoring.prometheus.alertmanagers",
        r#"["alertmanager.monitoring:9093"]"#,
    ));
    let config = MonitoringFiles::from_render(&manifests, &names())
        .unwrap()
        .config()
        .unwrap();
    assert_eq!(
        config.0["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0],
        "alertmanager.monitoring:9093"
    );
    // Its policy lets it reach them.
    let egress = manifests
        .get::<NetworkPolicy>(&names().prometheus)
        .spec
        .unwrap()
        .egress
        .unwrap();
    assert!(
        egress.iter().any(|rule| ports(rule) == [tcp(9093)]),
        "{egress:?}"
    );
}

#[test]
fn the_bundled_prometheus_keeps_its_data_in_a_claim_that_outlives_its_pod() {
    skip_without_helm!();
    // A new scrape config, rule or chart version replaces the pod (Recreate): an emptyDir would
    // start the 30-day SLO window from nothing each time.
    let claim = defaults().get::<PersistentVolumeClaim>(&names().prometheus);
    let requested = claim.spec.unwrap().resources.unwrap().requests.unwrap();
    assert_eq!(requested["storage"].0, "2Gi");
    let volumes = defaults()
        .get::<Deployment>(&names().prometheus)
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap();
    let data = volumes.iter().find(|volume| volume.name == "data").unwrap();
    assert_eq!(
        data.persistent_volume_claim.as_ref().unwrap().claim_name,
        names().prometheus
    );
    // A throwaway cluster may still choose the emptyDir.
    let ephemeral = render(Render::new().set("monitoring.prometheus.persistence.enabled", "false"));
    assert!(
        ephemeral
            .find::<PersistentVolumeClaim>(&names().prometheus)
            .is_none()
    );
}
