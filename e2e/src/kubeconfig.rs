//! Which cluster the conformance run acts on, and the one-context kubeconfig that kubectl, helm
//! and the API client all use from then on.
//!
//! The run scales PostgreSQL to 0, upgrades the release and restarts pods, so it never follows
//! whatever context happens to be current: it takes `kind-todo-chatbot` (the cluster of
//! `make kind-up`) or the context the user names in `E2E_CONTEXT`, and nothing else.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use kube::config::Kubeconfig;
use serde_json::Value;

use crate::KIND_CONTEXT;
use crate::commands::{CommandLine, Runner};

/// The variable that names another context.
pub const CONTEXT_VARIABLE: &str = "E2E_CONTEXT";

/// The context to act on: `requested` (from `E2E_CONTEXT`) if the kubeconfig has it; otherwise
/// the current context, only if it is `kind-todo-chatbot`.
pub fn choose_context(kubeconfig: &Kubeconfig, requested: Option<&str>) -> Result<String> {
    let known: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|context| context.name.as_str())
        .collect();
    if let Some(requested) = requested.filter(|name| !name.is_empty()) {
        if !known.contains(&requested) {
            bail!(
                "{CONTEXT_VARIABLE}={requested} names a context the kubeconfig does not have (contexts: {})",
                known.join(", ")
            );
        }
        return Ok(requested.to_owned());
    }
    match kubeconfig.current_context.as_deref() {
        Some(KIND_CONTEXT) if known.contains(&KIND_CONTEXT) => Ok(KIND_CONTEXT.to_owned()),
        current => {
            let current = current.map_or("(none)".to_owned(), |name| format!("\"{name}\""));
            bail!(
                "the current kube context is {current}, not \"{KIND_CONTEXT}\" (the cluster of `make kind-up`). \
                 This run scales PostgreSQL to 0, upgrades the release and restarts pods, so it acts on \
                 {KIND_CONTEXT} only, unless you name another context: \
                 {CONTEXT_VARIABLE}=<context> make test-e2e"
            )
        }
    }
}

/// `kubectl config view --minify --flatten --context <context>`: a self-contained kubeconfig
/// holding that context only, as current context, credentials inlined (kubectl's `config view`
/// sets the current context from `--context` before minifying, and does not redact when
/// flattening).
pub fn view_command(context: &str) -> CommandLine {
    CommandLine::new(
        "kubectl",
        &[
            "config",
            "view",
            "--minify",
            "--flatten",
            "--context",
            context,
        ],
    )
}

/// The flattened kubeconfig with `namespace` set on `context`, so commands without `-n` (the
/// contract's) act in it.
pub fn with_namespace(flattened: &str, context: &str, namespace: &str) -> Result<String> {
    let mut config: Value = serde_saphyr::from_str(flattened).context("kubeconfig YAML")?;
    let entry = config["contexts"]
        .as_array_mut()
        .context("kubeconfig without contexts")?
        .iter_mut()
        .find(|entry| entry["name"].as_str() == Some(context))
        .with_context(|| format!("kubeconfig without context {context}"))?;
    let Value::Object(settings) = &mut entry["context"] else {
        bail!("context {context} has no settings");
    };
    settings.insert("namespace".into(), namespace.into());
    config["current-context"] = context.into();
    Ok(serde_saphyr::to_string(&config)?)
}

/// Writes the one-context kubeconfig for `context` and `namespace` to `path`, readable by this
/// user only (it holds credentials). `runner` must see the user's own kubeconfig.
pub async fn write_scoped(
    runner: &impl Runner,
    context: &str,
    namespace: &str,
    path: &Path,
) -> Result<()> {
    let command = view_command(context);
    let flattened = runner.run(&command).await?.stdout_of(&command)?;
    let scoped = with_namespace(&flattened, context, namespace)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(scoped.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::fake::FakeRunner;

    const KUBECONFIG: &str = "
apiVersion: v1
kind: Config
current-context: CURRENT
clusters:
  - name: kind-todo-chatbot
    cluster: {server: 'https://127.0.0.1:40000'}
  - name: prod
    cluster: {server: 'https://prod.example:6443'}
users:
  - name: kind-todo-chatbot
    user: {token: kind}
  - name: prod
    user: {token: prod}
contexts:
  - name: kind-todo-chatbot
    context: {cluster: kind-todo-chatbot, user: kind-todo-chatbot}
  - name: prod
    context: {cluster: prod, user: prod, namespace: shop}
";

    fn kubeconfig(current: &str) -> Kubeconfig {
        Kubeconfig::from_yaml(&KUBECONFIG.replace("CURRENT", current)).unwrap()
    }

    #[test]
    fn the_kind_context_is_taken_when_current() {
        assert_eq!(
            choose_context(&kubeconfig("kind-todo-chatbot"), None).unwrap(),
            "kind-todo-chatbot"
        );
    }

    #[test]
    fn another_current_context_is_refused_naming_it_and_the_variable() {
        let error = choose_context(&kubeconfig("prod"), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"prod\""), "{error}");
        assert!(error.contains("kind-todo-chatbot"), "{error}");
        assert!(
            error.contains("E2E_CONTEXT=<context> make test-e2e"),
            "{error}"
        );
        assert!(error.contains("scales PostgreSQL to 0"), "{error}");
    }

    #[test]
    fn no_current_context_is_refused() {
        let config = Kubeconfig {
            current_context: None,
            ..kubeconfig("prod")
        };
        let error = choose_context(&config, None).unwrap_err().to_string();
        assert!(error.contains("(none)"), "{error}");
        assert!(
            choose_context(&config, Some("")).is_err(),
            "empty is not a name"
        );
    }

    #[test]
    fn a_named_context_is_taken_whatever_is_current() {
        assert_eq!(
            choose_context(&kubeconfig("kind-todo-chatbot"), Some("prod")).unwrap(),
            "prod"
        );
    }

    #[test]
    fn a_named_context_must_exist() {
        let error = choose_context(&kubeconfig("prod"), Some("staging"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("E2E_CONTEXT=staging"), "{error}");
        assert!(error.contains("kind-todo-chatbot, prod"), "{error}");
    }

    #[test]
    fn the_scoped_kubeconfig_sets_the_namespace_and_current_context() {
        let flattened = "
apiVersion: v1
kind: Config
current-context: prod
clusters: [{name: prod, cluster: {server: 'https://prod.example:6443'}}]
users: [{name: prod, user: {token: prod}}]
contexts: [{name: prod, context: {cluster: prod, user: prod, namespace: shop}}]
";
        let scoped = with_namespace(flattened, "prod", "default").unwrap();
        let config = Kubeconfig::from_yaml(&scoped).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("prod"));
        let context = config.contexts[0].context.clone().unwrap();
        assert_eq!(context.namespace.as_deref(), Some("default"));
        assert_eq!(context.cluster, "prod");
        assert!(with_namespace(flattened, "staging", "default").is_err());
    }

    #[tokio::test]
    async fn write_scoped_asks_kubectl_for_the_one_context_and_writes_it_private() {
        let flattened = "
apiVersion: v1
kind: Config
current-context: kind-todo-chatbot
clusters: [{name: kind-todo-chatbot, cluster: {server: 'https://127.0.0.1:40000'}}]
users: [{name: kind-todo-chatbot, user: {token: kind}}]
contexts: [{name: kind-todo-chatbot, context: {cluster: kind-todo-chatbot, user: kind-todo-chatbot}}]
";
        let runner = FakeRunner::default().expect(
            "kubectl config view --minify --flatten --context kind-todo-chatbot",
            flattened,
        );
        let dir = std::env::temp_dir().join(format!("kubeconfig-test-{}", std::process::id()));
        let path = dir.join("kubeconfig");
        write_scoped(&runner, "kind-todo-chatbot", "default", &path)
            .await
            .unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains("namespace: default"), "{written}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
