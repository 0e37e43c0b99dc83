//! Proves the deployment contract on a live cluster (`make test-e2e` after `make kind-up`).
//!
//! Runs the named checks one after another, writes a markdown report, and on any failure
//! collects a debugging bundle. Exits 0 only if every check ran and passed.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use e2e::cluster::Cluster;
use e2e::report::{CheckResult, Outcome, Report};
use e2e::{NAMESPACE, RELEASE, bundle, helm, repo_root};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::Api;
use serde_json::{Value, json};

const BACKEND: &str = "todo-chatbot-backend";
const POSTGRES: &str = "todo-chatbot-postgres";
const BACKEND_PODS: &str =
    "app.kubernetes.io/component=backend,app.kubernetes.io/instance=todo-chatbot";
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(180);

struct Harness {
    cluster: Cluster,
    services: Api<Service>,
    configmaps: Api<ConfigMap>,
    base_url: String,
    namespace: String,
    /// One connection per request, so every request goes through the Service's current
    /// endpoints the way a new client would.
    http: reqwest::Client,
}

#[tokio::main]
async fn main() {
    let namespace = std::env::var("E2E_NAMESPACE").unwrap_or_else(|_| NAMESPACE.into());
    let base_url =
        std::env::var("E2E_BASE_URL").unwrap_or_else(|_| "http://localhost:30081".into());
    let report_dir = std::env::var_os("E2E_REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/e2e"));

    let cluster = match Cluster::connect(&namespace).await {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("conformance: no cluster to test: {error:#}");
            eprintln!(
                "conformance: start one with `make kind-up`, then run `make test-e2e` again."
            );
            std::process::exit(2);
        }
    };
    let client = kube::Client::try_default().await.expect("connected above");
    let context = Harness {
        cluster,
        services: Api::namespaced(client.clone(), &namespace),
        configmaps: Api::namespaced(client, &namespace),
        base_url,
        namespace: namespace.clone(),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client"),
    };

    let mut report = Report::default();
    run_checks(&context, &mut report).await;

    std::fs::create_dir_all(&report_dir).expect("report directory");
    let report_file = report_dir.join("conformance.md");
    std::fs::write(
        &report_file,
        report.to_markdown("Deployment contract conformance"),
    )
    .expect("write report");
    println!("\nconformance report: {}", report_file.display());

    if report.all_passed() {
        println!("conformance: all {} checks passed", report.passed());
        return;
    }
    let pods: Vec<String> = context
        .cluster
        .pods("app.kubernetes.io/instance=todo-chatbot")
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pod| pod.metadata.name)
        .collect();
    let bundle_dir = report_dir.join("bundle");
    match bundle::collect(&bundle_dir, &bundle::captures(&namespace, RELEASE, &pods)) {
        Ok(dir) => println!("failure bundle: {}", dir.display()),
        Err(error) => eprintln!("could not write the failure bundle: {error}"),
    }
    eprintln!(
        "conformance: {} of {} checks failed",
        report.failed(),
        report.results().len()
    );
    std::process::exit(1);
}

async fn check<F, Fut>(report: &mut Report, name: &str, body: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String>>,
{
    let started = Instant::now();
    print!("{name} ... ");
    let (outcome, evidence) = match body().await {
        Ok(evidence) => (Outcome::Passed, evidence),
        Err(error) => (Outcome::Failed, format!("{error:#}")),
    };
    println!(
        "{} ({evidence})",
        if outcome == Outcome::Passed {
            "ok"
        } else {
            "FAILED"
        }
    );
    report.record(CheckResult {
        name: name.to_owned(),
        outcome,
        evidence,
        took: started.elapsed(),
    });
}

async fn run_checks(cx: &Harness, report: &mut Report) {
    check(
        report,
        "Deployment todo-chatbot-backend READY 2/2, UP-TO-DATE 2, AVAILABLE 2",
        || async {
            let deployment = cx
                .cluster
                .wait_for_rollout(BACKEND, 2, ROLLOUT_TIMEOUT)
                .await?;
            let status = deployment.status.unwrap_or_default();
            Ok(format!(
                "ready {}/2, updated {}, available {}",
                status.ready_replicas.unwrap_or(0),
                status.updated_replicas.unwrap_or(0),
                status.available_replicas.unwrap_or(0)
            ))
        },
    )
    .await;

    check(report, "backend pods Running and Ready 1/1", || async {
        let pods = cx.cluster.pods(BACKEND_PODS).await?;
        ensure!(pods.len() == 2, "{} pods", pods.len());
        for pod in &pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let status = pod.status.clone().unwrap_or_default();
            ensure!(
                status.phase.as_deref() == Some("Running"),
                "{name} is {:?}",
                status.phase
            );
            let ready = status
                .container_statuses
                .unwrap_or_default()
                .iter()
                .filter(|c| c.ready)
                .count();
            ensure!(ready == 1, "{name} has {ready}/1 ready containers");
        }
        Ok(format!("{} pods Running, 1/1 ready", pods.len()))
    })
    .await;

    check(
        report,
        "Service todo-chatbot-backend NodePort 8000:30081/TCP",
        || async {
            let service = cx.services.get(BACKEND).await?;
            let spec = service.spec.context("no spec")?;
            ensure!(
                spec.type_.as_deref() == Some("NodePort"),
                "type {:?}",
                spec.type_
            );
            let port = spec
                .ports
                .unwrap_or_default()
                .into_iter()
                .next()
                .context("no port")?;
            ensure!(
                port.port == 8000 && port.node_port == Some(30081),
                "{port:?}"
            );
            ensure!(port.protocol.as_deref().unwrap_or("TCP") == "TCP");
            Ok("NodePort 8000:30081/TCP".into())
        },
    )
    .await;

    check(
        report,
        "Endpoints: one ready address per backend pod",
        || async {
            let pods = cx.cluster.pods(BACKEND_PODS).await?.len();
            let ready = cx.cluster.ready_endpoints(BACKEND).await?;
            ensure!(ready == pods, "{ready} ready endpoints for {pods} pods");
            Ok(format!("{ready} addresses"))
        },
    )
    .await;

    check(report, "Secret and ConfigMap present and consumed by the pods", || async {
        cx.cluster.secret_value("todo-chatbot-backend-secret", "DATABASE_URL").await?;
        cx.cluster.secret_value("todo-chatbot-backend-secret", "BETTER_AUTH_SECRET").await?;
        let config = cx.configmaps.get("todo-chatbot-backend-config").await?;
        let data = config.data.unwrap_or_default();
        ensure!(data.contains_key("ENVIRONMENT") && data.contains_key("LOG_LEVEL"), "ConfigMap keys {:?}", data.keys());
        let deployment = cx.cluster.deployment(BACKEND).await?;
        let spec = serde_json::to_string(&deployment.spec)?;
        ensure!(spec.contains("todo-chatbot-backend-secret") && spec.contains("todo-chatbot-backend-config"));
        Ok("Secret todo-chatbot-backend-secret, ConfigMap todo-chatbot-backend-config referenced".into())
    })
    .await;

    check(
        report,
        "GET /api/health answers 200 with database ok",
        || async {
            let response = cx
                .http
                .get(format!("{}/api/health", cx.base_url))
                .send()
                .await?;
            ensure!(response.status() == 200, "HTTP {}", response.status());
            let body: Value = response.json().await?;
            ensure!(body["database"] == "ok", "{body}");
            Ok(body.to_string())
        },
    )
    .await;

    check(
        report,
        "GET /docs answers 200 HTML (Swagger UI)",
        || async {
            let response = cx.http.get(format!("{}/docs", cx.base_url)).send().await?;
            ensure!(response.status() == 200, "HTTP {}", response.status());
            let content_type = response.headers().get("content-type").cloned();
            let html = response.text().await?;
            ensure!(html.contains("swagger-ui"), "not Swagger UI");
            Ok(format!("{content_type:?}"))
        },
    )
    .await;

    check(
        report,
        "GET /api/tasks without a token answers 401",
        || async {
            let response = cx
                .http
                .get(format!("{}/api/tasks", cx.base_url))
                .send()
                .await?;
            ensure!(response.status() == 401, "HTTP {}", response.status());
            Ok("401 with WWW-Authenticate".into())
        },
    )
    .await;

    check(
        report,
        "task round trip with a JWT signed by the cluster's secret",
        || async {
            let token = token(cx).await?;
            let created: Value = expect_status(
                cx.http
                    .post(format!("{}/api/tasks", cx.base_url))
                    .bearer_auth(&token)
                    .json(&json!({"title": "conformance"}))
                    .send()
                    .await?,
                201,
            )
            .await?;
            let id = created["id"].as_str().context("id")?;
            let url = format!("{}/api/tasks/{id}", cx.base_url);
            expect_status::<Value>(cx.http.get(&url).bearer_auth(&token).send().await?, 200)
                .await?;
            expect_status::<Value>(
                cx.http
                    .patch(&url)
                    .bearer_auth(&token)
                    .json(&json!({"completed": true}))
                    .send()
                    .await?,
                200,
            )
            .await?;
            let deleted = cx.http.delete(&url).bearer_auth(&token).send().await?;
            ensure!(deleted.status() == 204, "DELETE HTTP {}", deleted.status());
            Ok(format!("created, read, updated and deleted task {id}"))
        },
    )
    .await;

    check(
        report,
        "requests spread across more than one pod",
        || async {
            let mut pods = BTreeSet::new();
            for _ in 0..40 {
                let response = cx
                    .http
                    .get(format!("{}/api/health/live", cx.base_url))
                    .send()
                    .await?;
                if let Some(pod) = response.headers().get("x-served-by") {
                    pods.insert(pod.to_str()?.to_owned());
                }
            }
            ensure!(pods.len() > 1, "all 40 requests served by {pods:?}");
            Ok(format!("served by {pods:?}"))
        },
    )
    .await;

    check(
        report,
        "logs show a successful database connection",
        || async {
            let mut evidence = Vec::new();
            for pod in cx.cluster.pods(BACKEND_PODS).await? {
                let name = pod.metadata.name.unwrap_or_default();
                let logs = cx.cluster.logs(&name).await?;
                let line = logs
                    .lines()
                    .find(|line| line.contains("connected to database"))
                    .ok_or_else(|| anyhow!("{name}: no 'connected to database' line"))?;
                ensure!(
                    !logs.to_lowercase().contains("\"level\":\"error\""),
                    "{name} logged errors"
                );
                evidence.push(format!(
                    "{name}: {}",
                    line.chars().take(160).collect::<String>()
                ));
            }
            Ok(evidence.join("; "))
        },
    )
    .await;

    check(
        report,
        "running pods are UID 1001, non-root, no privilege escalation, no capabilities",
        || async {
            let mut evidence = Vec::new();
            for pod in cx.cluster.pods(BACKEND_PODS).await? {
                let name = pod.metadata.name.unwrap_or_default();
                let identity = cx
                    .cluster
                    .exec(&name, &["/usr/local/bin/backend", "identity"])?;
                for expected in [
                    "uid=1001",
                    "gid=1001",
                    "no_new_privs=1",
                    "cap_eff=0000000000000000",
                    "root_fs_read_only=true",
                ] {
                    ensure!(
                        identity.contains(expected),
                        "{name}: {identity} lacks {expected}"
                    );
                }
                evidence.push(format!("{name}: {}", identity.trim()));
            }
            Ok(evidence.join("; "))
        },
    )
    .await;

    check(report, "helm upgrade --reuse-values --set backend.replicaCount=4 gives 4 ready pods and endpoints, then back to 2", || async {
        helm_upgrade(cx, &["--set", "backend.replicaCount=4"])?;
        cx.cluster.wait_for_rollout(BACKEND, 4, ROLLOUT_TIMEOUT).await?;
        let four = cx.cluster.ready_endpoints(BACKEND).await?;
        helm_upgrade(cx, &["--set", "backend.replicaCount=2"])?;
        cx.cluster.wait_for_rollout(BACKEND, 2, ROLLOUT_TIMEOUT).await?;
        Ok(format!("4 replicas with {four} ready endpoints, then 2"))
    })
    .await;

    check(
        report,
        "rolling restart under steady traffic fails no request",
        || async {
            let token = token(cx).await?;
            let traffic = SteadyTraffic::start(cx, &token, 4);
            cx.cluster.restart_deployment(BACKEND).await?;
            // The patch bumps the generation, so "rolled out" now means the new pods, not the old.
            cx.cluster
                .wait_for_rollout(BACKEND, 2, ROLLOUT_TIMEOUT)
                .await?;
            let (sent, failed) = traffic.stop().await;
            ensure!(sent > 0, "no traffic was sent");
            ensure!(
                failed.is_empty(),
                "{} of {sent} requests failed: {:?}",
                failed.len(),
                &failed[..failed.len().min(5)]
            );
            Ok(format!("{sent} requests during the rollout, 0 failed"))
        },
    )
    .await;

    check(report, "postgres outage: pods turn unready, then ready again on their own with data intact", || async {
        let token = token(cx).await?;
        let mut ids = Vec::new();
        for n in 0..3 {
            let task: Value = expect_status(
                cx.http
                    .post(format!("{}/api/tasks", cx.base_url))
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("before outage {n}")}))
                    .send()
                    .await?,
                201,
            )
            .await?;
            ids.push(task["id"].as_str().context("id")?.to_owned());
        }
        let outage = Instant::now();
        cx.cluster.scale_statefulset(POSTGRES, 0).await?;
        cx.cluster.wait_for_statefulset(POSTGRES, 0, Duration::from_secs(120)).await?;
        cx.cluster.wait_for_ready_endpoints(BACKEND, 0, Duration::from_secs(120)).await?;
        let unready_after = outage.elapsed();
        let during = cx.http.get(format!("{}/api/tasks", cx.base_url)).bearer_auth(&token).send().await;
        ensure!(
            during.as_ref().map(|r| !r.status().is_success()).unwrap_or(true),
            "traffic still served during the outage"
        );

        cx.cluster.scale_statefulset(POSTGRES, 1).await?;
        cx.cluster.wait_for_statefulset(POSTGRES, 1, Duration::from_secs(180)).await?;
        cx.cluster.wait_for_rollout(BACKEND, 2, Duration::from_secs(300)).await?;
        for id in &ids {
            let response = cx.http.get(format!("{}/api/tasks/{id}", cx.base_url)).bearer_auth(&token).send().await?;
            ensure!(response.status() == 200, "task {id} after the outage: HTTP {}", response.status());
        }
        let restarts: i32 = cx
            .cluster
            .pods(BACKEND_PODS)
            .await?
            .iter()
            .flat_map(|pod| pod.status.clone().unwrap_or_default().container_statuses.unwrap_or_default())
            .map(|status| status.restart_count)
            .sum();
        Ok(format!(
            "unready {:.0}s after postgres stopped; ready again with {} tasks intact ({restarts} container restarts)",
            unready_after.as_secs_f64(),
            ids.len()
        ))
    })
    .await;

    check(report, "helm test passes", || async {
        let output = std::process::Command::new(helm::helm_binary())
            .args(["test", RELEASE, "-n", &cx.namespace, "--timeout", "2m"])
            .output()?;
        ensure!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok("test-health Job succeeded".into())
    })
    .await;
}

async fn token(cx: &Harness) -> Result<String> {
    let secret = cx
        .cluster
        .secret_value("todo-chatbot-backend-secret", "BETTER_AUTH_SECRET")
        .await?;
    Ok(testkit::jwt::mint(&secret, "conformance", 600))
}

async fn expect_status<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    status: u16,
) -> Result<T> {
    let got = response.status();
    let text = response.text().await?;
    if got.as_u16() != status {
        bail!("expected HTTP {status}, got {got}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

fn helm_upgrade(cx: &Harness, extra: &[&str]) -> Result<()> {
    let output = std::process::Command::new(helm::helm_binary())
        .current_dir(repo_root())
        .args([
            "upgrade",
            RELEASE,
            "charts/todo-chatbot",
            "-n",
            &cx.namespace,
            "--reuse-values",
        ])
        .args(extra)
        .output()?;
    ensure!(
        output.status.success(),
        "helm upgrade: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// Clients sending authenticated reads back to back, each on a new connection.
struct SteadyTraffic {
    running: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    workers: Vec<tokio::task::JoinHandle<Vec<String>>>,
}

impl SteadyTraffic {
    fn start(cx: &Harness, token: &str, clients: usize) -> SteadyTraffic {
        let running = Arc::new(AtomicBool::new(true));
        let sent = Arc::new(AtomicUsize::new(0));
        let workers = (0..clients)
            .map(|_| {
                let (running, sent, http) = (running.clone(), sent.clone(), cx.http.clone());
                let (url, token) = (
                    format!("{}/api/tasks?limit=1", cx.base_url),
                    token.to_owned(),
                );
                tokio::spawn(async move {
                    let mut failures = Vec::new();
                    while running.load(Ordering::SeqCst) {
                        sent.fetch_add(1, Ordering::SeqCst);
                        match http.get(&url).bearer_auth(&token).send().await {
                            Ok(response) if response.status().is_success() => {}
                            Ok(response) => failures.push(format!("HTTP {}", response.status())),
                            Err(error) => failures.push(error.to_string()),
                        }
                    }
                    failures
                })
            })
            .collect();
        SteadyTraffic {
            running,
            sent,
            workers,
        }
    }

    async fn stop(self) -> (usize, Vec<String>) {
        self.running.store(false, Ordering::SeqCst);
        let mut failures = Vec::new();
        for worker in self.workers {
            failures.extend(worker.await.unwrap_or_default());
        }
        (self.sent.load(Ordering::SeqCst), failures)
    }
}
