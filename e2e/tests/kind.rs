//! The steps of `make kind-up` (functions of ci/kind.sh) run against stand-in `docker`, `kind`,
//! `kubectl` and `helm` commands that record their arguments and answer from the environment:
//! what the scripts would do to a cluster, without one.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::repo_root;

/// One stand-in for all four tools; the case arms are the calls ci/kind.sh makes.
const STUB: &str = r#"#!/usr/bin/env bash
tool=$(basename "$0")
printf '%s %s\n' "$tool" "$*" >> "$STUB_LOG"
case "$tool $*" in
  "docker tag "*) ;;
  "docker info --format {{json .DriverStatus}}") echo "$STUB_DRIVER_STATUS" ;;
  "docker image inspect --format {{.Id}} todo-chatbot-backend:latest") echo "$STUB_IMAGE_ID" ;;
  "kind load docker-image "*) echo "Image loaded" ;;
  "kind get kubeconfig --name "*) echo "apiVersion: v1" ;;
  "kubectl config set-context --current --namespace "*) ;;
  "kubectl get deployment todo-chatbot-backend --ignore-not-found -o name")
    [ -z "$STUB_DEPLOYMENT" ] || echo deployment.apps/todo-chatbot-backend ;;
  "kubectl get deployment todo-chatbot-backend --ignore-not-found -o jsonpath="*)
    printf '%s' "$STUB_RECORDED" ;;
  "kubectl annotate "* | "kubectl rollout "* | "helm "*) ;;
  "kubectl exec deployment/todo-chatbot-backend -c backend -- /usr/local/bin/backend token "*) echo "header.claims.signature" ;;
  *) echo "stub: unexpected call: $tool $*" >&2; exit 97 ;;
esac
"#;

struct Stubs {
    dir: PathBuf,
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Stubs {
    fn new(name: &str) -> Stubs {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("kind-stubs-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for tool in ["docker", "kind", "kubectl", "helm"] {
            let path = dir.join(tool);
            fs::write(&path, STUB).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::write(dir.join("calls.log"), "").unwrap();
        Stubs { dir }
    }

    /// Runs `script` after sourcing ci/lib.sh and ci/kind.sh, with only the stand-ins (and the
    /// system's own tools) on PATH, so nothing can reach a real cluster.
    fn run(&self, env: &[(&str, &str)], script: &str) -> (String, String) {
        let mut command = Command::new("bash");
        command
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.dir.display()))
            .env("HOME", &self.dir)
            .env("HELM", self.dir.join("helm"))
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("STUB_LOG", self.dir.join("calls.log"))
            .env("STUB_IMAGE_ID", "sha256:new")
            .env("STUB_DEPLOYMENT", "")
            .env("STUB_RECORDED", "")
            .env("STUB_DRIVER_STATUS", "")
            .args([
                "-euo",
                "pipefail",
                "-c",
                &format!("source ci/lib.sh; source ci/kind.sh; {script}"),
            ]);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("bash runs");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "{script}: {stderr}");
        (String::from_utf8_lossy(&output.stdout).into_owned(), stderr)
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("calls.log"))
            .unwrap()
            .lines()
            .map(|line| line.replace(&self.dir.display().to_string(), "<stubs>"))
            .collect()
    }
}

impl Drop for Stubs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn root() -> String {
    repo_root().display().to_string()
}

#[test]
fn the_release_is_installed_with_the_chart_defaults_only_in_the_default_namespace() {
    let stubs = Stubs::new("install");
    stubs.run(&[], "install_release");
    let calls = stubs.calls();
    assert_eq!(
        calls,
        [format!(
            "helm upgrade --install todo-chatbot {}/charts/todo-chatbot --namespace default --create-namespace --wait --timeout 10m",
            root()
        )]
    );
    for flag in [" -f ", "--values", "--set", "--reuse-values"] {
        assert!(!calls[0].contains(flag), "{flag} in {}", calls[0]);
    }
}

#[test]
fn kind_namespace_chooses_another_namespace() {
    let stubs = Stubs::new("namespace");
    stubs.run(&[("KIND_NAMESPACE", "shop")], "install_release");
    assert!(
        stubs.calls()[0].contains("--namespace shop "),
        "{:?}",
        stubs.calls()
    );
}

#[test]
fn the_build_is_loaded_as_the_charts_default_image_and_its_id_printed() {
    let stubs = Stubs::new("load");
    let (stdout, _) = stubs.run(&[], "load_image todo-chatbot-backend:0123abc");
    assert_eq!(
        stdout.trim(),
        "sha256:new",
        "stdout holds the image ID only"
    );
    assert_eq!(
        stubs.calls(),
        [
            "docker tag todo-chatbot-backend:0123abc todo-chatbot-backend:latest",
            "kind load docker-image todo-chatbot-backend:latest --name todo-chatbot",
            "docker image inspect --format {{.Id}} todo-chatbot-backend:latest",
        ]
    );
}

#[test]
fn the_deployment_and_its_recorded_image_are_read_without_failing_when_absent() {
    let stubs = Stubs::new("read");
    let (stdout, _) = stubs.run(&[], "backend_exists && echo yes || echo no; recorded_image");
    assert_eq!(stdout, "no\n");
    let (stdout, _) = stubs.run(
        &[("STUB_DEPLOYMENT", "1"), ("STUB_RECORDED", "sha256:old")],
        "backend_exists && echo yes || echo no; recorded_image",
    );
    assert_eq!(stdout, "yes\nsha256:old");
    assert!(
        stubs
            .calls()
            .last()
            .unwrap()
            .ends_with("-o jsonpath={.metadata.annotations.todo-chatbot/loaded-image-id}"),
        "{:?}",
        stubs.calls()
    );
}

fn rolls(existed: &str, recorded: &str) -> Vec<String> {
    let stubs = Stubs::new("roll");
    stubs.run(
        &[],
        &format!("roll_to_image sha256:new '{existed}' '{recorded}'"),
    );
    stubs.calls()
}

#[test]
fn a_new_build_under_the_same_tag_restarts_the_backend() {
    assert_eq!(
        rolls("yes", "sha256:old"),
        [
            "kubectl annotate deployment todo-chatbot-backend --overwrite todo-chatbot/loaded-image-id=sha256:new",
            "kubectl rollout restart deployment todo-chatbot-backend",
        ]
    );
}

#[test]
fn the_same_build_again_restarts_nothing() {
    assert_eq!(
        rolls("yes", "sha256:new"),
        [
            "kubectl annotate deployment todo-chatbot-backend --overwrite todo-chatbot/loaded-image-id=sha256:new"
        ]
    );
}

#[test]
fn a_deployment_created_by_this_run_already_runs_the_loaded_image() {
    assert_eq!(rolls("no", "").len(), 1, "annotated, not restarted");
}

#[test]
fn a_deployment_that_recorded_no_image_is_restarted() {
    assert_eq!(rolls("yes", "").len(), 2);
}

#[test]
fn the_annotation_key_is_valid_and_needs_no_jsonpath_escaping() {
    let stubs = Stubs::new("key");
    let (key, _) = stubs.run(&[], "printf '%s' \"$LOADED_IMAGE_ANNOTATION\"");
    let (prefix, name) = key.split_once('/').expect("a prefixed key");
    // Kubernetes: an optional DNS-subdomain prefix and a name of at most 63 characters.
    assert!(prefix.len() <= 253 && !prefix.is_empty());
    assert!(name.len() <= 63 && !name.is_empty());
    assert!(
        key.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '/'),
        "{key}"
    );
    // client-go's jsonpath ends a field name at '.', so a dot would need a backslash.
    assert!(!key.contains('.'), "{key}");
    // The chart must not set it, or Helm would own (and reset) it.
    let chart = fs::read_to_string(
        repo_root().join("charts/todo-chatbot/charts/backend/templates/deployment.yaml"),
    )
    .unwrap();
    assert!(!chart.contains(&key));
}

#[test]
fn the_cluster_kubeconfig_names_the_namespace_and_is_private() {
    let cluster = format!("stub-{}", std::process::id());
    let stubs = Stubs::new("kubeconfig");
    let (stdout, _) = stubs.run(
        &[
            ("KIND_CLUSTER_NAME", cluster.as_str()),
            ("KIND_NAMESPACE", "shop"),
        ],
        "use_cluster_kubeconfig; echo \"$KUBECONFIG\"",
    );
    let file = PathBuf::from(stdout.trim());
    assert_eq!(
        file,
        Path::new(&root()).join(format!("target/kind-{cluster}.kubeconfig"))
    );
    let mode = fs::metadata(&file).unwrap().permissions().mode();
    fs::remove_file(&file).unwrap();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        stubs.calls(),
        [
            format!("kind get kubeconfig --name {cluster}"),
            "kubectl config set-context --current --namespace shop".to_owned(),
        ]
    );
}

#[test]
fn kind_up_runs_these_steps_and_no_helm_of_its_own() {
    let script = fs::read_to_string(repo_root().join("ci/kind-up.sh")).unwrap();
    for step in [
        "use_cluster_kubeconfig",
        "load_image",
        "backend_exists",
        "recorded_image",
        "install_release",
        "roll_to_image",
    ] {
        assert!(script.contains(step), "ci/kind-up.sh does not call {step}");
    }
    for flag in ["upgrade --install", "--values", "--set", "values/"] {
        assert!(!script.contains(flag), "ci/kind-up.sh has {flag}");
    }
}

#[test]
fn make_token_runs_backend_token_inside_a_backend_pod() {
    let stubs = Stubs::new("token");
    let (stdout, _) = stubs.run(&[], "mint_token alice 2h");
    assert_eq!(
        stdout.trim(),
        "header.claims.signature",
        "only the token is printed"
    );
    assert_eq!(
        stubs.calls(),
        [
            "kubectl exec deployment/todo-chatbot-backend -c backend -- /usr/local/bin/backend token alice --ttl 2h"
        ]
    );
}

#[test]
fn the_containerd_image_store_is_told_from_the_classic_one() {
    let stubs = Stubs::new("store");
    let store = |status: &str| {
        stubs
            .run(
                &[("STUB_DRIVER_STATUS", status)],
                "uses_containerd_image_store && echo containerd || echo classic",
            )
            .0
    };
    // `docker info` of Docker Desktop and Engine 29 with the containerd image store, and of the
    // classic overlay2 store.
    assert_eq!(
        store(r#"[["driver-type","io.containerd.snapshotter.v1"]]"#),
        "containerd\n"
    );
    assert_eq!(
        store(
            r#"[["Backing Filesystem","extfs"],["Supports d_type","true"],["Using metacopy","false"],["Native Overlay Diff","true"],["userxattr","false"]]"#
        ),
        "classic\n"
    );
}
