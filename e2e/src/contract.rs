//! The deployment contract's own commands (../shared/seeds/003_*: "Verification Steps" and
//! "Horizontal Scaling"), typed exactly as the contract writes them, and what their output must
//! show. They carry no `-n` and no `--context`: the harness runs them with a kubeconfig whose
//! one context names the cluster and the namespace, as a user's shell would.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::commands::CommandLine;
use crate::names::Names;

/// The label the contract's commands select the API pods with.
pub const COMPONENT_SELECTOR: &str = "app.kubernetes.io/component=backend";
/// The chart's directory in the repository, where the harness renders it from.
pub const CHART_PATH: &str = "charts/todo-chatbot";
/// The chart as the contract's scaling command names it: `helm/todo-chatbot` is a committed
/// relative symlink to [`CHART_PATH`], so the command runs as written from the repository root.
pub const CONTRACT_CHART_PATH: &str = "./helm/todo-chatbot";

/// `kubectl get deployment todo-chatbot-backend`
pub fn get_deployment(names: &Names) -> CommandLine {
    CommandLine::new("kubectl", &["get", "deployment", &names.backend])
}

/// `kubectl get pods -l app.kubernetes.io/component=backend`
pub fn get_pods() -> CommandLine {
    CommandLine::new("kubectl", &["get", "pods", "-l", COMPONENT_SELECTOR])
}

/// `kubectl get service todo-chatbot-backend`
pub fn get_service(names: &Names) -> CommandLine {
    CommandLine::new("kubectl", &["get", "service", &names.backend])
}

/// `kubectl get endpoints todo-chatbot-backend`
pub fn get_endpoints(names: &Names) -> CommandLine {
    CommandLine::new("kubectl", &["get", "endpoints", &names.backend])
}

/// `kubectl logs -l app.kubernetes.io/component=backend` (the contract pipes it to
/// `grep -i database`; [`database_lines`] is that grep).
pub fn backend_logs() -> CommandLine {
    CommandLine::new("kubectl", &["logs", "-l", COMPONENT_SELECTOR])
}

/// [`backend_logs`] with `--prefix`, so each line names its pod: kubectl reads the pods' logs
/// concurrently and interleaves their lines, so the contract's own output cannot say which pod
/// logged what. Each pod still shows its last 10 lines only (kubectl's `--tail` for a selector).
pub fn backend_logs_by_pod() -> CommandLine {
    CommandLine::new("kubectl", &["logs", "-l", COMPONENT_SELECTOR, "--prefix"])
}

/// `curl http://localhost:30081/api/health` and the like.
pub fn curl(base_url: &str, path: &str) -> CommandLine {
    CommandLine::new("curl", &[&format!("{base_url}{path}")])
}

/// `curl -s http://localhost:30081/api/health`, the body of the contract's load-distribution loop.
pub fn curl_silent(base_url: &str, path: &str) -> CommandLine {
    CommandLine::new("curl", &["-s", &format!("{base_url}{path}")])
}

/// `helm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4`, as written: no
/// `-f`, no `--reuse-values`, so Helm starts from the chart's defaults.
pub fn scale(names: &Names, replicas: u32) -> CommandLine {
    CommandLine::new(
        "helm",
        &[
            "upgrade",
            &names.release,
            CONTRACT_CHART_PATH,
            "--set",
            &format!("backend.replicaCount={replicas}"),
        ],
    )
}

/// kubectl's human-readable table: a header of upper-case column names, each cell starting where
/// its column's name starts (cli-runtime's tabwriter aligns them with at least 3 spaces between).
#[derive(Debug)]
pub struct Table {
    columns: Vec<(String, usize)>,
    lines: Vec<String>,
}

impl Table {
    pub fn parse(text: &str) -> Result<Table> {
        let mut lines = text.lines().filter(|line| !line.trim().is_empty());
        let header = lines.next().context("no output (no header line)")?;
        let mut columns = Vec::new();
        let mut start = None;
        let mut spaces = 0;
        for (index, ch) in header.char_indices() {
            if ch == ' ' {
                spaces += 1;
                continue;
            }
            if start.is_none() || spaces >= 2 {
                if let Some(previous) = start {
                    columns.push((header[previous..index].trim().to_owned(), previous));
                }
                start = Some(index);
            }
            spaces = 0;
        }
        if let Some(previous) = start {
            columns.push((header[previous..].trim().to_owned(), previous));
        }
        ensure!(
            columns.first().is_some_and(|(name, _)| name == "NAME"),
            "not a kubectl table: {header:?}"
        );
        Ok(Table {
            columns,
            lines: lines.map(str::to_owned).collect(),
        })
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.lines.iter().map(move |line| Row { table: self, line })
    }
}

pub struct Row<'a> {
    table: &'a Table,
    line: &'a str,
}

impl Row<'_> {
    /// The cell of `column` (upper case, as kubectl prints it).
    pub fn get(&self, column: &str) -> Result<&str> {
        let position = self
            .table
            .columns
            .iter()
            .position(|(name, _)| name == column)
            .with_context(|| format!("no column {column} in {:?}", self.table.columns))?;
        let start = self.table.columns[position].1;
        let end = self
            .table
            .columns
            .get(position + 1)
            .map_or(self.line.len(), |(_, start)| *start)
            .min(self.line.len());
        Ok(self.line.get(start.min(end)..end).unwrap_or("").trim())
    }
}

/// `kubectl get deployment`: READY r/r, UP-TO-DATE r, AVAILABLE r.
pub fn expect_deployment(output: &str, name: &str, replicas: u32) -> Result<String> {
    let table = Table::parse(output)?;
    let row = single_row(&table, name)?;
    let (ready, updated, available) = (
        row.get("READY")?,
        row.get("UP-TO-DATE")?,
        row.get("AVAILABLE")?,
    );
    let want = replicas.to_string();
    ensure!(
        ready == format!("{replicas}/{replicas}") && updated == want && available == want,
        "READY {ready}, UP-TO-DATE {updated}, AVAILABLE {available}; expected READY {replicas}/{replicas}, UP-TO-DATE {replicas}, AVAILABLE {replicas}"
    );
    Ok(format!(
        "READY {ready}, UP-TO-DATE {updated}, AVAILABLE {available}"
    ))
}

fn single_row<'a>(table: &'a Table, name: &str) -> Result<Row<'a>> {
    let mut rows = table
        .rows()
        .filter(|row| row.get("NAME").ok() == Some(name));
    let row = rows.next().with_context(|| format!("no row for {name}"))?;
    ensure!(rows.next().is_none(), "more than one row for {name}");
    Ok(row)
}

/// `kubectl get pods -l ...`: `replicas` pods, each STATUS Running and READY 1/1. Pods being
/// deleted (kubectl shows STATUS Terminating for any pod with a deletionTimestamp) are left
/// out: they are no longer part of the Deployment.
pub fn expect_pods(output: &str, replicas: usize) -> Result<String> {
    let table = Table::parse(output)?;
    let mut live = Vec::new();
    let mut terminating = 0;
    for row in table.rows() {
        let status = row.get("STATUS")?;
        if status == "Terminating" {
            terminating += 1;
            continue;
        }
        live.push((
            row.get("NAME")?.to_owned(),
            row.get("READY")?.to_owned(),
            status.to_owned(),
        ));
    }
    ensure!(
        live.len() == replicas,
        "{} pods besides {terminating} terminating, expected {replicas}: {live:?}",
        live.len()
    );
    for (name, ready, status) in &live {
        ensure!(
            status == "Running" && ready == "1/1",
            "{name} is {status} with READY {ready}"
        );
    }
    let mut evidence = format!("{replicas} pods Running, READY 1/1");
    if terminating > 0 {
        evidence.push_str(&format!(" ({terminating} Terminating left out)"));
    }
    Ok(evidence)
}

/// `kubectl get service`: TYPE NodePort, PORT(S) port:nodePort/TCP.
pub fn expect_node_port_service(
    output: &str,
    name: &str,
    port: u16,
    node_port: u16,
) -> Result<String> {
    let table = Table::parse(output)?;
    let row = single_row(&table, name)?;
    let (kind, ports) = (row.get("TYPE")?, row.get("PORT(S)")?);
    let want = format!("{port}:{node_port}/TCP");
    ensure!(
        kind == "NodePort" && ports == want,
        "TYPE {kind}, PORT(S) {ports}; expected TYPE NodePort, PORT(S) {want}"
    );
    Ok(format!("TYPE {kind}, PORT(S) {ports}"))
}

/// How many addresses kubectl's ENDPOINTS cell stands for: it lists at most three
/// (`ip:port,ip:port,ip:port + 2 more...`) and prints `<none>` for none. Every listed one must be
/// on `port`.
pub fn endpoint_count(cell: &str, port: u16) -> Result<usize> {
    let cell = cell.trim();
    if cell.is_empty() || cell == "<none>" {
        return Ok(0);
    }
    let (listed, more) = match cell.split_once(" + ") {
        Some((listed, rest)) => {
            let more = rest
                .strip_suffix(" more...")
                .and_then(|n| n.parse::<usize>().ok())
                .with_context(|| format!("unexpected ENDPOINTS {cell:?}"))?;
            (listed, more)
        }
        None => (cell, 0),
    };
    let suffix = format!(":{port}");
    let addresses: Vec<&str> = listed.split(',').collect();
    for address in &addresses {
        ensure!(
            address.ends_with(&suffix),
            "endpoint {address} is not on port {port}"
        );
    }
    Ok(addresses.len() + more)
}

/// `kubectl get endpoints`: `count` addresses on `port` (the Endpoints object lists ready
/// addresses only).
pub fn expect_endpoints(output: &str, name: &str, count: usize, port: u16) -> Result<String> {
    let table = Table::parse(output)?;
    let row = single_row(&table, name)?;
    let cell = row.get("ENDPOINTS")?;
    let found = endpoint_count(cell, port)?;
    ensure!(
        found == count,
        "ENDPOINTS {cell} is {found} addresses, expected {count} (one per pod)"
    );
    Ok(format!("ENDPOINTS {cell}"))
}

/// The contract's `| grep -i database`.
pub fn database_lines(logs: &str) -> Vec<&str> {
    logs.lines()
        .filter(|line| line.to_lowercase().contains("database"))
        .collect()
}

/// The lines of `kubectl logs --prefix` output by pod: kubectl starts each line with
/// `[pod/<pod>/<container>] ` (staging/src/k8s.io/kubectl/pkg/cmd/logs/logs.go,
/// addPrefixIfNeeded). Lines without that prefix (kubectl's own `error: ...`) are left out.
pub fn lines_by_pod(prefixed: &str) -> BTreeMap<&str, Vec<&str>> {
    let mut by_pod: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in prefixed.lines() {
        let Some((prefix, rest)) = line
            .strip_prefix("[pod/")
            .and_then(|line| line.split_once("] "))
        else {
            continue;
        };
        let pod = prefix.split_once('/').map_or(prefix, |(pod, _)| pod);
        by_pod.entry(pod).or_default().push(rest);
    }
    by_pod
}

/// The contract's "successful database connection logs, no errors" for `kubectl logs -l ... |
/// grep -i database`, pod by pod: every pod of `pods` shows at least one database line in what
/// kubectl shows of it, and no pod a database line at ERROR.
pub fn expect_database_lines(prefixed: &str, pods: &[String]) -> Result<String> {
    let by_pod = lines_by_pod(prefixed);
    let mut evidence = Vec::new();
    for pod in pods {
        let lines = by_pod
            .get(pod.as_str())
            .map(|lines| lines.join("\n"))
            .unwrap_or_default();
        let grepped = database_lines(&lines);
        let errors = error_lines(&grepped);
        ensure!(errors.is_empty(), "{pod}: database errors: {errors:?}");
        ensure!(
            !grepped.is_empty(),
            "{pod}: no database line in the {} lines kubectl shows of it",
            lines.lines().count()
        );
        evidence.push(format!("{pod}: {} database lines", grepped.len()));
    }
    ensure!(!evidence.is_empty(), "no pods to read the logs of");
    Ok(evidence.join(", "))
}

/// Lines logged at ERROR (the service writes one JSON object per line with a `level`). Warnings
/// are not errors: "database not reachable yet; retrying" is how a healthy pod that started
/// before PostgreSQL waits for it.
pub fn error_lines<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    lines
        .iter()
        .copied()
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|value| value["level"].as_str().map(str::to_uppercase))
                .is_some_and(|level| level == "ERROR")
        })
        .collect()
}

/// The contract's "HTTP 401 (unauthorized - requires JWT token)" for `/api/tasks` without a
/// token, with the challenge RFC 6750 asks of a bearer-token API: `WWW-Authenticate: Bearer`.
pub fn expect_unauthorized(status: u16, www_authenticate: Option<&str>) -> Result<String> {
    ensure!(status == 401, "HTTP {status}, expected 401");
    let challenge = www_authenticate.context("401 without a WWW-Authenticate header")?;
    ensure!(
        challenge
            .split_whitespace()
            .next()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("Bearer")),
        "WWW-Authenticate is {challenge:?}, expected the Bearer scheme"
    );
    Ok(format!("HTTP 401 with WWW-Authenticate: {challenge}"))
}

/// `/api/health`'s body: status and database ok; the pod that answered.
pub fn healthy_pod(body: &str) -> Result<String> {
    let value: Value = serde_json::from_str(body).with_context(|| format!("not JSON: {body:?}"))?;
    ensure!(
        value["status"] == "ok" && value["database"] == "ok",
        "unhealthy: {value}"
    );
    Ok(value["pod"]
        .as_str()
        .context("no pod in the body")?
        .to_owned())
}

/// The contract's load-distribution loop needs the answers to come from more than one pod.
pub fn expect_spread(pods: &[String]) -> Result<String> {
    let distinct: BTreeSet<&String> = pods.iter().collect();
    if distinct.len() < 2 {
        bail!("all {} requests served by {distinct:?}", pods.len());
    }
    Ok(format!("{} requests served by {distinct:?}", pods.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names::for_release("todo-chatbot")
    }

    #[test]
    fn commands_are_the_contracts_as_written() {
        let names = names();
        let base = "http://localhost:30081";
        for (command, contract) in [
            (
                get_deployment(&names),
                "kubectl get deployment todo-chatbot-backend",
            ),
            (
                get_pods(),
                "kubectl get pods -l app.kubernetes.io/component=backend",
            ),
            (
                get_service(&names),
                "kubectl get service todo-chatbot-backend",
            ),
            (
                get_endpoints(&names),
                "kubectl get endpoints todo-chatbot-backend",
            ),
            (
                backend_logs(),
                "kubectl logs -l app.kubernetes.io/component=backend",
            ),
            (
                curl(base, "/api/health"),
                "curl http://localhost:30081/api/health",
            ),
            (curl(base, "/docs"), "curl http://localhost:30081/docs"),
            (
                curl(base, "/api/tasks"),
                "curl http://localhost:30081/api/tasks",
            ),
            (
                curl_silent(base, "/api/health"),
                "curl -s http://localhost:30081/api/health",
            ),
            (
                scale(&names, 4),
                "helm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4",
            ),
        ] {
            assert_eq!(command.to_string(), contract);
        }
    }

    const DEPLOYMENT: &str = "\
NAME                   READY   UP-TO-DATE   AVAILABLE   AGE
todo-chatbot-backend   2/2     2            2           5m12s
";

    #[test]
    fn deployment_output_shows_ready_updated_and_available() {
        let evidence = expect_deployment(DEPLOYMENT, "todo-chatbot-backend", 2).unwrap();
        assert_eq!(evidence, "READY 2/2, UP-TO-DATE 2, AVAILABLE 2");
        let error = expect_deployment(DEPLOYMENT, "todo-chatbot-backend", 4).unwrap_err();
        assert!(error.to_string().contains("expected READY 4/4"), "{error}");
        let rolling = DEPLOYMENT.replace("2/2     2            2", "2/2     1            2");
        assert!(expect_deployment(&rolling, "todo-chatbot-backend", 2).is_err());
        assert!(expect_deployment(DEPLOYMENT, "other", 2).is_err());
    }

    const PODS: &str = "\
NAME                                    READY   STATUS        RESTARTS      AGE
todo-chatbot-backend-6c9d7b9f8d-4xk2p   1/1     Running       0             40s
todo-chatbot-backend-6c9d7b9f8d-9qz7w   1/1     Running       1 (20s ago)   40s
todo-chatbot-backend-7f6b5c4d3e-abcde   1/1     Terminating   0             6m
";

    #[test]
    fn pod_output_leaves_out_terminating_pods() {
        let evidence = expect_pods(PODS, 2).unwrap();
        assert_eq!(
            evidence,
            "2 pods Running, READY 1/1 (1 Terminating left out)"
        );
    }

    #[test]
    fn pod_output_fails_on_a_pod_not_running_or_not_ready() {
        let not_ready = PODS.replacen("1/1     Running       0  ", "0/1     Running       0  ", 1);
        let error = expect_pods(&not_ready, 2).unwrap_err().to_string();
        assert!(error.contains("READY 0/1"), "{error}");
        let crashing = "\
NAME                                    READY   STATUS             RESTARTS      AGE
todo-chatbot-backend-6c9d7b9f8d-4xk2p   1/1     Running            0             40s
todo-chatbot-backend-6c9d7b9f8d-9qz7w   0/1     CrashLoopBackOff   3 (20s ago)   40s
";
        let error = expect_pods(crashing, 2).unwrap_err().to_string();
        assert!(error.contains("is CrashLoopBackOff"), "{error}");
        let error = expect_pods(PODS, 3).unwrap_err().to_string();
        assert!(error.contains("2 pods besides 1 terminating"), "{error}");
    }

    #[test]
    fn service_output_shows_node_port_8000_30081() {
        let output = "\
NAME                   TYPE       CLUSTER-IP     EXTERNAL-IP   PORT(S)          AGE
todo-chatbot-backend   NodePort   10.96.140.12   <none>        8000:30081/TCP   5m
";
        assert_eq!(
            expect_node_port_service(output, "todo-chatbot-backend", 8000, 30081).unwrap(),
            "TYPE NodePort, PORT(S) 8000:30081/TCP"
        );
        let cluster_ip = output
            .replace("NodePort", "ClusterIP")
            .replace("8000:30081/TCP", "8000/TCP      ");
        assert!(
            expect_node_port_service(&cluster_ip, "todo-chatbot-backend", 8000, 30081).is_err()
        );
    }

    #[test]
    fn endpoint_cells_count_listed_and_elided_addresses() {
        assert_eq!(endpoint_count("<none>", 8000).unwrap(), 0);
        assert_eq!(endpoint_count("10.244.1.5:8000", 8000).unwrap(), 1);
        assert_eq!(
            endpoint_count("10.244.1.5:8000,10.244.2.6:8000", 8000).unwrap(),
            2
        );
        assert_eq!(
            endpoint_count(
                "10.244.1.5:8000,10.244.2.6:8000,10.244.1.7:8000 + 1 more...",
                8000
            )
            .unwrap(),
            4
        );
        assert!(endpoint_count("10.244.1.5:9090", 8000).is_err());
        assert!(endpoint_count("10.244.1.5:8000 + many more", 8000).is_err());
    }

    #[test]
    fn endpoints_output_has_one_address_per_pod() {
        let output = "\
NAME                   ENDPOINTS                           AGE
todo-chatbot-backend   10.244.1.5:8000,10.244.2.6:8000     5m
";
        assert_eq!(
            expect_endpoints(output, "todo-chatbot-backend", 2, 8000).unwrap(),
            "ENDPOINTS 10.244.1.5:8000,10.244.2.6:8000"
        );
        let error = expect_endpoints(output, "todo-chatbot-backend", 4, 8000)
            .unwrap_err()
            .to_string();
        assert!(error.contains("expected 4"), "{error}");
    }

    #[test]
    fn a_table_without_a_name_column_is_refused() {
        assert!(Table::parse("No resources found in default namespace.\n").is_err());
        assert!(Table::parse("").is_err());
    }

    #[test]
    fn database_lines_are_grepped_case_insensitively_and_errors_found_by_level() {
        let logs = r#"{"level":"INFO","message":"connected to database","database":"postgresql://todo@todo-chatbot-postgres:5432/todo"}
{"level":"INFO","message":"request","route":"/api/health","status":200}
{"level":"WARN","message":"database not reachable yet; retrying"}
{"level":"ERROR","message":"start-up failed","error":"database unreachable"}
Database pool closed
"#;
        let lines = database_lines(logs);
        assert_eq!(lines.len(), 4);
        assert_eq!(
            error_lines(&lines),
            vec![r#"{"level":"ERROR","message":"start-up failed","error":"database unreachable"}"#],
            "a retry warning while PostgreSQL starts is not an error"
        );
    }

    const PREFIXED_LOGS: &str = r#"[pod/todo-chatbot-backend-6c9d-4xk2p/backend] {"level":"INFO","message":"connected to database"}
[pod/todo-chatbot-backend-6c9d-9qz7w/backend] {"level":"INFO","message":"request","route":"/api/tasks","status":401}
[pod/todo-chatbot-backend-6c9d-4xk2p/backend] {"level":"INFO","message":"listening"}
[pod/todo-chatbot-backend-6c9d-9qz7w/backend] {"level":"INFO","message":"database schema is up to date"}
error: a container name must be specified
"#;

    fn pods(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn prefixed_log_lines_are_sorted_by_pod() {
        assert_eq!(
            backend_logs_by_pod().to_string(),
            "kubectl logs -l app.kubernetes.io/component=backend --prefix",
            "the contract's command, its lines named by pod"
        );
        let by_pod = lines_by_pod(PREFIXED_LOGS);
        assert_eq!(by_pod.len(), 2);
        assert_eq!(
            by_pod["todo-chatbot-backend-6c9d-4xk2p"],
            [
                r#"{"level":"INFO","message":"connected to database"}"#,
                r#"{"level":"INFO","message":"listening"}"#
            ]
        );
        assert_eq!(by_pod["todo-chatbot-backend-6c9d-9qz7w"].len(), 2);
    }

    #[test]
    fn every_pod_must_show_a_database_line() {
        let both = pods(&[
            "todo-chatbot-backend-6c9d-4xk2p",
            "todo-chatbot-backend-6c9d-9qz7w",
        ]);
        assert_eq!(
            expect_database_lines(PREFIXED_LOGS, &both).unwrap(),
            "todo-chatbot-backend-6c9d-4xk2p: 1 database lines, todo-chatbot-backend-6c9d-9qz7w: 1 database lines"
        );
        // The second pod's start-up lines scrolled out behind its requests.
        let scrolled = PREFIXED_LOGS.replace("database schema is up to date", "request");
        let error = expect_database_lines(&scrolled, &both)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("todo-chatbot-backend-6c9d-9qz7w: no database line in the 2 lines"),
            "{error}"
        );
        // A pod that printed nothing at all fails too.
        let error = expect_database_lines(PREFIXED_LOGS, &pods(&["todo-chatbot-backend-gone"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("no database line in the 0 lines"), "{error}");
        assert!(expect_database_lines(PREFIXED_LOGS, &[]).is_err());
    }

    #[test]
    fn a_database_error_of_any_pod_fails() {
        let failing = PREFIXED_LOGS.replace(
            r#"{"level":"INFO","message":"database schema"#,
            r#"{"level":"ERROR","message":"database schema"#,
        );
        let both = pods(&[
            "todo-chatbot-backend-6c9d-4xk2p",
            "todo-chatbot-backend-6c9d-9qz7w",
        ]);
        let error = expect_database_lines(&failing, &both)
            .unwrap_err()
            .to_string();
        assert!(error.contains("9qz7w: database errors"), "{error}");
    }

    #[test]
    fn unauthorized_needs_401_and_a_bearer_challenge() {
        assert_eq!(
            expect_unauthorized(401, Some("Bearer realm=\"api\"")).unwrap(),
            "HTTP 401 with WWW-Authenticate: Bearer realm=\"api\""
        );
        assert_eq!(
            expect_unauthorized(401, Some("Bearer")).unwrap(),
            "HTTP 401 with WWW-Authenticate: Bearer"
        );
        let missing = expect_unauthorized(401, None).unwrap_err().to_string();
        assert!(missing.contains("without a WWW-Authenticate"), "{missing}");
        assert!(expect_unauthorized(401, Some("Basic realm=\"x\"")).is_err());
        assert!(expect_unauthorized(200, Some("Bearer")).is_err());
        assert!(expect_unauthorized(403, Some("Bearer")).is_err());
    }

    #[test]
    fn health_bodies_name_the_pod_and_must_be_ok() {
        let body =
            r#"{"status":"ok","database":"ok","pod":"todo-chatbot-backend-abc","version":"0.1.0"}"#;
        assert_eq!(healthy_pod(body).unwrap(), "todo-chatbot-backend-abc");
        assert!(healthy_pod(r#"{"status":"unavailable","database":"down","pod":"x"}"#).is_err());
        assert!(healthy_pod("<html>").is_err());
    }

    #[test]
    fn spread_needs_two_pods() {
        let one = vec!["a".to_owned(); 10];
        assert!(expect_spread(&one).is_err());
        let two = vec!["a".to_owned(), "b".to_owned(), "a".to_owned()];
        assert_eq!(
            expect_spread(&two).unwrap(),
            "3 requests served by {\"a\", \"b\"}"
        );
    }
}
