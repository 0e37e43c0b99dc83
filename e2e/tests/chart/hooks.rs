//! `helm test` of every part: a test hook Job per part (the API, PostgreSQL, Prometheus,
//! Grafana), each with the security settings of every other pod, a NetworkPolicy of its own that
//! opens DNS and its target's port only, and a target whose policy admits it.
//!
//! The images cannot be pulled here, so the Jobs never run against the real servers in `make
//! test` (`make test-e2e` runs `helm test` on the Kind cluster). What can run here does: each
//! hook's shell script, under the host's POSIX `sh` (dash, standing in for the images' busybox
//! and Debian shells), with stand-ins for `psql`, `promtool` and `curl` that record how they were
//! called and answer as the servers would, and for `date` and `sleep`, so no test waits.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};

use e2e::helm::Render;
use e2e::manifests::Manifests;
use e2e::monitoring::MonitoringFiles;
use e2e::names::Names;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec, Service};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::support::{
    assert_dns_only, defaults, ports, render, skip_without_helm, tcp, template_labels,
};

/// Every part's test: the Job, the workload it tests (kind, name) and that workload's port.
const HOOKS: &[(&str, (&str, &str), i32)] = &[
    (
        "todo-chatbot-backend-test-health",
        ("Deployment", "todo-chatbot-backend"),
        8000,
    ),
    (
        "todo-chatbot-postgres-test-connection",
        ("StatefulSet", "todo-chatbot-postgres"),
        5432,
    ),
    (
        "todo-chatbot-prometheus-test-targets",
        ("Deployment", "todo-chatbot-prometheus"),
        9090,
    ),
    (
        "todo-chatbot-grafana-test-dashboard",
        ("Deployment", "todo-chatbot-grafana"),
        3000,
    ),
];

type Labels = BTreeMap<String, String>;

fn is_test_hook(annotations: &Option<BTreeMap<String, String>>) -> bool {
    annotations
        .as_ref()
        .is_some_and(|a| a.get("helm.sh/hook").map(String::as_str) == Some("test"))
}

fn test_jobs(manifests: &Manifests) -> Vec<Job> {
    manifests
        .all::<Job>()
        .into_iter()
        .filter(|job| is_test_hook(&job.metadata.annotations))
        .collect()
}

fn job(manifests: &Manifests, name: &str) -> Job {
    let job = manifests.get::<Job>(name);
    assert!(
        is_test_hook(&job.metadata.annotations),
        "{name} is a test hook"
    );
    job
}

fn pod_spec(job: &Job) -> PodSpec {
    job.spec.clone().unwrap().template.spec.unwrap()
}

fn pod_labels(job: &Job) -> Labels {
    template_labels(&job.spec.clone().unwrap().template)
}

fn container(job: &Job) -> Container {
    let containers = pod_spec(job).containers;
    assert_eq!(containers.len(), 1);
    containers[0].clone()
}

/// The pod template of a Deployment or StatefulSet, raw.
fn workload_pod<'a>(manifests: &'a Manifests, (kind, name): (&str, &str)) -> &'a Value {
    &manifests
        .raw(kind, name)
        .unwrap_or_else(|| panic!("{kind} {name} is rendered"))["spec"]["template"]
}

fn labels_of(value: &Value) -> Labels {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

fn selects(selector: &Labels, labels: &Labels) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The labels of every pod the release runs (Deployments and StatefulSets).
fn workload_pods(manifests: &Manifests) -> Vec<(String, Labels)> {
    manifests
        .kinds_and_names()
        .into_iter()
        .filter(|(kind, _)| kind == "Deployment" || kind == "StatefulSet")
        .map(|(kind, name)| {
            let pod = workload_pod(manifests, (kind.as_str(), name.as_str()));
            let labels = labels_of(&pod["metadata"]["labels"]);
            (format!("{kind} {name}"), labels)
        })
        .collect()
}

fn env(container: &Container) -> BTreeMap<String, String> {
    container
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|var| {
            assert!(
                var.value_from.is_none(),
                "{}: test hooks take no secret from the environment",
                var.name
            );
            (var.name, var.value.unwrap_or_default())
        })
        .collect()
}

#[test]
fn every_part_has_a_helm_test_hook() {
    skip_without_helm!();
    let names: Vec<String> = test_jobs(defaults())
        .into_iter()
        .filter_map(|job| job.metadata.name)
        .collect();
    let mut expected: Vec<String> = HOOKS.iter().map(|(name, ..)| (*name).to_owned()).collect();
    let mut found = names.clone();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
    for name in names {
        let annotations = job(defaults(), &name).metadata.annotations.unwrap();
        assert_eq!(annotations["helm.sh/hook-weight"], "0", "{name}");
        assert_eq!(
            annotations["helm.sh/hook-delete-policy"], "before-hook-creation,hook-succeeded",
            "{name}: kept when it fails, for its logs"
        );
    }
}

#[test]
fn parts_that_are_off_have_no_test() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("postgres.enabled", "false")
            .set(
                "backend.secrets.DATABASE_URL",
                "postgresql://app@db.example:5432/app?sslmode=require",
            )
            .set("monitoring.prometheus.enabled", "false")
            .set(
                "monitoring.grafana.datasourceUrl",
                "http://prometheus.example:9090",
            )
            .set("monitoring.grafana.enabled", "false"),
    );
    let names: Vec<String> = test_jobs(&manifests)
        .into_iter()
        .filter_map(|job| job.metadata.name)
        .collect();
    assert_eq!(names, ["todo-chatbot-backend-test-health"]);
}

#[test]
fn every_test_pod_runs_with_the_security_settings_of_every_other_pod() {
    skip_without_helm!();
    for (name, workload, _) in HOOKS {
        let job = job(defaults(), name);
        let spec = job.spec.clone().unwrap();
        assert_eq!(spec.backoff_limit, Some(0), "{name}");
        assert!(spec.active_deadline_seconds.is_some(), "{name}");
        let pod = pod_spec(&job);
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"), "{name}");
        assert_eq!(pod.automount_service_account_token, Some(false), "{name}");
        let pod_context = pod.security_context.clone().unwrap();
        assert_eq!(pod_context.run_as_non_root, Some(true), "{name}");
        assert_eq!(
            pod_context.seccomp_profile.unwrap().type_,
            "RuntimeDefault",
            "{name}"
        );
        let container = container(&job);
        let context = container.security_context.clone().unwrap();
        assert_eq!(context.run_as_non_root, Some(true), "{name}");
        assert_eq!(context.read_only_root_filesystem, Some(true), "{name}");
        assert_eq!(context.allow_privilege_escalation, Some(false), "{name}");
        assert_eq!(
            context.capabilities.unwrap().drop.unwrap(),
            ["ALL".to_owned()],
            "{name}"
        );
        let resources = container.resources.clone().unwrap();
        assert!(
            resources.limits.is_some() && resources.requests.is_some(),
            "{name}"
        );
        // The tested workload's own image and user: nothing else to pull, the tools it ships.
        let target = &workload_pod(defaults(), *workload)["spec"];
        assert_eq!(
            container.image.as_deref(),
            target["containers"][0]["image"].as_str(),
            "{name}"
        );
        assert_eq!(
            context.run_as_user,
            target["containers"][0]["securityContext"]["runAsUser"].as_i64(),
            "{name}"
        );
    }
}

/// The test hook NetworkPolicy that selects `job`'s pod: there must be exactly one.
fn policy_of(manifests: &Manifests, job: &Job) -> NetworkPolicy {
    let labels = pod_labels(job);
    let policies: Vec<NetworkPolicy> = manifests
        .all::<NetworkPolicy>()
        .into_iter()
        .filter(|policy| {
            let selector = policy
                .spec
                .as_ref()
                .and_then(|spec| spec.pod_selector.clone()?.match_labels)
                .unwrap_or_default();
            selects(&selector, &labels)
        })
        .collect();
    assert_eq!(policies.len(), 1, "{:?}", job.metadata.name);
    policies[0].clone()
}

fn peer_selects(peer: &NetworkPolicyPeer, labels: &Labels) -> bool {
    peer.namespace_selector.is_none()
        && peer.ip_block.is_none()
        && peer
            .pod_selector
            .as_ref()
            .and_then(|selector| selector.match_labels.as_ref())
            .is_some_and(|selector| selects(selector, labels))
}

#[test]
fn every_test_pod_may_reach_dns_and_the_port_of_its_part_only() {
    skip_without_helm!();
    let pods = workload_pods(defaults());
    for (name, workload, port) in HOOKS {
        let job = job(defaults(), name);
        let policy = policy_of(defaults(), &job);
        assert!(
            is_test_hook(&policy.metadata.annotations),
            "{name}: the policy is a test hook too"
        );
        assert_eq!(
            policy.metadata.annotations.as_ref().unwrap()["helm.sh/hook-weight"],
            "-1",
            "{name}: created before the Job"
        );
        let spec = policy.spec.unwrap();
        assert_eq!(
            spec.policy_types.unwrap(),
            ["Ingress".to_owned(), "Egress".to_owned()]
        );
        assert!(
            spec.ingress.unwrap_or_default().is_empty(),
            "{name}: nothing may reach the test pod"
        );
        let egress = spec.egress.unwrap();
        assert_eq!(egress.len(), 2, "{name}: DNS and the target only");
        assert_dns_only(&egress[0]);
        assert_eq!(ports(&egress[1]), [tcp(*port)], "{name}");
        let peers = egress[1].to.clone().unwrap();
        assert_eq!(peers.len(), 1, "{name}");
        // The peer picks the tested workload's pods and no other pod of the release.
        let target = format!("{} {}", workload.0, workload.1);
        for (pod, labels) in &pods {
            assert_eq!(
                peer_selects(&peers[0], labels),
                *pod == target,
                "{name}: the egress peer and {pod}"
            );
        }
    }
}

#[test]
fn every_target_admits_its_test_pod_and_no_service_selects_one() {
    skip_without_helm!();
    let policies = defaults().all::<NetworkPolicy>();
    let services = defaults().all::<Service>();
    for (name, workload, port) in HOOKS {
        let job = job(defaults(), name);
        let test_labels = pod_labels(&job);
        let target_labels = labels_of(&workload_pod(defaults(), *workload)["metadata"]["labels"]);
        let target_policy = policies
            .iter()
            .find(|policy| {
                !is_test_hook(&policy.metadata.annotations)
                    && selects(
                        &policy
                            .spec
                            .as_ref()
                            .and_then(|spec| spec.pod_selector.clone()?.match_labels)
                            .unwrap_or_default(),
                        &target_labels,
                    )
            })
            .unwrap_or_else(|| panic!("{name}: the target has a policy"));
        let admitted = target_policy
            .spec
            .as_ref()
            .unwrap()
            .ingress
            .clone()
            .unwrap_or_default()
            .into_iter()
            .any(|rule| {
                let from_ok = rule
                    .from
                    .as_ref()
                    .is_none_or(|peers| peers.iter().any(|peer| peer_selects(peer, &test_labels)));
                let port_ok = rule.ports.as_ref().is_none_or(|ports| {
                    ports.iter().any(|p| {
                        p.port == Some(IntOrString::Int(*port))
                            && p.protocol.as_deref() == Some("TCP")
                    })
                });
                from_ok && port_ok
            });
        assert!(admitted, "{name}: the target's policy admits the test pod");
        for service in &services {
            let selector = service
                .spec
                .as_ref()
                .and_then(|spec| spec.selector.clone())
                .unwrap_or_default();
            assert!(
                !selects(&selector, &test_labels),
                "{name}: Service {:?} selects the test pod",
                service.metadata.name
            );
        }
    }
}

#[test]
fn the_postgres_policy_admits_the_backend_and_its_test_pod_only() {
    skip_without_helm!();
    let policy = defaults()
        .get::<NetworkPolicy>("todo-chatbot-postgres")
        .spec
        .unwrap();
    let test_labels = pod_labels(&job(defaults(), "todo-chatbot-postgres-test-connection"));
    let mut admitted = vec![];
    for (pod, labels) in
        workload_pods(defaults())
            .into_iter()
            .chain(test_jobs(defaults()).into_iter().map(|job| {
                (
                    format!("Job {}", job.metadata.name.clone().unwrap()),
                    pod_labels(&job),
                )
            }))
    {
        let from = policy.ingress.clone().unwrap()[0].from.clone().unwrap();
        if from.iter().any(|peer| peer_selects(peer, &labels)) {
            admitted.push(pod);
        }
    }
    assert_eq!(
        admitted,
        [
            "Deployment todo-chatbot-backend".to_owned(),
            "Job todo-chatbot-postgres-test-connection".to_owned()
        ]
    );
    assert_eq!(test_labels["app.kubernetes.io/component"], "database-test");
}

#[test]
fn without_network_policies_the_tests_have_none_either() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("backend.networkPolicy.enabled", "false")
            .set("postgres.networkPolicy.enabled", "false")
            .set("monitoring.networkPolicy.enabled", "false"),
    );
    assert_eq!(test_jobs(&manifests).len(), HOOKS.len());
    assert!(manifests.all::<NetworkPolicy>().is_empty());
}

// -- Each hook's script, run with stand-ins -------------------------------------------------

/// A directory of stand-in commands, and the log they append their calls to.
struct StandIns {
    dir: PathBuf,
}

impl StandIns {
    fn new(test: &str) -> StandIns {
        let dir = std::env::temp_dir().join(format!("hooks-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        let stand_ins = StandIns { dir };
        // `date +%s` counts up by DATE_STEP per call from 1000; `sleep` returns at once.
        stand_ins.command(
            "date",
            r#"n=$(cat "$STANDIN_DIR/date" 2>/dev/null || echo 0)
echo $((n + 1)) > "$STANDIN_DIR/date"
echo $((1000 + n * ${DATE_STEP:-0}))"#,
        );
        stand_ins.command("sleep", ":");
        stand_ins
    }

    /// A stand-in `name` running `body` (sh), its calls logged with their arguments.
    fn command(&self, name: &str, body: &str) {
        let path = self.dir.join("bin").join(name);
        fs::write(
            &path,
            format!("#!/bin/sh\necho \"{name} $*\" >> \"$STANDIN_DIR/calls\"\n{body}\n"),
        )
        .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, content).unwrap();
        path
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Runs the Job's container command (`/bin/sh -c <script>`) under the host's `sh`, with the
    /// container's environment, `overrides` and the stand-ins first on PATH.
    fn run(&self, job: &Job, overrides: &[(&str, &str)]) -> Output {
        let container = container(job);
        let command = container.command.clone().unwrap();
        assert_eq!(command[..2], ["/bin/sh".to_owned(), "-c".to_owned()]);
        let path = format!(
            "{}:{}",
            self.dir.join("bin").display(),
            std::env::var("PATH").unwrap()
        );
        Command::new("sh")
            .arg("-c")
            .arg(&command[2])
            .env_clear()
            .envs(env(&container))
            .envs(overrides.iter().copied())
            .env("PATH", path)
            .env("STANDIN_DIR", &self.dir)
            .output()
            .unwrap()
    }
}

impl Drop for StandIns {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The mount path of volume `volume` in the Job's container, and the Secret and items behind it.
fn secret_mount(job: &Job, volume: &str) -> (String, String, Vec<(String, String)>) {
    let mount = container(job)
        .volume_mounts
        .unwrap()
        .into_iter()
        .find(|mount| mount.name == volume)
        .unwrap();
    assert_eq!(mount.read_only, Some(true));
    let secret = pod_spec(job)
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == volume)
        .and_then(|v| v.secret)
        .unwrap();
    let items = secret
        .items
        .unwrap()
        .into_iter()
        .map(|item| (item.key, item.path))
        .collect();
    (mount.mount_path, secret.secret_name.unwrap(), items)
}

#[test]
fn the_postgres_test_logs_in_through_the_service_with_the_releases_password() {
    skip_without_helm!();
    let job = job(defaults(), "todo-chatbot-postgres-test-connection");
    let (mount, secret, items) = secret_mount(&job, "password");
    assert_eq!(secret, "todo-chatbot-postgres");
    assert_eq!(
        items,
        [("POSTGRES_PASSWORD".to_owned(), "password".to_owned())]
    );
    let vars = env(&container(&job));
    assert_eq!(vars["PASSWORD_FILE"], format!("{mount}/password"));
    for (var, value) in [
        ("PGHOST", "todo-chatbot-postgres"),
        ("PGPORT", "5432"),
        ("PGUSER", "todo"),
        ("PGDATABASE", "todo"),
        ("PGSSLMODE", "disable"),
    ] {
        assert_eq!(vars[var], value, "{var}");
    }
    // The Service it connects to is the bundled PostgreSQL's, on that port.
    let service = defaults().get::<Service>("todo-chatbot-postgres");
    assert_eq!(service.spec.unwrap().ports.unwrap()[0].port, 5432);

    let stand_ins = StandIns::new("postgres");
    stand_ins.command(
        "psql",
        r#"echo "password=$PGPASSWORD host=$PGHOST port=$PGPORT user=$PGUSER database=$PGDATABASE sslmode=$PGSSLMODE" >> "$STANDIN_DIR/calls"
[ "$PGPASSWORD" = "$EXPECTED_PASSWORD" ] || { echo 'password authentication failed' >&2; exit 2; }
echo ' todo | todo'"#,
    );
    let password = stand_ins.file("secret/password", "pg-password-from-the-secret");
    let password = password.to_str().unwrap();
    let output = stand_ins.run(
        &job,
        &[
            ("PASSWORD_FILE", password),
            ("EXPECTED_PASSWORD", "pg-password-from-the-secret"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let calls = stand_ins.calls();
    assert_eq!(
        calls[0],
        "psql --no-psqlrc --set=ON_ERROR_STOP=1 --command=SELECT current_user, current_database()"
    );
    assert_eq!(
        calls[1],
        "password=pg-password-from-the-secret host=todo-chatbot-postgres port=5432 user=todo database=todo sslmode=disable"
    );

    let refused = stand_ins.run(
        &job,
        &[
            ("PASSWORD_FILE", password),
            ("EXPECTED_PASSWORD", "another-password"),
        ],
    );
    assert!(!refused.status.success(), "a refused login fails the test");
}

#[test]
fn the_postgres_test_reads_an_existing_secret() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("global.postgres.existingSecret", "postgres-credentials")
            .set("global.postgres.passwordKey", "password"),
    );
    let job = job(&manifests, "todo-chatbot-postgres-test-connection");
    let (_, secret, items) = secret_mount(&job, "password");
    assert_eq!(secret, "postgres-credentials");
    assert_eq!(items, [("password".to_owned(), "password".to_owned())]);
}

/// A stand-in promtool: `check ready` exits READY_EXIT; `query --format=json instant` prints
/// `[]` until the EMPTY_QUERIES-th call has passed, then one series.
fn promtool(stand_ins: &StandIns) {
    stand_ins.command(
        "promtool",
        r#"case "$1" in
  check) exit "${READY_EXIT:-0}" ;;
  query)
    if [ "$2" = "--format=json" ]; then
      n=$(cat "$STANDIN_DIR/queries" 2>/dev/null || echo 0)
      echo $((n + 1)) > "$STANDIN_DIR/queries"
      if [ "$n" -lt "${EMPTY_QUERIES:-0}" ]; then echo '[]'; else echo '[{"metric":{"__name__":"up"},"value":[1,"1"]}]'; fi
    else
      echo 'up{job="backend"} => 1'
    fi ;;
esac"#,
    );
}

#[test]
fn the_prometheus_test_asks_the_service_for_readiness_and_an_up_backend_target() {
    skip_without_helm!();
    let job = job(defaults(), "todo-chatbot-prometheus-test-targets");
    let vars = env(&container(&job));
    assert_eq!(
        vars["PROMETHEUS_URL"],
        "http://todo-chatbot-prometheus:9090"
    );
    assert_eq!(
        vars["QUERY"],
        format!(r#"up{{job="backend",namespace="{}"}} == 1"#, e2e::NAMESPACE)
    );
    // The bundled scrape job is called backend and labels its targets with their namespace.
    let config = MonitoringFiles::from_render(defaults(), &Names::for_release(e2e::RELEASE))
        .unwrap()
        .config()
        .unwrap();
    let relabeling = &config.job("backend").unwrap()["relabel_configs"];
    assert!(
        relabeling
            .as_array()
            .unwrap()
            .iter()
            .any(|rule| rule["target_label"] == "namespace"),
        "{relabeling}"
    );

    let stand_ins = StandIns::new("prometheus-up");
    promtool(&stand_ins);
    // The first scrape comes after two polls.
    let output = stand_ins.run(&job, &[("EMPTY_QUERIES", "2")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let calls = stand_ins.calls();
    let ready = "promtool check ready --url=http://todo-chatbot-prometheus:9090";
    let query = format!(
        "promtool query --format=json instant http://todo-chatbot-prometheus:9090 {}",
        vars["QUERY"]
    );
    assert_eq!(
        calls.iter().filter(|c| **c == ready).count(),
        3,
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| **c == query).count(),
        3,
        "{calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|c| *c == "sleep 5").count(),
        2,
        "{calls:?}"
    );
    assert!(text(&output.stdout).contains("backend targets up"));
}

#[test]
fn the_prometheus_test_fails_when_no_backend_target_is_up_by_its_deadline() {
    skip_without_helm!();
    let job = job(defaults(), "todo-chatbot-prometheus-test-targets");
    let deadline = job.spec.clone().unwrap().active_deadline_seconds.unwrap() - 10;
    for (case, overrides) in [
        (
            "no target up",
            [("EMPTY_QUERIES", "1000"), ("READY_EXIT", "0")],
        ),
        ("not ready", [("EMPTY_QUERIES", "0"), ("READY_EXIT", "1")]),
    ] {
        let stand_ins = StandIns::new("prometheus-down");
        promtool(&stand_ins);
        // Each `date` is 30 s after the previous one: the deadline passes after a few polls.
        let step = [("DATE_STEP", "30")];
        let all: Vec<(&str, &str)> = overrides.iter().chain(&step).copied().collect();
        let output = stand_ins.run(&job, &all);
        assert!(!output.status.success(), "{case}");
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains(&format!("after {deadline}s Prometheus")),
            "{case}: {stderr}"
        );
        let polls = stand_ins
            .calls()
            .iter()
            .filter(|c| c.starts_with("promtool check ready"))
            .count();
        assert!(polls >= 2, "{case}: it polled ({polls})");
    }
}

#[test]
fn the_grafana_test_finds_the_dashboard_and_its_datasource_as_the_admin() {
    skip_without_helm!();
    let job = job(defaults(), "todo-chatbot-grafana-test-dashboard");
    let (mount, secret, items) = secret_mount(&job, "admin");
    assert_eq!(secret, "todo-chatbot-grafana");
    assert_eq!(
        items,
        [
            ("admin-user".to_owned(), "admin-user".to_owned()),
            ("admin-password".to_owned(), "admin-password".to_owned())
        ]
    );
    let vars = env(&container(&job));
    assert_eq!(vars["SECRETS_DIR"], mount);
    assert_eq!(vars["GRAFANA_URL"], "http://todo-chatbot-grafana:3000");
    let files =
        MonitoringFiles::from_render(defaults(), &Names::for_release(e2e::RELEASE)).unwrap();
    assert_eq!(vars["DASHBOARD_UID"], files.dashboard().unwrap()["uid"]);
    assert_eq!(
        [vars["DATASOURCE_UID"].clone()],
        files.datasource_uids().unwrap()[..]
    );

    let stand_ins = StandIns::new("grafana");
    // curl: the header it reads on stdin is logged; FAIL_PATH answers 404 (curl --fail: 22).
    stand_ins.command(
        "curl",
        r#"for last in "$@"; do :; done
case " $* " in *" --header @- "*) echo "stdin $(cat)" >> "$STANDIN_DIR/calls" ;; esac
if [ -n "${FAIL_PATH:-}" ]; then
  case "$last" in *"$FAIL_PATH") exit 22 ;; esac
fi
case "$last" in */api/health) echo '{"database": "ok"}' ;; esac"#,
    );
    stand_ins.file("admin/admin-user", "admin");
    stand_ins.file("admin/admin-password", "grafana-password");
    let secrets = stand_ins.dir.join("admin");
    let secrets = secrets.to_str().unwrap();
    let output = stand_ins.run(&job, &[("SECRETS_DIR", secrets)]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let calls = stand_ins.calls();
    let basic = "Authorization: Basic YWRtaW46Z3JhZmFuYS1wYXNzd29yZA=="; // admin:grafana-password
    let flags = "--fail --silent --show-error --max-time 10";
    assert_eq!(
        calls,
        [
            format!("curl {flags} http://todo-chatbot-grafana:3000/api/health"),
            format!(
                "curl {flags} --header @- --output /dev/null http://todo-chatbot-grafana:3000/api/dashboards/uid/todo-chatbot-backend"
            ),
            format!("stdin {basic}"),
            format!(
                "curl {flags} --header @- --output /dev/null http://todo-chatbot-grafana:3000/api/datasources/uid/prometheus"
            ),
            format!("stdin {basic}"),
        ]
    );
    assert!(
        !calls
            .iter()
            .any(|c| c.starts_with("curl") && c.contains("grafana-password")),
        "the password is never an argument"
    );

    for missing in [
        "/api/health",
        "/api/dashboards/uid/todo-chatbot-backend",
        "/api/datasources/uid/prometheus",
    ] {
        let output = stand_ins.run(&job, &[("SECRETS_DIR", secrets), ("FAIL_PATH", missing)]);
        assert!(
            !output.status.success(),
            "{missing} answering 404 fails the test"
        );
    }
}

#[test]
fn the_grafana_test_reads_an_existing_admin_secret() {
    skip_without_helm!();
    let manifests = render(
        Render::new()
            .set("monitoring.grafana.admin.existingSecret", "grafana-admin")
            .set("monitoring.grafana.admin.userKey", "user")
            .set("monitoring.grafana.admin.passwordKey", "password"),
    );
    let job = job(&manifests, "todo-chatbot-grafana-test-dashboard");
    let (_, secret, items) = secret_mount(&job, "admin");
    assert_eq!(secret, "grafana-admin");
    assert_eq!(
        items,
        [
            ("user".to_owned(), "admin-user".to_owned()),
            ("password".to_owned(), "admin-password".to_owned())
        ]
    );
}
