//! The backend image under testcontainers, run the way the chart runs it: the environment,
//! user, read-only root, dropped capabilities, writable /tmp and probe paths all come from the
//! `helm template` output of the chart's defaults (what `make kind-up` installs); the database
//! is a PostgreSQL container named like the chart's Service, on a private network.
//!
//! The image's binary also carries its dependency list (cargo auditable), which scanners read:
//! it is copied out of the image and checked against what cargo says the backend links.
//! And building the same tree again gives the same image ID.
//!
//! Needs Docker and the images `make image` builds (their names in target/images.env). Without
//! them the tests are skipped by name, unless E2E_REQUIRE=1 (as `make test` sets), which
//! makes a missing image a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use auditable_serde::{DependencyKind, Package, Source};
use e2e::helm::Render;
use e2e::manifests::Manifests;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use serde_json::{Value, json};
use testcontainers::core::{ContainerPort, ExecCommand, Mount};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

const BACKEND_PORT: u16 = 8000;

struct Images {
    backend: String,
    postgres: String,
}

/// The images to test, or None (after saying so) when they are not available.
fn images(test: &str) -> Option<Images> {
    let from_file =
        std::fs::read_to_string(e2e::repo_root().join("target/images.env")).unwrap_or_default();
    let setting = |name: &str| {
        std::env::var(name).ok().or_else(|| {
            from_file
                .lines()
                .find_map(|line| line.strip_prefix(&format!("{name}=")).map(str::to_owned))
        })
    };
    match (setting("BACKEND_IMAGE"), setting("POSTGRES_TEST_IMAGE")) {
        (Some(backend), Some(postgres)) => Some(Images { backend, postgres }),
        _ => {
            testkit::skip::missing(
                test,
                "no images built: run `make image` (it writes target/images.env)",
            );
            None
        }
    }
}

fn split_image(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_owned(), tag.to_owned()),
        _ => (reference.to_owned(), "latest".to_owned()),
    }
}

fn secret_value(manifests: &Manifests, name: &str, key: &str) -> String {
    let secret = manifests.get::<Secret>(name);
    String::from_utf8(secret.data.unwrap()[key].0.clone()).unwrap()
}

/// What the chart tells Kubernetes to run, resolved against the rendered ConfigMap and Secrets.
struct RenderedPod {
    env: BTreeMap<String, String>,
    container: Container,
    user: String,
    probe_paths: Vec<String>,
    grace_period: i64,
    postgres_env: BTreeMap<String, String>,
}

fn rendered_pod() -> RenderedPod {
    let manifests = Render::new().run().expect("the chart renders");
    let deployment = manifests.get::<Deployment>("todo-chatbot-backend");
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let container = pod
        .containers
        .iter()
        .find(|c| c.name == "backend")
        .unwrap()
        .clone();

    let mut env = BTreeMap::new();
    for source in container.env_from.clone().unwrap_or_default() {
        let reference = source.config_map_ref.expect("envFrom a ConfigMap");
        env.extend(
            manifests
                .get::<ConfigMap>(&reference.name)
                .data
                .unwrap_or_default(),
        );
    }
    for var in container.env.clone().unwrap_or_default() {
        let value = match (var.value, var.value_from) {
            (Some(value), _) => value,
            (None, Some(from)) if from.secret_key_ref.is_some() => {
                let reference = from.secret_key_ref.unwrap();
                secret_value(&manifests, &reference.name, &reference.key)
            }
            (None, Some(from)) if from.field_ref.is_some() => "container-test-pod".to_owned(),
            other => panic!("unsupported env source for {}: {other:?}", var.name),
        };
        env.insert(var.name, value);
    }

    let pod_context = pod.security_context.clone().unwrap_or_default();
    let container_context = container.security_context.clone().unwrap_or_default();
    let uid = container_context
        .run_as_user
        .or(pod_context.run_as_user)
        .expect("a UID");
    let gid = container_context
        .run_as_group
        .or(pod_context.run_as_group)
        .unwrap_or(uid);

    let probe_paths = [
        &container.liveness_probe,
        &container.readiness_probe,
        &container.startup_probe,
    ]
    .into_iter()
    .flatten()
    .filter_map(|probe| probe.http_get.as_ref().and_then(|get| get.path.clone()))
    .collect();

    let statefulset = manifests.get::<StatefulSet>("todo-chatbot-postgres");
    let postgres = &statefulset.spec.unwrap().template.spec.unwrap().containers[0];
    let mut postgres_env: BTreeMap<String, String> = postgres
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|var| var.name == "POSTGRES_USER" || var.name == "POSTGRES_DB")
        .map(|var| (var.name, var.value.unwrap()))
        .collect();
    postgres_env.insert("POSTGRES_PASSWORD".into(), env["DATABASE_PASSWORD"].clone());

    RenderedPod {
        env,
        container,
        user: format!("{uid}:{gid}"),
        probe_paths,
        grace_period: pod.termination_grace_period_seconds.unwrap_or(30),
        postgres_env,
    }
}

/// A private network with the chart's PostgreSQL and the backend running as rendered.
struct Stack {
    backend: ContainerAsync<GenericImage>,
    _postgres: ContainerAsync<GenericImage>,
    base_url: String,
    pod: RenderedPod,
}

async fn start_stack(images: &Images) -> Stack {
    let pod = rendered_pod();
    let network = format!("todo-chatbot-test-{}", uuid::Uuid::new_v4().simple());

    let (name, tag) = split_image(&images.postgres);
    let mut postgres = GenericImage::new(name, tag)
        .with_exposed_port(ContainerPort::Tcp(5432))
        .with_network(&network);
    for (key, value) in &pod.postgres_env {
        postgres = postgres.with_env_var(key, value);
    }
    let postgres = postgres
        .start()
        .await
        .expect("the PostgreSQL container starts");
    let postgres_port = postgres.get_host_port_ipv4(5432).await.unwrap();
    let postgres_ip = postgres_ip(&postgres).await;
    let admin_url = format!(
        "postgres://{}:{}@127.0.0.1:{postgres_port}/{}",
        pod.postgres_env["POSTGRES_USER"],
        pod.postgres_env["POSTGRES_PASSWORD"],
        pod.postgres_env["POSTGRES_DB"]
    );
    testkit::wait::until(
        "PostgreSQL to accept connections",
        Duration::from_secs(60),
        Duration::from_millis(250),
        || {
            let url = admin_url.clone();
            async move {
                tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()
                    .map(|_| ())
            }
        },
    )
    .await
    .unwrap();

    let (name, tag) = split_image(&images.backend);
    let mut backend = GenericImage::new(name, tag)
        .with_exposed_port(ContainerPort::Tcp(BACKEND_PORT))
        .with_network(&network)
        // The backend reaches the database as `todo-chatbot-postgres`, the chart's Service name.
        .with_host(
            "todo-chatbot-postgres",
            testcontainers::core::Host::Addr(postgres_ip),
        )
        .with_user(&pod.user)
        .with_readonly_rootfs(
            pod.container
                .security_context
                .as_ref()
                .unwrap()
                .read_only_root_filesystem
                == Some(true),
        )
        .with_security_opt("no-new-privileges");
    for capability in pod
        .container
        .security_context
        .as_ref()
        .unwrap()
        .capabilities
        .as_ref()
        .unwrap()
        .drop
        .clone()
        .unwrap()
    {
        backend = backend.with_cap_drop(capability);
    }
    for mount in pod.container.volume_mounts.clone().unwrap_or_default() {
        backend = backend.with_mount(Mount::tmpfs_mount(mount.mount_path));
    }
    for (key, value) in &pod.env {
        backend = backend.with_env_var(key, value);
    }
    let backend = backend.start().await.expect("the backend container starts");
    let port = backend.get_host_port_ipv4(BACKEND_PORT).await.unwrap();
    let base_url = format!("http://127.0.0.1:{port}");
    let health = format!("{base_url}/api/health");
    testkit::wait::until(
        "the backend to answer /api/health with 200",
        Duration::from_secs(60),
        Duration::from_millis(250),
        || {
            let url = health.clone();
            async move {
                reqwest::get(&url)
                    .await
                    .ok()
                    .filter(|r| r.status() == 200)
                    .map(|_| ())
            }
        },
    )
    .await
    .unwrap();
    Stack {
        backend,
        _postgres: postgres,
        base_url,
        pod,
    }
}

async fn postgres_ip(container: &ContainerAsync<GenericImage>) -> std::net::IpAddr {
    let output = std::process::Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
            container.id(),
        ])
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn image_serves_the_api_with_the_rendered_pod_settings() {
    e2e::skip_without_helm!();
    let Some(images) = images("image_serves_the_api_with_the_rendered_pod_settings") else {
        return;
    };
    let stack = start_stack(&images).await;
    let client = reqwest::Client::new();

    for path in &stack.pod.probe_paths {
        let response = client
            .get(format!("{}{path}", stack.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "probe path {path}");
    }
    let docs = client
        .get(format!("{}/docs", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger-ui"));
    let unauthorized = client
        .get(format!("{}/api/tasks", stack.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorized.status(), 401);

    let token = testkit::jwt::mint(&stack.pod.env["BETTER_AUTH_SECRET"], "container-test", 300);
    let created: Value = client
        .post(format!("{}/api/tasks", stack.base_url))
        .bearer_auth(&token)
        .json(&json!({"title": "from the container test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a created task");
    let read = client
        .get(format!("{}/api/tasks/{id}", stack.base_url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["x-served-by"], "container-test-pod");
}

#[tokio::test]
async fn container_runs_as_uid_1001_without_privileges_on_a_read_only_root() {
    e2e::skip_without_helm!();
    let Some(images) = images("container_runs_as_uid_1001_without_privileges_on_a_read_only_root")
    else {
        return;
    };
    let stack = start_stack(&images).await;
    let mut result = stack
        .backend
        .exec(ExecCommand::new(["/usr/local/bin/backend", "identity"]))
        .await
        .expect("exec identity");
    let identity = String::from_utf8(result.stdout_to_vec().await.unwrap()).unwrap();
    assert_eq!(
        identity.trim(),
        "uid=1001 gid=1001 no_new_privs=1 cap_eff=0000000000000000 root_fs_read_only=true"
    );
    let shell = stack
        .backend
        .exec(ExecCommand::new(["/bin/sh", "-c", "true"]))
        .await;
    let no_shell = match shell {
        Err(_) => true,
        Ok(exec) => exec
            .exit_code()
            .await
            .ok()
            .flatten()
            .is_none_or(|code| code != 0),
    };
    assert!(no_shell, "the image must not contain a shell");
}

#[tokio::test]
async fn docker_stop_ends_the_container_cleanly_within_the_grace_period() {
    e2e::skip_without_helm!();
    let Some(images) = images("docker_stop_ends_the_container_cleanly_within_the_grace_period")
    else {
        return;
    };
    let stack = start_stack(&images).await;
    let grace = stack.pod.grace_period;
    let started = Instant::now();
    stack
        .backend
        .stop_with_timeout(Some(grace as i32))
        .await
        .expect("docker stop");
    let took = started.elapsed();
    let exit_code = stack.backend.exit_code().await.unwrap();
    assert_eq!(exit_code, Some(0), "exit code after SIGTERM");
    assert!(
        took < Duration::from_secs(grace as u64),
        "stopped after {took:?}, grace {grace}s"
    );
    let logs = String::from_utf8(stack.backend.stdout_to_vec().await.unwrap()).unwrap();
    assert!(logs.contains("connected to database"), "{logs}");
    assert!(logs.contains("shutdown requested"), "{logs}");
}

#[tokio::test]
async fn docker_stop_during_start_up_returns_at_once() {
    let Some(images) = images("docker_stop_during_start_up_returns_at_once") else {
        return;
    };
    // As PID 1 the process gets no signal it has no handler for; while it retries a database
    // that is not there yet, SIGTERM must still stop it.
    let (name, tag) = split_image(&images.backend);
    let backend = GenericImage::new(name, tag)
        .with_wait_for(testcontainers::core::WaitFor::message_on_stdout(
            "database not reachable yet",
        ))
        .with_env_var("DATABASE_URL", "postgres://app@127.0.0.1:1/app")
        .with_env_var("BETTER_AUTH_SECRET", "image-test-secret-0123456789abcdef")
        .with_env_var("DB_STARTUP_TIMEOUT_SECS", "300")
        .start()
        .await
        .expect("the backend container starts and retries the database");
    let started = Instant::now();
    backend
        .stop_with_timeout(Some(10))
        .await
        .expect("docker stop");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "docker stop took {took:?}");
    let exit_code = backend.exit_code().await.unwrap();
    assert_eq!(exit_code, Some(0), "a stop during start-up is a clean exit");
    let logs = String::from_utf8(backend.stdout_to_vec().await.unwrap()).unwrap();
    assert!(logs.contains("stopped during start-up"), "{logs}");
}

/// Output of a docker command that must succeed.
/// The image's HEALTHCHECK gives no URL, so `backend healthcheck` probes /api/health at the
/// container's PORT (service/tests/api/cli.rs runs that): a fixed port there would report a
/// container with another PORT unhealthy.
#[test]
fn the_images_healthcheck_probes_the_port_the_container_is_given() {
    let Some(images) = images("the_images_healthcheck_probes_the_port_the_container_is_given")
    else {
        return;
    };
    let healthcheck: Value = serde_json::from_str(&docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Healthcheck}}",
        &images.backend,
    ]))
    .unwrap();
    assert_eq!(
        healthcheck["Test"],
        json!(["CMD", "/usr/local/bin/backend", "healthcheck"]),
        "{healthcheck}"
    );
}

fn docker(args: &[&str]) -> String {
    let output = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        output.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Copies a file out of an image without running it (it has no shell): `docker create`, then
/// `docker cp` into target/image-files/<image>/, then `docker rm`.
fn copy_out_of_image(image: &str, path: &str) -> PathBuf {
    let directory = e2e::repo_root()
        .join("target/image-files")
        .join(image.replace(['/', ':'], "_"));
    std::fs::create_dir_all(&directory).unwrap();
    let destination = directory.join(path.rsplit('/').next().unwrap());
    let container = docker(&["create", image]).trim().to_owned();
    let copied = Command::new("docker")
        .args(["cp", &format!("{container}:{path}")])
        .arg(&destination)
        .output()
        .expect("docker runs");
    docker(&["rm", &container]);
    assert!(
        copied.status.success(),
        "docker cp {path} out of {image}: {}",
        String::from_utf8_lossy(&copied.stderr)
    );
    destination
}

/// The Rust target the image's binary was built for, from the image's platform.
fn rust_target(image: &str) -> &'static str {
    let platform = docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}",
        image,
    ]);
    match platform.trim() {
        "linux/amd64" => "x86_64-unknown-linux-gnu",
        "linux/arm64" => "aarch64-unknown-linux-gnu",
        other => panic!("{image}: no Rust target known for its platform {other}"),
    }
}

/// Output of a cargo command on the workspace that must succeed.
fn cargo(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(args)
        .current_dir(e2e::repo_root())
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A crate as scanners match it against advisories: name and version.
type Crate = (String, String);

fn crate_of(package: &Package) -> Crate {
    (package.name.clone(), package.version.to_string())
}

/// Every package `cargo tree` prints with these arguments.
fn cargo_tree(args: &[&str]) -> BTreeSet<Crate> {
    let mut all = vec!["tree", "--locked", "--prefix", "none", "--format", "{p}"];
    all.extend(args);
    cargo(&all)
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| {
            // `name vX.Y.Z`, then ` (path)` for workspace members and ` (*)` for repeats.
            let mut words = line.split_whitespace();
            let name = words.next().unwrap().to_owned();
            let version = words.next().and_then(|v| v.strip_prefix('v'));
            (name, version.expect(line).to_owned())
        })
        .collect()
}

/// What cargo resolves for the whole workspace on one target (`cargo metadata
/// --filter-platform`).
struct Resolution {
    /// Every package of Cargo.lock used on the target, and its source: None for the
    /// workspace's own, `registry+<index>` for the registry's.
    packages: BTreeMap<Crate, Option<String>>,
    /// The packages reachable from the backend through normal and build dependencies (not dev):
    /// the most a dependency list drawn from this resolution can name.
    backend_graph: BTreeSet<Crate>,
}

fn resolve(target: &str) -> Resolution {
    let metadata: serde_json::Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--locked",
        "--format-version",
        "1",
        "--filter-platform",
        target,
    ]))
    .expect("cargo metadata prints JSON");
    let listed = metadata["packages"].as_array().unwrap();
    let crate_of_id: BTreeMap<&str, Crate> = listed
        .iter()
        .map(|package| {
            let name = package["name"].as_str().unwrap().to_owned();
            let version = package["version"].as_str().unwrap().to_owned();
            (package["id"].as_str().unwrap(), (name, version))
        })
        .collect();
    let packages = listed
        .iter()
        .map(|package| {
            let id = package["id"].as_str().unwrap();
            let source = package["source"].as_str().map(str::to_owned);
            (crate_of_id[id].clone(), source)
        })
        .collect();

    let nodes: BTreeMap<&str, &serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| (node["id"].as_str().unwrap(), node))
        .collect();
    let backend = listed
        .iter()
        .find(|package| package["name"] == "backend" && package["source"].is_null())
        .expect("the workspace has the backend")["id"]
        .as_str()
        .unwrap();
    let mut reached = BTreeSet::from([backend]);
    let mut queue = vec![backend];
    while let Some(id) = queue.pop() {
        for dependency in nodes[id]["deps"].as_array().unwrap() {
            let not_only_dev = dependency["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind["kind"] != "dev");
            let child = dependency["pkg"].as_str().unwrap();
            if not_only_dev && reached.insert(child) {
                queue.push(child);
            }
        }
    }
    Resolution {
        packages,
        backend_graph: reached
            .into_iter()
            .map(|id| crate_of_id[id].clone())
            .collect(),
    }
}

/// The one registry Cargo.lock's packages come from (cargo deny allows only the default one).
fn lockfile_registry(lockfile: &BTreeMap<Crate, Option<String>>) -> String {
    let registries: BTreeSet<&String> = lockfile
        .values()
        .flatten()
        .filter(|source| source.starts_with("registry+"))
        .collect();
    assert_eq!(
        registries.len(),
        1,
        "one registry in Cargo.lock: {registries:?}"
    );
    registries.into_iter().next().unwrap().clone()
}

/// Cargo.lock's source of a package the list says comes from `source`.
fn lockfile_source(source: &Source, registry: &str) -> Option<String> {
    match source {
        Source::CratesIo => Some(registry.to_owned()),
        Source::Local => None,
        other => {
            panic!("the workspace has only registry and path dependencies, the list says {other:?}")
        }
    }
}

/// The list the binary carries must name, with Cargo.lock's version, every crate the backend
/// links in its release build for the image's platform: `cargo tree -p backend -e
/// normal,no-proc-macro --target <the image's>` (build scripts, proc macros and what only they
/// use are not linked). The list may name more, and does: cargo auditable draws it from
/// `cargo metadata`, which resolves features for the whole workspace (other members turn on
/// optional dependencies of shared crates: rust-secure-code/cargo-auditable#66), and it counts
/// as runtime code the proc macros that publish test targets (its fix for #214 recognises a proc
/// macro only when it has no other target). Extra names cost a false alarm at worst;
/// a missing name hides a vulnerable crate. So the exact rule is: what is linked is named, and
/// everything named is a Cargo.lock package in the backend's dependency graph.
#[test]
fn the_binary_in_the_image_lists_every_crate_it_links() {
    let Some(images) = images("the_binary_in_the_image_lists_every_crate_it_links") else {
        return;
    };
    let binary = copy_out_of_image(&images.backend, "/usr/local/bin/backend");
    let list =
        auditable_info::audit_info_from_file(&binary, Default::default()).unwrap_or_else(|error| {
            panic!(
                "{}: /usr/local/bin/backend carries no dependency list that can be read ({error}); \
                 service/Dockerfile must build it with `cargo auditable build`",
                images.backend
            )
        });
    let target = rust_target(&images.backend);
    let resolution = resolve(target);
    let lockfile = &resolution.packages;
    let registry = lockfile_registry(lockfile);

    let roots: Vec<Crate> = list
        .packages
        .iter()
        .filter(|p| p.root)
        .map(crate_of)
        .collect();
    let backend_version = lockfile
        .iter()
        .find(|((name, _), source)| name == "backend" && source.is_none())
        .map(|((_, version), _)| version.clone())
        .unwrap();
    assert_eq!(
        roots,
        [("backend".to_owned(), backend_version)],
        "the list's root"
    );

    let runtime: BTreeSet<Crate> = list
        .packages
        .iter()
        .filter(|p| p.kind == DependencyKind::Runtime)
        .map(crate_of)
        .collect();
    let linked = cargo_tree(&[
        "-p",
        "backend",
        "-e",
        "normal,no-proc-macro",
        "--target",
        target,
    ]);
    let unnamed: Vec<_> = linked.difference(&runtime).collect();
    assert!(
        unnamed.is_empty(),
        "crates the backend links ({target}) that the list does not name as runtime: {unnamed:?}"
    );

    let not_in_lockfile: Vec<_> = list
        .packages
        .iter()
        .filter(|p| lockfile.get(&crate_of(p)) != Some(&lockfile_source(&p.source, &registry)))
        .map(|p| (crate_of(p), &p.source))
        .collect();
    assert!(
        not_in_lockfile.is_empty(),
        "named in the list but not in Cargo.lock with that version and source: {not_in_lockfile:?}"
    );
    let outside: Vec<_> = list
        .packages
        .iter()
        .map(crate_of)
        .filter(|crate_| !resolution.backend_graph.contains(crate_))
        .collect();
    assert!(
        outside.is_empty(),
        "named in the list but outside the backend's dependency graph: {outside:?}"
    );

    let named_not_linked: Vec<_> = runtime.difference(&linked).collect();
    eprintln!(
        "{}: {} crates named ({} as runtime), {} linked, all named; named as runtime though not \
         linked (workspace feature unification, proc macros): {named_not_linked:?}",
        images.backend,
        list.packages.len(),
        runtime.len(),
        linked.len()
    );
}

/// ci/versions.env pins the builder image and cargo-auditable for ci/image.sh and ci/release.sh;
/// the Dockerfile's defaults, used by a plain `docker build`, must be the same.
#[test]
fn the_dockerfile_defaults_are_the_pinned_versions() {
    let root = e2e::repo_root();
    let pins: BTreeMap<String, String> = std::fs::read_to_string(root.join("ci/versions.env"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let dockerfile = std::fs::read_to_string(root.join("service/Dockerfile")).unwrap();
    let default = |arg: &str| {
        dockerfile
            .lines()
            .find_map(|line| line.strip_prefix(&format!("ARG {arg}=")))
            .unwrap_or_else(|| panic!("service/Dockerfile has no default for {arg}"))
            .to_owned()
    };
    assert_eq!(default("BUILDER_IMAGE"), pins["RUST_BUILDER_IMAGE"]);
    assert_eq!(
        default("CARGO_AUDITABLE_VERSION"),
        pins["CARGO_AUDITABLE_VERSION"]
    );
}

/// `make image` again on the tree that built the image gives the same image, by ID: its creation
/// time is the commit's, not the clock's, so a re-run of `make kind-up` loads nothing new and
/// restarts nothing (e2e/tests/kind_up.rs runs kind-up itself against stand-ins). The rebuild
/// comes from Docker's cache.
#[test]
fn building_the_same_tree_again_gives_the_same_image_id() {
    let test = "building_the_same_tree_again_gives_the_same_image_id";
    let Some(images) = images(test) else {
        return;
    };
    let root = e2e::repo_root();
    let revision = Command::new("bash")
        .current_dir(&root)
        .args(["-c", "source ci/lib.sh && source_revision"])
        .output()
        .expect("bash runs");
    let revision = String::from_utf8(revision.stdout)
        .unwrap()
        .trim()
        .to_owned();
    let (name, tag) = split_image(&images.backend);
    if tag != revision {
        testkit::skip::skipped(
            test,
            &format!(
                "{} was built from another tree than this one ({revision}); run `make image`",
                images.backend
            ),
        );
        return;
    }
    let before = docker(&["image", "inspect", "--format", "{{.Id}}", &images.backend]);
    let rebuilt = Command::new("bash")
        .current_dir(&root)
        .arg("ci/image.sh")
        .env("IMAGE", &name)
        .env("TAG", &tag)
        .output()
        .expect("bash runs");
    assert!(
        rebuilt.status.success(),
        "ci/image.sh: {}",
        String::from_utf8_lossy(&rebuilt.stderr)
    );
    let after = docker(&["image", "inspect", "--format", "{{.Id}}", &images.backend]);
    assert_eq!(
        before.trim(),
        after.trim(),
        "the same tree built again gave another image"
    );
}
