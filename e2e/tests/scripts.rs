//! What ci/ scripts tell their user, checked against stand-in tools that record how they are
//! called: `ci/lint-charts.sh` logs each command exactly as it runs it, and `ci/release.sh` names
//! every missing variable and tool at once, before it builds or pushes anything.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output};

use e2e::repo_root;

/// Records its call (as `printf %q` quotes it, the way the scripts log) and answers like the
/// tool it stands in for, enough for the scripts to go on.
const STUB: &str = r#"#!/usr/bin/env bash
name=$(basename "$0")
case $name in helm-under-test) called=$0 ;; *) called=$name ;; esac
line=$(printf '%q ' "$called" "$@")
printf '%s\n' "${line% }" >> "$STUB_LOG"
case "$name $*" in
  *" version --short") echo v3.19.0 ;;
  *" --version") echo 1.0.0 ;;
  "helm-under-test template "*) printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n' ;;
  "helm-under-test lint "* | "kubernetes-validate "*) ;;
  "checkov "*) echo "Passed checks: 1, Failed checks: 0, Skipped checks: 0" ;;
  "docker buildx version") ;;
  *) echo "stub: unexpected call: $name $*" >&2; exit 97 ;;
esac
"#;

struct Stubs {
    dir: PathBuf,
}

impl Stubs {
    fn new(test: &str, tools: &[&str]) -> Stubs {
        let dir = std::env::temp_dir().join(format!("script-stubs-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for tool in tools {
            let path = dir.join(tool);
            fs::write(&path, STUB).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::write(dir.join("calls.log"), "").unwrap();
        Stubs { dir }
    }

    /// `bash script` from the repository root with only the stand-ins and the system's own
    /// tools on PATH, and `env`.
    fn run(&self, script: &str, env: &[(&str, &str)]) -> Output {
        Command::new("bash")
            .arg(script)
            .current_dir(repo_root())
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.dir.display()))
            .env("HOME", &self.dir)
            .env("STUB_LOG", self.dir.join("calls.log"))
            .envs(env.iter().copied())
            .output()
            .expect("bash runs")
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("calls.log"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn path(&self, tool: &str) -> PathBuf {
        self.dir.join(tool)
    }
}

impl Drop for Stubs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The commands a ci/ script logged (`==> command  # comment`, a `cd DIR && ` prefix left off).
fn logged_commands(stderr: &str, tools: &[&str]) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("==> "))
        .map(|line| line.split("  # ").next().unwrap())
        .map(|line| match line.split_once(" && ") {
            Some((cd, command)) if cd.starts_with("cd ") => command,
            _ => line,
        })
        .filter(|line| tools.iter().any(|tool| line.starts_with(tool)))
        .map(str::to_owned)
        .collect()
}

#[test]
fn lint_charts_logs_every_command_exactly_as_it_runs_it() {
    let stubs = Stubs::new(
        "lint-charts",
        &["helm-under-test", "kubernetes-validate", "checkov"],
    );
    let helm = stubs.path("helm-under-test");
    let output = stubs.run("ci/lint-charts.sh", &[("HELM", helm.to_str().unwrap())]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");

    let helm = helm.display().to_string();
    let tools = [helm.as_str(), "kubernetes-validate", "checkov"];
    let logged = logged_commands(&stderr, &tools);
    let ran: Vec<String> = stubs
        .calls()
        .into_iter()
        .filter(|call| !call.ends_with(" --version") && !call.ends_with(" version --short"))
        .collect();
    assert_eq!(logged, ran, "what ci/lint-charts.sh logs vs what it runs");

    let renders: Vec<&String> = ran
        .iter()
        .filter(|call| call.starts_with(&format!("{helm} template ")))
        .collect();
    assert!(renders.len() >= 4, "{ran:#?}");
    for render in renders {
        assert!(
            render.contains("--values e2e/tests/chart/offline-secrets.yaml"),
            "a render without a cluster needs the offline secrets: {render}"
        );
    }
}

#[test]
fn release_names_every_missing_variable_and_tool_at_once_and_starts_nothing() {
    // docker is here (and says it has buildx); cosign, trivy and the rest are not.
    let stubs = Stubs::new("release", &["docker"]);
    let output = stubs.run("ci/release.sh", &[("RELEASE_VERSION", "1.2")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for problem in [
        "REGISTRY is not set",
        "REGISTRY_NAMESPACE is not set",
        "REGISTRY_USERNAME is not set",
        "REGISTRY_PASSWORD is not set",
        "RELEASE_VERSION=1.2 is not a tag vX.Y.Z",
        "cosign is not installed",
        "trivy is not installed",
    ] {
        assert!(
            stderr.contains(problem),
            "{problem:?} not named in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("docker"),
        "docker and its buildx are here: {stderr}"
    );
    assert_eq!(
        stubs.calls(),
        ["docker buildx version"],
        "nothing built or pushed"
    );
}

#[test]
fn the_readme_row_of_make_release_names_the_variables_it_needs() {
    let script = fs::read_to_string(repo_root().join("ci/release.sh")).unwrap();
    let needed: Vec<&str> = script
        .lines()
        .filter_map(|line| line.strip_prefix("need_variable "))
        .map(|rest| rest.split(' ').next().unwrap())
        .collect();
    assert_eq!(needed.len(), 5, "{needed:?}");
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    let row = readme
        .lines()
        .find(|line| line.starts_with("| `make release` |"))
        .expect("a make release row");
    for variable in needed {
        assert!(
            row.contains(&format!("`{variable}`")),
            "{variable} missing from: {row}"
        );
    }
}
