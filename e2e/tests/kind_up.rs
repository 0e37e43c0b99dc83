//! `make kind-up` run whole, twice, against a stand-in Docker, kind, kubectl and helm that keep
//! state between calls like the real ones: an image's ID is a digest of what it was built from,
//! a tag points at an ID, the Deployment holds its annotation. What the README promises:
//! re-running it with nothing changed builds the same image, and so loads nothing new and
//! restarts nothing; a new commit does both.
//!
//! The scripts run in a copy of what they need (ci/ and service/Cargo.toml) made a git repository
//! of one commit, so they write under the copy (target/images.env, the kubeconfig), never under
//! this checkout. The clock moves on an hour at every `date` call, so nothing may depend on it.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::repo_root;

/// One stand-in for docker, kind, kubectl and helm, keeping state in `$STUB_STATE`.
const STUB: &str = r#"#!/usr/bin/env bash
set -euo pipefail
tool=$(basename "$0")
printf '%s %s\n' "$tool" "$*" >> "$STUB_STATE/calls.log"
state=$STUB_STATE
case "$tool $*" in
  "kind get clusters") [ ! -e "$state/cluster" ] || echo todo-chatbot ;;
  "kind create cluster "*) touch "$state/cluster" ;;
  "kind get kubeconfig "*) echo "apiVersion: v1" ;;
  "kind load docker-image "*) ;;
  "docker info") ;;
  "docker info --format {{json .DriverStatus}}") echo "${STUB_DRIVER_STATUS:-[[\"Backing Filesystem\",\"extfs\"]]}" ;;
  "docker buildx version") [ -n "${STUB_BUILDX:-}" ] || exit 1 ;;
  "docker image inspect rust:"*) ;;
  "docker build "*)
    # The image ID follows from what the image is built from: the arguments (the build args
    # included) and the environment that changes the builder.
    tag=$(printf '%s\n' "$@" | grep -A1 -x -- --tag | tail -1)
    id="sha256:$(printf '%s DOCKER_BUILDKIT=%s' "$*" "${DOCKER_BUILDKIT:-}" | sha256sum | cut -c1-64)"
    echo "$id" > "$state/image-${tag//[:\/]/_}" ;;
  "docker tag "*) cp "$state/image-${2//[:\/]/_}" "$state/image-${3//[:\/]/_}" ;;
  "docker image inspect --format {{.Id}} "*) cat "$state/image-${5//[:\/]/_}" ;;
  "docker image inspect "*" --format {{.Size}}") echo 14680064 ;;
  "kubectl config set-context --current --namespace "*) ;;
  "kubectl get deployment todo-chatbot-backend --ignore-not-found -o name")
    [ ! -e "$state/deployment" ] || echo deployment.apps/todo-chatbot-backend ;;
  "kubectl get deployment todo-chatbot-backend --ignore-not-found -o jsonpath="*)
    [ ! -e "$state/annotation" ] || cat "$state/annotation" ;;
  "helm upgrade --install "*) touch "$state/deployment" ;;
  "kubectl annotate deployment todo-chatbot-backend --overwrite "*) printf '%s' "${5#*=}" > "$state/annotation" ;;
  "kubectl rollout restart deployment "* | "kubectl rollout status deployment "*) ;;
  *) echo "stub: unexpected call: $tool $*" >&2; exit 97 ;;
esac
"#;

/// A clock that moves on an hour at every call without `-d` or `-r` (a time to format).
const DATE: &str = r#"#!/usr/bin/env bash
case " $* " in
  *" -d "* | *" -r "*) exec /bin/date "$@" ;;
esac
now=$(( $(cat "$STUB_STATE/clock" 2>/dev/null || echo 1700000000) + 3600 ))
echo "$now" > "$STUB_STATE/clock"
exec /bin/date -d "@$now" "$@"
"#;

/// The commit's time, and the same as the label the image must carry.
const COMMITTED: &str = "2024-05-06T07:08:09Z";
const COMMITTED_EPOCH: &str = "1714979289";

struct Copy {
    dir: PathBuf,
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

fn git(dir: &Path, args: &[&str], date: &str) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=kind-up test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

impl Copy {
    /// The scripts and the one file they read outside ci/, committed at [`COMMITTED`].
    fn new(name: &str) -> Copy {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("kind-up-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        copy_dir(&repo_root().join("ci"), &dir.join("ci"));
        fs::create_dir_all(dir.join("service")).unwrap();
        fs::copy(
            repo_root().join("service/Cargo.toml"),
            dir.join("service/Cargo.toml"),
        )
        .unwrap();
        fs::write(dir.join(".gitignore"), "/stubs/\n/state/\n/target/\n").unwrap();
        let stubs = dir.join("stubs");
        fs::create_dir_all(&stubs).unwrap();
        for (tool, text) in [
            ("docker", STUB),
            ("kind", STUB),
            ("kubectl", STUB),
            ("helm", STUB),
            ("date", DATE),
        ] {
            let path = stubs.join(tool);
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::create_dir_all(dir.join("state")).unwrap();
        git(&dir, &["init", "-q"], COMMITTED);
        git(&dir, &["add", "-A"], COMMITTED);
        git(&dir, &["commit", "-q", "-m", "the tree"], COMMITTED);
        Copy { dir }
    }

    /// Runs `make kind-up`'s script; returns the calls it made to the stand-ins.
    fn kind_up(&self, env: &[(&str, &str)]) -> Vec<String> {
        let log = self.dir.join("state/calls.log");
        let _ = fs::remove_file(&log);
        let mut command = Command::new("bash");
        command
            .current_dir(&self.dir)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.dir.join("stubs").display()),
            )
            .env("HOME", self.dir.join("state"))
            .env("HELM", self.dir.join("stubs/helm"))
            .env("STUB_STATE", self.dir.join("state"))
            .arg("ci/kind-up.sh");
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("bash runs");
        assert!(
            output.status.success(),
            "ci/kind-up.sh: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Commits a change, an hour after the first commit.
    fn commit_a_change(&self) {
        fs::write(self.dir.join("ci/changed.txt"), "a change\n").unwrap();
        git(&self.dir, &["add", "-A"], "2024-05-06T08:08:09Z");
        git(
            &self.dir,
            &["commit", "-q", "-m", "a change"],
            "2024-05-06T08:08:09Z",
        );
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn calls_of<'a>(calls: &'a [String], prefix: &str) -> Vec<&'a String> {
    calls
        .iter()
        .filter(|call| call.starts_with(prefix))
        .collect()
}

#[test]
fn kind_up_again_with_nothing_changed_builds_the_same_image_and_restarts_nothing() {
    let copy = Copy::new("same");
    let first = copy.kind_up(&[]);
    assert_eq!(calls_of(&first, "kind create cluster").len(), 1);
    let second = copy.kind_up(&[]);
    assert!(calls_of(&second, "kind create cluster").is_empty());
    assert_eq!(
        calls_of(&first, "docker build "),
        calls_of(&second, "docker build "),
        "the second build differs from the first, so its image ID does"
    );
    let build = calls_of(&second, "docker build ")[0];
    assert!(
        build.contains(&format!("--build-arg CREATED={COMMITTED} ")),
        "the image is not created at the commit's time: {build}"
    );
    assert!(
        calls_of(&second, "kubectl rollout restart").is_empty(),
        "a re-run restarted the pods: {second:#?}"
    );
    let annotate = |calls: &[String]| calls_of(calls, "kubectl annotate")[0].clone();
    assert_eq!(annotate(&first), annotate(&second), "the recorded image ID");
}

#[test]
fn kind_up_after_a_new_commit_loads_the_new_image_and_restarts_the_backend() {
    let copy = Copy::new("commit");
    copy.kind_up(&[]);
    copy.commit_a_change();
    let after = copy.kind_up(&[]);
    assert!(
        calls_of(&after, "docker build ")[0].contains("--build-arg CREATED=2024-05-06T08:08:09Z "),
        "{after:#?}"
    );
    assert_eq!(
        calls_of(&after, "kubectl rollout restart"),
        ["kubectl rollout restart deployment todo-chatbot-backend"]
    );
}

#[test]
fn buildkit_builds_carry_no_provenance_and_the_commits_time_everywhere() {
    let copy = Copy::new("buildkit");
    let calls = copy.kind_up(&[("STUB_BUILDX", "1")]);
    let build = calls_of(&calls, "docker build ")[0];
    assert!(build.contains(" --provenance=false "), "{build}");
    assert!(
        build.contains(&format!(
            " --build-arg SOURCE_DATE_EPOCH={COMMITTED_EPOCH} "
        )),
        "{build}"
    );
    let again = copy.kind_up(&[("STUB_BUILDX", "1")]);
    assert!(calls_of(&again, "kubectl rollout restart").is_empty());
}

#[test]
fn the_legacy_builder_gets_no_buildkit_flags() {
    let copy = Copy::new("legacy");
    let calls = copy.kind_up(&[]);
    let build = calls_of(&calls, "docker build ")[0];
    assert!(!build.contains("--provenance"), "{build}");
    assert!(!build.contains("SOURCE_DATE_EPOCH"), "{build}");
}

#[test]
fn source_date_epoch_overrides_the_commits_time() {
    let copy = Copy::new("epoch");
    let calls = copy.kind_up(&[("SOURCE_DATE_EPOCH", "0")]);
    assert!(
        calls_of(&calls, "docker build ")[0].contains("--build-arg CREATED=1970-01-01T00:00:00Z "),
        "{calls:#?}"
    );
}
