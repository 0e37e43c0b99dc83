//! What the monitoring chart gives Prometheus and Grafana, taken out of a render: the scrape
//! config, the alert rules, the dashboard and its datasources, and the rewrites that let a
//! Prometheus or `promtool` outside a cluster use them (`tests/monitoring.rs` checks them, the
//! `promtool-inputs` binary writes them for `ci/test-monitoring.sh`).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use crate::helm::Render;
use crate::manifests::Manifests;
use crate::names::Names;
use crate::{RELEASE, repo_root};

/// Where the chart's Prometheus pod mounts its rules (`rule_files` must point there).
pub const RULES_GLOB: &str = "/etc/prometheus/rules/*.yaml";

/// The monitoring files of one render, as the pods get them from their ConfigMaps.
#[derive(Debug, Clone)]
pub struct MonitoringFiles {
    /// `prometheus.yml` of the Prometheus ConfigMap.
    pub prometheus_yml: String,
    /// `alerts.yaml` of the Prometheus ConfigMap (a Prometheus rules file).
    pub alerts: String,
    /// `backend-dashboard.json` of the Grafana ConfigMap.
    pub dashboard: String,
    /// `datasources.yaml` of the Grafana ConfigMap (Grafana provisioning).
    pub datasources: String,
}

impl MonitoringFiles {
    /// The files of the chart's defaults: release [`RELEASE`] in namespace [`crate::NAMESPACE`], where
    /// the rules' unit tests (`tests/alerts-test.yaml`) expect them.
    pub fn of_defaults() -> Result<MonitoringFiles> {
        let manifests = Render::new().set("monitoring.enabled", "true").run()?;
        MonitoringFiles::from_render(&manifests, &Names::for_release(RELEASE))
    }

    pub fn from_render(manifests: &Manifests, names: &Names) -> Result<MonitoringFiles> {
        let data = |configmap: &str, key: &str| -> Result<String> {
            let data = manifests
                .find::<ConfigMap>(configmap)
                .with_context(|| format!("ConfigMap {configmap} is not in the render"))?
                .data
                .unwrap_or_default();
            data.get(key)
                .cloned()
                .with_context(|| format!("ConfigMap {configmap} has no key {key}"))
        };
        Ok(MonitoringFiles {
            prometheus_yml: data(&names.prometheus, "prometheus.yml")?,
            alerts: data(&names.prometheus, "alerts.yaml")?,
            dashboard: data(&names.grafana, "backend-dashboard.json")?,
            datasources: data(&names.grafana, "datasources.yaml")?,
        })
    }

    pub fn config(&self) -> Result<PrometheusConfig> {
        PrometheusConfig::parse(&self.prometheus_yml)
    }

    pub fn alert_rules(&self) -> Result<Value> {
        serde_saphyr::from_str(&self.alerts).context("alerts.yaml")
    }

    pub fn dashboard(&self) -> Result<Value> {
        serde_json::from_str(&self.dashboard).context("backend-dashboard.json")
    }

    /// The uids of the provisioned datasources, which the dashboard's panels refer to.
    pub fn datasource_uids(&self) -> Result<Vec<String>> {
        let provisioning: Value =
            serde_saphyr::from_str(&self.datasources).context("datasources.yaml")?;
        Ok(provisioning["datasources"]
            .as_array()
            .context("datasources.yaml lists no datasources")?
            .iter()
            .filter_map(|datasource| datasource["uid"].as_str().map(str::to_owned))
            .collect())
    }
}

/// `tests/alerts-test.yaml` of the monitoring chart: `promtool test rules` input, with the
/// rendered `alerts.yaml` next to it.
pub fn alert_tests_yaml() -> Result<String> {
    let path = repo_root().join("charts/todo-chatbot/charts/monitoring/tests/alerts-test.yaml");
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// A Prometheus configuration file, to read and rewrite.
#[derive(Debug, Clone)]
pub struct PrometheusConfig(pub Value);

impl PrometheusConfig {
    pub fn parse(yaml: &str) -> Result<PrometheusConfig> {
        Ok(PrometheusConfig(
            serde_saphyr::from_str(yaml).context("prometheus.yml")?,
        ))
    }

    pub fn to_yaml(&self) -> Result<String> {
        Ok(serde_saphyr::to_string(&self.0)?)
    }

    pub fn job_names(&self) -> Vec<String> {
        self.0["scrape_configs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|job| job["job_name"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn job(&self, name: &str) -> Option<&Value> {
        self.0["scrape_configs"]
            .as_array()?
            .iter()
            .find(|job| job["job_name"] == name)
    }

    fn job_mut(&mut self, name: &str) -> Result<&mut serde_json::Map<String, Value>> {
        self.0["scrape_configs"]
            .as_array_mut()
            .context("prometheus.yml has no scrape_configs")?
            .iter_mut()
            .find(|job| job["job_name"] == name)
            .and_then(Value::as_object_mut)
            .with_context(|| format!("prometheus.yml has no scrape job {name}"))
    }

    pub fn set_rule_files(&mut self, files: &[&str]) {
        self.0["rule_files"] = json!(files);
    }

    /// Replaces how job `name` finds its targets (Kubernetes discovery or static targets) by
    /// one static target carrying `labels`, for a Prometheus or promtool without a Kubernetes API
    /// (Debian's promtool has no Kubernetes discovery at all). Relabeling is kept.
    pub fn use_static_target(
        &mut self,
        name: &str,
        target: &str,
        labels: &BTreeMap<&str, &str>,
    ) -> Result<()> {
        let job = self.job_mut(name)?;
        let kubernetes = job.remove("kubernetes_sd_configs");
        let fixed = job.remove("static_configs");
        if kubernetes.is_none() && fixed.is_none() {
            bail!("scrape job {name} has neither Kubernetes discovery nor static targets");
        }
        let mut config = json!({ "targets": [target] });
        if !labels.is_empty() {
            config["labels"] = json!(labels);
        }
        job.insert("static_configs".into(), json!([config]));
        Ok(())
    }

    /// Drops job `name`'s relabeling (which keeps only targets with the labels Kubernetes
    /// discovery adds).
    pub fn drop_relabeling(&mut self, name: &str) -> Result<()> {
        self.job_mut(name)?.remove("relabel_configs");
        Ok(())
    }
}

/// Every panel of a dashboard, rows' nested panels included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    fn collect<'a>(items: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in items.as_array().into_iter().flatten() {
            out.push(panel);
            collect(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    collect(&dashboard["panels"], &mut out);
    out
}

/// One PromQL query of a dashboard panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub panel: String,
    pub expr: String,
}

/// Every PromQL query of the dashboard, with the title of its panel.
pub fn dashboard_queries(dashboard: &Value) -> Vec<Query> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or("(untitled)").to_owned();
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(move |target| {
                    target["expr"].as_str().map(|expr| Query {
                        panel: title.clone(),
                        expr: expr.to_owned(),
                    })
                })
        })
        .collect()
}

/// `expr` with Grafana's variables replaced, so Prometheus can run it: the interval variables
/// (`$__rate_interval`, `${__interval_ms}`, ...) by `interval`, any other (`$pod`) by `x`.
pub fn without_grafana_variables(expr: &str, interval: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let braced = after.starts_with('{');
        let name_start = usize::from(braced);
        let name_len = after[name_start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len() - name_start);
        let name = &after[name_start..name_start + name_len];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            out.push('$');
            rest = after;
            continue;
        }
        let mut end = name_start + name_len;
        if braced {
            // ${name} or ${name:format}
            match after[end..].find('}') {
                Some(close) => end += close + 1,
                None => end = after.len(),
            }
        }
        let interval_variable = ["__rate_interval", "__interval", "__range"]
            .iter()
            .any(|base| {
                name == *base || name == format!("{base}_ms") || name == format!("{base}_s")
            });
        out.push_str(if interval_variable { interval } else { "x" });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The dashboard's queries as a Prometheus rules file of recording rules `dashboard_expr_<n>`
/// (the n-th query), so `promtool check rules` parses every one.
pub fn dashboard_recording_rules(queries: &[Query], interval: &str) -> Result<String> {
    let rules: Vec<Value> = queries
        .iter()
        .enumerate()
        .map(|(index, query)| {
            json!({
                "record": format!("dashboard_expr_{}", index + 1),
                "expr": without_grafana_variables(&query.expr, interval),
            })
        })
        .collect();
    Ok(serde_saphyr::to_string(
        &json!({ "groups": [{ "name": "dashboard", "rules": rules }] }),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafana_interval_variables_become_the_interval_and_others_a_label_value() {
        assert_eq!(
            without_grafana_variables(
                r#"sum(rate(a{pod="$pod"}[$__rate_interval])) / ${__range_s} + ${x:csv} + $__interval_ms"#,
                "5m"
            ),
            r#"sum(rate(a{pod="x"}[5m])) / 5m + x + 5m"#
        );
        assert_eq!(without_grafana_variables("up == 1", "5m"), "up == 1");
        assert_eq!(without_grafana_variables("a $ 1 $9", "5m"), "a $ 1 $9");
    }

    #[test]
    fn nested_panels_and_their_queries_are_found() {
        let dashboard = json!({"panels": [
            {"title": "row", "panels": [{"title": "inner", "targets": [{"expr": "up"}]}]},
            {"title": "outer", "targets": [{"expr": "db_up"}, {"refId": "B"}]},
        ]});
        assert_eq!(panels(&dashboard).len(), 3);
        let queries = dashboard_queries(&dashboard);
        assert_eq!(
            queries,
            [
                Query {
                    panel: "inner".into(),
                    expr: "up".into()
                },
                Query {
                    panel: "outer".into(),
                    expr: "db_up".into()
                },
            ]
        );
    }

    #[test]
    fn kubernetes_discovery_is_replaced_by_a_static_target() {
        let mut config = PrometheusConfig::parse(
            "scrape_configs:\n  - job_name: backend\n    kubernetes_sd_configs:\n      - role: pod\n    relabel_configs: []\n",
        )
        .unwrap();
        config
            .use_static_target("backend", "127.0.0.1:8000", &BTreeMap::from([("pod", "p")]))
            .unwrap();
        let job = config.job("backend").unwrap();
        assert!(job.get("kubernetes_sd_configs").is_none());
        assert_eq!(job["static_configs"][0]["targets"][0], "127.0.0.1:8000");
        assert_eq!(job["static_configs"][0]["labels"]["pod"], "p");
        assert!(job.get("relabel_configs").is_some(), "relabeling is kept");
        config
            .use_static_target("backend", "127.0.0.1:9000", &BTreeMap::new())
            .unwrap();
        let job = config.job("backend").unwrap();
        assert_eq!(
            job["static_configs"],
            json!([{"targets": ["127.0.0.1:9000"]}])
        );
        config.drop_relabeling("backend").unwrap();
        assert!(
            config
                .job("backend")
                .unwrap()
                .get("relabel_configs")
                .is_none()
        );
        assert!(
            config
                .use_static_target("other", "x:1", &BTreeMap::new())
                .is_err(),
            "no such job"
        );
        let again = PrometheusConfig::parse(&config.to_yaml().unwrap()).unwrap();
        assert_eq!(again.0, config.0);
    }
}
