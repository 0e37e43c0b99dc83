//! Chart documentation stays true: every README parameter table lists exactly the keys of its
//! values.yaml, and the release notes tell users where the API is.

use std::collections::BTreeSet;
use std::fs;

use e2e::helm::helm_binary;
use e2e::repo_root;
use serde_json::Value;

const CHARTS: &[&str] = &[
    "charts/todo-chatbot",
    "charts/todo-chatbot/charts/backend",
    "charts/todo-chatbot/charts/postgres",
    "charts/todo-chatbot/charts/monitoring",
];

/// Dotted paths of scalars, lists and empty maps.
fn leaf_keys(value: &Value, prefix: &str, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.to_owned()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_keys(child, &path, keys);
            }
        }
        _ => {
            keys.insert(prefix.to_owned());
        }
    }
}

/// Keys in the first column of the `| Key | Type | Default | Description |` table.
fn documented_keys(readme: &str) -> BTreeSet<String> {
    let table = readme
        .split("| Key | Type | Default | Description |")
        .nth(1)
        .expect("a parameter table");
    table
        .lines()
        .skip_while(|line| !line.starts_with("|---") && !line.starts_with("| ---"))
        .skip(1)
        .take_while(|line| line.starts_with('|'))
        .filter_map(|line| line.split('`').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn every_chart_readme_lists_exactly_its_values() {
    for chart in CHARTS {
        let dir = repo_root().join(chart);
        let values: Value =
            serde_saphyr::from_str(&fs::read_to_string(dir.join("values.yaml")).unwrap()).unwrap();
        let mut expected = BTreeSet::new();
        leaf_keys(&values, "", &mut expected);
        let documented = documented_keys(&fs::read_to_string(dir.join("README.md")).unwrap());
        let missing: Vec<_> = expected.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&expected).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "{chart}/README.md: undocumented {missing:?}, not in values.yaml {stale:?}"
        );
    }
}

#[test]
fn every_values_key_has_a_comment_above_it() {
    for chart in CHARTS {
        let text = fs::read_to_string(repo_root().join(chart).join("values.yaml")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_key = !trimmed.starts_with('#')
                && !trimmed.starts_with('-')
                && trimmed.contains(':')
                && !trimmed.is_empty();
            if !is_key || index == 0 {
                continue;
            }
            let previous = lines[index - 1].trim_start();
            assert!(
                previous.starts_with('#'),
                "{chart}/values.yaml line {}: `{}` has no comment above it",
                index + 1,
                line.trim()
            );
        }
    }
}

#[test]
fn install_notes_show_the_urls_and_the_scaling_command() {
    let version = std::process::Command::new(helm_binary())
        .args(["version", "--short"])
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    if version.starts_with("v3.") {
        // Helm 3 cannot render NOTES without a cluster; the Helm 4 pass of `make test` does.
        eprintln!(
            "SKIPPED install_notes_show_the_urls_and_the_scaling_command: {version} needs a cluster for --dry-run"
        );
        return;
    }
    let output = std::process::Command::new(helm_binary())
        .current_dir(repo_root())
        .args([
            "install",
            "todo-chatbot",
            "charts/todo-chatbot",
            "--namespace",
            e2e::NAMESPACE,
            "--dry-run=client",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let notes = String::from_utf8_lossy(&output.stdout);
    let notes = notes.split("NOTES:").nth(1).expect("NOTES are printed");
    assert!(notes.contains("http://localhost:30081"), "{notes}");
    assert!(notes.contains("http://localhost:30081/docs"), "{notes}");
    // The deployment contract's scaling command, exactly: no -f, no --reuse-values, no -n.
    let scale = e2e::contract::scale(&e2e::names::Names::for_release(e2e::RELEASE), 4);
    assert!(
        notes.lines().any(|line| line.trim() == scale.to_string()),
        "{notes}"
    );
    assert!(!notes.contains("--reuse-values --set"), "{notes}");
}
