//! The renders of the repository's configurations are pinned, byte for byte, in `golden/`:
//!
//! - `default.yaml`: the chart's defaults, which are the Kind settings (`make kind-up` installs
//!   exactly these, release `todo-chatbot` in namespace `default`);
//! - `production.yaml`: `values/production.yaml` in namespace `todo-chatbot`, as that file says;
//! - `monitoring-operator.yaml`: the defaults with the Prometheus Operator's ServiceMonitor and
//!   PrometheusRule forced on, the only templates the other two leave out.
//!
//! Helm generates some values anew on every render without a cluster (secrets kept with `lookup`
//! in a real release, and the checksums of the Secrets that hold them); the lines where two
//! renders differ are written as `<key>: GENERATED`, and they may only be Secret data or
//! `checksum/secret`. A change to the templates that must not change what they render (a
//! refactoring) leaves these files as they are. A change that should render differently updates
//! them, and the diff of the files shows the change in review:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p e2e --test chart golden
//! ```

use std::fs;
use std::path::PathBuf;

use e2e::helm::Render;
use e2e::manifests::{Manifests, changes};

const GENERATED: &str = "GENERATED";

fn golden_path(name: &str) -> PathBuf {
    e2e::repo_root()
        .join("e2e/tests/chart/golden")
        .join(format!("{name}.yaml"))
}

/// The render with the values Helm generates masked: the lines in which two renders differ.
pub fn stable_render(render: &Render) -> String {
    let first = render.output().unwrap_or_else(|error| panic!("{error:#}"));
    let second = render.output().unwrap_or_else(|error| panic!("{error:#}"));
    let (first, second): (Vec<&str>, Vec<&str>) =
        (first.lines().collect(), second.lines().collect());
    assert_eq!(
        first.len(),
        second.len(),
        "two renders of the same values differ in length"
    );
    let mut kind = "";
    let mut out = String::new();
    for (line, again) in first.iter().zip(&second) {
        if line.starts_with("---") {
            kind = "";
        } else if let Some(rest) = line.strip_prefix("kind: ") {
            kind = rest;
        }
        if line == again {
            out.push_str(line);
        } else {
            let (key, _) = line
                .split_once(": ")
                .unwrap_or_else(|| panic!("a generated line is a `key: value` line: {line}"));
            assert_eq!(
                again.split_once(": ").map(|(key, _)| key),
                Some(key),
                "two renders differ in more than a value"
            );
            assert!(
                kind == "Secret" || key.trim() == "checksum/secret",
                "only Secret data and checksum/secret may differ between renders, not {kind}: {line}"
            );
            out.push_str(&format!("{key}: {GENERATED}"));
        }
        out.push('\n');
    }
    out
}

fn assert_matches_golden(name: &str, render: Render) {
    let rendered = stable_render(&render);
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
    let parse = |text: &str| {
        Manifests::parse(&text.replace(GENERATED, "\"GENERATED\"")).expect("a YAML stream")
    };
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
    assert_matches_golden("default", Render::new());
}

#[test]
fn golden_production_render_is_unchanged() {
    assert_matches_golden(
        "production",
        Render::new()
            .namespace("todo-chatbot")
            .values("values/production.yaml"),
    );
}

#[test]
fn golden_monitoring_operator_render_is_unchanged() {
    assert_matches_golden(
        "monitoring-operator",
        Render::new().set("monitoring.serviceMonitor.force", "true"),
    );
}
