//! The e2e harness: rendering the chart ([`helm`]), reading rendered manifests as Kubernetes
//! types ([`manifests`]), and proving the deployment contract on a live cluster with the
//! `conformance` binary (never run by `cargo test`; every piece of its logic is unit-tested here):
//!
//! - [`names`]: the release's object names, derived from the release name;
//! - [`kubeconfig`]: which kube context the run may act on, and its one-context kubeconfig;
//! - [`commands`]: kubectl, helm and curl through one runner (a fake one in tests), each with
//!   a deadline, killed when the check awaiting it is abandoned;
//! - [`contract`]: the contract's verification commands as written, and their expected output;
//! - [`cluster`]: the Kubernetes API, rollout and terminating-pod logic, the in-cluster probe pod;
//! - [`traffic`]: paced, bounded traffic during a rollout;
//! - [`guard`]: the ordered table of checks and the restores that run after each;
//! - [`outage`]: what the contract implies of a database outage, and which failures it excuses;
//! - [`report`], [`bundle`]: the markdown report and the failure bundle.
//!
//! [`monitoring`] takes the monitoring chart's Prometheus config, alert rules and dashboard out
//! of a render, for the monitoring tests and the `promtool-inputs` binary (ci/test-monitoring.sh).

pub mod bundle;
pub mod cluster;
pub mod commands;
pub mod contract;
pub mod guard;
pub mod helm;
pub mod kubeconfig;
pub mod manifests;
pub mod monitoring;
pub mod names;
pub mod outage;
pub mod report;
pub mod traffic;

use std::path::PathBuf;

/// The first line of every test that runs Helm: without Helm the test is skipped, saying so by
/// name and how to get it, or fails with E2E_REQUIRE=1 (see [`helm::available`]).
#[macro_export]
macro_rules! skip_without_helm {
    () => {
        if !$crate::helm::available_here() {
            return;
        }
    };
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ sits in the repository root")
        .to_path_buf()
}

/// The release name the contract is written for.
pub const RELEASE: &str = "todo-chatbot";
/// The namespace the deployment contract knows: its commands run without `-n` and the frontend
/// reaches the backend at `todo-chatbot-backend.default.svc.cluster.local`. `make kind-up`
/// installs there, the chart tests render there, and the conformance run defaults to it.
pub const NAMESPACE: &str = "default";
/// The kube context of the cluster `make kind-up` creates (kind names it `kind-<cluster>`).
pub const KIND_CONTEXT: &str = "kind-todo-chatbot";
