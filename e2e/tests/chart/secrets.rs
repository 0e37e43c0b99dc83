//! Secrets done right: existing Secrets, the bundled database's identity, the JWT secret.

use std::collections::BTreeMap;

use e2e::helm::Render;
use e2e::manifests::{Manifests, changes};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Secret, Service};

use crate::support::{
    backend_container, backend_deployment, defaults, env_value, pod_annotations, render,
    render_error, skip_without_helm,
};

fn secret_text(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().unwrap()[key].0.clone()).unwrap()
}

#[test]
fn existing_secret_replaces_the_charts_secret() {
    skip_without_helm!();
    let manifests = render(Render::new().set("backend.existingSecret", "made-elsewhere"));
    assert!(
        manifests
            .find::<Secret>("todo-chatbot-backend-secret")
            .is_none()
    );
    let container = backend_container(&backend_deployment(&manifests));
    for var in container.env.unwrap() {
        if let Some(reference) = var.value_from.and_then(|from| from.secret_key_ref)
            && ["DATABASE_URL", "BETTER_AUTH_SECRET"].contains(&var.name.as_str())
        {
            assert_eq!(reference.name, "made-elsewhere", "{}", var.name);
        }
    }
    let annotations = pod_annotations(&manifests);
    assert!(!annotations.contains_key("checksum/secret"));
}

#[test]
fn default_database_url_points_at_the_bundled_postgres_with_its_own_password_secret() {
    skip_without_helm!();
    let manifests = defaults();
    let secret = manifests.get::<Secret>("todo-chatbot-backend-secret");
    let url = secret_text(&secret, "DATABASE_URL");
    assert_eq!(
        url,
        "postgresql://todo@todo-chatbot-postgres:5432/todo?sslmode=disable"
    );
    assert!(manifests.find::<Service>("todo-chatbot-postgres").is_some());

    let container = backend_container(&backend_deployment(manifests));
    let password = container
        .env
        .unwrap()
        .into_iter()
        .find(|var| var.name == "DATABASE_PASSWORD")
        .unwrap();
    let reference = password.value_from.unwrap().secret_key_ref.unwrap();
    assert_eq!(reference.name, "todo-chatbot-postgres");
    let postgres_secret = manifests.get::<Secret>("todo-chatbot-postgres");
    assert!(
        postgres_secret.data.unwrap().contains_key(&reference.key),
        "the key the backend reads exists"
    );
}

#[test]
fn global_postgres_identity_is_the_one_source_for_both_charts() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("global.postgres.database", "orders")
            .set("global.postgres.username", "shop"),
    );
    let url = secret_text(
        &manifests.get::<Secret>("todo-chatbot-backend-secret"),
        "DATABASE_URL",
    );
    assert_eq!(
        url,
        "postgresql://shop@todo-chatbot-postgres:5432/orders?sslmode=disable"
    );
    let statefulset = manifests.get::<StatefulSet>("todo-chatbot-postgres");
    let container = &statefulset.spec.unwrap().template.spec.unwrap().containers[0];
    assert_eq!(
        env_value(container, "POSTGRES_USER").as_deref(),
        Some("shop")
    );
    assert_eq!(
        env_value(container, "POSTGRES_DB").as_deref(),
        Some("orders")
    );
}

#[test]
fn given_database_url_is_used_as_is_without_the_bundled_password() {
    skip_without_helm!();
    let url = "postgresql://app@db.example:5432/app?sslmode=require";
    let manifests = render(
        Render::new()
            .set("postgres.enabled", "false")
            .set("backend.secrets.DATABASE_URL", url),
    );
    assert_eq!(
        secret_text(
            &manifests.get::<Secret>("todo-chatbot-backend-secret"),
            "DATABASE_URL"
        ),
        url
    );
    assert!(
        manifests
            .find::<StatefulSet>("todo-chatbot-postgres")
            .is_none()
    );
    let container = backend_container(&backend_deployment(&manifests));
    assert!(
        !container
            .env
            .unwrap()
            .iter()
            .any(|var| var.name == "DATABASE_PASSWORD")
    );
}

#[test]
fn given_auth_secret_is_used() {
    skip_without_helm!();
    let secret = "a-given-secret-of-more-than-32-characters!";
    let manifests = render(Render::new().set("backend.secrets.BETTER_AUTH_SECRET", secret));
    assert_eq!(
        secret_text(
            &manifests.get::<Secret>("todo-chatbot-backend-secret"),
            "BETTER_AUTH_SECRET"
        ),
        secret
    );
}

#[test]
fn auth_secret_shorter_than_32_characters_fails_with_a_clear_message() {
    skip_without_helm!();
    let error = render_error(Render::new().set("backend.secrets.BETTER_AUTH_SECRET", "too-short"));
    assert!(error.contains("BETTER_AUTH_SECRET"), "{error}");
    assert!(error.contains("32"), "{error}");
    assert!(
        !error.contains("too-short"),
        "the secret is echoed: {error}"
    );
}

#[test]
fn postgres_disabled_without_a_database_url_fails_with_a_clear_message() {
    skip_without_helm!();
    let error = render_error(Render::new().set("postgres.enabled", "false"));
    assert!(
        error.contains("DATABASE_URL") && error.contains("existingSecret"),
        "{error}"
    );
}

#[test]
fn postgres_password_secret_survives_uninstall() {
    skip_without_helm!();
    let secret = defaults().get::<Secret>("todo-chatbot-postgres");
    let annotations = secret.metadata.annotations.unwrap();
    assert_eq!(annotations["helm.sh/resource-policy"], "keep");
}

#[test]
fn given_postgres_and_grafana_passwords_are_used_as_they_are() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("postgres.password", "pg-given")
            .set("monitoring.grafana.admin.password", "grafana-given"),
    );
    assert_eq!(
        secret_text(
            &manifests.get::<Secret>("todo-chatbot-postgres"),
            "POSTGRES_PASSWORD"
        ),
        "pg-given"
    );
    assert_eq!(
        secret_text(
            &manifests.get::<Secret>("todo-chatbot-grafana"),
            "admin-password"
        ),
        "grafana-given"
    );
}

// -- Rotation: Secrets that change outside Helm ----------------------------------------------

fn deployment_annotations(manifests: &Manifests) -> BTreeMap<String, String> {
    backend_deployment(manifests)
        .metadata
        .annotations
        .unwrap_or_default()
}

#[test]
fn the_reloader_annotation_names_every_secret_the_pods_read() {
    skip_without_helm!();
    const RELOAD: &str = "secret.reloader.stakater.com/reload";
    assert!(!deployment_annotations(defaults()).contains_key(RELOAD));
    let existing = render(
        Render::new()
            .set("backend.existingSecret", "made-elsewhere")
            .set("backend.secretRotation.reloader", "true"),
    );
    assert_eq!(deployment_annotations(&existing)[RELOAD], "made-elsewhere");
    // With the bundled PostgreSQL the pods also read its password Secret.
    let bundled = render(Render::new().set("backend.secretRotation.reloader", "true"));
    assert_eq!(
        deployment_annotations(&bundled)[RELOAD],
        "todo-chatbot-backend-secret,todo-chatbot-postgres"
    );
    // On the Deployment, which Reloader watches, not on the pods.
    assert!(!pod_annotations(&bundled).contains_key(RELOAD));
}

#[test]
fn deployment_annotations_stay_off_the_pod_template() {
    skip_without_helm!();
    let manifests = render(Render::new().set(
        "backend.deploymentAnnotations.example\\.com/owner",
        "team-a",
    ));
    assert_eq!(
        deployment_annotations(&manifests)["example.com/owner"],
        "team-a"
    );
    assert_eq!(
        changes(defaults(), &manifests),
        [
            "Deployment todo-chatbot-backend: metadata.annotations.example.com/owner: null -> \"team-a\""
        ]
    );
}

#[test]
fn a_rotation_id_in_pod_annotations_rolls_the_pods() {
    skip_without_helm!();
    let rotated = render(Render::new().set_string(
        "backend.podAnnotations.todo-chatbot/secret-rotation",
        "2025-06-01",
    ));
    assert_eq!(
        changes(defaults(), &rotated),
        [
            "Deployment todo-chatbot-backend: spec.template.metadata.annotations.todo-chatbot/secret-rotation: null -> \"2025-06-01\""
        ]
    );
}
