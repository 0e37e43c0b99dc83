//! The chart's defaults are the settings of the repository's Kind cluster, so the deployment
//! contract's scaling command, which starts from the defaults again, changes the replica count
//! and nothing else (issue 11, defect 9). On the cluster the generated secrets are kept with
//! `lookup`; here the TEST ONLY values stand in for them, so both renders carry the same.

use std::collections::BTreeSet;
use std::fs;

use e2e::contract;
use e2e::helm::Render;
use e2e::manifests::changes;
use e2e::names::Names;
use e2e::repo_root;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;

use crate::support::{backend_container, backend_deployment, defaults, render, skip_without_helm};

#[test]
fn the_contracts_scaling_command_changes_the_replica_count_only() {
    skip_without_helm!();
    let names = Names::for_release(e2e::RELEASE);
    let command = contract::scale(&names, 4);
    let (key, value) = command.args[4].split_once('=').unwrap();
    assert_eq!(command.args[3], "--set");
    let scaled = render(Render::new().set(key, value));
    assert_eq!(
        changes(defaults(), &scaled),
        [format!(
            "Deployment {}: spec.replicas: 2 -> 4",
            names.backend
        )],
        "`{command}` on a release of the defaults"
    );
}

#[test]
fn defaults_run_the_image_make_kind_up_loads_without_pulling_it() {
    skip_without_helm!();
    let container = backend_container(&backend_deployment(defaults()));
    assert_eq!(
        container.image.as_deref(),
        Some("todo-chatbot-backend:latest")
    );
    // Kind's docs: with :latest the Kubernetes default policy is Always, so a side-loaded image
    // needs IfNotPresent (or Never) spelled out.
    assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
}

#[test]
fn monitoring_is_on_by_default() {
    skip_without_helm!();
    let names = Names::for_release(e2e::RELEASE);
    defaults().get::<Deployment>(&names.prometheus);
    defaults().get::<Deployment>(&names.grafana);
}

#[test]
fn default_node_ports_are_exactly_the_ones_the_kind_cluster_maps() {
    skip_without_helm!();
    let cluster: serde_json::Value =
        serde_saphyr::from_str(&fs::read_to_string(repo_root().join("kind/cluster.yaml")).unwrap())
            .unwrap();
    let mapped: BTreeSet<i64> = cluster["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|node| {
            node["extraPortMappings"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|mapping| mapping["containerPort"].as_i64().unwrap())
        .collect();
    let node_ports: BTreeSet<i64> = defaults()
        .all::<Service>()
        .into_iter()
        .flat_map(|service| service.spec.unwrap().ports.unwrap_or_default())
        .filter_map(|port| port.node_port.map(i64::from))
        .collect();
    assert_eq!(node_ports, mapped);
    assert!(node_ports.contains(&30081));
}
