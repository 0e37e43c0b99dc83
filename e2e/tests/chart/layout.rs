//! The charts' layout keeps its three promises (charts/todo-chatbot/README.md, "Layout"): a
//! clone installs as it is, each subchart also renders on its own (ci/lint-charts.sh lints each
//! on its own), and `helm package` of the umbrella is self-contained. The library todo-common is one directory, in the
//! umbrella's `charts/`; each subchart links it from its own `charts/`, and the umbrella skips
//! those links. The contract's chart path, `./helm/todo-chatbot`, links to the umbrella.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::contract::{CHART_PATH, CONTRACT_CHART_PATH};
use e2e::helm::{Render, TEST_SECRETS, helm_binary};
use e2e::repo_root;
use serde_json::Value;

use crate::golden::reproducible_render;
use crate::support::skip_without_helm;

const SUBCHARTS: &[&str] = &["backend", "postgres", "monitoring"];
const LIBRARY: &str = "todo-common";

fn umbrella() -> PathBuf {
    repo_root().join("charts/todo-chatbot")
}

fn chart_yaml(dir: &Path) -> Value {
    serde_saphyr::from_str(&fs::read_to_string(dir.join("Chart.yaml")).unwrap()).unwrap()
}

fn dependency_names(dir: &Path) -> BTreeSet<String> {
    chart_yaml(dir)["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|dependency| dependency["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_library_is_a_library_chart_every_chart_declares() {
    let library = umbrella().join("charts").join(LIBRARY);
    assert_eq!(chart_yaml(&library)["type"], "library");
    assert!(dependency_names(&umbrella()).contains(LIBRARY));
    for sub in SUBCHARTS {
        assert_eq!(
            dependency_names(&umbrella().join("charts").join(sub)),
            BTreeSet::from([LIBRARY.to_owned()]),
            "{sub}/Chart.yaml"
        );
    }
}

#[test]
fn each_subchart_links_the_umbrellas_library_and_holds_nothing_else() {
    let library = umbrella()
        .join("charts")
        .join(LIBRARY)
        .canonicalize()
        .unwrap();
    for sub in SUBCHARTS {
        let dir = umbrella().join("charts").join(sub).join("charts");
        let entries: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(entries, [LIBRARY], "{}", dir.display());
        let link = dir.join(LIBRARY);
        // Relative, so it holds in every clone.
        assert_eq!(
            fs::read_link(&link).unwrap(),
            Path::new("../..").join(LIBRARY),
            "{}",
            link.display()
        );
        assert_eq!(link.canonicalize().unwrap(), library);
    }
}

#[test]
fn no_packaged_chart_is_kept_in_the_tree() {
    fn archives(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // The links lead back into the tree: not followed.
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                archives(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "tgz") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    archives(&repo_root().join("charts"), &mut found);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn the_umbrella_loads_without_following_a_link() {
    skip_without_helm!();
    // Helm notes every symlink it follows on stderr; the umbrella's .helmignore skips the
    // subcharts' charts/, so there is none to follow and nothing else to say.
    let output = Render::new().command().output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.trim().is_empty(), "{stderr}");
}

/// Each subchart's generated secret, given as on the subchart's own values (the umbrella's
/// TEST ONLY values name them under the subchart's key).
const SUBCHART_TEST_SECRETS: &[(&str, &str, &str)] = &[
    (
        "backend",
        "secrets.BETTER_AUTH_SECRET",
        "test-only-not-a-secret-jwt-signing-key",
    ),
    ("postgres", "password", "test-only-not-a-secret"),
    (
        "monitoring",
        "grafana.admin.password",
        "test-only-not-a-secret",
    ),
];

#[test]
fn each_subchart_renders_on_its_own() {
    skip_without_helm!();
    for (sub, key, value) in SUBCHART_TEST_SECRETS {
        let render = Render::new()
            .without_test_secrets()
            .chart(format!("charts/todo-chatbot/charts/{sub}"))
            .set(key, value);
        let manifests = render
            .run()
            .unwrap_or_else(|error| panic!("{sub}: {error:#}"));
        assert!(
            manifests
                .kinds_and_names()
                .iter()
                .any(|(_, name)| name.starts_with("todo-chatbot-")),
            "{sub} renders its objects: {:?}",
            manifests.kinds_and_names()
        );
    }
}

#[test]
fn the_packaged_umbrella_is_self_contained_and_renders_as_the_directory() {
    skip_without_helm!();
    let dir = std::env::temp_dir().join(format!("chart-package-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let output = Command::new(helm_binary())
        .arg("package")
        .arg(umbrella())
        .arg("--destination")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "helm package: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let archive = dir.join("todo-chatbot-0.1.0.tgz");
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let entries = String::from_utf8(listing.stdout).unwrap();
    let library_charts = entries
        .lines()
        .filter(|entry| entry.ends_with(&format!("/{LIBRARY}/Chart.yaml")))
        .collect::<Vec<_>>();
    assert_eq!(
        library_charts,
        [format!("todo-chatbot/charts/{LIBRARY}/Chart.yaml")],
        "the library once, in the umbrella's charts/"
    );
    assert_eq!(
        reproducible_render(&Render::new().chart(&archive)),
        reproducible_render(&Render::new()),
        "the archive renders as the directory"
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_contracts_chart_path_links_to_the_chart() {
    // `helm upgrade todo-chatbot ./helm/todo-chatbot ...`, as the contract writes it.
    let link = repo_root().join(CONTRACT_CHART_PATH);
    let target = fs::read_link(&link)
        .unwrap_or_else(|error| panic!("{}: not a symlink: {error}", link.display()));
    assert_eq!(
        target,
        Path::new("../charts/todo-chatbot"),
        "a relative link works in every clone"
    );
    assert_eq!(
        fs::canonicalize(&link).unwrap(),
        fs::canonicalize(umbrella()).unwrap()
    );
}

#[test]
fn helm_renders_and_lints_the_contracts_chart_path_as_the_chart() {
    skip_without_helm!();
    assert_eq!(
        reproducible_render(&Render::new().chart(CONTRACT_CHART_PATH)),
        reproducible_render(&Render::new()),
        "the render from {CONTRACT_CHART_PATH} differs"
    );
    // Helm names the path it lints; otherwise the two reports must be the same.
    let lint = |chart: &str| {
        let output = Command::new(helm_binary())
            .current_dir(repo_root())
            .args(["lint", "--strict", chart, "--values", TEST_SECRETS])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&output.stdout).replace(chart, "<chart>");
        assert!(
            output.status.success(),
            "helm lint {chart}: {report}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        report
    };
    assert_eq!(lint(CONTRACT_CHART_PATH), lint(CHART_PATH));
}
