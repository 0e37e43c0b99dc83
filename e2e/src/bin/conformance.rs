//! Proves the deployment contract on a live cluster (`make test-e2e` after `make kind-up`).
//!
//! [`CHECKS`] is the whole run: one row per check, one function per row, in order. Checks that
//! change the cluster register their restores first (see `e2e::guard`). The run acts only on
//! `kind-todo-chatbot` or the context named in `E2E_CONTEXT` (see `e2e::kubeconfig`), through a
//! one-context kubeconfig that every kubectl and helm command also uses, so the contract's own
//! commands run exactly as it writes them. It writes a markdown report and, on any failure, a
//! debugging bundle; it exits 0 only if every check ran and passed.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use e2e::cluster::{
    Cluster, Progress, Replacement, backend_images, is_rolled_out, live, probe_pod,
};
use e2e::commands::{CommandLine, Local, Runner};
use e2e::contract;
use e2e::guard::{self, Check, Checked, Guard, Restore, Restored};
use e2e::helm::release_revision;
use e2e::kubeconfig::{CONTEXT_VARIABLE, choose_context, write_scoped};
use e2e::manifests::{Manifests, changes};
use e2e::names::Names;
use e2e::outage;
use e2e::report::{self, BUNDLE_DIR, KUBECONFIG_FILE, REPORT_FILE};
use e2e::traffic::{Pace, Traffic};
use e2e::{NAMESPACE, RELEASE, bundle, repo_root};
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::config::Kubeconfig;
use serde_json::{Value, json};

/// The contract's Service port and node port.
const SERVICE_PORT: u16 = 8000;
const NODE_PORT: u16 = 30081;
/// The contract's default replica count, and its scaled one.
const REPLICAS: i32 = 2;
const SCALED: i32 = 4;
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(180);
/// Tens of requests a second prove a rollout drops nothing without running local ports dry
/// (see e2e::traffic); the budget covers the longest rollout the checks wait for.
const TRAFFIC: Pace = Pace {
    per_second: 20,
    max_in_flight: 8,
    max_requests: 20 * 300,
};
/// Requests still sent after the last old pod is gone: five seconds' worth.
const TAIL_REQUESTS: usize = 100;
/// The outage check's writes: a few a second from before PostgreSQL goes until every pod serves
/// again, each on a new connection; the budget outlasts the longest waits of the check.
const OUTAGE_TRAFFIC: Pace = Pace {
    per_second: 5,
    max_in_flight: 8,
    max_requests: 5 * 600,
};
/// Beyond the readiness probe's own time, for the endpoints to follow the pods' readiness.
const UNREADY_SLACK: Duration = Duration::from_secs(15);
/// How long the backend may take to be ready again once PostgreSQL is: a container that liveness
/// restarted during the outage may sit in CrashLoopBackOff (10, 20, 40 s ...), then starts,
/// connects, and passes readiness after its 15 s initial delay.
const RECOVERY_BOUND: Duration = Duration::from_secs(180);
/// After every pod is ready, the time kube-proxy on each node may take to route to them.
const ENDPOINT_GRACE: Duration = Duration::from_secs(5);

/// The run, in order.
const CHECKS: &[Check<Harness>] = &[
    Check {
        name: "Deployment {backend} rolled out to 2 pods, none left terminating",
        run: backend_rolled_out,
    },
    Check {
        name: "kubectl get deployment {backend}: READY 2/2, UP-TO-DATE 2, AVAILABLE 2",
        run: kubectl_get_deployment,
    },
    Check {
        name: "kubectl get pods -l app.kubernetes.io/component=backend: STATUS Running, READY 1/1",
        run: kubectl_get_pods,
    },
    Check {
        name: "backend pods Running with their container ready (API)",
        run: pods_running_and_ready,
    },
    // Before the run's own requests: their INFO lines would push the start-up lines out of the
    // last 10 lines a pod shows under `kubectl logs -l` (probes and scrapes log at DEBUG).
    Check {
        name: "kubectl logs -l app.kubernetes.io/component=backend | grep -i database: a database line from every pod, no errors",
        run: database_logs,
    },
    Check {
        name: "kubectl get service {backend}: TYPE NodePort, PORT(S) 8000:30081/TCP",
        run: kubectl_get_service,
    },
    Check {
        name: "Service {backend}: NodePort 8000 to 8000 on 30081, selecting the backend pods",
        run: service_spec,
    },
    Check {
        name: "kubectl get endpoints {backend}: one address per pod",
        run: kubectl_get_endpoints,
    },
    Check {
        name: "EndpointSlices of {backend}: one ready address per live pod",
        run: ready_endpoints_per_pod,
    },
    Check {
        name: "Secret {backend_secret} and ConfigMap {backend_config} present and consumed by the pods",
        run: secret_and_configmap,
    },
    Check {
        name: "curl {base_url}/api/health: HTTP 200, database ok",
        run: curl_health,
    },
    Check {
        name: "curl {base_url}/docs: HTTP 200, Swagger UI",
        run: curl_docs,
    },
    Check {
        name: "curl {base_url}/api/tasks: HTTP 401 with WWW-Authenticate: Bearer",
        run: curl_tasks_unauthorized,
    },
    Check {
        name: "task round trip with a JWT signed by the cluster's secret",
        run: task_round_trip,
    },
    Check {
        name: "curl -s {base_url}/api/health in a loop: answers from more than one pod",
        run: load_distribution,
    },
    Check {
        name: "from a pod in the cluster: {backend_address} resolves and answers /api/health",
        run: in_cluster_service_address,
    },
    Check {
        name: "running pods are UID 1001, non-root, no privilege escalation, no capabilities, read-only root",
        run: pod_identity,
    },
    Check {
        name: "helm upgrade {release} ./helm/todo-chatbot --set backend.replicaCount=4: 4 ready pods on the same image, nothing else changed, monitoring still up",
        run: contract_scaling,
    },
    Check {
        name: "rolling restart under steady traffic fails no request, until every old pod is gone",
        run: rolling_restart,
    },
    Check {
        name: "postgres outage under steady writes: pods unready within the readiness probe's time, ready and serving again within 180 s of PostgreSQL, only the failures an outage explains and only during it, no acknowledged write lost",
        run: postgres_outage,
    },
    Check {
        name: "helm test {release} passes",
        run: helm_test,
    },
];

struct Harness {
    cluster: Cluster,
    runner: Local,
    names: Names,
    namespace: String,
    base_url: String,
    /// One connection per request, so every request goes through the Service's current
    /// endpoints the way a new client would.
    http: reqwest::Client,
    /// The commands run since the report last took them, as typed.
    commands: RefCell<Vec<String>>,
}

impl Harness {
    /// Runs a command with the run's kubeconfig, within its deadline; its standard output, or
    /// why it failed.
    async fn run(&self, command: &CommandLine) -> Result<String> {
        self.commands.borrow_mut().push(command.to_string());
        self.runner.run(command).await?.stdout_of(command)
    }

    /// The backend rolled out to `replicas`, its endpoints ready, no old pod still terminating.
    async fn backend_at(&self, replicas: i32) -> Result<()> {
        self.cluster
            .wait_for_rollout(&self.names.backend, replicas, ROLLOUT_TIMEOUT)
            .await?;
        self.cluster
            .wait_until_none_terminating(&self.names.backend_pods(), ROLLOUT_TIMEOUT)
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn token(&self) -> Result<String> {
        self.token_for("conformance").await
    }

    /// A token for user `sub`, signed with the secret the cluster keeps.
    async fn token_for(&self, sub: &str) -> Result<String> {
        let secret = self
            .cluster
            .secret_value(&self.names.backend_secret, "BETTER_AUTH_SECRET")
            .await?;
        Ok(testkit::jwt::mint(&secret, sub, 900))
    }

    /// The ids of every task of the token's user (all pages).
    async fn task_ids(&self, token: &str) -> Result<BTreeSet<String>> {
        let mut ids = BTreeSet::new();
        loop {
            let page: Value = expect_status(
                self.http
                    .get(self.url(&format!("/api/tasks?limit=100&offset={}", ids.len())))
                    .bearer_auth(token)
                    .send()
                    .await?,
                200,
            )
            .await?;
            let items = page["items"].as_array().context("a page of tasks")?;
            if items.is_empty() {
                return Ok(ids);
            }
            for item in items {
                ids.insert(item["id"].as_str().context("a task id")?.to_owned());
            }
        }
    }

    fn backend_address(&self) -> String {
        self.names
            .backend_service_address(&self.namespace, SERVICE_PORT)
    }
}

/// A check's name with the release's object names, the in-cluster address and the URL filled in.
fn fill(template: &str, names: &Names, namespace: &str, base_url: &str) -> String {
    template
        .replace("{backend_secret}", &names.backend_secret)
        .replace("{backend_config}", &names.backend_config)
        .replace(
            "{backend_address}",
            &names.backend_service_address(namespace, SERVICE_PORT),
        )
        .replace("{backend}", &names.backend)
        .replace("{release}", &names.release)
        .replace("{base_url}", base_url)
}

impl guard::Harness for Harness {
    fn title(&self, template: &str) -> String {
        fill(template, &self.names, &self.namespace, &self.base_url)
    }

    fn restore<'a>(&'a self, action: &'a Restore) -> Restored<'a> {
        Box::pin(async move {
            match action {
                Restore::ScaleStatefulSet { name, replicas } => {
                    self.cluster.scale_statefulset(name, *replicas).await?;
                    self.cluster
                        .wait_for_statefulset(name, *replicas, ROLLOUT_TIMEOUT)
                        .await
                }
                Restore::HelmRollback { release, revision } => {
                    let revision = revision.to_string();
                    self.run(&CommandLine::new("helm", &["rollback", release, &revision]))
                        .await
                        .map(drop)
                }
                Restore::WaitForRollout {
                    deployment,
                    replicas,
                } if *deployment == self.names.backend => self.backend_at(*replicas).await,
                Restore::WaitForRollout {
                    deployment,
                    replicas,
                } => self
                    .cluster
                    .wait_for_rollout(deployment, *replicas, ROLLOUT_TIMEOUT)
                    .await
                    .map(drop),
                Restore::DeletePod { name } => {
                    self.cluster.delete_pod(name, Duration::from_secs(60)).await
                }
            }
        })
    }

    fn take_commands(&self) -> Vec<String> {
        self.commands.take()
    }
}

#[tokio::main]
async fn main() {
    let names = Names::for_release(RELEASE);
    let namespace = std::env::var("E2E_NAMESPACE").unwrap_or_else(|_| NAMESPACE.into());
    let base_url =
        std::env::var("E2E_BASE_URL").unwrap_or_else(|_| format!("http://localhost:{NODE_PORT}"));
    let report_dir = std::env::var_os("E2E_REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/e2e"));

    let (cluster, runner, context) = match connect(&report_dir, &namespace).await {
        Ok(connected) => connected,
        Err(error) => {
            eprintln!("conformance: {error:#}");
            std::process::exit(2);
        }
    };
    println!(
        "conformance: context {context}, namespace {namespace}, release {}",
        names.release
    );
    let cx = Harness {
        cluster,
        runner,
        names,
        namespace,
        base_url,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client"),
        commands: RefCell::new(Vec::new()),
    };

    // Rewritten as each check starts and ends: a run killed from outside (CI's job limit) still
    // leaves every finished check and names the one under way.
    let report_file = report_dir.join(REPORT_FILE);
    let report = guard::run(&cx, CHECKS, stop_requested, |report| {
        if let Err(error) = report.write(&report_file, TITLE) {
            eprintln!("could not write {}: {error}", report_file.display());
        }
    })
    .await;
    report.write(&report_file, TITLE).expect("write report");
    println!("\nconformance report: {}", report_file.display());

    let passed = report.all_passed();
    if !passed {
        let pods: Vec<String> = cx
            .cluster
            .all_pods(&cx.names.release_pods())
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|pod| pod.metadata.name)
            .collect();
        let captures = bundle::captures(&cx.namespace, &cx.names.release, &pods);
        match bundle::collect(&report_dir.join(BUNDLE_DIR), &captures, &cx.runner).await {
            Ok(dir) => println!("failure bundle: {}", dir.display()),
            Err(error) => eprintln!("could not write the failure bundle: {error}"),
        }
    }
    // It holds credentials and served this run only.
    let _ = std::fs::remove_file(report_dir.join(KUBECONFIG_FILE));
    if passed {
        println!("conformance: all {} checks passed", report.passed());
        return;
    }
    eprintln!(
        "conformance: {} of {} checks failed, {} not run",
        report.failed(),
        report.results().len(),
        report.results().len() - report.passed() - report.failed()
    );
    std::process::exit(1);
}

const TITLE: &str = "Deployment contract conformance";

/// Resolves when the user or CI asks the run to stop: Ctrl-C (SIGINT), or SIGTERM (what a
/// cancelled CI job sends after SIGINT). The check under way is abandoned and its restores run.
async fn stop_requested() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// Clears the last run's results, picks the context, writes the run's kubeconfig and connects.
async fn connect(
    report_dir: &std::path::Path,
    namespace: &str,
) -> Result<(Cluster, Local, String)> {
    report::start_clean(report_dir)
        .with_context(|| format!("cleaning {}", report_dir.display()))?;
    let kubeconfig = Kubeconfig::read()
        .context("no kubeconfig (KUBECONFIG or ~/.kube/config): run `make kind-up` first")?;
    let requested = std::env::var(CONTEXT_VARIABLE).ok();
    let context = choose_context(&kubeconfig, requested.as_deref())?;
    let scoped = report_dir.join("kubeconfig");
    write_scoped(&Local::unscoped(&repo_root()), &context, namespace, &scoped).await?;
    let cluster = Cluster::connect(&scoped, namespace)
        .await
        .with_context(|| {
            format!("no cluster to test in context {context} (start one with `make kind-up`)")
        })?;
    Ok((cluster, Local::scoped(&scoped, &repo_root()), context))
}

// -- The checks, in the order of CHECKS --------------------------------------------------------

fn backend_rolled_out<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        cx.backend_at(REPLICAS).await?;
        let status = cx
            .cluster
            .deployment(&cx.names.backend)
            .await?
            .status
            .unwrap_or_default();
        Ok(format!(
            "ready {}/{REPLICAS}, updated {}, available {}; no pod terminating",
            status.ready_replicas.unwrap_or(0),
            status.updated_replicas.unwrap_or(0),
            status.available_replicas.unwrap_or(0)
        ))
    })
}

fn kubectl_get_deployment<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let output = cx.run(&contract::get_deployment(&cx.names)).await?;
        contract::expect_deployment(&output, &cx.names.backend, REPLICAS as u32)
    })
}

fn kubectl_get_pods<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let output = cx.run(&contract::get_pods()).await?;
        contract::expect_pods(&output, REPLICAS as usize)
    })
}

fn pods_running_and_ready<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let pods = cx.cluster.live_pods(&cx.names.backend_pods()).await?;
        ensure!(pods.len() == REPLICAS as usize, "{} live pods", pods.len());
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
}

fn kubectl_get_service<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let output = cx.run(&contract::get_service(&cx.names)).await?;
        contract::expect_node_port_service(&output, &cx.names.backend, SERVICE_PORT, NODE_PORT)
    })
}

fn service_spec<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let service: Service = cx.cluster.get(&cx.names.backend).await?;
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
            port.port == i32::from(SERVICE_PORT) && port.node_port == Some(i32::from(NODE_PORT)),
            "{port:?}"
        );
        ensure!(port.protocol.as_deref().unwrap_or("TCP") == "TCP");
        let selector = spec.selector.unwrap_or_default();
        ensure!(
            selector
                .get("app.kubernetes.io/component")
                .map(String::as_str)
                == Some("backend"),
            "selector {selector:?}"
        );
        Ok(format!(
            "NodePort {SERVICE_PORT}:{NODE_PORT}/TCP, selector {selector:?}"
        ))
    })
}

fn kubectl_get_endpoints<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let pods = cx.cluster.live_pods(&cx.names.backend_pods()).await?.len();
        let output = cx.run(&contract::get_endpoints(&cx.names)).await?;
        contract::expect_endpoints(&output, &cx.names.backend, pods, SERVICE_PORT)
    })
}

fn ready_endpoints_per_pod<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let pods = cx.cluster.live_pods(&cx.names.backend_pods()).await?.len();
        let ready = cx.cluster.ready_endpoints(&cx.names.backend).await?;
        ensure!(ready == pods, "{ready} ready endpoints for {pods} pods");
        Ok(format!("{ready} ready addresses for {pods} pods"))
    })
}

fn secret_and_configmap<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let names = &cx.names;
        for key in ["DATABASE_URL", "BETTER_AUTH_SECRET"] {
            cx.cluster.secret_value(&names.backend_secret, key).await?;
        }
        let config: ConfigMap = cx.cluster.get(&names.backend_config).await?;
        let data = config.data.unwrap_or_default();
        ensure!(
            data.contains_key("ENVIRONMENT") && data.contains_key("LOG_LEVEL"),
            "ConfigMap keys {:?}",
            data.keys()
        );
        let spec = serde_json::to_string(&cx.cluster.deployment(&names.backend).await?.spec)?;
        ensure!(
            spec.contains(&names.backend_secret) && spec.contains(&names.backend_config),
            "the pod template does not reference both"
        );
        Ok(format!(
            "Secret {} (DATABASE_URL, BETTER_AUTH_SECRET) and ConfigMap {} referenced by the pod template",
            names.backend_secret, names.backend_config
        ))
    })
}

fn curl_health<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let body = cx.run(&contract::curl(&cx.base_url, "/api/health")).await?;
        let pod = contract::healthy_pod(&body)?;
        let status = cx.http.get(cx.url("/api/health")).send().await?.status();
        ensure!(status == 200, "HTTP {status}");
        Ok(format!("HTTP 200 from {pod}: {}", body.trim()))
    })
}

fn curl_docs<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let html = cx.run(&contract::curl(&cx.base_url, "/docs")).await?;
        ensure!(html.contains("swagger-ui"), "not Swagger UI");
        let response = cx.http.get(cx.url("/docs")).send().await?;
        ensure!(response.status() == 200, "HTTP {}", response.status());
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        ensure!(
            content_type.starts_with("text/html"),
            "content-type {content_type:?}"
        );
        Ok(format!("HTTP 200, {content_type}, Swagger UI"))
    })
}

fn curl_tasks_unauthorized<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let body = cx.run(&contract::curl(&cx.base_url, "/api/tasks")).await?;
        let error: Value = serde_json::from_str(&body).with_context(|| format!("{body:?}"))?;
        ensure!(
            error["error"]["code"].is_string(),
            "not an error body: {body}"
        );
        let response = cx.http.get(cx.url("/api/tasks")).send().await?;
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|value| value.to_str().ok());
        contract::expect_unauthorized(response.status().as_u16(), challenge)
    })
}

fn task_round_trip<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let token = cx.token().await?;
        let created: Value = expect_status(
            cx.http
                .post(cx.url("/api/tasks"))
                .bearer_auth(&token)
                .json(&json!({"title": "conformance"}))
                .send()
                .await?,
            201,
        )
        .await?;
        let id = created["id"].as_str().context("id")?;
        let url = cx.url(&format!("/api/tasks/{id}"));
        expect_status::<Value>(cx.http.get(&url).bearer_auth(&token).send().await?, 200).await?;
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
    })
}

fn load_distribution<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        // The contract's loop runs curl ten times; with two pods all ten land on one pod about
        // once in 500 runs, so up to thirty more are sent before calling it a failure.
        let command = contract::curl_silent(&cx.base_url, "/api/health");
        let mut pods = Vec::new();
        for round in 0..40 {
            pods.push(contract::healthy_pod(&cx.run(&command).await?)?);
            if round >= 9 && contract::expect_spread(&pods).is_ok() {
                break;
            }
        }
        contract::expect_spread(&pods)
    })
}

fn in_cluster_service_address<'a>(cx: &'a Harness, guard: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let deployment = cx.cluster.deployment(&cx.names.backend).await?;
        let container = deployment
            .spec
            .and_then(|spec| spec.template.spec)
            .and_then(|spec| spec.containers.into_iter().find(|c| c.name == "backend"))
            .context("no backend container")?;
        let url = format!("http://{}/api/health", cx.backend_address());
        let pod = probe_pod(
            &cx.names,
            container.image.as_deref().unwrap_or_default(),
            container.image_pull_policy,
            &url,
        );
        let name = cx.cluster.create_pod(&pod).await?;
        guard.on_exit(Restore::DeletePod { name: name.clone() });
        let phase = cx
            .cluster
            .wait_for_pod_finished(&name, Duration::from_secs(90))
            .await?;
        if phase != "Succeeded" {
            let logs = cx.cluster.logs(&name).await.unwrap_or_default();
            bail!("pod {name} {phase}: {}", logs.trim());
        }
        Ok(format!(
            "pod {name} in namespace {}: GET {url} answered 200",
            cx.namespace
        ))
    })
}

fn database_logs<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        // As written: for a selector kubectl shows each pod's last 10 lines (kubectl logs
        // --tail), so every pod's start-up lines must still be among them.
        let shown = cx.run(&contract::backend_logs()).await?;
        let grepped = contract::database_lines(&shown);
        let errors = contract::error_lines(&grepped);
        ensure!(errors.is_empty(), "database errors: {errors:?}");
        let pods: Vec<String> = cx
            .cluster
            .live_pods(&cx.names.backend_pods())
            .await?
            .into_iter()
            .filter_map(|pod| pod.metadata.name)
            .collect();
        ensure!(
            grepped.len() >= pods.len(),
            "{} database lines for {} pods: {grepped:?}",
            grepped.len(),
            pods.len()
        );
        // The same with each line's pod named, to require one line from each.
        let by_pod = cx.run(&contract::backend_logs_by_pod()).await?;
        let mut evidence = vec![format!(
            "kubectl logs -l ...: {} database lines, no error; {}",
            grepped.len(),
            contract::expect_database_lines(&by_pod, &pods)?
        )];
        // And the start-up line itself, in each pod's whole log.
        for name in &pods {
            let logs = cx.cluster.logs(name).await?;
            let lines = contract::database_lines(&logs);
            let connected = lines
                .iter()
                .find(|line| line.contains("connected to database"))
                .with_context(|| format!("{name}: no 'connected to database' line"))?;
            let errors = contract::error_lines(&lines);
            ensure!(errors.is_empty(), "{name}: {errors:?}");
            evidence.push(format!(
                "{name}: {}",
                connected.chars().take(160).collect::<String>()
            ));
        }
        Ok(evidence.join("; "))
    })
}

fn pod_identity<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let mut evidence = Vec::new();
        for pod in cx.cluster.live_pods(&cx.names.backend_pods()).await? {
            let name = pod.metadata.name.unwrap_or_default();
            // The image has no shell: the command is a binary in it.
            let identity = cx
                .run(&CommandLine::new(
                    "kubectl",
                    &[
                        "exec",
                        &name,
                        "-c",
                        "backend",
                        "--",
                        "/usr/local/bin/backend",
                        "identity",
                    ],
                ))
                .await?;
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
    })
}

fn contract_scaling<'a>(cx: &'a Harness, guard: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let names = &cx.names;
        let status = CommandLine::new("helm", &["status", &names.release, "-o", "json"]);
        let revision = release_revision(&cx.run(&status).await?)?;
        let manifest = CommandLine::new("helm", &["get", "manifest", &names.release]);
        let before = Manifests::parse(&cx.run(&manifest).await?)?;
        let images: BTreeSet<_> =
            backend_images(&cx.cluster.live_pods(&names.backend_pods()).await?)
                .into_values()
                .collect();
        ensure!(
            images.len() == 1,
            "the pods run different images before scaling: {images:?}"
        );

        guard.on_exit(Restore::WaitForRollout {
            deployment: names.backend.clone(),
            replicas: REPLICAS,
        });
        guard.on_exit(Restore::HelmRollback {
            release: names.release.clone(),
            revision,
        });
        let command = contract::scale(names, SCALED as u32);
        cx.run(&command).await?;
        cx.backend_at(SCALED).await?;

        let pods = cx.cluster.live_pods(&names.backend_pods()).await?;
        ensure!(
            pods.len() == SCALED as usize,
            "{} pods after `{command}`",
            pods.len()
        );
        let after: BTreeSet<_> = backend_images(&pods).into_values().collect();
        ensure!(after == images, "images before {images:?}, after {after:?}");
        let changed = changes(&before, &Manifests::parse(&cx.run(&manifest).await?)?);
        let expected = format!(
            "Deployment {}: spec.replicas: {REPLICAS} -> {SCALED}",
            names.backend
        );
        ensure!(
            changed == [expected.clone()],
            "`{command}` changed more than the replica count: {changed:?}"
        );
        let mut monitoring = Vec::new();
        for name in [&names.prometheus, &names.grafana] {
            let deployment = cx.cluster.deployment(name).await?;
            let replicas = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            ensure!(
                is_rolled_out(&deployment, replicas),
                "{name} is not available after `{command}`"
            );
            monitoring.push(format!("{name} {replicas}/{replicas}"));
        }
        let (image, digest) = images.into_iter().next().unwrap_or_default();
        Ok(format!(
            "`{command}`: {SCALED} ready pods and endpoints on {image} ({digest}); the only change: {expected}; monitoring up: {}",
            monitoring.join(", ")
        ))
    })
}

fn rolling_restart<'a>(cx: &'a Harness, guard: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let names = &cx.names;
        let token = cx.token().await?;
        let old = cx.cluster.live_pods(&names.backend_pods()).await?;
        ensure!(!old.is_empty(), "no backend pods to restart");
        guard.on_exit(Restore::WaitForRollout {
            deployment: names.backend.clone(),
            replicas: REPLICAS,
        });

        let (http, url) = (cx.http.clone(), cx.url("/api/tasks?limit=1"));
        let traffic = Traffic::start(TRAFFIC, move || {
            let request = http.get(&url).bearer_auth(&token).send();
            async move {
                match request.await {
                    Ok(response) if response.status().is_success() => Ok(()),
                    Ok(response) => Err(format!("HTTP {}", response.status())),
                    Err(error) => Err(error.to_string()),
                }
            }
        });
        cx.cluster.restart_deployment(&names.backend).await?;

        let mut replacement = Replacement::of(&old, TAIL_REQUESTS);
        let deadline = Instant::now() + ROLLOUT_TIMEOUT;
        loop {
            let deployment = cx.cluster.deployment(&names.backend).await?;
            let pods = cx.cluster.all_pods(&names.backend_pods()).await?;
            match replacement.observe(is_rolled_out(&deployment, REPLICAS), &pods, traffic.sent()) {
                Progress::Done => break,
                Progress::Waiting(what) => {
                    ensure!(
                        Instant::now() < deadline,
                        "timed out after {ROLLOUT_TIMEOUT:?} waiting for {what}"
                    );
                    ensure!(
                        traffic.sent() < TRAFFIC.max_requests,
                        "the traffic budget of {} requests ran out while waiting for {what}",
                        TRAFFIC.max_requests
                    );
                }
            }
            // Polling interval of the condition above, not a wait for anything.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let outcome = traffic.stop().await;
        ensure!(outcome.sent > 0, "no traffic was sent");
        ensure!(
            outcome.failures.is_empty(),
            "{} of {} requests failed: {:?}",
            outcome.failures.len(),
            outcome.sent,
            &outcome.failures[..outcome.failures.len().min(5)]
        );
        let now = live(cx.cluster.all_pods(&names.backend_pods()).await?).len();
        Ok(format!(
            "{} requests at {}/s from before the restart until {TAIL_REQUESTS} after the last of {} old pods was gone, 0 failed; {now} new pods",
            outcome.sent,
            TRAFFIC.per_second,
            old.len()
        ))
    })
}

fn postgres_outage<'a>(cx: &'a Harness, guard: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        let names = &cx.names;
        // A user of its own, so its task list is exactly what this check wrote.
        let user = format!(
            "conformance-outage-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs()
        );
        let token = cx.token_for(&user).await?;
        let deployment = cx.cluster.deployment(&names.backend).await?;
        let readiness = deployment
            .spec
            .as_ref()
            .and_then(|spec| spec.template.spec.as_ref())
            .and_then(|spec| spec.containers.iter().find(|c| c.name == "backend"))
            .and_then(|container| container.readiness_probe.clone())
            .context("the backend container has no readiness probe")?;
        let unready_within = outage::unready_bound(&readiness, UNREADY_SLACK);
        let before = restart_counts(&cx.cluster.live_pods(&names.backend_pods()).await?);
        let replicas = cx.cluster.statefulset_replicas(&names.postgres).await?;
        guard.on_exit(Restore::WaitForRollout {
            deployment: names.backend.clone(),
            replicas: REPLICAS,
        });
        guard.on_exit(Restore::ScaleStatefulSet {
            name: names.postgres.clone(),
            replicas,
        });

        // Steady writes from before the outage until every pod serves again after it.
        let requests = Arc::new(Mutex::new(Vec::<outage::Request>::new()));
        let started = Instant::now();
        let traffic = {
            let (http, url, requests) = (cx.http.clone(), cx.url("/api/tasks"), requests.clone());
            let token = token.clone();
            Traffic::start(OUTAGE_TRAFFIC, move || {
                let sent_at = started.elapsed();
                let request = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(
                        &json!({"title": format!("outage write at {:.1}s", sent_at.as_secs_f64())}),
                    )
                    .send();
                let requests = requests.clone();
                async move {
                    let (answer, served_by) = answer_of(request.await).await;
                    requests
                        .lock()
                        .expect("not poisoned")
                        .push(outage::Request {
                            sent_at,
                            answer,
                            served_by,
                        });
                    Ok(())
                }
            })
        };
        let acknowledged = || {
            requests
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|r| matches!(r.answer, outage::Answer::Status { code: 201, .. }))
                .count()
        };
        testkit::wait::until(
            "writes acknowledged before the outage",
            Duration::from_secs(30),
            Duration::from_millis(200),
            || async { (acknowledged() >= 10).then_some(()) },
        )
        .await?;

        let start = started.elapsed();
        cx.cluster.scale_statefulset(&names.postgres, 0).await?;
        cx.cluster
            .wait_for_statefulset(&names.postgres, 0, Duration::from_secs(120))
            .await?;
        let database_gone = started.elapsed();
        cx.cluster
            .wait_for_ready_endpoints(&names.backend, 0, unready_within)
            .await
            .with_context(|| {
                format!("the pods did not all turn unready within {unready_within:?} of PostgreSQL going (readiness probe {}s x {} + {}s timeout)",
                    readiness.period_seconds.unwrap_or(10), readiness.failure_threshold.unwrap_or(3), readiness.timeout_seconds.unwrap_or(1))
            })?;
        let unready = started.elapsed();

        let database_restored = started.elapsed();
        cx.cluster
            .scale_statefulset(&names.postgres, replicas)
            .await?;
        cx.cluster
            .wait_for_statefulset(&names.postgres, replicas, ROLLOUT_TIMEOUT)
            .await?;
        let database_ready = started.elapsed();
        cx.cluster
            .wait_for_rollout(&names.backend, REPLICAS, RECOVERY_BOUND)
            .await
            .with_context(|| {
                format!("the backend was not ready again within {RECOVERY_BOUND:?} of PostgreSQL")
            })?;
        let recovered = started.elapsed();
        let window = outage::Window {
            start,
            database_gone,
            database_restored,
            end: recovered + ENDPOINT_GRACE,
        };

        // Serving again: every pod answers a write after the window, within a bound.
        let pods: BTreeSet<String> = cx
            .cluster
            .live_pods(&names.backend_pods())
            .await?
            .into_iter()
            .filter_map(|pod| pod.metadata.name)
            .collect();
        let serving = || {
            requests
                .lock()
                .expect("not poisoned")
                .iter()
                .filter(|r| r.sent_at >= window.end)
                .filter(|r| matches!(r.answer, outage::Answer::Status { code: 201, .. }))
                .filter_map(|r| r.served_by.clone())
                .collect::<BTreeSet<String>>()
        };
        let all_serving = testkit::wait::until(
            "every backend pod to acknowledge a write after the recovery",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || async { pods.is_subset(&serving()).then_some(()) },
        )
        .await;
        let outcome = traffic.stop().await;
        all_serving.with_context(|| {
            format!("pods {pods:?}, serving after the recovery: {:?}", serving())
        })?;
        ensure!(
            !outcome.budget_spent,
            "the traffic budget of {} requests ran out before the check ended",
            OUTAGE_TRAFFIC.max_requests
        );

        let requests = requests.lock().expect("not poisoned").clone();
        let verdict = outage::judge(&requests, window);
        ensure!(
            verdict.unexpected.is_empty(),
            "{} of {} requests failed as an outage does not explain: {:?}",
            verdict.unexpected.len(),
            requests.len(),
            &verdict.unexpected[..verdict.unexpected.len().min(10)]
        );
        ensure!(
            !verdict.excused.is_empty(),
            "no request failed while PostgreSQL was gone: traffic did not stop"
        );
        let stored = cx.task_ids(&token).await?;
        let lost: Vec<&String> = verdict
            .acknowledged
            .iter()
            .filter(|id| !stored.contains(*id))
            .collect();
        ensure!(
            lost.is_empty(),
            "{} of {} acknowledged writes are lost: {lost:?}",
            lost.len(),
            verdict.acknowledged.len()
        );

        let after = restart_counts(&cx.cluster.live_pods(&names.backend_pods()).await?);
        let (restarted, replaced) = outage::restarts(&before, &after);
        ensure!(
            replaced.is_empty(),
            "pods were replaced, not restarted: {replaced:?}"
        );
        let seconds = |d: Duration| format!("{:.0}s", d.as_secs_f64());
        Ok(format!(
            "{} writes: unready {} after PostgreSQL was gone (bound {}); PostgreSQL ready {} after it was asked back, every pod ready {} later (bound {}) and serving; excused inside the outage only: {:?}; {} acknowledged writes all kept; container restarts {restarted:?} (liveness on /api/health restarts them when an outage outlasts its {} failures, as the contract says)",
            requests.len(),
            seconds(unready - database_gone),
            seconds(unready_within),
            seconds(database_ready - database_restored),
            seconds(recovered - database_ready),
            seconds(RECOVERY_BOUND),
            verdict.excused,
            verdict.acknowledged.len(),
            readiness.failure_threshold.unwrap_or(3),
        ))
    })
}

/// The pods' restart counts of their `backend` container.
fn restart_counts(pods: &[k8s_openapi::api::core::v1::Pod]) -> BTreeMap<String, i32> {
    pods.iter()
        .filter_map(|pod| {
            let restarts = pod
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .iter()
                .find(|status| status.name == "backend")?
                .restart_count;
            Some((pod.metadata.name.clone()?, restarts))
        })
        .collect()
}

/// What a write of the outage traffic got, and the pod that answered.
async fn answer_of(
    result: Result<reqwest::Response, reqwest::Error>,
) -> (outage::Answer, Option<String>) {
    use outage::Answer;
    let response = match result {
        Ok(response) => response,
        Err(error) if error.is_connect() => return (Answer::ConnectFailed, None),
        Err(error) if error.is_timeout() => return (Answer::NoAnswer, None),
        Err(error) if was_dropped(&error) => return (Answer::Dropped, None),
        Err(error) => return (Answer::Other(error_chain(&error)), None),
    };
    let served_by = response
        .headers()
        .get("x-served-by")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let code = response.status().as_u16();
    if code != 201 {
        return (
            Answer::Status {
                code,
                created: None,
            },
            served_by,
        );
    }
    let answer = match response.json::<Value>().await {
        Ok(task) => match task["id"].as_str() {
            Some(id) => Answer::Status {
                code,
                created: Some(id.to_owned()),
            },
            None => Answer::Other(format!("201 without an id: {task}")),
        },
        Err(error) if was_dropped(&error) => Answer::Dropped,
        Err(error) => Answer::Other(format!(
            "201 with an unreadable body: {}",
            error_chain(&error)
        )),
    };
    (answer, served_by)
}

/// A connection closed or reset after the request went out (a container killed mid-request).
fn was_dropped(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        // hyper's own words for a connection that closed before the answer was complete.
        let text = current.to_string();
        if text.contains("connection closed before message completed")
            || text.contains("IncompleteMessage")
        {
            return true;
        }
        source = current.source();
    }
    false
}

/// An error and its causes on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn helm_test<'a>(cx: &'a Harness, _: &'a mut Guard) -> Checked<'a> {
    Box::pin(async move {
        // Helm waits up to its own --timeout for the test pods; the deadline leaves it that.
        cx.run(
            &CommandLine::new("helm", &["test", &cx.names.release, "--timeout", "2m"])
                .within(Duration::from_secs(180)),
        )
        .await?;
        Ok("every test hook succeeded (API health, PostgreSQL login, Prometheus targets, Grafana dashboard)".into())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn titles() -> Vec<String> {
        let names = Names::for_release("todo-chatbot");
        CHECKS
            .iter()
            .map(|check| fill(check.name, &names, "default", "http://localhost:30081"))
            .collect()
    }

    #[test]
    fn every_check_name_is_filled_in_and_unique() {
        let titles = titles();
        for title in &titles {
            assert!(!title.contains('{'), "unknown placeholder in {title:?}");
        }
        let unique: BTreeSet<&String> = titles.iter().collect();
        assert_eq!(unique.len(), titles.len(), "two checks share a name");
    }

    #[test]
    fn check_names_carry_the_contracts_object_names_and_commands() {
        let titles = titles();
        let has = |text: &str| titles.iter().any(|title| title.contains(text));
        assert!(has(
            "kubectl get deployment todo-chatbot-backend: READY 2/2"
        ));
        assert!(has("kubectl get endpoints todo-chatbot-backend"));
        assert!(has("todo-chatbot-backend.default.svc.cluster.local:8000"));
        assert!(has(
            "curl http://localhost:30081/api/tasks: HTTP 401 with WWW-Authenticate"
        ));
        assert!(has(
            "helm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4:"
        ));
    }

    #[test]
    fn the_run_first_waits_for_the_rollout_and_ends_with_the_disruptive_checks() {
        let titles = titles();
        assert!(titles[0].starts_with("Deployment todo-chatbot-backend rolled out"));
        let position = |text: &str| titles.iter().position(|t| t.contains(text)).unwrap();
        // Read-only checks first; then the ones that change the cluster, each restoring it.
        assert!(position("kubectl get pods") < position("helm upgrade"));
        assert!(position("helm upgrade") < position("rolling restart"));
        assert!(position("rolling restart") < position("postgres outage"));
        assert_eq!(titles.last().unwrap(), "helm test todo-chatbot passes");
    }

    #[test]
    fn the_scaling_check_runs_the_contracts_command_exactly() {
        let command = contract::scale(&Names::for_release(RELEASE), SCALED as u32);
        assert_eq!(
            command.to_string(),
            "helm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4"
        );
    }

    #[test]
    fn the_traffic_is_paced_in_tens_per_second_and_bounded() {
        assert!((10..100).contains(&TRAFFIC.per_second), "{TRAFFIC:?}");
        assert!(TRAFFIC.max_requests <= TRAFFIC.per_second as usize * 600);
        // The budget outlasts the longest wait of the restart check plus its tail.
        assert!(
            TRAFFIC.max_requests
                > TRAFFIC.per_second as usize * ROLLOUT_TIMEOUT.as_secs() as usize + TAIL_REQUESTS
        );
    }
}
