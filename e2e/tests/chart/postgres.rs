//! The bundled PostgreSQL StatefulSet.

use e2e::helm::Render;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;

use crate::support::{defaults, env_value, render, skip_without_helm};

fn statefulset() -> StatefulSet {
    defaults().get::<StatefulSet>("todo-chatbot-postgres")
}

#[test]
fn runs_one_pinned_official_postgres_15() {
    skip_without_helm!();
    let spec = statefulset().spec.unwrap();
    assert_eq!(spec.replicas, Some(1));
    let container = &spec.template.spec.unwrap().containers[0];
    let image = container.image.clone().unwrap();
    assert!(image.starts_with("postgres:15."), "{image}");
    assert!(!image.ends_with(":latest"));
}

#[test]
fn keeps_pgdata_in_a_subdirectory_of_a_persistent_volume() {
    skip_without_helm!();
    let spec = statefulset().spec.unwrap();
    let container = &spec.template.spec.as_ref().unwrap().containers[0];
    let pgdata = env_value(container, "PGDATA").unwrap();
    let mount = container
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|mount| mount.name == "data")
        .unwrap()
        .mount_path
        .clone();
    assert!(
        pgdata.starts_with(&format!("{mount}/")),
        "{pgdata} under {mount}"
    );
    let claims = spec.volume_claim_templates.unwrap();
    assert_eq!(claims[0].metadata.name.as_deref(), Some("data"));
}

#[test]
fn persistence_can_be_turned_off_for_throwaway_clusters() {
    skip_without_helm!();
    let manifests = render(Render::new().set("postgres.persistence.enabled", "false"));
    let spec = manifests
        .get::<StatefulSet>("todo-chatbot-postgres")
        .spec
        .unwrap();
    assert!(spec.volume_claim_templates.unwrap_or_default().is_empty());
    let volumes = spec.template.spec.unwrap().volumes.unwrap();
    assert!(
        volumes
            .iter()
            .any(|volume| volume.name == "data" && volume.empty_dir.is_some())
    );
}

#[test]
fn probes_run_pg_isready_without_a_shell() {
    skip_without_helm!();
    let spec = statefulset().spec.unwrap().template.spec.unwrap();
    let container = &spec.containers[0];
    for probe in [&container.readiness_probe, &container.liveness_probe] {
        let command = probe.clone().unwrap().exec.unwrap().command.unwrap();
        assert_eq!(command[0], "pg_isready");
    }
}

#[test]
fn runs_non_root_read_only_with_capabilities_dropped() {
    skip_without_helm!();
    let spec = statefulset().spec.unwrap().template.spec.unwrap();
    let pod = spec.security_context.clone().unwrap();
    assert_eq!(pod.run_as_non_root, Some(true));
    assert_eq!(pod.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let container = spec.containers[0].security_context.clone().unwrap();
    assert_eq!(container.read_only_root_filesystem, Some(true));
    assert_eq!(container.allow_privilege_escalation, Some(false));
    assert_eq!(
        container.capabilities.unwrap().drop.unwrap(),
        vec!["ALL".to_owned()]
    );
    let mounts: Vec<String> = spec.containers[0]
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .map(|m| m.mount_path)
        .collect();
    assert!(
        mounts.contains(&"/var/run/postgresql".to_owned()),
        "{mounts:?}"
    );
    assert!(mounts.contains(&"/tmp".to_owned()), "{mounts:?}");
}

#[test]
fn has_headless_and_cluster_ip_services_on_5432() {
    skip_without_helm!();
    for name in ["todo-chatbot-postgres", "todo-chatbot-postgres-headless"] {
        let spec = defaults().get::<Service>(name).spec.unwrap();
        assert_eq!(spec.ports.unwrap()[0].port, 5432, "{name}");
    }
    let headless = defaults()
        .get::<Service>("todo-chatbot-postgres-headless")
        .spec
        .unwrap();
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
}
