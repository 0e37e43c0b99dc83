//! The renders of the repository's configurations are pinned, byte for byte, in `golden/`:
//!
//! - `default.yaml`: the chart's defaults, which are the Kind settings (`make kind-up` installs
//!   exactly these, release `todo-chatbot` in namespace `default`);
//! - `production.yaml`: `values/production.yaml` in namespace `todo-chatbot`, as that file says,
//!   on a cluster with the Prometheus Operator (its ServiceMonitor and PrometheusRule APIs);
//! - `monitoring-operator.yaml`: the defaults with the Prometheus Operator's ServiceMonitor and
//!   PrometheusRule forced on, the only templates the other two leave out.
//!
//! The harness renders with the TEST ONLY values of `offline-secrets.yaml` in place of the
//! secrets the chart would generate, so a render is the same every time: two renders of the same
//! values must be byte for byte equal (that is how GitOps tools see the chart). A change to the
//! templates that must not change what they render (a refactoring) leaves these files as they
//! are. A change that should render differently updates them, and the diff of the files shows
//! the change in review:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p e2e --test chart golden
//! ```

use std::fs;
use std::path::PathBuf;

use e2e::helm::Render;
use e2e::manifests::{Manifests, changes};

use crate::support::skip_without_helm;

fn golden_path(name: &str) -> PathBuf {
    e2e::repo_root()
        .join("e2e/tests/chart/golden")
        .join(format!("{name}.yaml"))
}

/// The render, after checking that a second render of the same values is byte for byte the same.
pub fn reproducible_render(render: &Render) -> String {
    let first = render.output().unwrap_or_else(|error| panic!("{error:#}"));
    let second = render.output().unwrap_or_else(|error| panic!("{error:#}"));
    if let Some((index, (a, b))) = first
        .lines()
        .zip(second.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "two renders of the same values differ at line {}:\n  {a}\n  {b}",
            index + 1
        );
    }
    assert_eq!(
        first, second,
        "two renders of the same values differ in length"
    );
    first
}

fn assert_matches_golden(name: &str, render: Render) {
    let rendered = reproducible_render(&render);
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        fs::write(&path, &rendered).unwrap();
        eprintln!("UPDATED {}", path.display());
        return;
    }
    let golden = fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; write it with UPDATE_GOLDEN=1 cargo test -p e2e --test chart golden",
            path.display()
        )
    });
    if rendered == golden {
        return;
    }
    // Say what changed, object by object, and where the text first differs.
    let parse = |text: &str| Manifests::parse(text).expect("a YAML stream");
    let changed = changes(&parse(&golden), &parse(&rendered));
    let first_line = golden
        .lines()
        .zip(rendered.lines())
        .position(|(a, b)| a != b)
        .map_or_else(
            || "the length".to_owned(),
            |index| format!("line {}", index + 1),
        );
    panic!(
        "the render differs from {} (first at {first_line}):\n  {}\nIf the change is intended: \
         UPDATE_GOLDEN=1 cargo test -p e2e --test chart golden",
        path.display(),
        changed.join("\n  ")
    );
}

#[test]
fn golden_default_render_is_unchanged() {
    skip_without_helm!();
    assert_matches_golden("default", Render::new());
}

#[test]
fn golden_production_render_is_unchanged() {
    skip_without_helm!();
    assert_matches_golden(
        "production",
        Render::new()
            .namespace("todo-chatbot")
            .values("values/production.yaml")
            .api_version("monitoring.coreos.com/v1/ServiceMonitor")
            .api_version("monitoring.coreos.com/v1/PrometheusRule"),
    );
}

#[test]
fn golden_monitoring_operator_render_is_unchanged() {
    skip_without_helm!();
    assert_matches_golden(
        "monitoring-operator",
        Render::new().set("monitoring.serviceMonitor.force", "true"),
    );
}
