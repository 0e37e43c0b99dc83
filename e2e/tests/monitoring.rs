//! Monitoring, live: the real service on a real PostgreSQL, scraped by a real Prometheus (the
//! Debian binary) that runs the chart's rendered configuration and alert rules, with a static
//! target in place of Kubernetes discovery. After some traffic every dashboard query returns
//! data, every metric the dashboard names is one the service exports, and the rules load.
//!
//! Needs the `prometheus` binary (ci/tools.sh installs it). Without it the test is skipped by
//! name, unless E2E_REQUIRE=1 (as `make test` sets), which makes it a failure.

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use backend::{App, Config};
use e2e::helm::Render;
use k8s_openapi::api::core::v1::ConfigMap;
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
    if std::env::var("E2E_REQUIRE").as_deref() == Ok("1") {
        panic!("the prometheus binary is missing: run ci/tools.sh (Debian package prometheus)");
    }
    eprintln!(
        "SKIPPED dashboard_queries_return_data_from_a_live_scrape: no prometheus binary (run ci/tools.sh)"
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

/// The rendered prometheus.yml with the backend job's Kubernetes discovery replaced by a static
/// target carrying the labels discovery would add, and scrapes every second.
fn live_config(rendered: &str, backend: &str, prometheus: &str, rules: &str) -> String {
    let mut config: Value = serde_saphyr::from_str(rendered).unwrap();
    config["global"]["scrape_interval"] = "1s".into();
    config["global"]["evaluation_interval"] = "1s".into();
    config["rule_files"] = json!([rules]);
    let jobs = config["scrape_configs"].as_array_mut().unwrap();
    for job in jobs.iter_mut() {
        let name = job["job_name"].as_str().unwrap().to_owned();
        let target = if name == "backend" {
            backend
        } else {
            prometheus
        };
        let job = job.as_object_mut().unwrap();
        assert!(
            name != "backend" || job.contains_key("kubernetes_sd_configs"),
            "the backend job uses Kubernetes discovery"
        );
        job.remove("kubernetes_sd_configs");
        job.remove("relabel_configs");
        let static_config = json!([{
            "targets": [target],
            "labels": {"namespace": e2e::NAMESPACE, "pod": "todo-chatbot-backend-live"},
        }]);
        job.insert("static_configs".into(), static_config);
    }
    assert!(
        jobs.iter().any(|job| job["job_name"] == "backend"),
        "a scrape job named backend"
    );
    serde_saphyr::to_string(&config).unwrap()
}

fn dashboard_queries() -> Vec<String> {
    let path =
        e2e::repo_root().join("charts/todo-chatbot/charts/monitoring/files/backend-dashboard.json");
    let dashboard: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                queries.push(expr.replace("$__rate_interval", RATE_INTERVAL));
            }
        }
    }
    assert!(!queries.is_empty(), "the dashboard has queries");
    queries
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
    let manifests = Render::new().run().unwrap();
    let data = manifests
        .get::<ConfigMap>("todo-chatbot-prometheus")
        .data
        .unwrap();
    let dir = std::env::temp_dir().join(format!("prometheus-live-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("alerts.yaml");
    fs::write(&rules, &data["alerts.yaml"]).unwrap();
    let port = free_port();
    let prometheus_address = format!("127.0.0.1:{port}");
    fs::write(
        dir.join("prometheus.yml"),
        live_config(
            &data["prometheus.yml"],
            &backend,
            &prometheus_address,
            rules.to_str().unwrap(),
        ),
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

    for expr in dashboard_queries() {
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
    let mut used = BTreeSet::new();
    for expr in dashboard_queries() {
        used.extend(metric_names(&expr));
    }
    used.remove("up");
    let unknown: Vec<_> = used.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard uses metrics the service does not export: {unknown:?}"
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
