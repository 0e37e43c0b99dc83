//! Renders without a cluster (`helm template`, `--dry-run`, Argo CD, Flux's offline checks): the
//! chart never generates a secret it could not keep. It either renders the same bytes every time
//! or fails with one message naming every value to set (or the existing Secret to name instead).
//! These renders leave out the harness's TEST ONLY values, as a user's do.

use e2e::helm::Render;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;

use crate::golden::reproducible_render;
use crate::support::{
    backend_container, backend_deployment, client_dry_run_install, render, render_error,
    skip_without_helm,
};

/// Every value a render of the defaults without a cluster must be given, with its alternative.
const GENERATED: &[(&str, &str)] = &[
    (
        "backend.secrets.BETTER_AUTH_SECRET",
        "backend.existingSecret",
    ),
    ("postgres.password", "global.postgres.existingSecret"),
    (
        "monitoring.grafana.admin.password",
        "monitoring.grafana.admin.existingSecret",
    ),
];

fn offline() -> Render {
    Render::new().without_test_secrets()
}

/// The lines of the message that name a value to set (`  - <value> (...), or <existing> (...)`).
fn named_values(error: &str) -> Vec<String> {
    error
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_render_without_the_cluster_fails_naming_every_value_to_set() {
    skip_without_helm!();
    let error = render_error(offline());
    assert!(error.contains("templates/validate.yaml"), "{error}");
    assert!(error.contains("helm template"), "{error}");
    let named = named_values(&error);
    assert_eq!(named.len(), GENERATED.len(), "{error}");
    for ((value, existing), line) in GENERATED.iter().zip(&named) {
        assert!(
            line.starts_with(&format!("{value} (")) && line.contains(&format!(", or {existing} (")),
            "{line}"
        );
    }
    assert_eq!(
        error.matches("Error:").count(),
        1,
        "one message, not one per secret: {error}"
    );
}

#[test]
fn the_message_names_only_the_values_still_missing() {
    skip_without_helm!();
    let error = render_error(
        offline()
            .set(
                "backend.secrets.BETTER_AUTH_SECRET",
                "a-given-secret-of-more-than-32-chars",
            )
            .set("monitoring.grafana.admin.existingSecret", "grafana-admin"),
    );
    let named = named_values(&error);
    assert_eq!(named.len(), 1, "{error}");
    assert!(named[0].starts_with("postgres.password ("), "{error}");
    assert!(
        !error.contains("a-given-secret-of-more-than-32-chars"),
        "a secret is echoed: {error}"
    );
}

#[test]
fn a_disabled_part_asks_for_nothing() {
    skip_without_helm!();
    let error = render_error(
        offline()
            .set("monitoring.enabled", "false")
            .set("postgres.password", "given"),
    );
    let named = named_values(&error);
    assert_eq!(named.len(), 1, "{error}");
    assert!(
        named[0].starts_with("backend.secrets.BETTER_AUTH_SECRET ("),
        "{error}"
    );
}

#[test]
fn two_renders_of_the_same_values_are_identical_or_fail_with_the_message() {
    skip_without_helm!();
    let cases = [
        ("defaults", offline(), false),
        (
            "every secret given",
            offline()
                .set(
                    "backend.secrets.BETTER_AUTH_SECRET",
                    "a-given-secret-of-more-than-32-chars",
                )
                .set("postgres.password", "given")
                .set("monitoring.grafana.admin.password", "given"),
            true,
        ),
        (
            "every secret made elsewhere",
            offline()
                .set("backend.existingSecret", "backend-credentials")
                .set("global.postgres.existingSecret", "postgres-credentials")
                .set("monitoring.grafana.admin.existingSecret", "grafana-admin"),
            true,
        ),
        (
            "values/production.yaml",
            offline().values("values/production.yaml"),
            true,
        ),
    ];
    for (name, render, renders) in cases {
        if renders {
            let first = reproducible_render(&render);
            assert!(first.contains("kind: Deployment"), "{name}");
        } else {
            let first = render_error(render.clone());
            let second = render_error(render);
            assert_eq!(first, second, "{name}");
            assert!(
                first.contains("cannot read the release's Secrets"),
                "{name}: {first}"
            );
        }
    }
}

#[test]
fn existing_secrets_everywhere_make_the_chart_render_no_secret() {
    skip_without_helm!();
    let manifests = render(
        offline()
            .set("backend.existingSecret", "backend-credentials")
            .set("global.postgres.existingSecret", "postgres-credentials")
            .set("monitoring.grafana.admin.existingSecret", "grafana-admin"),
    );
    let secrets: Vec<String> = manifests
        .all::<Secret>()
        .into_iter()
        .filter_map(|secret| secret.metadata.name)
        .collect();
    assert!(secrets.is_empty(), "{secrets:?}");
}

#[test]
fn the_postgres_existing_secret_feeds_both_the_server_and_the_backend() {
    skip_without_helm!();
    let manifests = render(
        offline()
            .set("global.postgres.existingSecret", "postgres-credentials")
            .set("global.postgres.passwordKey", "password")
            .set(
                "backend.secrets.BETTER_AUTH_SECRET",
                "a-given-secret-of-more-than-32-chars",
            )
            .set("monitoring.grafana.admin.password", "given"),
    );
    assert!(
        manifests.find::<Secret>("todo-chatbot-postgres").is_none(),
        "the chart makes no password Secret"
    );
    let statefulset = manifests.get::<StatefulSet>("todo-chatbot-postgres");
    let volumes = statefulset
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .volumes
        .unwrap();
    let password = volumes
        .iter()
        .find(|volume| volume.name == "password")
        .and_then(|volume| volume.secret.clone())
        .expect("the password volume");
    assert_eq!(
        password.secret_name.as_deref(),
        Some("postgres-credentials")
    );
    assert_eq!(password.items.unwrap()[0].key, "password");

    let container = backend_container(&backend_deployment(&manifests));
    let reference = container
        .env
        .unwrap()
        .into_iter()
        .find(|var| var.name == "DATABASE_PASSWORD")
        .and_then(|var| var.value_from?.secret_key_ref)
        .expect("DATABASE_PASSWORD from a Secret");
    assert_eq!(reference.name, "postgres-credentials");
    assert_eq!(reference.key, "password");
}

#[test]
fn a_subchart_on_its_own_fails_naming_its_own_values() {
    skip_without_helm!();
    for (sub, value, existing) in [
        ("backend", "secrets.BETTER_AUTH_SECRET", "existingSecret"),
        ("postgres", "password", "global.postgres.existingSecret"),
        (
            "monitoring",
            "grafana.admin.password",
            "grafana.admin.existingSecret",
        ),
    ] {
        let error = render_error(offline().chart(format!("charts/todo-chatbot/charts/{sub}")));
        let named = named_values(&error);
        assert_eq!(named.len(), 1, "{sub}: {error}");
        assert!(
            named[0].starts_with(&format!("{value} ("))
                && named[0].contains(&format!(", or {existing} (")),
            "{sub}: {error}"
        );
    }
}

#[test]
fn a_client_dry_run_is_a_render_without_the_cluster_too() {
    skip_without_helm!();
    let Some(output) =
        client_dry_run_install("a_client_dry_run_is_a_render_without_the_cluster_too", &[])
    else {
        return;
    };
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(named_values(&error).len(), GENERATED.len(), "{error}");
}
