//! The README stays true: every make target it names exists, every chart value it names exists,
//! its table of the service's environment variables matches what the service reads, the image
//! size it gives is the measured one, and the commands it gives (and the chart READMEs and the
//! bench README give) work as written: `given.rs`, on `commands.rs`'s reading of them, and
//! `local_run.rs`, which runs the manual local set-up against a PostgreSQL that wants a password.

mod commands;
mod given;
mod local_run;

use std::collections::BTreeSet;
use std::fs;

use e2e::repo_root;
use serde_json::Value;

fn readme() -> String {
    fs::read_to_string(repo_root().join("README.md")).unwrap()
}

pub fn makefile_targets() -> BTreeSet<String> {
    fs::read_to_string(repo_root().join("Makefile"))
        .unwrap()
        .lines()
        .filter_map(|line| line.split_once(':').map(|(target, _)| target))
        .filter(|target| {
            !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_make_target_named_in_the_readme_exists() {
    let targets = makefile_targets();
    let text = readme();
    let named: BTreeSet<&str> = text
        .split("make ")
        .skip(1)
        .filter_map(|rest| {
            // `make -s token`: the target is the first word that is not an option.
            let rest = rest.trim_start_matches("-s ");
            rest.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                .next()
        })
        .filter(|word| !word.is_empty())
        .collect();
    assert!(named.len() >= 10, "{named:?}");
    let missing: Vec<_> = named
        .iter()
        .filter(|target| !targets.contains(**target))
        .collect();
    assert!(
        missing.is_empty(),
        "README names make targets the Makefile lacks: {missing:?}"
    );
}

#[test]
fn every_make_target_is_in_the_readme_table() {
    let text = readme();
    for target in makefile_targets() {
        assert!(
            text.contains(&format!("| `make {target}` |")),
            "make {target} is not documented in the README's table"
        );
    }
}

/// Dotted paths of every key, leaves and maps, of a values file under `prefix`; `open` gets the
/// maps that are empty by default (labels, annotations: any key can go in them).
fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>, open: &mut BTreeSet<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let path = format!("{prefix}{key}");
            out.insert(path.clone());
            if child.as_object().is_some_and(|child| child.is_empty()) {
                open.insert(path.clone());
            }
            paths(child, &format!("{path}."), out, open);
        }
    }
}

/// Every value path of the umbrella chart and its subcharts (`backend.replicaCount`), and the
/// paths of the maps whose keys are free.
pub fn chart_values() -> (BTreeSet<String>, BTreeSet<String>) {
    let charts = repo_root().join("charts/todo-chatbot");
    let (mut known, mut open) = (BTreeSet::new(), BTreeSet::new());
    let load = |path: std::path::PathBuf| -> Value {
        serde_saphyr::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    };
    paths(&load(charts.join("values.yaml")), "", &mut known, &mut open);
    for sub in ["backend", "postgres", "monitoring"] {
        paths(
            &load(charts.join(format!("charts/{sub}/values.yaml"))),
            &format!("{sub}."),
            &mut known,
            &mut open,
        );
    }
    (known, open)
}

#[test]
fn every_chart_value_named_in_the_readme_exists() {
    let (known, _) = chart_values();
    let text = readme();
    let mut checked = 0;
    // Spans with a slash are paths (e2e/tests/monitoring.rs), not values.
    for quoted in text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| !span.contains('/'))
    {
        for candidate in quoted.split([' ', '=']) {
            let candidate = candidate.trim();
            let is_value = ["backend.", "postgres.", "monitoring.", "global."]
                .iter()
                .any(|p| candidate.starts_with(p))
                && candidate
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
            if is_value {
                assert!(
                    known.contains(candidate),
                    "README names chart value {candidate}, which no values.yaml has"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} values found in the README");
}

#[test]
fn the_environment_table_matches_what_the_service_reads() {
    let source = fs::read_to_string(repo_root().join("service/src/config.rs")).unwrap();
    let code = source.split("#[cfg(test)]").next().unwrap();
    let read: BTreeSet<String> = code
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|word| word.len() > 2 && word.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        configuration_table(),
        read,
        "README's variable table vs service/src/config.rs"
    );
}

/// The variables of the README's configuration table.
pub fn configuration_table() -> BTreeSet<String> {
    let text = readme();
    let table = text
        .split("### Configuration")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .nth(1)
        .unwrap();
    first_cells(table)
}

/// `NAME` of every `"NAME"` or `${NAME:-` in `text` that starts with one of `prefixes`.
fn variables(text: &str, prefixes: &[&str]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let starts = prefixes
        .iter()
        .flat_map(|prefix| text.match_indices(prefix).map(|(index, _)| index));
    for index in starts {
        let name: String = text[index..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        let before = &text[..index];
        let after = &text[index + name.len()..];
        let quoted = before.ends_with('"') && after.starts_with('"');
        let defaulted = before.ends_with("${") && after.starts_with(":-");
        if quoted || defaulted {
            found.insert(name);
        }
    }
    found
}

#[test]
fn the_kind_table_lists_every_variable_of_kind_up_and_test_e2e() {
    let prefixes: &[&str] = &["KIND_", "E2E_"];
    let mut read = BTreeSet::new();
    for script in ["ci/kind.sh", "ci/e2e.sh"] {
        read.extend(variables(
            &fs::read_to_string(repo_root().join(script)).unwrap(),
            prefixes,
        ));
    }
    for source in ["e2e/src/bin/conformance.rs", "e2e/src/kubeconfig.rs"] {
        read.extend(variables(
            &fs::read_to_string(repo_root().join(source)).unwrap(),
            &["E2E_"],
        ));
    }
    assert!(read.len() >= 5, "{read:?}");
    let text = readme();
    let section = text
        .split("\n## Kind\n")
        .nth(1)
        .expect("a Kind section")
        .split("\n## ")
        .next()
        .unwrap();
    let documented = first_cells(section);
    assert_eq!(
        documented, read,
        "README's Kind variables vs what the scripts read"
    );
}

/// The names in the first column of a Markdown table's rows, written as `code`.
fn first_cells(table: &str) -> BTreeSet<String> {
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// The README gives the image's size as `make bench` recorded it (MiB, one decimal, the unit
/// `make image` logs too), so the two never disagree again.
#[test]
fn the_image_size_in_the_readme_is_the_one_make_bench_recorded() {
    let results: Value =
        serde_json::from_str(&fs::read_to_string(repo_root().join("bench/results.json")).unwrap())
            .unwrap();
    let Some(bytes) = results["image"]["size_bytes"].as_u64() else {
        testkit::skip::skipped(
            "the_image_size_in_the_readme_is_the_one_make_bench_recorded",
            "bench/results.json records no image size (make bench ran without an image)",
        );
        return;
    };
    let recorded = format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
    assert!(
        readme().contains(&format!("Size: **{recorded}**")),
        "README.md's image size is not the {recorded} bench/results.json records: update \
         \"Size: **...**\" under \"The image\""
    );
    let log = fs::read_to_string(repo_root().join("ci/image.sh")).unwrap();
    assert!(
        log.contains(r#"printf "%.1f", bytes / 1048576"#),
        "ci/image.sh logs the size in MiB with one decimal"
    );
}
