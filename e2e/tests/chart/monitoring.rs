//! The monitoring chart's objects as rendered (its Prometheus config, rules and dashboard are
//! checked by `tests/monitoring.rs`).

use e2e::monitoring::MonitoringFiles;
use e2e::names::Names;
use k8s_openapi::api::rbac::v1::Role;

use crate::support::defaults;

fn names() -> Names {
    Names::for_release(e2e::RELEASE)
}

#[test]
fn prometheus_may_list_and_watch_pods_of_its_namespace_and_nothing_else() {
    // The backend job's discovery is `role: pod` in the release namespace: a pod informer, which
    // lists and watches pods there (Prometheus 3.5, discovery/kubernetes).
    let files = MonitoringFiles::from_render(defaults(), &names()).unwrap();
    let config = files.config().unwrap();
    let discovery = &config.job("backend").unwrap()["kubernetes_sd_configs"];
    assert_eq!(discovery[0]["role"], "pod", "{discovery}");
    assert!(discovery[0].get("attach_metadata").is_none(), "{discovery}");

    let role = defaults().get::<Role>(&names().prometheus);
    assert_eq!(
        role.metadata.namespace.as_deref(),
        Some(e2e::NAMESPACE),
        "a Role of the release namespace"
    );
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].api_groups.as_deref(), Some(&[String::new()][..]));
    assert_eq!(
        rules[0].resources.as_deref(),
        Some(&["pods".to_owned()][..])
    );
    assert_eq!(
        rules[0].verbs,
        ["list".to_owned(), "watch".to_owned()],
        "no get: informers only list and watch"
    );
    assert!(rules[0].resource_names.is_none());
}
