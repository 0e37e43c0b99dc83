//! Scaling: topology spread, the HorizontalPodAutoscaler's bounds, the database connections the
//! replicas can hold, and the commands the release notes give for scaling.

use e2e::helm::Render;

use crate::support::{backend_deployment, pod_spec, render};

#[test]
fn topology_spread_honours_node_taints_so_a_tainted_control_plane_is_no_domain() {
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
