//! Running Helm: `helm template` of the umbrella chart with values files and overrides.
//!
//! The binary is `$HELM` if set (ci/tools.sh points it at its pinned Helm), else `helm` on PATH;
//! where neither runs, [`available`] skips the test by name (or fails it, with E2E_REQUIRE=1).
//! Every render starts with [`TEST_SECRETS`], the values that stand in for the secrets a render
//! without a cluster cannot generate (the chart fails without them, see the file); the tests of
//! that failure, and renders of a subchart on its own, leave it out with
//! [`Render::without_test_secrets`].

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::commands::HELM_KUBE_OVERRIDES;
use crate::contract::CHART_PATH;
use crate::manifests::Manifests;
use crate::{NAMESPACE, RELEASE, repo_root};

pub fn helm_binary() -> OsString {
    std::env::var_os("HELM").unwrap_or_else(|| "helm".into())
}

/// How to get Helm where it is missing: `make tools` installs the pinned one into .tools/bin,
/// which is not on PATH until `.tools/env` is sourced.
pub const HELM_HINT: &str = "run `make tools` once, then `source .tools/env` (puts .tools/bin on PATH and sets HELM), or set HELM";

/// Whether [`helm_binary`] runs here (asked once per test binary). When it does not, the test
/// named `test` is skipped, saying so by name, or fails with E2E_REQUIRE=1 (as `make test` sets).
pub fn available(test: &str) -> bool {
    static FOUND: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let found = FOUND.get_or_init(|| {
        match Command::new(helm_binary())
            .args(["version", "--short"])
            .output()
        {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(format!(
                "{:?} version failed: {}",
                helm_binary(),
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(error) => Err(match std::env::var_os("HELM") {
                Some(helm) => format!("HELM={} does not run ({error})", helm.to_string_lossy()),
                None if error.kind() == std::io::ErrorKind::NotFound => {
                    "no helm on PATH and HELM is not set".to_owned()
                }
                None => format!("helm does not run ({error})"),
            }),
        }
    });
    match found {
        Ok(()) => true,
        Err(problem) => {
            testkit::skip::missing(test, &format!("{problem}: {HELM_HINT}"));
            false
        }
    }
}

/// [`available`] for the running test (libtest names its thread after it); what
/// [`crate::skip_without_helm`] asks.
pub fn available_here() -> bool {
    available(&testkit::skip::current_test())
}

/// Whether [`helm_binary`] is Helm 3 (`helm version --short` says `v3.`), asked once per run.
pub fn is_helm3() -> bool {
    static HELM3: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HELM3.get_or_init(|| {
        let output = Command::new(helm_binary())
            .args(["version", "--short"])
            .output()
            .unwrap_or_else(|error| panic!("running {:?}: {error}", helm_binary()));
        String::from_utf8_lossy(&output.stdout).starts_with("v3.")
    })
}

/// The revision in `helm status <release> -o json` (the release's `version`, in Helm 3.19 and
/// 4.1 alike: pkg/release/release.go, pkg/release/v1/release.go).
pub fn release_revision(status_json: &str) -> Result<u32> {
    let status: Value = serde_json::from_str(status_json).context("helm status -o json")?;
    let revision = status["version"]
        .as_u64()
        .context("helm status has no version")?;
    Ok(u32::try_from(revision)?)
}

/// The TEST ONLY values file every render of the umbrella starts with (relative to the
/// repository root): the chart's generated secrets, given, so that a render needs no cluster and
/// two renders of the same values are the same. ci/lint-charts.sh and ci/scan.sh use it too.
pub const TEST_SECRETS: &str = "e2e/tests/chart/offline-secrets.yaml";

/// One `helm template` invocation of `charts/todo-chatbot` (or another chart).
#[derive(Debug, Clone)]
pub struct Render {
    chart: PathBuf,
    release: String,
    namespace: String,
    test_secrets: bool,
    values_files: Vec<PathBuf>,
    sets: Vec<(String, String)>,
    set_strings: Vec<(String, String)>,
    set_jsons: Vec<(String, String)>,
    api_versions: Vec<String>,
    cluster: Option<PathBuf>,
    upgrade: bool,
}

impl Default for Render {
    fn default() -> Self {
        Render::new()
    }
}

impl Render {
    /// Release `todo-chatbot` in namespace [`NAMESPACE`], chart defaults and [`TEST_SECRETS`].
    pub fn new() -> Render {
        Render {
            chart: PathBuf::from(CHART_PATH),
            release: RELEASE.to_owned(),
            namespace: NAMESPACE.to_owned(),
            test_secrets: true,
            values_files: Vec::new(),
            sets: Vec::new(),
            set_strings: Vec::new(),
            set_jsons: Vec::new(),
            api_versions: Vec::new(),
            cluster: None,
            upgrade: false,
        }
    }

    /// Without [`TEST_SECRETS`]: as a user renders, for the tests of what the chart does when it
    /// cannot generate secrets, and for a subchart on its own (the file's keys are the umbrella's).
    pub fn without_test_secrets(mut self) -> Render {
        self.test_secrets = false;
        self
    }

    /// Another chart: a directory or archive, relative to the repository root or absolute.
    pub fn chart(mut self, chart: impl Into<PathBuf>) -> Render {
        self.chart = chart.into();
        self
    }

    /// Another release name (the objects' names derive from it).
    pub fn release(mut self, name: &str) -> Render {
        self.release = name.to_owned();
        self
    }

    /// Another release namespace.
    pub fn namespace(mut self, namespace: &str) -> Render {
        self.namespace = namespace.to_owned();
        self
    }

    /// Adds a values file, relative to the repository root (e.g. `values/production.yaml`).
    pub fn values(mut self, file: &str) -> Render {
        self.values_files.push(repo_root().join(file));
        self
    }

    /// `--set key=value`.
    pub fn set(mut self, key: &str, value: &str) -> Render {
        self.sets.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `--set-string key=value`.
    pub fn set_string(mut self, key: &str, value: &str) -> Render {
        self.set_strings.push((key.to_owned(), value.to_owned()));
        self
    }

    /// `--set-json key=json` (lists and maps, such as NetworkPolicy peers).
    pub fn set_json(mut self, key: &str, json: &str) -> Render {
        self.set_jsons.push((key.to_owned(), json.to_owned()));
        self
    }

    /// `--api-versions`, to render as if the cluster served this API (e.g. a CRD's).
    pub fn api_version(mut self, api_version: &str) -> Render {
        self.api_versions.push(api_version.to_owned());
        self
    }

    /// Renders against the API server of `kubeconfig` (its current context), as `helm install`
    /// and `helm upgrade` do: `--dry-run=server`, so `lookup` and the capabilities come from that
    /// cluster (a fake one in the chart tests). OpenAPI validation is left out: Helm would fetch
    /// the cluster's whole schema for it. Helm 3 also gets `--validate`: without it its
    /// `helm template` renders with its built-in capabilities (Kubernetes 1.34, API group
    /// versions without kinds, so `.Capabilities.APIVersions.Has "group/version/Kind"` is
    /// false) while `lookup` reads the cluster; Helm 4 takes both from the cluster and refuses
    /// `--validate` beside `--dry-run`.
    pub fn against(mut self, kubeconfig: &std::path::Path) -> Render {
        self.cluster = Some(kubeconfig.to_owned());
        self
    }

    /// `--is-upgrade`: `.Release.IsUpgrade` set, as `helm upgrade` renders.
    pub fn as_upgrade(mut self) -> Render {
        self.upgrade = true;
        self
    }

    /// The command line, for tests that assert on failures.
    pub fn command(&self) -> Command {
        let mut command = Command::new(helm_binary());
        command
            .current_dir(repo_root())
            .args(["template", self.release.as_str()])
            .arg(&self.chart)
            .args(["--namespace", self.namespace.as_str()]);
        if self.test_secrets {
            command.arg("--values").arg(repo_root().join(TEST_SECRETS));
        }
        for file in &self.values_files {
            command.arg("--values").arg(file);
        }
        for (key, value) in &self.sets {
            command.arg("--set").arg(format!("{key}={value}"));
        }
        for (key, value) in &self.set_strings {
            command.arg("--set-string").arg(format!("{key}={value}"));
        }
        for (key, json) in &self.set_jsons {
            command.arg("--set-json").arg(format!("{key}={json}"));
        }
        for api_version in &self.api_versions {
            command.arg("--api-versions").arg(api_version);
        }
        if let Some(kubeconfig) = &self.cluster {
            command
                .args([
                    "--dry-run=server",
                    "--disable-openapi-validation",
                    "--kubeconfig",
                ])
                .arg(kubeconfig);
            if is_helm3() {
                command.arg("--validate");
            }
            // Nothing in the environment may point Helm at another cluster or context.
            for variable in HELM_KUBE_OVERRIDES {
                command.env_remove(variable);
            }
        }
        if self.upgrade {
            command.arg("--is-upgrade");
        }
        command
    }

    /// Renders; the manifests as Helm prints them, or a failure with Helm's own message.
    pub fn output(&self) -> Result<String> {
        let output = self
            .command()
            .output()
            .with_context(|| format!("running {:?} ({HELM_HINT})", helm_binary()))?;
        if !output.status.success() {
            bail!(
                "helm template failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Renders and parses the manifests; fails with Helm's own message.
    pub fn run(&self) -> Result<Manifests> {
        Manifests::parse(&self.output()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_the_releases_version() {
        let status = r#"{"name":"todo-chatbot","info":{"status":"deployed"},"version":7,"namespace":"default"}"#;
        assert_eq!(release_revision(status).unwrap(), 7);
        assert!(release_revision(r#"{"name":"todo-chatbot"}"#).is_err());
        assert!(release_revision("Error: release: not found").is_err());
    }
}
