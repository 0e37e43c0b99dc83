//! Monitoring: what the chart gives Prometheus and Grafana, and whether it works.
//!
//! Read from the render (no Prometheus needed): the scrape config finds the backend pods of the
//! release namespace only and loads the mounted rules, every alert is labelled, described and
//! unit-tested both ways (`tests/alerts-test.yaml`, run by promtool in ci/test-monitoring.sh),
//! and every dashboard panel queries the provisioned datasource.
//!
//! Live: the real service on a real PostgreSQL, scraped by a real Prometheus (the Debian binary)
//! that runs the chart's rendered configuration and alert rules, with a static target in place
//! of Kubernetes discovery. After some traffic every dashboard query returns data, every metric
//! the dashboard names is one the service exports, and the rules load. That test needs the
//! `prometheus` binary (ci/tools.sh installs it); without it it is skipped by name, unless
//! E2E_REQUIRE=1 (as `make test` sets), which makes it a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use backend::{App, Config};
use e2e::monitoring::{
    MonitoringFiles, RULES_GLOB, alert_tests_yaml, dashboard_queries, panels,
    without_grafana_variables,
};
use serde_json::{Value, json};

const SECRET: &str = "monitoring-live-check-secret-0123456789";
/// Grafana's $__rate_interval, fixed for queries against a 1 s scrape interval.
const RATE_INTERVAL: &str = "15s";

fn prometheus_binary() -> Option<String> {
    let found = Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some("prometheus".into());
    }
    testkit::skip::missing(
        "dashboard_queries_return_data_from_a_live_scrape",
        "no prometheus binary: run `make tools` (Debian package prometheus)",
    );
    None
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The chart's defaults' monitoring files (rendered once per test binary).
fn files() -> &'static MonitoringFiles {
    static FILES: OnceLock<MonitoringFiles> = OnceLock::new();
    FILES.get_or_init(|| MonitoringFiles::of_defaults().unwrap_or_else(|e| panic!("{e:#}")))
}

#[test]
fn prometheus_loads_the_rules_from_their_mount() {
    e2e::skip_without_helm!();
    let config = files().config().unwrap();
    assert_eq!(config.0["rule_files"], json!([RULES_GLOB]));
}

#[test]
fn the_backend_job_discovers_pods_of_the_release_namespace_only() {
    e2e::skip_without_helm!();
    let config = files().config().unwrap();
    let job = config.job("backend").unwrap_or_else(|| {
        panic!(
            "no scrape job named backend (jobs: {:?})",
            config.job_names()
        )
    });
    let discovery = job["kubernetes_sd_configs"]
        .as_array()
        .expect("Kubernetes discovery");
    assert_eq!(discovery.len(), 1, "{discovery:?}");
    assert!(
        ["pod", "endpoints"].contains(&discovery[0]["role"].as_str().unwrap_or_default()),
        "role pod or endpoints: {discovery:?}"
    );
    assert_eq!(
        discovery[0]["namespaces"]["names"],
        json!([e2e::NAMESPACE]),
        "the release namespace only (the Role allows nothing else)"
    );
}

/// The series names the chart's recording rules write.
fn recorded_names() -> BTreeSet<String> {
    let rules = files().alert_rules().unwrap();
    rules["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|rule| rule["record"].as_str().map(str::to_owned))
        .collect()
}

/// `(name, rule)` of every alerting rule.
fn alerts() -> Vec<(String, Value)> {
    let rules = files().alert_rules().unwrap();
    let alerts: Vec<(String, Value)> = rules["groups"]
        .as_array()
        .expect("rule groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|rule| Some((rule["alert"].as_str()?.to_owned(), rule)))
        .collect();
    assert!(alerts.len() >= 6, "alerts: {alerts:?}");
    alerts
}

#[test]
fn every_alert_has_a_severity_a_summary_and_a_description() {
    e2e::skip_without_helm!();
    for (name, rule) in alerts() {
        for (section, key) in [
            ("labels", "severity"),
            ("annotations", "summary"),
            ("annotations", "description"),
        ] {
            assert!(
                rule[section][key]
                    .as_str()
                    .is_some_and(|text| !text.is_empty()),
                "{name}: no {key} in its {section}"
            );
        }
    }
}

#[test]
fn every_alert_has_a_unit_test_where_it_fires_and_one_where_it_stays_silent() {
    e2e::skip_without_helm!();
    let tests: Value = serde_saphyr::from_str(&alert_tests_yaml().unwrap()).unwrap();
    let (mut fires, mut silent) = (BTreeSet::new(), BTreeSet::new());
    for test in tests["tests"].as_array().expect("tests") {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_owned();
            let expected = case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty());
            if expected {
                fires.insert(name);
            } else {
                silent.insert(name);
            }
        }
    }
    let names: BTreeSet<String> = alerts().into_iter().map(|(name, _)| name).collect();
    for name in &names {
        assert!(fires.contains(name), "{name}: no test where it fires");
        assert!(
            silent.contains(name),
            "{name}: no test where it stays silent"
        );
    }
    let unknown: Vec<_> = fires
        .union(&silent)
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(
        unknown.is_empty(),
        "tested but not in the rules: {unknown:?}"
    );
}

#[test]
fn every_dashboard_panel_queries_the_provisioned_datasource() {
    e2e::skip_without_helm!();
    let uids = files().datasource_uids().unwrap();
    assert!(!uids.is_empty(), "no datasource provisioned");
    let dashboard = files().dashboard().unwrap();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("(untitled)");
        let references = std::iter::once(&panel["datasource"]).chain(
            panel["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|target| &target["datasource"]),
        );
        for reference in references {
            assert!(
                reference["uid"]
                    .as_str()
                    .is_some_and(|uid| uids.iter().any(|known| known == uid)),
                "{title}: datasource {reference} is not a provisioned uid {uids:?}"
            );
        }
    }
    assert!(
        !dashboard_queries(&dashboard).is_empty(),
        "the dashboard has queries"
    );
}

/// The rendered prometheus.yml with every job's targets replaced by a static one carrying the
/// labels discovery would add (and no relabeling, which keeps only discovered pods), scrapes
/// every second and the rules at `rules`.
fn live_config(backend: &str, prometheus: &str, rules: &str) -> String {
    let mut config = files().config().unwrap();
    config.0["global"]["scrape_interval"] = "1s".into();
    config.0["global"]["evaluation_interval"] = "1s".into();
    config.set_rule_files(&[rules]);
    let labels = BTreeMap::from([
        ("namespace", e2e::NAMESPACE),
        ("pod", "todo-chatbot-backend-live"),
    ]);
    for job in config.job_names() {
        let target = if job == "backend" {
            backend
        } else {
            prometheus
        };
        config.use_static_target(&job, target, &labels).unwrap();
        config.drop_relabeling(&job).unwrap();
    }
    config.to_yaml().unwrap()
}

/// The dashboard's queries, with Grafana's variables filled in for a 1 s scrape interval.
fn live_dashboard_queries() -> Vec<String> {
    dashboard_queries(&files().dashboard().unwrap())
        .into_iter()
        .map(|query| without_grafana_variables(&query.expr, RATE_INTERVAL))
        .collect()
}

/// Metric names in a PromQL expression: identifiers outside label matchers, strings, ranges and
/// grouping clauses that are not functions, aggregations or keywords.
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Aggregations can be followed by a grouping clause instead of their parenthesis.
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "or",
        "and",
        "unless",
        "bool",
        "offset",
        "sum",
        "min",
        "max",
        "avg",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
    ];
    const GROUPING: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let bytes = expr.as_bytes();
    let mut names = BTreeSet::new();
    let (mut index, mut depth_braces, mut depth_brackets) = (0, 0, 0);
    let (mut in_string, mut grouping_next, mut in_grouping) = (false, false, false);
    while index < bytes.len() {
        let c = bytes[index] as char;
        match c {
            '"' => in_string = !in_string,
            _ if in_string => {}
            '{' => depth_braces += 1,
            '}' => depth_braces -= 1,
            '[' => depth_brackets += 1,
            ']' => depth_brackets -= 1,
            '(' if grouping_next => {
                in_grouping = true;
                grouping_next = false;
            }
            ')' if in_grouping => in_grouping = false,
            c if (c.is_ascii_alphabetic() || c == '_')
                && depth_braces == 0
                && depth_brackets == 0
                && !in_grouping =>
            {
                let start = index;
                while index < bytes.len()
                    && (bytes[index].is_ascii_alphanumeric()
                        || bytes[index] == b'_'
                        || bytes[index] == b':')
                {
                    index += 1;
                }
                let word = &expr[start..index];
                let is_call = expr[index..].trim_start().starts_with('(');
                if GROUPING.contains(&word) {
                    grouping_next = true;
                } else if !is_call && !KEYWORDS.contains(&word) {
                    names.insert(word.to_owned());
                }
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    names
}

#[test]
fn metric_names_are_read_from_expressions() {
    let names = metric_names(
        r#"histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="backend",route!~"/api/health.*"}[5m])))"#,
    );
    assert_eq!(
        names,
        BTreeSet::from(["http_request_duration_seconds_bucket".to_owned()])
    );
    let names = metric_names(
        r#"(sum(rate(a_total{x="1"}[1m])) or vector(0)) / sum by (route, status) (b_total)"#,
    );
    assert_eq!(
        names,
        BTreeSet::from(["a_total".to_owned(), "b_total".to_owned()])
    );
}

/// Names exported by a scrape, with the series suffixes of histograms and summaries.
fn exported_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let (name, kind) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            names.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        }
    }
    names
}

async fn query(client: &reqwest::Client, prometheus: &str, expr: &str) -> Option<Vec<Value>> {
    let response: Value = client
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", expr)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    assert_eq!(response["status"], "success", "query {expr}: {response}");
    let result = response["data"]["result"].as_array()?.clone();
    (!result.is_empty()).then_some(result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_queries_return_data_from_a_live_scrape() {
    e2e::skip_without_helm!();
    let Some(prometheus_bin) = prometheus_binary() else {
        return;
    };

    // The service, as the chart would configure it, on a fresh database.
    let database_url = testkit::postgres::fresh_database().await.unwrap();
    let config = Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(database_url.clone()),
        "BETTER_AUTH_SECRET" => Some(SECRET.into()),
        "PORT" => Some("0".into()),
        "POD_NAME" => Some("todo-chatbot-backend-live".into()),
        "LOG_LEVEL" => Some("warn".into()),
        _ => None,
    })
    .unwrap();
    let app = App::build(config).await.unwrap();
    let backend = format!("127.0.0.1:{}", app.port());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));

    // Prometheus with the chart's rendered config and rules.
    let dir = std::env::temp_dir().join(format!("prometheus-live-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("alerts.yaml");
    fs::write(&rules, &files().alerts).unwrap();
    let port = free_port();
    let prometheus_address = format!("127.0.0.1:{port}");
    fs::write(
        dir.join("prometheus.yml"),
        live_config(&backend, &prometheus_address, rules.to_str().unwrap()),
    )
    .unwrap();
    let _prometheus = KillOnDrop(
        Command::new(prometheus_bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={prometheus_address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let prometheus = format!("http://{prometheus_address}");

    // Traffic of every kind the dashboard shows: successes, client errors, probes.
    let client = reqwest::Client::new();
    let token = testkit::jwt::mint(SECRET, "dashboard", 600);
    let traffic = {
        let (client, base) = (client.clone(), format!("http://{backend}"));
        tokio::spawn(async move {
            loop {
                let _ = client.get(format!("{base}/api/health")).send().await;
                let _ = client
                    .post(format!("{base}/api/tasks"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"title": "scraped"}))
                    .send()
                    .await;
                let _ = client
                    .get(format!("{base}/api/tasks"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                let _ = client.get(format!("{base}/api/tasks")).send().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    for expr in live_dashboard_queries() {
        let result = testkit::wait::until(
            &format!("dashboard query to return data: {expr}"),
            Duration::from_secs(90),
            Duration::from_millis(500),
            || {
                let (client, prometheus, expr) = (&client, &prometheus, &expr);
                async move { query(client, prometheus, expr).await }
            },
        )
        .await
        .unwrap();
        assert!(!result.is_empty());
    }
    traffic.abort();

    let scrape = client
        .get(format!("http://{backend}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported = exported_names(&scrape);
    let recorded = recorded_names();
    let mut used = BTreeSet::new();
    for expr in live_dashboard_queries() {
        used.extend(metric_names(&expr));
    }
    used.remove("up");
    // Series of the chart's own recording rules (the SLOs) are Prometheus', not the service's.
    let from_rules: BTreeSet<String> = used.intersection(&recorded).cloned().collect();
    assert!(
        from_rules.contains("slo:error_budget_remaining:ratio"),
        "the error-budget panel: {used:?}"
    );
    let unknown: Vec<_> = used
        .difference(&exported)
        .filter(|name| !recorded.contains(*name))
        .collect();
    assert!(
        unknown.is_empty(),
        "the dashboard uses metrics neither the service exports nor the rules record: {unknown:?}"
    );
    assert!(used.len() >= 6, "{used:?}");

    let rules: Value = client
        .get(format!("{prometheus}/api/v1/rules"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let loaded: Vec<&Value> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["rules"].as_array().unwrap())
        .collect();
    assert!(loaded.len() >= 6, "alert rules loaded: {rules}");
    assert!(loaded.iter().all(|rule| rule["health"] == "ok"), "{rules}");
    let _ = fs::remove_dir_all(dir);
}
