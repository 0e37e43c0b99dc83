//! The failure bundle: everything needed to debug a failed conformance run (or a failed
//! `make kind-up`: the `bundle` binary), collected with helm and kubectl into one directory for
//! CI to upload: the release, its namespace, every pod's logs, and kube-system, where kindnet
//! (the Kind cluster's network, which also enforces NetworkPolicies and logs what it drops),
//! CoreDNS and kube-proxy run.

use std::fs;
use std::path::{Path, PathBuf};

use crate::commands::{CommandLine, Runner};

/// One diagnostic command and the file its output goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub file: String,
    pub command: CommandLine,
}

fn capture(file: impl Into<String>, program: &str, args: &[&str]) -> Capture {
    Capture {
        file: file.into(),
        command: CommandLine::new(program, args),
    }
}

/// What to capture for `release` in `namespace` with these pods.
pub fn captures(namespace: &str, release: &str, pods: &[String]) -> Vec<Capture> {
    let (helm, kubectl) = ("helm", "kubectl");
    let mut list = vec![
        capture(
            "helm-status.txt",
            helm,
            &["status", release, "-n", namespace],
        ),
        capture(
            "helm-history.txt",
            helm,
            &["history", release, "-n", namespace],
        ),
        capture(
            "helm-values.yaml",
            helm,
            &["get", "values", release, "-n", namespace, "--all"],
        ),
        capture(
            "resources.txt",
            kubectl,
            &[
                "get",
                "all,configmaps,endpointslices,pvc,networkpolicies,poddisruptionbudgets,hpa",
                "-n",
                namespace,
                "-o",
                "wide",
            ],
        ),
        capture(
            "events.txt",
            kubectl,
            &["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"],
        ),
        capture("nodes.txt", kubectl, &["describe", "nodes"]),
        capture(
            "kube-system-pods.txt",
            kubectl,
            &["get", "pods", "-n", "kube-system", "-o", "wide"],
        ),
        capture(
            "kube-system-events.txt",
            kubectl,
            &[
                "get",
                "events",
                "-n",
                "kube-system",
                "--sort-by=.lastTimestamp",
            ],
        ),
        // Every add-on pod carries k8s-app (kindnet, kube-dns, kube-proxy); each line is
        // prefixed with its pod and container.
        capture(
            "kube-system-logs.txt",
            kubectl,
            &[
                "logs",
                "-n",
                "kube-system",
                "-l",
                "k8s-app",
                "--all-containers",
                "--prefix",
                "--timestamps",
                "--tail=-1",
            ],
        ),
        capture(
            "kube-system-control-plane-logs.txt",
            kubectl,
            &[
                "logs",
                "-n",
                "kube-system",
                "-l",
                "tier=control-plane",
                "--all-containers",
                "--prefix",
                "--timestamps",
                "--tail=2000",
            ],
        ),
    ];
    for pod in pods {
        let describe = ["describe", "pod", pod, "-n", namespace];
        let logs = [
            "logs",
            pod,
            "-n",
            namespace,
            "--all-containers",
            "--timestamps",
        ];
        let previous_logs = [&logs[..], &["--previous"]].concat();
        list.push(capture(
            format!("pod-{pod}-describe.txt"),
            kubectl,
            &describe,
        ));
        list.push(capture(format!("pod-{pod}-logs.txt"), kubectl, &logs));
        list.push(capture(
            format!("pod-{pod}-previous-logs.txt"),
            kubectl,
            &previous_logs,
        ));
    }
    list
}

/// Runs every capture into `dir` with `runner` (the run's own kubeconfig); a failing command
/// (or one past its deadline) leaves its error in the file instead of stopping the collection.
pub async fn collect(
    dir: &Path,
    captures: &[Capture],
    runner: &impl Runner,
) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    for item in captures {
        let text = match runner.run(&item.command).await {
            Ok(output) => format!("$ {}\n{}{}", item.command, output.stdout, output.stderr),
            Err(error) => format!("$ {}\ncould not run: {error:#}\n", item.command),
        };
        fs::write(dir.join(&item.file), text)?;
    }
    Ok(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pod_gets_describe_logs_and_previous_logs() {
        let pods = vec!["backend-a".to_owned(), "backend-b".to_owned()];
        let list = captures("ns", "rel", &pods);
        for pod in &pods {
            for suffix in ["describe.txt", "logs.txt", "previous-logs.txt"] {
                assert!(
                    list.iter().any(|c| c.file == format!("pod-{pod}-{suffix}")),
                    "{pod} {suffix}"
                );
            }
        }
        assert!(
            list.iter()
                .any(|c| c.file == "helm-history.txt" && c.command.args.contains(&"rel".to_owned()))
        );
        assert!(list.iter().any(|c| c.file == "events.txt"));
        let kube_system = list
            .iter()
            .find(|c| c.file == "kube-system-logs.txt")
            .unwrap();
        assert_eq!(
            kube_system.command.to_string(),
            "kubectl logs -n kube-system -l k8s-app --all-containers --prefix --timestamps --tail=-1",
            "kindnet's network-policy drops are in its logs"
        );
        let previous = list
            .iter()
            .find(|c| c.file == "pod-backend-a-previous-logs.txt")
            .unwrap();
        assert!(previous.command.args.contains(&"--previous".to_owned()));
    }

    #[tokio::test]
    async fn collect_records_failures_instead_of_stopping() {
        let dir = std::env::temp_dir().join(format!("bundle-test-{}", std::process::id()));
        let list = vec![
            capture("missing.txt", "/nonexistent/kubectl", &["get", "pods"]),
            capture("echo.txt", "echo", &["hello"]),
        ];
        collect(
            &dir,
            &list,
            &crate::commands::Local::unscoped(Path::new("/")),
        )
        .await
        .unwrap();
        let missing = fs::read_to_string(dir.join("missing.txt")).unwrap();
        assert!(missing.contains("could not run"), "{missing}");
        let echo = fs::read_to_string(dir.join("echo.txt")).unwrap();
        assert!(
            echo.contains("$ echo hello") && echo.contains("hello\n"),
            "{echo}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
