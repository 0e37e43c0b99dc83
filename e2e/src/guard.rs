//! The conformance run as an ordered table of named checks, one function each, and the guard
//! that puts the cluster back: a check that changes the cluster (scales PostgreSQL to 0, runs a
//! `helm upgrade`, creates a pod) first registers how to undo it, and the runner undoes it after
//! the check, whether it passed, failed or was interrupted. A restore that fails fails its check,
//! says so in the report, and stops the run: later checks would test a broken cluster.

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::time::Instant;

use anyhow::Result;

use crate::report::{CheckResult, Outcome, Report};

/// What a check's function returns: the evidence, or what went wrong.
pub type Checked<'a> = Pin<Box<dyn Future<Output = Result<String>> + 'a>>;
/// What a restore returns.
pub type Restored<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// One row of the table.
pub struct Check<C> {
    /// What it proves. `{backend}`, `{release}`, ... stand for the release's object names (see
    /// [`Harness::title`]).
    pub name: &'static str,
    pub run: for<'a> fn(&'a C, &'a mut Guard) -> Checked<'a>,
}

/// How to put back one thing a check changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Scale a StatefulSet back and wait until its pods are ready.
    ScaleStatefulSet { name: String, replicas: i32 },
    /// `helm rollback <release> <revision>`: the release's values and manifests as they were.
    HelmRollback { release: String, revision: u32 },
    /// Wait until a Deployment is rolled out to `replicas` with no pod left terminating.
    WaitForRollout { deployment: String, replicas: i32 },
    /// Delete a pod the check created.
    DeletePod { name: String },
}

impl fmt::Display for Restore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Restore::ScaleStatefulSet { name, replicas } => {
                write!(f, "scale StatefulSet {name} back to {replicas}")
            }
            Restore::HelmRollback { release, revision } => {
                write!(f, "helm rollback {release} {revision}")
            }
            Restore::WaitForRollout {
                deployment,
                replicas,
            } => write!(f, "Deployment {deployment} back at {replicas} pods"),
            Restore::DeletePod { name } => write!(f, "delete pod {name}"),
        }
    }
}

/// The restores a check registered, run last-registered first.
#[derive(Debug, Default)]
pub struct Guard {
    actions: Vec<Restore>,
}

impl Guard {
    /// Registers `action` to run when the check ends; register it before making the change.
    pub fn on_exit(&mut self, action: Restore) {
        self.actions.push(action);
    }
}

/// What the runner needs from the harness.
pub trait Harness {
    /// A check's name with the release's object names filled in.
    fn title(&self, template: &str) -> String;
    /// Carries out one restore, waiting until it has taken effect.
    fn restore<'a>(&'a self, action: &'a Restore) -> Restored<'a>;
    /// The external commands run since the last call, as typed (for the report).
    fn take_commands(&self) -> Vec<String>;
}

/// Runs `checks` in order. `interrupted` makes a future that resolves when the user asks to
/// stop (Ctrl-C): the current check is abandoned (and the command it awaits killed), its
/// restores still run, and the rest are not. `updated` sees the report whenever it changes: as a
/// check starts and as it ends, so it can be written out as the run goes.
pub async fn run<C, I>(
    cx: &C,
    checks: &[Check<C>],
    interrupted: impl Fn() -> I,
    mut updated: impl FnMut(&Report),
) -> Report
where
    C: Harness,
    I: Future<Output = ()>,
{
    let mut report = Report::default();
    let mut halted: Option<String> = None;
    for check in checks {
        let name = cx.title(check.name);
        if let Some(reason) = &halted {
            println!("{name} ... not run");
            report.record(CheckResult {
                name,
                outcome: Outcome::NotRun,
                evidence: reason.clone(),
                took: Default::default(),
                commands: Vec::new(),
            });
            updated(&report);
            continue;
        }
        report.start(&name);
        updated(&report);
        print!("{name} ... ");
        let _ = std::io::stdout().flush();
        let started = Instant::now();
        let mut guard = Guard::default();
        let mut was_interrupted = false;
        let result = tokio::select! {
            // The check first: a check that has started always gets to register its restores
            // before an interrupt that is already pending is seen.
            biased;
            result = (check.run)(cx, &mut guard) => result,
            _ = interrupted() => {
                was_interrupted = true;
                Err(anyhow::anyhow!("interrupted"))
            }
        };
        let mut restored = Vec::new();
        let mut restore_failures = Vec::new();
        for action in guard.actions.iter().rev() {
            match cx.restore(action).await {
                Ok(()) => restored.push(action.to_string()),
                Err(error) => {
                    restore_failures.push(format!("restore '{action}' FAILED: {error:#}"))
                }
            }
        }
        let passed = result.is_ok() && restore_failures.is_empty();
        let mut evidence = match result {
            Ok(evidence) => evidence,
            Err(error) => format!("{error:#}"),
        };
        if !restored.is_empty() {
            evidence.push_str(&format!("; restored: {}", restored.join(", ")));
        }
        if !restore_failures.is_empty() {
            evidence.push_str(&format!("; {}", restore_failures.join("; ")));
            halted = Some(format!(
                "not run: the cluster could not be restored after '{name}'"
            ));
        }
        if was_interrupted {
            halted = Some("not run: interrupted".to_owned());
        }
        println!("{} ({evidence})", if passed { "ok" } else { "FAILED" });
        report.record(CheckResult {
            name,
            outcome: if passed {
                Outcome::Passed
            } else {
                Outcome::Failed
            },
            evidence,
            took: started.elapsed(),
            commands: cx.take_commands(),
        });
        updated(&report);
    }
    report
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use anyhow::bail;

    use super::*;

    /// A harness that records restores and fails the ones it is told to.
    #[derive(Default)]
    struct Fake {
        restored: RefCell<Vec<String>>,
        failing: Vec<Restore>,
        commands: RefCell<Vec<String>>,
    }

    impl Harness for Fake {
        fn title(&self, template: &str) -> String {
            template.replace("{backend}", "todo-chatbot-backend")
        }

        fn restore<'a>(&'a self, action: &'a Restore) -> Restored<'a> {
            Box::pin(async move {
                self.restored.borrow_mut().push(action.to_string());
                if self.failing.contains(action) {
                    bail!("the API server said no");
                }
                Ok(())
            })
        }

        fn take_commands(&self) -> Vec<String> {
            self.commands.take()
        }
    }

    fn scale_postgres() -> Restore {
        Restore::ScaleStatefulSet {
            name: "todo-chatbot-postgres".into(),
            replicas: 1,
        }
    }

    fn rollback() -> Restore {
        Restore::HelmRollback {
            release: "todo-chatbot".into(),
            revision: 3,
        }
    }

    fn passes<'a>(_: &'a Fake, _: &'a mut Guard) -> Checked<'a> {
        Box::pin(async { Ok("fine".to_owned()) })
    }

    fn fails_after_changing_things<'a>(_: &'a Fake, guard: &'a mut Guard) -> Checked<'a> {
        Box::pin(async move {
            guard.on_exit(rollback());
            guard.on_exit(scale_postgres());
            bail!("pods never turned unready")
        })
    }

    fn passes_after_changing_things<'a>(_: &'a Fake, guard: &'a mut Guard) -> Checked<'a> {
        Box::pin(async move {
            guard.on_exit(rollback());
            Ok("4 ready pods".to_owned())
        })
    }

    fn never_ends<'a>(_: &'a Fake, guard: &'a mut Guard) -> Checked<'a> {
        Box::pin(async move {
            guard.on_exit(scale_postgres());
            std::future::pending::<()>().await;
            unreachable!()
        })
    }

    async fn never() {
        std::future::pending::<()>().await
    }

    #[tokio::test]
    async fn restores_run_after_a_failing_check_last_registered_first() {
        let fake = Fake::default();
        let checks = [
            Check {
                name: "outage",
                run: fails_after_changing_things,
            },
            Check {
                name: "next",
                run: passes,
            },
        ];
        let report = run(&fake, &checks, never, |_| {}).await;
        assert_eq!(
            *fake.restored.borrow(),
            [
                "scale StatefulSet todo-chatbot-postgres back to 1",
                "helm rollback todo-chatbot 3"
            ]
        );
        let results = report.results();
        assert_eq!(results[0].outcome, Outcome::Failed);
        assert!(
            results[0]
                .evidence
                .starts_with("pods never turned unready; restored: scale")
        );
        assert_eq!(
            results[1].outcome,
            Outcome::Passed,
            "the next check still runs"
        );
    }

    #[tokio::test]
    async fn restores_run_after_a_passing_check_and_are_reported() {
        let fake = Fake::default();
        let checks = [Check {
            name: "scale {backend}",
            run: passes_after_changing_things,
        }];
        let report = run(&fake, &checks, never, |_| {}).await;
        let result = &report.results()[0];
        assert_eq!(result.name, "scale todo-chatbot-backend");
        assert_eq!(result.outcome, Outcome::Passed);
        assert_eq!(
            result.evidence,
            "4 ready pods; restored: helm rollback todo-chatbot 3"
        );
    }

    #[tokio::test]
    async fn a_failed_restore_fails_the_check_and_stops_the_run() {
        let fake = Fake {
            failing: vec![rollback()],
            ..Fake::default()
        };
        let checks = [
            Check {
                name: "scale",
                run: passes_after_changing_things,
            },
            Check {
                name: "later",
                run: passes,
            },
        ];
        let report = run(&fake, &checks, never, |_| {}).await;
        let results = report.results();
        assert_eq!(
            results[0].outcome,
            Outcome::Failed,
            "the body passed, the restore did not"
        );
        assert!(
            results[0]
                .evidence
                .contains("restore 'helm rollback todo-chatbot 3' FAILED: the API server said no"),
            "{}",
            results[0].evidence
        );
        assert_eq!(results[1].outcome, Outcome::NotRun);
        assert!(
            results[1]
                .evidence
                .contains("could not be restored after 'scale'")
        );
        assert!(!report.all_passed());
    }

    #[tokio::test]
    async fn an_interrupted_check_is_restored_and_the_rest_not_run() {
        let fake = Fake::default();
        let checks = [
            Check {
                name: "outage",
                run: never_ends,
            },
            Check {
                name: "later",
                run: passes,
            },
        ];
        // Interrupted once the check has run up to its wait.
        let report = run(&fake, &checks, tokio::task::yield_now, |_| {}).await;
        assert_eq!(
            *fake.restored.borrow(),
            ["scale StatefulSet todo-chatbot-postgres back to 1"]
        );
        let results = report.results();
        assert_eq!(results[0].outcome, Outcome::Failed);
        assert!(results[0].evidence.starts_with("interrupted"));
        assert_eq!(results[1].outcome, Outcome::NotRun);
        assert_eq!(results[1].evidence, "not run: interrupted");
    }

    fn runs_a_command<'a>(fake: &'a Fake, _: &'a mut Guard) -> Checked<'a> {
        Box::pin(async move {
            fake.commands
                .borrow_mut()
                .push("kubectl get pods -l app.kubernetes.io/component=backend".into());
            Ok("2 pods".to_owned())
        })
    }

    #[tokio::test]
    async fn the_report_is_handed_out_as_each_check_starts_and_ends() {
        let fake = Fake::default();
        let checks = [
            Check {
                name: "first",
                run: runs_a_command,
            },
            Check {
                name: "second",
                run: passes,
            },
        ];
        let mut seen = Vec::new();
        let report = run(&fake, &checks, never, |report| {
            seen.push(report.to_markdown("t"))
        })
        .await;
        assert_eq!(seen.len(), 4, "started and ended, twice");
        assert!(seen[0].contains("| first | RUNNING |"), "{}", seen[0]);
        assert!(seen[1].contains("| first | PASS |") && !seen[1].contains("RUNNING"));
        assert!(seen[2].contains("| second | RUNNING |"));
        assert_eq!(
            report.results()[0].commands,
            ["kubectl get pods -l app.kubernetes.io/component=backend"]
        );
        assert!(report.results()[1].commands.is_empty());
    }

    fn sleeps_in_a_command<'a>(_: &'a Fake, guard: &'a mut Guard) -> Checked<'a> {
        use crate::commands::Runner as _;
        Box::pin(async move {
            guard.on_exit(scale_postgres());
            // The runner the harness uses.
            let runner = crate::commands::Local::unscoped(std::path::Path::new("/"));
            let command = crate::commands::CommandLine::new("sleep", &["60"]);
            runner.run(&command).await?;
            Ok("slept".to_owned())
        })
    }

    #[tokio::test]
    async fn an_interrupt_ends_a_check_waiting_on_a_command_at_once() {
        let fake = Fake::default();
        let checks = [Check {
            name: "slow",
            run: sleeps_in_a_command,
        }];
        let started = Instant::now();
        let report = run(
            &fake,
            &checks,
            || tokio::time::sleep(std::time::Duration::from_millis(200)),
            |_| {},
        )
        .await;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the run waited for the command"
        );
        assert!(report.results()[0].evidence.starts_with("interrupted"));
        assert_eq!(
            *fake.restored.borrow(),
            ["scale StatefulSet todo-chatbot-postgres back to 1"]
        );
    }
}
