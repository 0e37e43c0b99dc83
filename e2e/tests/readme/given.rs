//! Every command the READMEs give works as written on a fresh clone, as far as this machine can
//! tell without a cluster or the network: what each names exists (files, scripts, make targets,
//! cargo packages and targets, binaries, chart values, the variables it sets), every
//! `helm template` renders without a cluster, and is rendered here when Helm is at hand, and
//! `helm` and `kubectl` are typed by hand only after the README said how to get them on PATH.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use e2e::repo_root;

use crate::commands::{Command, commands, simple_commands};

/// The documents whose commands a reader types, relative to the repository root.
const DOCUMENTS: &[&str] = &[
    "README.md",
    "charts/todo-chatbot/README.md",
    "charts/todo-chatbot/charts/backend/README.md",
    "charts/todo-chatbot/charts/postgres/README.md",
    "charts/todo-chatbot/charts/monitoring/README.md",
    "charts/todo-chatbot/charts/todo-common/README.md",
    "bench/README.md",
];

fn read(path: &str) -> String {
    fs::read_to_string(repo_root().join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Every command of every document's shell blocks.
fn all_commands() -> Vec<Command> {
    let found: Vec<Command> = DOCUMENTS
        .iter()
        .flat_map(|document| commands(document, &read(document)))
        .collect();
    assert!(found.len() > 50, "only {} commands found", found.len());
    found
}

/// The backticked spans of a document (code blocks left out).
fn code_spans(markdown: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_block = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if !in_block {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    prose
        .split('`')
        .skip(1)
        .step_by(2)
        .map(|span| span.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The entries of the repository's root that a path can start with (build outputs and installed
/// tools are not part of a fresh clone).
fn top_level() -> BTreeSet<String> {
    fs::read_dir(repo_root())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| ![".git", "target", ".tools"].contains(&name.as_str()))
        .collect()
}

/// `word` as a path in the repository, if it reads as one: its first part names an entry of the
/// root (`ci/lint-charts.sh`, `./helm/todo-chatbot`, `values/*.yaml`).
fn repository_path(word: &str, top: &BTreeSet<String>) -> Option<String> {
    let word = word.strip_prefix("./").unwrap_or(word);
    let word = word.trim_end_matches([',', '.', ':', ')']);
    let first = word.split('/').next()?;
    (word.contains('/') && top.contains(first) && !word.contains(['<', '$', ' ']))
        .then(|| word.to_owned())
}

/// Whether `path` exists under `base`; `dir/*.ext` when some file of `dir` ends with `.ext`,
/// `dir/**` when `dir` does.
fn exists_under(base: &Path, path: &str) -> bool {
    if let Some(dir) = path.strip_suffix("/**") {
        return base.join(dir).is_dir();
    }
    match path.rsplit_once("/*") {
        Some((dir, suffix)) => fs::read_dir(base.join(dir)).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|entry| entry.file_name().to_string_lossy().ends_with(suffix))
        }),
        None => base.join(path).exists(),
    }
}

/// Whether `path`, named in `document`, exists: from the repository's root, or from the
/// document's folder or one above it (a chart README names `charts/todo-common` of its chart).
fn exists(document: &str, path: &str) -> bool {
    let root = repo_root();
    let mut folder = root.join(document);
    while folder.pop() && folder.starts_with(&root) {
        if exists_under(&folder, path) {
            return true;
        }
    }
    false
}

#[test]
fn every_file_a_command_or_a_readme_names_exists() {
    let top = top_level();
    let mut missing = Vec::new();
    let mut checked = 0;
    for command in all_commands() {
        let values = command.assignments.iter().map(|(_, value)| value);
        for word in command.words.iter().chain(values) {
            let word = word
                .split_once('=')
                .map_or(word.as_str(), |(_, value)| value);
            if let Some(path) = repository_path(word, &top) {
                checked += 1;
                let document = command.place.split(':').next().unwrap();
                if !exists(document, &path) {
                    missing.push(format!("{command}: {path}"));
                }
            }
        }
    }
    for document in DOCUMENTS {
        for span in code_spans(&read(document)) {
            if let Some(path) = repository_path(&span, &top) {
                checked += 1;
                if !exists(document, &path) {
                    missing.push(format!("{document}: `{span}`"));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} paths found");
    assert!(
        missing.is_empty(),
        "named but not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_make_command_names_a_target_of_the_makefile() {
    let targets = crate::makefile_targets();
    let mut checked = 0;
    for command in all_commands().iter().filter(|c| c.program() == "make") {
        let named: Vec<&String> = command
            .args()
            .iter()
            .filter(|word| !word.starts_with('-') && !word.contains('='))
            .collect();
        assert!(!named.is_empty(), "{command}: no target");
        for target in named {
            assert!(targets.contains(target), "{command}: no target {target}");
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} make commands");
}

/// The text of every file that reads the environment: scripts, the Makefile, the Rust sources.
fn code_that_reads_the_environment() -> String {
    let root = repo_root();
    let mut text = read("Makefile") + &read(".ci/run");
    let mut directories: Vec<PathBuf> = ["ci", "service/src", "testkit/src", "bench/src", "e2e"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    while let Some(directory) = directories.pop() {
        for entry in fs::read_dir(&directory).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                directories.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("sh" | "rs" | "env")
            ) {
                text.push_str(&fs::read_to_string(&path).unwrap());
            }
        }
    }
    text
}

/// Whether `name` occurs in `text` as a word of its own.
fn names(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(index, _)| {
        !text[..index].ends_with(word) && !text[index + name.len()..].starts_with(word)
    })
}

#[test]
fn every_variable_a_command_sets_is_one_the_repository_reads() {
    let code = code_that_reads_the_environment();
    let configuration = crate::configuration_table();
    let commands = all_commands();
    // A variable the commands then use (`TOKEN=$(...)`, `curl ... $TOKEN`) is the shell
    // session's own, not a setting of what they run.
    let used: Vec<&String> = commands
        .iter()
        .flat_map(|command| &command.words)
        .filter(|word| word.contains('$'))
        .collect();
    let mut unknown = Vec::new();
    let mut checked = 0;
    for command in &commands {
        let runs_the_backend = command.starts_with(&["cargo", "run", "-p", "backend"])
            || command.starts_with(&["make", "dev"])
            || command.program().ends_with("/backend");
        let make_arguments = (command.program() == "make")
            .then(|| {
                command
                    .args()
                    .iter()
                    .filter_map(|word| crate::commands::assignment(word))
            })
            .into_iter()
            .flatten();
        let set: Vec<(String, String)> = command
            .assignments
            .iter()
            .cloned()
            .chain(make_arguments)
            .collect();
        for (name, _) in set {
            if used.iter().any(|word| names(word, &format!("${name}"))) {
                continue;
            }
            checked += 1;
            if runs_the_backend && !configuration.contains(&name) {
                unknown.push(format!(
                    "{command}: {name} is not in the README's configuration table"
                ));
            } else if !names(&code, &name) {
                unknown.push(format!(
                    "{command}: {name} is read nowhere in the repository"
                ));
            }
        }
    }
    assert!(checked >= 5, "only {checked} variables set");
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
}

/// The workspace's packages and the names of their targets of each kind (`bin`, `test`), as
/// `cargo metadata` reads them.
struct Package {
    name: String,
    binaries: Vec<String>,
    tests: Vec<String>,
}

fn packages() -> Vec<Package> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Process::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let targets = |package: &serde_json::Value, kind: &str| -> Vec<String> {
        package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|target| target["kind"].as_array().unwrap().iter().any(|k| k == kind))
            .map(|target| target["name"].as_str().unwrap().to_owned())
            .collect()
    };
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| Package {
            name: package["name"].as_str().unwrap().to_owned(),
            binaries: targets(package, "bin"),
            tests: targets(package, "test"),
        })
        .collect()
}

#[test]
fn every_cargo_command_and_built_binary_names_what_the_workspace_has() {
    let packages = packages();
    let mut checked = 0;
    for command in all_commands() {
        let program = command.program();
        if let Some(binary) = program
            .strip_prefix("target/debug/")
            .or_else(|| program.strip_prefix("target/release/"))
        {
            assert!(
                packages
                    .iter()
                    .any(|p| p.binaries.iter().any(|b| b == binary)),
                "{command}: no workspace package builds {binary}"
            );
            checked += 1;
        }
        let subcommand = command.args().first().map(String::as_str);
        if program != "cargo" || !matches!(subcommand, Some("run" | "test" | "build")) {
            continue;
        }
        for name in command.option_values(&["-p", "--package"]) {
            let package = packages
                .iter()
                .find(|package| package.name == name)
                .unwrap_or_else(|| panic!("{command}: no package {name} in the workspace"));
            for test in command.option_values(&["--test"]) {
                assert!(
                    package.tests.iter().any(|t| t == test),
                    "{command}: {name} has no test target {test}"
                );
            }
            for binary in command.option_values(&["--bin"]) {
                assert!(
                    package.binaries.iter().any(|b| b == binary),
                    "{command}: {name} has no binary {binary}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} cargo commands and binaries");
}

/// Every `helm template` of the documents with a chart to render: from shell blocks, and from
/// the prose's code spans.
fn helm_templates() -> Vec<Command> {
    let mut found: Vec<Command> = all_commands()
        .into_iter()
        .filter(|c| c.starts_with(&["helm", "template"]))
        .collect();
    for document in DOCUMENTS {
        for span in code_spans(&read(document)) {
            if span.starts_with("helm template ") {
                found.extend(
                    simple_commands(&format!("{document} (prose)"), &span)
                        .into_iter()
                        .filter(|c| c.words.len() > 3),
                );
            }
        }
    }
    found
}

/// The chart's secrets a render must be given where `lookup` cannot generate them.
const SECRETS: [&str; 3] = [
    "backend.secrets.BETTER_AUTH_SECRET",
    "postgres.password",
    "monitoring.grafana.admin.password",
];

#[test]
fn every_helm_template_gives_what_a_render_without_a_cluster_needs() {
    let templates = helm_templates();
    assert!(templates.len() >= 2, "{templates:#?}");
    for command in &templates {
        let files = command.option_values(&["-f", "--values"]);
        let sets = command.option_values(&["--set", "--set-string"]);
        let offline = files.contains(&e2e::helm::TEST_SECRETS)
            // It generates nothing: existing Secrets, no bundled database or Grafana.
            || files.contains(&"values/production.yaml")
            || SECRETS
                .iter()
                .all(|secret| sets.iter().any(|set| set.starts_with(&format!("{secret}="))));
        assert!(
            offline,
            "{command}: without a cluster the chart cannot generate its secrets; give -f {} \
             (TEST ONLY values) or {SECRETS:?}",
            e2e::helm::TEST_SECRETS
        );
    }
}

#[test]
fn every_helm_template_renders_as_written() {
    e2e::skip_without_helm!();
    for command in helm_templates() {
        let output = Process::new(e2e::helm::helm_binary())
            .args(command.args())
            .current_dir(repo_root())
            .output()
            .expect("helm runs");
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn every_value_a_helm_command_sets_is_one_the_chart_has() {
    let (known, open) = crate::chart_values();
    let mut checked = 0;
    for command in all_commands().iter().filter(|c| c.program() == "helm") {
        for set in command.option_values(&["--set", "--set-string", "--set-json"]) {
            let key = set.split_once('=').map_or(set, |(key, _)| key);
            // Inside a map of free keys (labels, annotations) any key is the user's.
            let free = open.iter().any(|map| key.starts_with(&format!("{map}.")));
            assert!(
                known.contains(key) || free,
                "{command}: the chart has no value {key}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "only {checked} --set values");
}

#[test]
fn helm_and_kubectl_are_typed_by_hand_only_after_the_way_to_get_them() {
    let tools = read("ci/tools.sh");
    assert!(
        tools.contains("cat > \"$TOOLS_DIR/env\""),
        "ci/tools.sh writes the .tools/env the READMEs tell readers to source"
    );
    for document in DOCUMENTS {
        let text = read(document);
        let Some(first) = commands(document, &text)
            .into_iter()
            .find(|c| ["helm", "kubectl"].contains(&c.program()))
        else {
            continue;
        };
        let line: usize = first.place.rsplit(':').next().unwrap().parse().unwrap();
        let before: String = text.lines().take(line).collect::<Vec<_>>().join("\n");
        assert!(
            before.contains("source .tools/env"),
            "{first}: {document} says nothing of `source .tools/env` (make tools puts helm and \
             kubectl in .tools/bin, off PATH) before its first helm or kubectl command"
        );
    }
}

/// GitHub's anchor of a heading: lower case, spaces to hyphens, other punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a document's headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_block = false;
    markdown
        .lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
            }
            !in_block
        })
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| anchor(heading.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_to_a_section_names_a_heading_that_exists() {
    let mut checked = 0;
    for document in DOCUMENTS {
        let text = read(document);
        for link in text.split("](").skip(1) {
            let target = link.split(')').next().unwrap();
            let Some((file, section)) = target.split_once('#') else {
                continue;
            };
            if file.contains("://") {
                continue;
            }
            let linked = if file.is_empty() {
                text.clone()
            } else {
                let path = Path::new(document).parent().unwrap().join(file);
                read(path.to_str().unwrap())
            };
            assert!(
                anchors(&linked).contains(section),
                "{document}: a link to {target}, a section that does not exist"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} links to sections");
}
