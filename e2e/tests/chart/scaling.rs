//! Scaling: topology spread, the HorizontalPodAutoscaler's bounds, the database connections the
//! replicas can hold, and the commands the release notes give for scaling.

use e2e::helm::Render;

use crate::support::{
    backend_deployment, install_notes, pod_spec, render, render_error, skip_without_helm,
};

#[test]
fn topology_spread_honours_node_taints_so_a_tainted_control_plane_is_no_domain() {
    skip_without_helm!();
    // Without nodeTaintsPolicy a taint is ignored (k8s-openapi: "If this value is nil, the
    // behavior is equivalent to the Ignore policy"): Kind's control plane, which no backend pod
    // tolerates, would count as an empty domain and keep DoNotSchedule pods Pending.
    for when in ["ScheduleAnyway", "DoNotSchedule"] {
        let manifests = render(
            Render::new()
                .set("backend.topologySpread.enabled", "true")
                .set("backend.topologySpread.whenUnsatisfiable", when),
        );
        let constraints = pod_spec(&backend_deployment(&manifests))
            .topology_spread_constraints
            .expect("a topology spread constraint");
        assert_eq!(constraints.len(), 1);
        assert_eq!(constraints[0].when_unsatisfiable, when);
        assert_eq!(constraints[0].node_taints_policy.as_deref(), Some("Honor"));
    }
}

#[test]
fn autoscaling_with_more_min_than_max_replicas_is_rejected() {
    skip_without_helm!();
    let autoscaling = || Render::new().set("backend.autoscaling.enabled", "true");
    let error = render_error(
        autoscaling()
            .set("backend.autoscaling.minReplicas", "5")
            .set("backend.autoscaling.maxReplicas", "4"),
    );
    assert!(
        error.contains("minReplicas (5) must not exceed backend.autoscaling.maxReplicas (4)"),
        "{error}"
    );
    render(
        autoscaling()
            .set("backend.autoscaling.minReplicas", "4")
            .set("backend.autoscaling.maxReplicas", "4"),
    );
}

/// Renders with the database allowing `max_connections` and `extra` values.
fn with_max_connections(max_connections: u32) -> Render {
    Render::new().set(
        "backend.database.maxConnections",
        &max_connections.to_string(),
    )
}

#[test]
fn the_connections_the_most_pods_can_open_must_fit_the_databases_limit() {
    skip_without_helm!();
    // 2 replicas + 1 surging in a rollout, each DB_POOL_SIZE 10 + DB_READ_CONNECTIONS 2 + 1
    // health connection: 39.
    render(with_max_connections(39));
    let error = render_error(with_max_connections(38));
    assert!(
        error.contains("backend.database.maxConnections (38)"),
        "{error}"
    );
    assert!(
        error.contains("3 pods (replicaCount 2 + 1 surging in a rollout) x 13 connections"),
        "{error}"
    );
    assert!(error.contains("= 39"), "{error}");

    // With the HPA on, its maximum counts: 11 pods x (6 + 2 + 1) = 99.
    let autoscaled = |max: u32| {
        with_max_connections(max)
            .set("backend.autoscaling.enabled", "true")
            .set("backend.autoscaling.maxReplicas", "10")
            .set_string("backend.env.DB_POOL_SIZE", "6")
    };
    render(autoscaled(99));
    let error = render_error(autoscaled(98));
    assert!(
        error.contains(
            "11 pods (autoscaling.maxReplicas 10 + 1 surging in a rollout) x 9 connections"
        ),
        "{error}"
    );
}

#[test]
fn an_unknown_connection_limit_is_not_checked() {
    skip_without_helm!();
    render(
        Render::new()
            .set("backend.replicaCount", "50")
            .set("backend.database.maxConnections", "0"),
    );
}

#[test]
fn install_notes_give_the_connection_budget_and_what_the_autoscaler_needs() {
    skip_without_helm!();
    let Some(notes) = install_notes(
        "install_notes_give_the_connection_budget_and_what_the_autoscaler_needs",
        &[
            "--set",
            "backend.autoscaling.enabled=true",
            "--set",
            "backend.database.maxConnections=200",
        ],
    ) else {
        return;
    };
    assert!(
        notes.contains("11 pods (autoscaling.maxReplicas 10 + 1 surging in a rollout) x 13 connections (DB_POOL_SIZE 10 + DB_READ_CONNECTIONS 2 + 1 health) = 143"),
        "{notes}"
    );
    assert!(
        notes.contains("The database allows 200 (backend.database.maxConnections)"),
        "{notes}"
    );
    // Neither Kind nor EKS ships metrics-server; without it the HPA never scales.
    assert!(notes.contains("metrics-server"), "{notes}");
    assert!(
        notes.contains("kubectl get apiservice v1beta1.metrics.k8s.io"),
        "{notes}"
    );
}

/// The contract's scaling command and the chart path it names.
fn contract_scale() -> (String, String) {
    let command = e2e::contract::scale(&e2e::names::Names::for_release(e2e::RELEASE), 4);
    (command.to_string(), command.args[2].clone())
}

/// The NOTES of an install with `values/production.yaml` in namespace todo-chatbot.
fn production_notes(test: &str) -> Option<String> {
    install_notes(
        test,
        &[
            "--values",
            "values/production.yaml",
            "--namespace",
            "todo-chatbot",
        ],
    )
}

#[test]
fn production_notes_scale_with_a_command_that_keeps_the_releases_values() {
    skip_without_helm!();
    let Some(notes) =
        production_notes("production_notes_scale_with_a_command_that_keeps_the_releases_values")
    else {
        return;
    };
    let (contract, chart) = contract_scale();
    // The contract's command starts from the defaults: on this release it would bring back the
    // bundled PostgreSQL and a new Secret. It is not offered as a command to run.
    assert!(
        !notes.lines().any(|line| line.trim().starts_with(&contract)),
        "{notes}"
    );
    // With the HPA on, the replica count scales nothing: its minimum is what to raise.
    let keeping = format!(
        "helm upgrade todo-chatbot {chart} --reset-then-reuse-values --set backend.autoscaling.minReplicas=4 --namespace todo-chatbot"
    );
    assert!(
        notes.lines().any(|line| line.trim() == keeping),
        "{keeping} in {notes}"
    );
    assert!(
        notes.contains("backend.replicaCount scales nothing"),
        "{notes}"
    );
    // It says which values are at stake.
    for value in [
        "backend.existingSecret",
        "postgres.enabled=false",
        "backend.autoscaling.enabled",
        "backend.ingress.enabled",
    ] {
        assert!(notes.contains(value), "{value} in {notes}");
    }
}

#[test]
fn a_release_with_its_own_database_is_scaled_keeping_its_values() {
    skip_without_helm!();
    let Some(notes) = install_notes(
        "a_release_with_its_own_database_is_scaled_keeping_its_values",
        &[
            "--set",
            "postgres.enabled=false",
            "--set",
            "backend.existingSecret=made-elsewhere",
        ],
    ) else {
        return;
    };
    let (contract, chart) = contract_scale();
    assert!(
        notes.lines().any(|line| line.trim()
            == format!(
                "helm upgrade todo-chatbot {chart} --reset-then-reuse-values --set backend.replicaCount=4"
            )),
        "{notes}"
    );
    assert!(
        !notes.lines().any(|line| line.trim() == contract),
        "{notes}"
    );
}

#[test]
fn the_kind_defaults_are_scaled_with_the_contracts_command_as_written() {
    skip_without_helm!();
    let Some(notes) = install_notes(
        "the_kind_defaults_are_scaled_with_the_contracts_command_as_written",
        &[],
    ) else {
        return;
    };
    let (contract, _) = contract_scale();
    assert!(notes.lines().any(|line| line.trim() == contract), "{notes}");
    assert!(
        !notes.contains("a plain `helm upgrade` would undo"),
        "{notes}"
    );
}

#[test]
fn production_notes_give_the_public_address_and_no_node_port() {
    skip_without_helm!();
    let Some(notes) = production_notes("production_notes_give_the_public_address_and_no_node_port")
    else {
        return;
    };
    assert!(
        notes.contains("https://api.example.com/api/health"),
        "{notes}"
    );
    assert!(!notes.contains("localhost:30081"), "{notes}");
    assert!(
        notes.contains("Dashboard for your Grafana's sidecar: ConfigMap todo-chatbot-dashboards"),
        "{notes}"
    );
}
