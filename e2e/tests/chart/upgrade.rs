//! Upgrades that change what they say and nothing else. A plain render cannot show this: the
//! chart generates its secrets at install and reads them back with `lookup` on every upgrade, so
//! the upgrade's render depends on what the install left in the cluster. Here the install is
//! rendered against an empty fake API (`helm template --dry-run=server`), its objects are then
//! held by the fake as the cluster would hold them, and the upgrades are rendered against that:
//!
//! - the same values again render the install byte for byte (no pod restarts on a no-op upgrade);
//! - the contract's scaling command changes `spec.replicas` of the backend and nothing else;
//! - the generated secrets keep the values the install generated.
//!
//! These renders leave out the harness's TEST ONLY secrets, as a user's install does, so the
//! chart really generates. The fake cluster also keeps the API server's `kubernetes`
//! EndpointSlice, so the renders read it as on a real cluster (the Prometheus NetworkPolicy's
//! egress to the API server) and an upgrade must read it the same way.

use std::sync::OnceLock;

use e2e::commands::CommandLine;
use e2e::helm::Render;
use e2e::manifests::{Manifests, changes};
use e2e::names::Names;
use e2e::{NAMESPACE, RELEASE, contract};
use k8s_openapi::api::core::v1::Secret;

use crate::fake_api::{FakeApi, endpoint_slice};
use crate::support::skip_without_helm;

/// The fake cluster's API server, as its `kubernetes` EndpointSlice gives it (a Kind control
/// plane's node address and port).
const API_SERVER: (&str, i32) = ("172.18.0.2", 6443);

/// The install, rendered against an empty cluster, and the fake API now holding its objects.
struct Installed {
    api: FakeApi,
    manifests: String,
}

fn installed() -> &'static Installed {
    static INSTALLED: OnceLock<Installed> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let api = FakeApi::start();
        let (address, port) = API_SERVER;
        api.keep(&endpoint_slice("kubernetes", &[address], port));
        let manifests = Render::new()
            .without_test_secrets()
            .against(api.kubeconfig())
            .output()
            .unwrap_or_else(|error| panic!("the install renders: {error:#}"));
        // Else the upgrades below would not show that the lookup gives the same answer twice.
        assert!(
            manifests.contains(&format!("cidr: {address}/32")),
            "the install did not read the API server's EndpointSlice:\n{manifests}"
        );
        api.hold(&parse(&manifests), RELEASE, NAMESPACE);
        Installed { api, manifests }
    })
}

fn parse(text: &str) -> Manifests {
    Manifests::parse(text).expect("a YAML stream")
}

/// `render` as an upgrade of the install: against the fake API holding the install's objects.
fn upgrade(render: Render) -> String {
    let installed = installed();
    let rendered = render
        .without_test_secrets()
        .against(installed.api.kubeconfig())
        .as_upgrade()
        .output()
        .unwrap_or_else(|error| panic!("the upgrade renders: {error:#}"));
    let unexpected = installed.api.unexpected();
    assert!(
        unexpected.is_empty(),
        "Helm asked the fake API what it does not answer: {unexpected:?}"
    );
    rendered
}

/// The contract's scaling command as a render: its release, chart path and `--set`, as written.
fn contract_scaling() -> Render {
    let command: CommandLine = contract::scale(&Names::for_release(RELEASE), 4);
    let [verb, release, chart, flag, value] = command.args.as_slice() else {
        panic!("unexpected shape of `{command}`");
    };
    assert_eq!((verb.as_str(), flag.as_str()), ("upgrade", "--set"));
    let (key, value) = value.split_once('=').expect("key=value");
    Render::new().release(release).chart(chart).set(key, value)
}

fn secret_data(manifests: &Manifests) -> Vec<(String, String, String)> {
    let mut data = Vec::new();
    for secret in manifests.all::<Secret>() {
        let name = secret.metadata.name.unwrap_or_default();
        for (key, value) in secret.data.unwrap_or_default() {
            data.push((
                name.clone(),
                key,
                String::from_utf8(value.0).expect("UTF-8"),
            ));
        }
    }
    data
}

#[test]
fn an_upgrade_with_the_same_values_renders_the_install_again() {
    skip_without_helm!();
    let installed = installed();
    let again = upgrade(Render::new());
    let changed = changes(&parse(&installed.manifests), &parse(&again));
    assert!(
        changed.is_empty(),
        "`helm upgrade` with the install's values would change (and restart pods):\n  {}",
        changed.join("\n  ")
    );
    assert_eq!(
        again, installed.manifests,
        "the text differs (order or formatting)"
    );
}

#[test]
fn the_contracts_scaling_command_changes_the_replica_count_only() {
    skip_without_helm!();
    let scaled = upgrade(contract_scaling());
    let changed = changes(&parse(&installed().manifests), &parse(&scaled));
    assert_eq!(
        changed,
        ["Deployment todo-chatbot-backend: spec.replicas: 2 -> 4"],
        "`{}` changes more than the replica count",
        contract::scale(&Names::for_release(RELEASE), 4)
    );
}

#[test]
fn generated_secrets_keep_the_values_the_install_generated() {
    skip_without_helm!();
    let installed = installed();
    let generated = secret_data(&parse(&installed.manifests));
    // The install generated them: none is a TEST ONLY value, and each has its length.
    for (secret, key, length) in [
        ("todo-chatbot-backend-secret", "BETTER_AUTH_SECRET", 48),
        ("todo-chatbot-postgres", "POSTGRES_PASSWORD", 32),
        ("todo-chatbot-grafana", "admin-password", 32),
    ] {
        let value = generated
            .iter()
            .find(|(s, k, _)| s == secret && k == key)
            .map(|(_, _, value)| value)
            .unwrap_or_else(|| panic!("the install has no {secret} {key}"));
        assert_eq!(value.len(), length, "{secret} {key}: {value:?}");
        assert!(!value.contains("test-only"), "{secret} {key} was given");
    }
    for render in [Render::new(), contract_scaling()] {
        assert_eq!(secret_data(&parse(&upgrade(render))), generated);
    }
}

#[test]
fn a_secret_given_at_an_upgrade_replaces_the_generated_one_and_rolls_its_pods() {
    skip_without_helm!();
    let given = "a-given-secret-of-more-than-32-characters!";
    let upgraded = upgrade(Render::new().set("backend.secrets.BETTER_AUTH_SECRET", given));
    let changed = changes(&parse(&installed().manifests), &parse(&upgraded));
    // `Kind name: path: old -> new`, without the values (one of them is a secret).
    let fields: Vec<String> = changed
        .iter()
        .map(|line| line.splitn(3, ": ").take(2).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        fields,
        [
            "Secret todo-chatbot-backend-secret: data.BETTER_AUTH_SECRET",
            "Deployment todo-chatbot-backend: spec.template.metadata.annotations.checksum/secret",
        ],
        "the upgrade changes other things, or not these"
    );
}
