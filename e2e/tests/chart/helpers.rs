//! Every chart helper is written once. Across the umbrella, its subcharts and the library
//! todo-common, each `define` has its own name, prefixed with its chart's name, a `Usage:` line
//! in the comment above it, and a body no other helper has; what the library provides is not
//! defined again under a chart's name. (The `duplicates` tool does not read templates.)

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use e2e::repo_root;

#[derive(Debug)]
struct Helper {
    chart: String,
    file: PathBuf,
    name: String,
    /// The comment right above the define.
    comment: String,
    body: String,
}

/// The `.tpl` files under `dir` with their chart's name, not following links (the subcharts'
/// links to the library would count it four times).
fn template_files(dir: &Path, chart: &str, out: &mut Vec<(String, PathBuf)>) {
    let chart = if dir.join("Chart.yaml").exists() {
        dir.file_name().unwrap().to_str().unwrap().to_owned()
    } else {
        chart.to_owned()
    };
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_symlink() {
            continue;
        }
        if path.is_dir() {
            template_files(&path, &chart, out);
        } else if path.extension().is_some_and(|ext| ext == "tpl") {
            out.push((chart.clone(), path));
        }
    }
}

/// The actions of a template, `{{ ... }}`, as (start, end, inner text without trim markers).
fn actions(text: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(open) = text[at..].find("{{").map(|i| at + i) {
        let inner_start = open + 2;
        let after_trim = text[inner_start..]
            .strip_prefix('-')
            .map_or(inner_start, |_| inner_start + 1);
        let content_start =
            after_trim + (text[after_trim..].len() - text[after_trim..].trim_start().len());
        // A comment may contain `}}` (its Usage line does): it ends at `*/`.
        let search_from = if text[content_start..].starts_with("/*") {
            content_start + text[content_start..].find("*/").expect("a closed comment")
        } else {
            content_start
        };
        let close = search_from + text[search_from..].find("}}").expect("a closed action");
        let inner = text[content_start..close]
            .trim_end()
            .trim_end_matches('-')
            .trim();
        out.push((open, close + 2, inner));
        at = close + 2;
    }
    out
}

fn helpers_of(chart: &str, file: &Path) -> Vec<Helper> {
    let text = fs::read_to_string(file).unwrap();
    let mut helpers = Vec::new();
    let mut last_comment: Option<(usize, &str)> = None;
    let mut open: Option<(String, String, usize, usize)> = None; // name, comment, body start, depth
    for (start, end, inner) in actions(&text) {
        if let Some((name, comment, body_start, depth)) = &mut open {
            let keyword = inner.split_whitespace().next().unwrap_or("");
            match keyword {
                "if" | "range" | "with" | "define" | "block" => *depth += 1,
                "end" => *depth -= 1,
                _ => {}
            }
            if *depth == 0 {
                helpers.push(Helper {
                    chart: chart.to_owned(),
                    file: file.to_owned(),
                    name: name.clone(),
                    comment: comment.clone(),
                    body: text[*body_start..start].to_owned(),
                });
                open = None;
            }
            continue;
        }
        if inner.starts_with("/*") {
            last_comment = Some((end, inner));
        } else if let Some(rest) = inner.strip_prefix("define ") {
            let name = rest.trim().trim_matches('"').to_owned();
            let comment = match last_comment {
                Some((comment_end, comment)) if text[comment_end..start].trim().is_empty() => {
                    comment.to_owned()
                }
                _ => String::new(),
            };
            open = Some((name, comment, end, 1));
        }
    }
    assert!(open.is_none(), "{}: a define is not closed", file.display());
    helpers
}

fn all_helpers() -> Vec<Helper> {
    let mut files = Vec::new();
    template_files(&repo_root().join("charts"), "", &mut files);
    let helpers: Vec<Helper> = files
        .iter()
        .flat_map(|(chart, file)| helpers_of(chart, file))
        .collect();
    assert!(helpers.len() >= 40, "only {} helpers found", helpers.len());
    helpers
}

#[test]
fn every_helper_has_one_name_prefixed_with_its_chart() {
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    let helpers = all_helpers();
    for helper in &helpers {
        assert!(
            helper.name.starts_with(&format!("{}.", helper.chart)),
            "{} in {} is not prefixed {}.",
            helper.name,
            helper.file.display(),
            helper.chart
        );
        if let Some(other) = seen.insert(&helper.name, &helper.file) {
            panic!(
                "{} is defined in {} and {}",
                helper.name,
                other.display(),
                helper.file.display()
            );
        }
    }
}

#[test]
fn every_helper_has_a_usage_line() {
    for helper in all_helpers() {
        assert!(
            helper
                .comment
                .lines()
                .any(|line| line.trim_start().starts_with("Usage: ")),
            "{} ({}) has no `Usage:` line in the comment above it",
            helper.name,
            helper.file.display()
        );
    }
}

#[test]
fn no_two_helpers_have_the_same_body() {
    let helpers = all_helpers();
    let charts: Vec<&str> = helpers.iter().map(|helper| helper.chart.as_str()).collect();
    // Bodies compared without white space and with every chart's prefix made the same, so a
    // copy renamed for another chart is still a copy.
    let normalized = |body: &str| {
        let mut body: String = body.split_whitespace().collect();
        for chart in &charts {
            body = body.replace(&format!("\"{chart}."), "\"<chart>.");
        }
        body
    };
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for helper in &helpers {
        if let Some(other) = seen.insert(normalized(&helper.body), &helper.name) {
            panic!("{} and {} have the same body", other, helper.name);
        }
    }
}

#[test]
fn no_chart_defines_again_what_the_library_provides() {
    // The helpers each chart used to carry a copy of, under the chart's own prefix.
    const LIBRARY_ONLY: &[&str] = &["name", "chart", "image", "string", "defaultNamespaceSkip"];
    for helper in all_helpers() {
        if helper.chart == "todo-common" {
            continue;
        }
        let tail = &helper.name[helper.chart.len() + 1..];
        assert!(
            !LIBRARY_ONLY.contains(&tail),
            "{} ({}) is the library's to define (todo-common)",
            helper.name,
            helper.file.display()
        );
    }
}
