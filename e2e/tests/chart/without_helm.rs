//! Without Helm (none on PATH, HELM unset: a fresh clone before `source .tools/env`) every chart
//! test that needs it is skipped by name, saying how to get it, and the rest still run; with
//! E2E_REQUIRE=1 (as `make test` sets) each of them fails instead. Checked by running this very
//! test binary again without Helm.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

/// PATH without the directories that hold a `helm`.
fn path_without_helm() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(
        std::env::split_paths(&path).filter(|dir| !Path::new(dir).join("helm").exists()),
    )
    .unwrap()
}

/// This test binary, run again without Helm on the tests `filter` selects (this module's
/// excepted), with E2E_REQUIRE=1 when `required`.
fn chart_tests_without_helm(filter: &str, required: bool) -> Output {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([filter, "--skip", "without_helm::"])
        .env_remove("HELM")
        .env("PATH", path_without_helm())
        .env_remove("E2E_REQUIRE");
    if required {
        command.env("E2E_REQUIRE", "1");
    }
    command.output().expect("the chart test binary runs")
}

/// The tests a run reports with `outcome` (`ok`, `FAILED`).
fn reported(stdout: &str, outcome: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test "))
        .filter_map(|rest| rest.strip_suffix(&format!(" ... {outcome}")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn without_helm_the_chart_tests_are_skipped_by_name_with_the_way_to_get_it() {
    let output = chart_tests_without_helm("", false);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");

    let skipped: BTreeSet<String> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("SKIPPED "))
        .map(|rest| {
            assert!(
                rest.contains("no helm on PATH and HELM is not set")
                    && rest.contains("source .tools/env")
                    && rest.contains("make tools"),
                "the skip says why and how to get Helm: {rest}"
            );
            rest.split_once(": ").unwrap().0.to_owned()
        })
        .collect();
    let passed = reported(&stdout, "ok");
    // Every skip names a test of this binary, and the tests that need Helm are among them.
    assert!(skipped.is_subset(&passed), "{skipped:?}");
    for test in [
        "contract::deployment_is_named_todo_chatbot_backend_with_helm_labels_and_component_backend",
        "golden::golden_default_render_is_unchanged",
        "upgrade::the_contracts_scaling_command_changes_the_replica_count_only",
    ] {
        assert!(skipped.contains(test), "{test} was not skipped: {stderr}");
    }
    // Most chart tests render; the few that only read files still ran.
    assert!(skipped.len() >= 100, "only {} skipped", skipped.len());
    assert!(
        passed.contains("docs::every_chart_readme_lists_exactly_its_values")
            && !skipped.contains("docs::every_chart_readme_lists_exactly_its_values"),
        "{stdout}"
    );
}

#[test]
fn without_helm_and_with_e2e_require_the_chart_tests_fail() {
    let output = chart_tests_without_helm("golden::", true);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stdout}\n{stderr}");
    let failed = reported(&stdout, "FAILED");
    assert_eq!(failed.len(), 3, "every golden test failed: {stdout}");
    assert!(
        stdout.contains("no helm on PATH and HELM is not set")
            && stdout.contains("E2E_REQUIRE=1 makes this a failure"),
        "{stdout}"
    );
    assert!(!stderr.contains("SKIPPED"), "{stderr}");
}
