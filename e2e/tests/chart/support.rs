use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::sync::OnceLock;

use e2e::helm::{Render, helm_binary};
use e2e::manifests::Manifests;
use e2e::repo_root;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::api::networking::v1::{NetworkPolicyEgressRule, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const BACKEND: &str = "todo-chatbot-backend";

/// The chart rendered with its defaults (rendered once per test binary).
pub fn defaults() -> &'static Manifests {
    static RENDERED: OnceLock<Manifests> = OnceLock::new();
    RENDERED.get_or_init(|| {
        Render::new()
            .run()
            .expect("the chart renders with its defaults")
    })
}

/// `helm install todo-chatbot charts/todo-chatbot --dry-run=client` in the release namespace,
/// plus `args`; None (the test is skipped, saying so) with Helm 3, whose install --dry-run needs
/// a reachable cluster (the Helm 4 pass of `make test` runs it).
pub fn client_dry_run_install(test: &str, args: &[&str]) -> Option<Output> {
    if e2e::helm::is_helm3() {
        testkit::skip::skipped(test, "Helm 3 needs a cluster for install --dry-run");
        return None;
    }
    let output = Command::new(helm_binary())
        .current_dir(repo_root())
        .args([
            "install",
            "todo-chatbot",
            "charts/todo-chatbot",
            "--namespace",
            e2e::NAMESPACE,
            "--dry-run=client",
        ])
        .args(args)
        .output()
        .expect("helm runs");
    Some(output)
}

/// The NOTES `helm install --dry-run=client` prints with the harness's TEST ONLY values and
/// `args`; None (the test is skipped, saying so) with Helm 3, which needs a cluster for it.
pub fn install_notes(test: &str, args: &[&str]) -> Option<String> {
    // A client dry run cannot keep generated secrets: the harness's TEST ONLY values.
    let args = [&["--values", e2e::helm::TEST_SECRETS], args].concat();
    let output = client_dry_run_install(test, &args)?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let notes = String::from_utf8_lossy(&output.stdout);
    Some(
        notes
            .split("NOTES:")
            .nth(1)
            .expect("NOTES are printed")
            .to_owned(),
    )
}

pub fn render(render: Render) -> Manifests {
    render.run().unwrap_or_else(|error| panic!("{error:#}"))
}

/// Renders and expects failure; returns Helm's error output.
pub fn render_error(render: Render) -> String {
    let output = render.command().output().expect("helm runs");
    assert!(!output.status.success(), "rendering should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn backend_deployment(manifests: &Manifests) -> Deployment {
    manifests.get::<Deployment>(BACKEND)
}

/// The labels of the pods a template makes.
pub fn template_labels(template: &PodTemplateSpec) -> BTreeMap<String, String> {
    template.metadata.clone().unwrap().labels.unwrap()
}

/// `(protocol, port)` of every port of an egress rule.
pub fn ports(rule: &NetworkPolicyEgressRule) -> Vec<(String, IntOrString)> {
    rule.ports
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|port| (port.protocol.unwrap_or_default(), port.port.unwrap()))
        .collect()
}

/// Is `peer` the cluster DNS: the pods labelled `k8s-app: kube-dns` (CoreDNS keeps kube-dns's
/// label) in namespace kube-system?
pub fn is_cluster_dns(peer: &NetworkPolicyPeer) -> bool {
    let labels = |selector: &Option<LabelSelector>| {
        selector
            .as_ref()
            .and_then(|selector| selector.match_labels.clone())
            .unwrap_or_default()
    };
    peer.ip_block.is_none()
        && labels(&peer.namespace_selector)
            == BTreeMap::from([(
                "kubernetes.io/metadata.name".to_owned(),
                "kube-system".to_owned(),
            )])
        && labels(&peer.pod_selector)
            == BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())])
}

/// Asserts that `rule` is the DNS rule: UDP and TCP 53 to the cluster DNS only.
pub fn assert_dns_only(rule: &NetworkPolicyEgressRule) {
    assert_eq!(
        ports(rule),
        [("UDP".to_owned(), IntOrString::Int(53)), tcp(53)],
        "{rule:?}"
    );
    let peers = rule.to.clone().unwrap_or_default();
    assert!(
        peers.len() == 1 && is_cluster_dns(&peers[0]),
        "DNS to the cluster DNS only: {rule:?}"
    );
}

pub fn tcp(port: i32) -> (String, IntOrString) {
    ("TCP".to_owned(), IntOrString::Int(port))
}

pub fn pod_spec(deployment: &Deployment) -> PodSpec {
    deployment
        .spec
        .clone()
        .and_then(|spec| spec.template.spec)
        .expect("a pod template")
}

pub fn backend_container(deployment: &Deployment) -> Container {
    pod_spec(deployment)
        .containers
        .into_iter()
        .find(|container| container.name == "backend")
        .expect("a container named backend")
}

/// The value of env var `name` of a container, if set literally.
pub fn env_value(container: &Container, name: &str) -> Option<String> {
    container
        .env
        .as_ref()?
        .iter()
        .find(|var| var.name == name)
        .and_then(|var| var.value.clone())
}

/// The annotations of the backend's pod template.
pub fn pod_annotations(manifests: &Manifests) -> std::collections::BTreeMap<String, String> {
    backend_deployment(manifests)
        .spec
        .and_then(|spec| spec.template.metadata)
        .and_then(|metadata| metadata.annotations)
        .unwrap_or_default()
}

/// Every test that renders starts with it.
pub use e2e::skip_without_helm;
