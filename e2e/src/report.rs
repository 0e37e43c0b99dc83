//! The conformance report: one row per named check, written as a markdown table, then every
//! command each check ran, as typed. The run rewrites it after every check (and names the check
//! under way), so a run that is killed still leaves what it found.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The report's file in the report directory.
pub const REPORT_FILE: &str = "conformance.md";
/// The failure bundle's folder in the report directory.
pub const BUNDLE_DIR: &str = "bundle";
/// The run's one-context kubeconfig in the report directory (removed when the run ends).
pub const KUBECONFIG_FILE: &str = "kubeconfig";

/// Empties what an earlier run left in `dir` (its report, failure bundle and kubeconfig), so
/// after this run the directory holds this run's results only: a passing run leaves no old
/// bundle behind, and a run that cannot start leaves no old report. Other files in `dir` are
/// left alone.
pub fn start_clean(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in [REPORT_FILE, KUBECONFIG_FILE] {
        match std::fs::remove_file(dir.join(file)) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    match std::fs::remove_dir_all(dir.join(BUNDLE_DIR)) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    /// Not run because an earlier check it depends on failed.
    NotRun,
}

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
    /// What was observed (on success) or what went wrong (on failure).
    pub evidence: String,
    pub took: Duration,
    /// The external commands it ran, as typed, in order.
    pub commands: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    results: Vec<CheckResult>,
    /// The check under way, if any.
    running: Option<String>,
}

impl Report {
    /// Names the check that starts now, until its result is recorded.
    pub fn start(&mut self, name: &str) {
        self.running = Some(name.to_owned());
    }

    pub fn record(&mut self, result: CheckResult) {
        self.running = None;
        self.results.push(result);
    }

    /// Writes the markdown to `path` through a temporary file, so a reader (or a run killed
    /// while writing) never sees half a report.
    pub fn write(&self, path: &Path, title: &str) -> std::io::Result<()> {
        let partial = path.with_extension("md.partial");
        std::fs::write(&partial, self.to_markdown(title))?;
        std::fs::rename(&partial, path)
    }

    pub fn results(&self) -> &[CheckResult] {
        &self.results
    }

    pub fn failed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Failed)
            .count()
    }

    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome == Outcome::Passed)
            .count()
    }

    /// True only if checks ran and none failed, was skipped or is still running: an empty
    /// report is not a pass.
    pub fn all_passed(&self) -> bool {
        self.running.is_none()
            && !self.results.is_empty()
            && self.results.iter().all(|r| r.outcome == Outcome::Passed)
    }

    pub fn to_markdown(&self, title: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# {title}\n");
        let _ = writeln!(
            out,
            "{} passed, {} failed, {} not run.\n",
            self.passed(),
            self.failed(),
            self.results.len() - self.passed() - self.failed()
        );
        let _ = writeln!(out, "| Check | Result | Evidence | Time |");
        let _ = writeln!(out, "|---|---|---|---|");
        for result in &self.results {
            let mark = match result.outcome {
                Outcome::Passed => "PASS",
                Outcome::Failed => "FAIL",
                Outcome::NotRun => "NOT RUN",
            };
            let _ = writeln!(
                out,
                "| {} | {mark} | {} | {:.1}s |",
                escape_cell(&result.name),
                escape_cell(&result.evidence),
                result.took.as_secs_f64()
            );
        }
        if let Some(name) = &self.running {
            let _ = writeln!(
                out,
                "| {} | RUNNING | started; the run ended before it finished (killed?) | |",
                escape_cell(name)
            );
        }
        let with_commands: Vec<&CheckResult> = self
            .results
            .iter()
            .filter(|result| !result.commands.is_empty())
            .collect();
        if !with_commands.is_empty() {
            let _ = writeln!(out, "\n## Commands run, as typed\n");
            for result in with_commands {
                let _ = writeln!(out, "{}:\n\n```", result.name);
                for command in &result.commands {
                    let _ = writeln!(out, "{command}");
                }
                let _ = writeln!(out, "```\n");
            }
        }
        out
    }
}

/// Table cells can't hold pipes or newlines.
fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome, evidence: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            outcome,
            evidence: evidence.into(),
            took: Duration::from_millis(1500),
            commands: Vec::new(),
        }
    }

    #[test]
    fn a_run_starts_without_the_last_runs_report_and_bundle() {
        let dir = std::env::temp_dir().join(format!("report-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(BUNDLE_DIR)).unwrap();
        std::fs::write(dir.join(BUNDLE_DIR).join("pod-old-logs.txt"), "old").unwrap();
        std::fs::write(dir.join(REPORT_FILE), "# old").unwrap();
        std::fs::write(dir.join(KUBECONFIG_FILE), "old credentials").unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        start_clean(&dir).unwrap();
        assert!(!dir.join(BUNDLE_DIR).exists());
        assert!(!dir.join(REPORT_FILE).exists());
        assert!(!dir.join(KUBECONFIG_FILE).exists());
        assert!(dir.join("notes.txt").exists(), "other files stay");
        start_clean(&dir).unwrap();
        start_clean(&dir.join("fresh")).unwrap();
        assert!(dir.join("fresh").is_dir());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_empty_report_is_not_a_pass() {
        assert!(!Report::default().all_passed());
    }

    #[test]
    fn any_failure_or_skip_fails_the_report() {
        let mut report = Report::default();
        report.record(result("a", Outcome::Passed, "ok"));
        assert!(report.all_passed());
        report.record(result("b", Outcome::NotRun, "depends on a failed check"));
        assert!(!report.all_passed());
    }

    #[test]
    fn markdown_has_one_row_per_check_with_cells_escaped() {
        let mut report = Report::default();
        report.record(result("deployment ready", Outcome::Passed, "READY 2/2"));
        report.record(result(
            "service",
            Outcome::Failed,
            "PORT(S) 8000|30081\nwrong",
        ));
        let markdown = report.to_markdown("Conformance");
        assert!(markdown.contains("1 passed, 1 failed, 0 not run."));
        assert!(markdown.contains("| deployment ready | PASS | READY 2/2 | 1.5s |"));
        assert!(markdown.contains("| service | FAIL | PORT(S) 8000\\|30081 wrong | 1.5s |"));
    }

    #[test]
    fn a_check_under_way_is_named_and_is_not_a_pass() {
        let mut report = Report::default();
        report.record(result("a", Outcome::Passed, "ok"));
        report.start("postgres outage");
        assert!(!report.all_passed());
        let markdown = report.to_markdown("Conformance");
        assert!(
            markdown.contains("| postgres outage | RUNNING | started; the run ended"),
            "{markdown}"
        );
        report.record(result("postgres outage", Outcome::Passed, "ok"));
        assert!(report.all_passed());
        assert!(!report.to_markdown("Conformance").contains("RUNNING"));
    }

    #[test]
    fn the_commands_each_check_ran_are_listed_as_typed() {
        let mut report = Report::default();
        report.record(CheckResult {
            commands: vec![
                "helm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4".into(),
                "helm rollback todo-chatbot 3".into(),
            ],
            ..result("scaling", Outcome::Passed, "4 pods")
        });
        report.record(result("API only", Outcome::Passed, "ok"));
        let markdown = report.to_markdown("Conformance");
        assert!(
            markdown.contains(
                "scaling:\n\n```\nhelm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4\nhelm rollback todo-chatbot 3\n```"
            ),
            "{markdown}"
        );
        assert!(!markdown.contains("API only:"), "{markdown}");
    }

    #[test]
    fn the_report_is_replaced_whole() {
        let dir = std::env::temp_dir().join(format!("report-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(REPORT_FILE);
        let mut report = Report::default();
        report.start("first");
        report.write(&path, "Conformance").unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().contains("RUNNING"));
        report.record(result("first", Outcome::Passed, "ok"));
        report.write(&path, "Conformance").unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert!(written.contains("| first | PASS | ok |"), "{written}");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no partial file left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
