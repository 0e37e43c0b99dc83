//! values.schema.json and template checks reject impossible values at `helm template` time.

use e2e::helm::Render;

use crate::support::{render_error, skip_without_helm};

fn rejected(key: &str, value: &str) -> String {
    render_error(Render::new().set(key, value))
}

#[test]
fn node_port_outside_30000_32767_is_rejected() {
    skip_without_helm!();
    for port in ["80", "29999", "32768"] {
        let error = rejected("backend.service.nodePort", port);
        assert!(error.contains("nodePort"), "{port}: {error}");
    }
}

#[test]
fn negative_replica_count_is_rejected() {
    skip_without_helm!();
    assert!(rejected("backend.replicaCount", "-1").contains("replicaCount"));
}

#[test]
fn unknown_pull_policy_and_service_type_are_rejected() {
    skip_without_helm!();
    assert!(rejected("backend.image.pullPolicy", "Sometimes").contains("pullPolicy"));
    assert!(rejected("backend.service.type", "Public").contains("type"));
}

#[test]
fn unknown_environment_and_log_level_are_rejected() {
    skip_without_helm!();
    assert!(rejected("backend.env.ENVIRONMENT", "qa").contains("ENVIRONMENT"));
    assert!(rejected("backend.env.LOG_LEVEL", "LOUD").contains("LOG_LEVEL"));
}

#[test]
fn log_level_is_case_insensitive() {
    skip_without_helm!();
    for level in ["INFO", "debug", "Warning"] {
        Render::new()
            .set("backend.env.LOG_LEVEL", level)
            .run()
            .unwrap_or_else(|e| panic!("{level}: {e}"));
    }
}

#[test]
fn misspelt_keys_are_rejected() {
    skip_without_helm!();
    let error = rejected("backend.replicas", "3");
    assert!(error.contains("replicas"), "{error}");
}

#[test]
fn wrong_types_are_rejected() {
    skip_without_helm!();
    assert!(rejected("backend.service.port", "http").contains("port"));
    assert!(rejected("postgres.enabled", "maybe").contains("enabled"));
}

#[test]
fn a_grace_period_too_short_for_the_pre_stop_pause_is_rejected() {
    skip_without_helm!();
    let error = rejected("backend.terminationGracePeriodSeconds", "8");
    assert!(error.contains("terminationGracePeriodSeconds"), "{error}");
}

#[test]
fn the_new_values_reject_impossible_settings() {
    skip_without_helm!();
    for (key, value, named) in [
        (
            "backend.networkPolicy.externalDatabase.port",
            "70000",
            "port",
        ),
        ("backend.networkPolicy.externalDatabase.host", "db", "host"),
        (
            "postgres.tests.activeDeadlineSeconds",
            "0",
            "activeDeadlineSeconds",
        ),
        // The Prometheus test polls until 10 s before its deadline.
        (
            "monitoring.tests.activeDeadlineSeconds",
            "15",
            "activeDeadlineSeconds",
        ),
        ("postgres.passwd", "x", "passwd"),
        ("monitoring.grafana.admin.passwd", "x", "passwd"),
        ("monitoring.slo.errorBudget", "0.01", "errorBudget"),
        ("monitoring.alerts.errorRatio", "0.05", "errorRatio"),
    ] {
        let error = rejected(key, value);
        assert!(error.contains(named), "{key}={value}: {error}");
    }
}
