//! The CI workflows: every action pinned by commit, and the Kind job leaves something to debug
//! with whichever of its steps fails.

use std::fs;

use e2e::repo_root;
use serde_json::Value;

fn workflow(name: &str) -> (String, Value) {
    let text = fs::read_to_string(repo_root().join(".github/workflows").join(name)).unwrap();
    let parsed = serde_saphyr::from_str(&text).expect("a YAML workflow");
    (text, parsed)
}

#[test]
fn every_action_is_pinned_by_commit_with_its_release_named() {
    for name in ["ci.yml", "release.yml"] {
        let (text, _) = workflow(name);
        let mut pinned = 0;
        for line in text.lines().filter(|line| line.contains("uses: ")) {
            let reference = line.split("uses: ").nth(1).unwrap();
            let (action, rest) = reference.split_once('@').expect("action@ref");
            let (sha, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            assert!(
                sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit()),
                "{name}: {action} is not pinned by a commit: {line}"
            );
            assert!(
                comment.starts_with('v'),
                "{name}: {action}@{sha} does not name its release: {line}"
            );
            pinned += 1;
        }
        assert!(pinned >= 5, "{name}: only {pinned} actions found");
    }
}

#[test]
fn the_kind_job_collects_a_debugging_bundle_when_kind_up_or_the_checks_fail() {
    let (_, ci) = workflow("ci.yml");
    let steps = ci["jobs"]["e2e"]["steps"].as_array().expect("e2e steps");
    let position = |run: &str| {
        steps
            .iter()
            .position(|step| step["run"].as_str() == Some(run))
            .unwrap_or_else(|| panic!("no step runs {run}"))
    };
    let debug = position("make kind-debug");
    assert!(position("make kind-up") < debug && position("make test-e2e") < debug);
    assert_eq!(
        steps[debug]["if"].as_str(),
        Some("failure()"),
        "it must run when an earlier step failed"
    );
    let uploaded = steps
        .iter()
        .skip(debug)
        .filter(|step| step["if"].as_str() == Some("failure()"))
        .filter_map(|step| step["with"]["path"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for dir in ["target/e2e/bundle/", "target/e2e/debug/"] {
        assert!(uploaded.contains(dir), "{dir} is not uploaded: {uploaded}");
    }
}
