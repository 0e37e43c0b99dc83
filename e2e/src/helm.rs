//! Running Helm: `helm template` of the umbrella chart with values files and overrides.
//!
//! The binary is `$HELM` if set (ci/tools.sh points it at its pinned Helm), else `helm` on PATH.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::contract::CHART_PATH;
use crate::manifests::Manifests;
use crate::{NAMESPACE, RELEASE, repo_root};

pub fn helm_binary() -> OsString {
    std::env::var_os("HELM").unwrap_or_else(|| "helm".into())
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

/// One `helm template` invocation of `charts/todo-chatbot` (or another chart).
#[derive(Debug, Clone)]
pub struct Render {
    chart: PathBuf,
    release: String,
    namespace: String,
    values_files: Vec<PathBuf>,
    sets: Vec<(String, String)>,
    set_strings: Vec<(String, String)>,
    api_versions: Vec<String>,
}

impl Default for Render {
    fn default() -> Self {
        Render::new()
    }
}

impl Render {
    /// Release `todo-chatbot` in namespace [`NAMESPACE`], chart defaults.
    pub fn new() -> Render {
        Render {
            chart: PathBuf::from(CHART_PATH),
            release: RELEASE.to_owned(),
            namespace: NAMESPACE.to_owned(),
            values_files: Vec::new(),
            sets: Vec::new(),
            set_strings: Vec::new(),
            api_versions: Vec::new(),
        }
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

    /// `--api-versions`, to render as if the cluster served this API (e.g. a CRD's).
    pub fn api_version(mut self, api_version: &str) -> Render {
        self.api_versions.push(api_version.to_owned());
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
        for file in &self.values_files {
            command.arg("--values").arg(file);
        }
        for (key, value) in &self.sets {
            command.arg("--set").arg(format!("{key}={value}"));
        }
        for (key, value) in &self.set_strings {
            command.arg("--set-string").arg(format!("{key}={value}"));
        }
        for api_version in &self.api_versions {
            command.arg("--api-versions").arg(api_version);
        }
        command
    }

    /// Renders; the manifests as Helm prints them, or a failure with Helm's own message.
    pub fn output(&self) -> Result<String> {
        let output = self.command().output().with_context(|| {
            format!("running {:?} (set HELM or run ci/tools.sh)", helm_binary())
        })?;
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
