//! Chart documentation stays true: every README parameter table lists exactly the keys of its
//! values.yaml, and the release notes tell users where the API is.

use std::collections::BTreeSet;
use std::fs;

use e2e::repo_root;
use serde_json::Value;

use crate::support::{install_notes, skip_without_helm};

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
    skip_without_helm!();
    let Some(notes) = install_notes("install_notes_show_the_urls_and_the_scaling_command", &[])
    else {
        return;
    };
    assert!(notes.contains("http://localhost:30081"), "{notes}");
    assert!(notes.contains("http://localhost:30081/docs"), "{notes}");
    // The deployment contract's scaling command, exactly: no -f, no --reuse-values, no -n.
    let scale = e2e::contract::scale(&e2e::names::Names::for_release(e2e::RELEASE), 4);
    assert!(
        notes.lines().any(|line| line.trim() == scale.to_string()),
        "{notes}"
    );
    assert!(!notes.contains("--reuse-values --set"), "{notes}");
    assert!(
        notes.contains(
            "kubectl delete secret/todo-chatbot-postgres pvc/data-todo-chatbot-postgres-0"
        ),
        "{notes}"
    );
}

#[test]
fn install_notes_leave_an_existing_postgres_secret_alone() {
    skip_without_helm!();
    let Some(notes) = install_notes(
        "install_notes_leave_an_existing_postgres_secret_alone",
        &[
            "--set",
            "global.postgres.existingSecret=postgres-credentials",
        ],
    ) else {
        return;
    };
    assert!(notes.contains("Secret postgres-credentials"), "{notes}");
    assert!(
        notes.contains("kubectl delete pvc/data-todo-chatbot-postgres-0"),
        "{notes}"
    );
    assert!(!notes.contains("secret/"), "{notes}");
}

#[test]
fn every_chart_names_its_home_sources_and_maintainers() {
    let chart_yaml = |chart: &str| -> Value {
        serde_saphyr::from_str(
            &fs::read_to_string(repo_root().join(chart).join("Chart.yaml")).unwrap(),
        )
        .unwrap()
    };
    let home = chart_yaml(CHARTS[0])["home"]
        .as_str()
        .expect("the umbrella has a home")
        .to_owned();
    assert!(home.starts_with("https://"), "{home}");
    for chart in CHARTS
        .iter()
        .copied()
        .chain(["charts/todo-chatbot/charts/todo-common"])
    {
        let metadata = chart_yaml(chart);
        assert_eq!(
            metadata["home"],
            home.as_str(),
            "{chart}: one home for every chart"
        );
        let sources: Vec<&str> = metadata["sources"]
            .as_array()
            .unwrap_or_else(|| panic!("{chart}: no sources"))
            .iter()
            .map(|source| source.as_str().unwrap())
            .collect();
        assert_eq!(
            sources[0],
            format!("{home}/tree/main/{chart}"),
            "{chart}: its own directory first"
        );
        let maintainers = metadata["maintainers"]
            .as_array()
            .unwrap_or_else(|| panic!("{chart}: no maintainers"));
        assert!(
            maintainers
                .iter()
                .all(|maintainer| maintainer["name"].as_str().is_some_and(|n| !n.is_empty())),
            "{chart}: {maintainers:?}"
        );
    }
}
