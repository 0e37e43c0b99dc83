//! NetworkPolicies: each pod may send and receive exactly what it needs.

use std::collections::BTreeMap;

use e2e::helm::Render;
use e2e::manifests::Manifests;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::support::{
    BACKEND, assert_dns_only, backend_deployment, defaults, ports, render, render_error,
    skip_without_helm, tcp, template_labels,
};

fn egress(manifests: &Manifests, name: &str) -> Vec<NetworkPolicyEgressRule> {
    manifests
        .get::<NetworkPolicy>(name)
        .spec
        .unwrap()
        .egress
        .unwrap_or_default()
}

/// The pod labels of the bundled PostgreSQL's StatefulSet.
fn postgres_pod_labels(manifests: &Manifests) -> BTreeMap<String, String> {
    template_labels(
        &manifests
            .get::<StatefulSet>("todo-chatbot-postgres")
            .spec
            .unwrap()
            .template,
    )
}

fn backend_pod_labels() -> BTreeMap<String, String> {
    template_labels(&backend_deployment(defaults()).spec.unwrap().template)
}

/// Does `selector` (matchLabels) pick a pod labelled `labels`?
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn with_the_bundled_postgres_the_backend_may_reach_dns_and_its_postgres_pods_only() {
    skip_without_helm!();
    let rules = egress(defaults(), BACKEND);
    // DNS, the PostgreSQL pods, and the contract's outbound HTTPS (see frontend.rs).
    assert_eq!(rules.len(), 3, "{rules:?}");
    assert_dns_only(&rules[0]);
    assert_eq!(ports(&rules[1]), [tcp(5432)]);
    let peers = rules[1].to.clone().expect("a peer, not any address");
    assert_eq!(peers.len(), 1);
    assert!(peers[0].namespace_selector.is_none() && peers[0].ip_block.is_none());
    let selector = peers[0].pod_selector.clone().unwrap().match_labels.unwrap();
    assert!(
        selects(&selector, &postgres_pod_labels(defaults())),
        "{selector:?} picks the PostgreSQL pods"
    );
    assert!(!selects(&selector, &backend_pod_labels()));
}

#[test]
fn another_service_port_of_the_bundled_postgres_still_opens_its_pod_port() {
    skip_without_helm!();
    let manifests = render(Render::new().set("global.postgres.port", "6543"));
    let rules = egress(&manifests, BACKEND);
    assert_eq!(ports(&rules[1]), [tcp(5432)], "policies see the pod port");
}

/// The chart with an external database at `url` (given as JSON: `--set` would split it at commas).
fn external(url: &str) -> Render {
    Render::new().set("postgres.enabled", "false").set_json(
        "backend.secrets.DATABASE_URL",
        &serde_json::to_string(url).unwrap(),
    )
}

#[test]
fn an_external_database_is_reached_on_its_port_on_any_or_the_given_addresses() {
    skip_without_helm!();
    let rules = egress(
        &render(external(
            "postgresql://app@db.example:5432/app?sslmode=require",
        )),
        BACKEND,
    );
    assert_eq!(rules.len(), 3, "{rules:?}");
    assert_dns_only(&rules[0]);
    assert_eq!(ports(&rules[1]), [tcp(5432)]);
    assert!(rules[1].to.is_none(), "any address: {:?}", rules[1]);

    let narrowed = external("postgresql://app@db.example:6432/app?sslmode=require").set_json(
        "backend.networkPolicy.externalDatabase.to",
        r#"[{"ipBlock":{"cidr":"10.20.0.0/16"}}]"#,
    );
    let rules = egress(&render(narrowed), BACKEND);
    assert_eq!(ports(&rules[1]), [tcp(6432)]);
    let peers = rules[1].to.clone().unwrap();
    assert_eq!(peers[0].ip_block.as_ref().unwrap().cidr, "10.20.0.0/16");
}

#[test]
fn the_database_port_is_taken_from_database_url() {
    skip_without_helm!();
    for (url, port) in [
        // Supabase's and Neon's poolers listen on 6543.
        (
            "postgresql://app:s3cret@pooler.example:6543/app?sslmode=require",
            6543,
        ),
        ("postgres://app@db.example/app?sslmode=require", 5432),
        ("postgresql://app@[2001:db8::7]:5433/app", 5433),
        (
            "postgresql://app@db.example/app?sslmode=require&port=6432",
            6432,
        ),
    ] {
        let rules = egress(&render(external(url)), BACKEND);
        assert_eq!(ports(&rules[1]), [tcp(port)], "{url}");
    }
}

#[test]
fn a_database_port_that_disagrees_with_database_url_fails_without_showing_the_url() {
    skip_without_helm!();
    let error = render_error(
        external("postgresql://app:pa55word@pooler.example:6543/app?sslmode=require")
            .set("backend.networkPolicy.externalDatabase.port", "5432"),
    );
    assert!(
        error.contains("backend.networkPolicy.externalDatabase.port (5432)")
            && error.contains("(6543)"),
        "{error}"
    );
    assert!(!error.contains("pa55word"), "the URL is echoed: {error}");
    // Agreeing is fine.
    render(
        external("postgresql://app@pooler.example:6543/app")
            .set("backend.networkPolicy.externalDatabase.port", "6543"),
    );
}

#[test]
fn a_database_url_the_service_cannot_read_fails_without_showing_it() {
    skip_without_helm!();
    for url in [
        "mysql://app:pa55word@db.example/app",
        "postgresql://app:pa55word@db.example:port/app",
        "postgresql://app:pa55word@one.example:5432,two.example:5432/app",
    ] {
        let error = render_error(external(url));
        assert!(
            error.contains("backend.secrets.DATABASE_URL"),
            "{url}: {error}"
        );
        assert!(!error.contains("pa55word"), "the URL is echoed: {error}");
    }
}

#[test]
fn with_an_existing_secret_the_port_value_opens_the_database() {
    skip_without_helm!();
    let rules = egress(
        &render(
            Render::new()
                .set("backend.existingSecret", "made-elsewhere")
                .set("backend.networkPolicy.externalDatabase.port", "6543"),
        ),
        BACKEND,
    );
    assert_eq!(ports(&rules[1]), [tcp(6543)]);
}

#[test]
fn an_existing_secret_counts_as_an_external_database() {
    skip_without_helm!();
    let rules = egress(
        &render(Render::new().set("backend.existingSecret", "made-elsewhere")),
        BACKEND,
    );
    assert_eq!(ports(&rules[1]), [tcp(5432)]);
    assert!(rules[1].to.is_none());
}

#[test]
fn nothing_else_is_open_unless_extra_egress_says_so() {
    skip_without_helm!();
    // Outbound HTTPS (the contract's, see frontend.rs) narrowed away: DNS and the database.
    let narrowed = Render::new().set("backend.networkPolicy.https.enabled", "false");
    let every_port: Vec<(String, IntOrString)> = egress(&render(narrowed.clone()), BACKEND)
        .iter()
        .flat_map(ports)
        .collect();
    assert!(!every_port.contains(&tcp(443)), "no HTTPS: {every_port:?}");

    let manifests = render(narrowed.set_json(
        "backend.networkPolicy.extraEgress",
        r#"[{"ports":[{"protocol":"TCP","port":8443}]}]"#,
    ));
    let rules = egress(&manifests, BACKEND);
    assert_eq!(rules.len(), 3);
    assert_eq!(ports(&rules[2]), [tcp(8443)]);
}

#[test]
fn the_postgres_policy_admits_the_backend_pods_on_5432() {
    skip_without_helm!();
    let policy = defaults()
        .get::<NetworkPolicy>("todo-chatbot-postgres")
        .spec
        .unwrap();
    assert!(selects(
        &policy.pod_selector.clone().unwrap().match_labels.unwrap(),
        &postgres_pod_labels(defaults())
    ));
    let ingress = policy.ingress.unwrap();
    assert_eq!(ingress.len(), 1);
    let backend_labels = backend_pod_labels();
    let from = ingress[0].from.clone().unwrap();
    assert!(from.iter().any(|peer| {
        peer.pod_selector
            .as_ref()
            .and_then(|selector| selector.match_labels.as_ref())
            .is_some_and(|labels| selects(labels, &backend_labels))
    }));
    assert_eq!(policy.egress.unwrap_or_default().len(), 0, "no egress");
}

/// Every egress rule that opens port 53, of every NetworkPolicy (test hooks included).
fn dns_rules(manifests: &Manifests) -> Vec<(String, NetworkPolicyEgressRule)> {
    manifests
        .all::<NetworkPolicy>()
        .into_iter()
        .flat_map(|policy| {
            let name = policy.metadata.name.clone().unwrap();
            policy
                .spec
                .and_then(|spec| spec.egress)
                .unwrap_or_default()
                .into_iter()
                .filter(|rule| {
                    ports(rule)
                        .iter()
                        .any(|(_, port)| *port == IntOrString::Int(53))
                })
                .map(move |rule| (name.clone(), rule))
        })
        .collect()
}

#[test]
fn every_pod_sends_dns_queries_to_the_cluster_dns_only() {
    skip_without_helm!();
    let rules = dns_rules(defaults());
    // The backend, Prometheus and Grafana, and the test pods of the API, PostgreSQL, Prometheus
    // and Grafana.
    assert_eq!(rules.len(), 7, "{rules:?}");
    for (name, rule) in &rules {
        assert_dns_only(rule);
        assert!(!name.is_empty());
    }
}

#[test]
fn the_cluster_dns_can_be_named_or_opened_to_any_address() {
    skip_without_helm!();
    // NodeLocal DNSCache answers on a link-local address on every node.
    let node_local = render(Render::new().set_json(
        "global.dns.to",
        r#"[{"ipBlock":{"cidr":"169.254.20.10/32"}}]"#,
    ));
    let rules = dns_rules(&node_local);
    assert_eq!(rules.len(), 7);
    for (name, rule) in &rules {
        let peers = rule.to.clone().unwrap();
        assert_eq!(
            peers[0].ip_block.as_ref().map(|block| block.cidr.as_str()),
            Some("169.254.20.10/32"),
            "{name}"
        );
    }
    let anywhere = render(Render::new().set_json("global.dns.to", "[]"));
    for (name, rule) in dns_rules(&anywhere) {
        assert!(rule.to.is_none(), "{name}: {rule:?}");
    }
}

/// The ingress rules of the backend's policy.
fn backend_ingress(manifests: &Manifests) -> Vec<NetworkPolicyIngressRule> {
    manifests
        .get::<NetworkPolicy>(BACKEND)
        .spec
        .unwrap()
        .ingress
        .unwrap()
}

/// Does some peer of `rule` admit pods labelled `labels` (of the release's namespace)?
fn admits(rule: &NetworkPolicyIngressRule, labels: &BTreeMap<String, String>) -> bool {
    rule.from.as_ref().is_some_and(|peers| {
        peers.iter().any(|peer| {
            peer.namespace_selector.is_none()
                && peer.ip_block.is_none()
                && peer
                    .pod_selector
                    .as_ref()
                    .and_then(|selector| selector.match_labels.as_ref())
                    .is_some_and(|selector| selects(selector, labels))
        })
    })
}

#[test]
fn by_default_the_api_port_is_open_to_any_source() {
    skip_without_helm!();
    let rules = backend_ingress(defaults());
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert!(rules[0].from.is_none(), "any source: {rules:?}");
    assert_eq!(
        rules[0].ports.clone().unwrap()[0].port,
        Some(IntOrString::Int(8000))
    );
}

#[test]
fn narrowing_ingress_keeps_the_scrapes_and_the_helm_test_pod() {
    skip_without_helm!();
    let ingress_controller = r#"[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}]"#;
    let operator_prometheus = r#"[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}},"podSelector":{"matchLabels":{"app.kubernetes.io/name":"prometheus"}}}]"#;
    let manifests = render(
        Render::new()
            .set_json("backend.networkPolicy.ingressFrom", ingress_controller)
            .set_json("backend.networkPolicy.metricsFrom", operator_prometheus),
    );
    let rules = backend_ingress(&manifests);
    let every_peer: Vec<NetworkPolicyPeer> = rules
        .iter()
        .flat_map(|rule| rule.from.clone().expect("no rule admits any source"))
        .collect();
    let port_of = |rule: &NetworkPolicyIngressRule| rule.ports.clone().unwrap()[0].port.clone();
    assert!(
        rules
            .iter()
            .all(|rule| port_of(rule) == Some(IntOrString::Int(8000)))
    );
    // The given peers: the ingress controller and the operator's Prometheus.
    for given in [ingress_controller, operator_prometheus] {
        let given: Vec<NetworkPolicyPeer> = serde_json::from_str(given).unwrap();
        assert!(
            every_peer.contains(&given[0]),
            "{given:?} in {every_peer:?}"
        );
    }
    // This release's Prometheus and its `helm test` pod, by their pods' labels.
    let names = e2e::names::Names::for_release(e2e::RELEASE);
    let prometheus = template_labels(
        &manifests
            .get::<Deployment>(&names.prometheus)
            .spec
            .unwrap()
            .template,
    );
    let test_pod = template_labels(
        &manifests
            .get::<Job>("todo-chatbot-backend-test-health")
            .spec
            .unwrap()
            .template,
    );
    for (what, labels) in [
        ("Prometheus", &prometheus),
        ("the helm test pod", &test_pod),
    ] {
        assert!(
            rules.iter().any(|rule| admits(rule, labels)),
            "{what} is admitted: {rules:?}"
        );
    }
    // Grafana is not.
    let grafana = template_labels(
        &manifests
            .get::<Deployment>(&names.grafana)
            .spec
            .unwrap()
            .template,
    );
    assert!(!rules.iter().any(|rule| admits(rule, &grafana)));
}
