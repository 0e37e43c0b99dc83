//! The names of the release's objects, derived from the release name the way the charts derive
//! them, so the harness names each object once (the chart tests check the two agree).

/// Every object name and label selector the harness uses, for one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub release: String,
    /// Deployment, Service, NetworkPolicy and HPA of the API (`backend.fullname`).
    pub backend: String,
    /// The backend's Secret (`backend.secretName` without `existingSecret`).
    pub backend_secret: String,
    /// The backend's ConfigMap (`backend.configMapName`).
    pub backend_config: String,
    /// StatefulSet, Service and password Secret of the bundled PostgreSQL.
    pub postgres: String,
    /// Deployment and Service of the monitoring chart's Prometheus.
    pub prometheus: String,
    /// Deployment and Service of the monitoring chart's Grafana.
    pub grafana: String,
}

/// Kubernetes names are at most 63 characters; the charts cut them there and drop one trailing
/// dash (`trunc 63 | trimSuffix "-"`, as `helm create` helpers do).
fn dns_label(name: &str) -> String {
    let cut: String = name.chars().take(63).collect();
    cut.strip_suffix('-').unwrap_or(&cut).to_owned()
}

impl Names {
    pub fn for_release(release: &str) -> Names {
        // backend.fullname: a release name that already contains the chart name is used as is.
        let backend = if release.contains("backend") {
            dns_label(release)
        } else {
            dns_label(&format!("{release}-backend"))
        };
        Names {
            release: release.to_owned(),
            backend_secret: dns_label(&format!("{backend}-secret")),
            backend_config: dns_label(&format!("{backend}-config")),
            backend,
            postgres: dns_label(&format!("{release}-postgres")),
            prometheus: dns_label(&format!("{release}-prometheus")),
            grafana: dns_label(&format!("{release}-grafana")),
        }
    }

    /// The release's API pods: what the Service, the monitoring and the harness select (the
    /// `helm test` pod has component `backend-test`, so it is never among them).
    pub fn backend_pods(&self) -> String {
        format!(
            "app.kubernetes.io/component=backend,app.kubernetes.io/instance={}",
            self.release
        )
    }

    /// Every pod of the release (for the failure bundle).
    pub fn release_pods(&self) -> String {
        format!("app.kubernetes.io/instance={}", self.release)
    }

    /// The backend Service's name inside the cluster, as the contract gives it for the frontend
    /// (`todo-chatbot-backend.default.svc.cluster.local:8000`).
    pub fn backend_service_address(&self, namespace: &str, port: u16) -> String {
        format!("{}.{namespace}.svc.cluster.local:{port}", self.backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contracts_release_gives_the_contracts_names() {
        let names = Names::for_release("todo-chatbot");
        assert_eq!(names.backend, "todo-chatbot-backend");
        assert_eq!(names.backend_secret, "todo-chatbot-backend-secret");
        assert_eq!(names.backend_config, "todo-chatbot-backend-config");
        assert_eq!(names.postgres, "todo-chatbot-postgres");
        assert_eq!(names.prometheus, "todo-chatbot-prometheus");
        assert_eq!(names.grafana, "todo-chatbot-grafana");
        assert_eq!(
            names.backend_pods(),
            "app.kubernetes.io/component=backend,app.kubernetes.io/instance=todo-chatbot"
        );
        assert_eq!(
            names.backend_service_address("default", 8000),
            "todo-chatbot-backend.default.svc.cluster.local:8000"
        );
    }

    #[test]
    fn names_follow_another_release_name() {
        let names = Names::for_release("shop");
        assert_eq!(names.backend, "shop-backend");
        assert_eq!(names.backend_secret, "shop-backend-secret");
        assert_eq!(names.postgres, "shop-postgres");
        assert_eq!(names.release_pods(), "app.kubernetes.io/instance=shop");
    }

    #[test]
    fn a_release_named_like_the_chart_is_not_repeated() {
        assert_eq!(Names::for_release("my-backend").backend, "my-backend");
    }

    #[test]
    fn long_names_are_cut_at_63_characters_without_a_trailing_dash() {
        // "<60 a>-x-backend" cut at 63 ends in "-x-"; the dash goes.
        let release = format!("{}-x", "a".repeat(60));
        assert_eq!(Names::for_release(&release).backend, release);
        let release = "b".repeat(55);
        // "<55 b>-backend" is 63; "-secret" is then cut away entirely, dash included.
        let names = Names::for_release(&release);
        assert_eq!(names.backend, format!("{release}-backend"));
        assert_eq!(names.backend_secret, names.backend);
    }
}
