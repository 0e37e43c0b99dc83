//! The debugging bundle of the release, without running any check: what `make kind-debug` (which
//! CI runs when `make kind-up` or `make test-e2e` fails) collects into target/e2e/debug/, next to
//! `kind export logs`. The same captures as the conformance run's failure bundle
//! (`e2e::bundle`), through the same one-context kubeconfig (`e2e::kubeconfig`), so it acts only
//! on `kind-todo-chatbot` or the context named in `E2E_CONTEXT`. Every command has its deadline;
//! one that fails leaves its error in its file and the collection goes on.

use std::path::PathBuf;

use anyhow::{Context, Result};
use e2e::bundle;
use e2e::commands::{CommandLine, Local, Runner};
use e2e::kubeconfig::{CONTEXT_VARIABLE, choose_context, write_scoped};
use e2e::names::Names;
use e2e::{NAMESPACE, RELEASE, repo_root};
use kube::config::Kubeconfig;

/// The folder of the report directory the bundle goes to.
const DEBUG_DIR: &str = "debug";

#[tokio::main]
async fn main() {
    let namespace = std::env::var("E2E_NAMESPACE").unwrap_or_else(|_| NAMESPACE.into());
    let report_dir = std::env::var_os("E2E_REPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/e2e"));
    match collect(&report_dir, &namespace).await {
        Ok(dir) => println!("debugging bundle: {}", dir.display()),
        Err(error) => {
            eprintln!("bundle: {error:#}");
            std::process::exit(1);
        }
    }
}

async fn collect(report_dir: &std::path::Path, namespace: &str) -> Result<PathBuf> {
    let dir = report_dir.join(DEBUG_DIR);
    match std::fs::remove_dir_all(&dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(error).with_context(|| format!("clearing {}", dir.display()));
        }
        _ => {}
    }
    std::fs::create_dir_all(&dir)?;
    let kubeconfig = Kubeconfig::read().context("no kubeconfig (KUBECONFIG or ~/.kube/config)")?;
    let requested = std::env::var(CONTEXT_VARIABLE).ok();
    let context = choose_context(&kubeconfig, requested.as_deref())?;
    // It holds credentials: beside the bundle, never in it, and removed at the end.
    let scoped = report_dir.join("bundle-kubeconfig");
    write_scoped(&Local::unscoped(&repo_root()), &context, namespace, &scoped).await?;
    let runner = Local::scoped(&scoped, &repo_root());
    let names = Names::for_release(RELEASE);
    let list = CommandLine::new(
        "kubectl",
        &["get", "pods", "-l", &names.release_pods(), "-o", "name"],
    );
    // Without a pod list (no API server yet), the other captures still say what they can.
    let pods: Vec<String> = match runner.run(&list).await.and_then(|out| out.stdout_of(&list)) {
        Ok(text) => text
            .lines()
            .filter_map(|line| line.strip_prefix("pod/"))
            .map(str::to_owned)
            .collect(),
        Err(error) => {
            eprintln!("bundle: no pod list: {error:#}");
            Vec::new()
        }
    };
    let captures = bundle::captures(namespace, &names.release, &pods);
    let written = bundle::collect(&dir, &captures, &runner).await;
    let _ = std::fs::remove_file(&scoped);
    Ok(written?)
}
