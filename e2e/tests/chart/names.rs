//! The harness's object names (`e2e::names`) are the ones the charts render, for the contract's
//! release and for any other.

use e2e::helm::Render;
use e2e::manifests::Manifests;
use e2e::names::Names;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};

use crate::support::{render, skip_without_helm};

fn assert_names_rendered(names: &Names, manifests: &Manifests) {
    manifests.get::<Deployment>(&names.backend);
    manifests.get::<Service>(&names.backend);
    manifests.get::<Secret>(&names.backend_secret);
    manifests.get::<ConfigMap>(&names.backend_config);
    manifests.get::<StatefulSet>(&names.postgres);
    manifests.get::<Service>(&names.postgres);
    manifests.get::<Deployment>(&names.prometheus);
    manifests.get::<Deployment>(&names.grafana);
}

fn selects_the_backend_pods(names: &Names, manifests: &Manifests) {
    let labels = manifests
        .get::<Deployment>(&names.backend)
        .spec
        .and_then(|spec| spec.template.metadata)
        .and_then(|metadata| metadata.labels)
        .unwrap();
    for pair in names.backend_pods().split(',') {
        let (key, value) = pair.split_once('=').unwrap();
        assert_eq!(labels.get(key).map(String::as_str), Some(value), "{key}");
    }
}

#[test]
fn harness_names_match_the_rendered_objects_of_the_contracts_release() {
    skip_without_helm!();
    let names = Names::for_release(e2e::RELEASE);
    let manifests = render(Render::new().set("monitoring.enabled", "true"));
    assert_names_rendered(&names, &manifests);
    selects_the_backend_pods(&names, &manifests);
}

#[test]
fn harness_names_match_the_rendered_objects_of_another_release() {
    skip_without_helm!();
    let names = Names::for_release("shop");
    let manifests = render(
        Render::new()
            .release("shop")
            .set("monitoring.enabled", "true"),
    );
    assert_names_rendered(&names, &manifests);
    selects_the_backend_pods(&names, &manifests);
}
