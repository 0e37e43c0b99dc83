//! External commands (kubectl, helm, curl). A [`CommandLine`] prints exactly as a user types it;
//! a [`Runner`] is the one place a command starts, so the checks that run commands can be
//! unit-tested with a fake runner and canned output.
//!
//! Every command has a deadline ([`DEFAULT_DEADLINE`] unless it says otherwise), after which it
//! is killed and fails naming it: a stalled `kubectl exec`, or a `curl` without `--max-time`
//! against a port that accepts and never answers, would otherwise hang the run until CI's job
//! limit. A command runs as a future: dropping it (Ctrl-C abandons the check that awaits it)
//! kills the process too.

use std::ffi::OsString;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::process::Command;

/// How long a command may run unless it says otherwise: the contract's commands and the
/// harness's own answer within seconds on a working cluster.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// A program and its arguments, as typed, and how long it may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
    pub deadline: Duration,
}

impl CommandLine {
    pub fn new(program: &str, args: &[&str]) -> CommandLine {
        CommandLine {
            program: program.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// A command line without quoting, split on spaces (as the contract's commands are written).
    pub fn parse(line: &str) -> CommandLine {
        let mut words = line.split_whitespace();
        CommandLine {
            program: words.next().unwrap_or_default().to_owned(),
            args: words.map(str::to_owned).collect(),
            deadline: DEFAULT_DEADLINE,
        }
    }

    /// Another deadline, for a command that waits on purpose (`helm test --timeout 2m`).
    pub fn within(mut self, deadline: Duration) -> CommandLine {
        self.deadline = deadline;
        self
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program)?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}

/// What a finished command left behind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Its standard output if it succeeded, else an error naming the command and its stderr.
    pub fn stdout_of(self, command: &CommandLine) -> Result<String> {
        if !self.success {
            bail!(
                "`{command}` failed (exit {}): {}",
                self.code
                    .map_or("by signal".to_owned(), |code| code.to_string()),
                self.stderr.trim()
            );
        }
        Ok(self.stdout)
    }
}

/// What [`Runner::run`] returns: the command's output once it has finished.
pub type Running<'a> = Pin<Box<dyn Future<Output = Result<Output>> + 'a>>;

/// Runs commands. The harness's runner is [`Local`]; tests use fakes.
pub trait Runner {
    /// Runs `command` to its end or its deadline; an error if it could not start or ran out of
    /// time (then it has been killed).
    fn run<'a>(&'a self, command: &'a CommandLine) -> Running<'a>;
}

/// Helm's environment variables that override the kubeconfig's context, namespace or credentials
/// (helm 3.19 and 4.1, pkg/cli/environment.go, bound to Kubernetes' ConfigFlags there). One left
/// in the user's shell would point helm somewhere other than kubectl and the API client.
pub const HELM_KUBE_OVERRIDES: &[&str] = &[
    "HELM_KUBECONTEXT",
    "HELM_NAMESPACE",
    "HELM_KUBETOKEN",
    "HELM_KUBEASUSER",
    "HELM_KUBEASGROUPS",
    "HELM_KUBEAPISERVER",
    "HELM_KUBECAFILE",
    "HELM_KUBETLS_SERVER_NAME",
    "HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
];

/// The binary behind a program name: `$HELM` and `$KUBECTL` when set (ci/tools.sh points them at
/// the pinned versions), else the name itself, found on PATH.
pub fn program_path(program: &str) -> OsString {
    let variable = match program {
        "helm" => "HELM",
        "kubectl" => "KUBECTL",
        _ => return program.into(),
    };
    std::env::var_os(variable)
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| program.into())
}

/// Runs commands on this machine, from `dir`, against one kubeconfig.
#[derive(Debug, Clone)]
pub struct Local {
    kubeconfig: Option<PathBuf>,
    dir: PathBuf,
}

impl Local {
    /// Every command sees only `kubeconfig` (one context, its namespace set) and no Helm
    /// override, so kubectl, helm and the API client act on the same cluster and namespace.
    pub fn scoped(kubeconfig: &Path, dir: &Path) -> Local {
        Local {
            kubeconfig: Some(kubeconfig.to_owned()),
            dir: dir.to_owned(),
        }
    }

    /// Commands with the user's own environment (to read the user's kubeconfig).
    pub fn unscoped(dir: &Path) -> Local {
        Local {
            kubeconfig: None,
            dir: dir.to_owned(),
        }
    }

    /// The process that [`Runner::run`] starts for `line`: no standard input (nothing may wait
    /// for a user), killed when its future is dropped.
    pub fn command(&self, line: &CommandLine) -> Command {
        let mut command = Command::new(program_path(&line.program));
        command
            .args(&line.args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(kubeconfig) = &self.kubeconfig {
            command.env("KUBECONFIG", kubeconfig);
            for variable in HELM_KUBE_OVERRIDES {
                command.env_remove(variable);
            }
        }
        command
    }
}

impl Runner for Local {
    fn run<'a>(&'a self, line: &'a CommandLine) -> Running<'a> {
        Box::pin(async move {
            let child = self.command(line).spawn().with_context(|| {
                format!("could not start `{line}` (is {} installed?)", line.program)
            })?;
            // On the deadline the output future, and with it the child, is dropped: killed.
            let output = tokio::time::timeout(line.deadline, child.wait_with_output())
                .await
                .map_err(|_| {
                    anyhow::anyhow!("`{line}` did not finish within {:?}: killed", line.deadline)
                })?
                .with_context(|| format!("waiting for `{line}`"))?;
            Ok(Output {
                success: output.status.success(),
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        })
    }
}

#[cfg(test)]
pub mod fake {
    //! A runner that answers from a script and records what was asked.

    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::*;

    #[derive(Default)]
    pub struct FakeRunner {
        answers: RefCell<VecDeque<(String, Output)>>,
        pub ran: RefCell<Vec<String>>,
    }

    impl FakeRunner {
        /// The next command must print as `line`; it answers `stdout` with success.
        pub fn expect(self, line: &str, stdout: &str) -> FakeRunner {
            self.expect_output(
                line,
                Output {
                    success: true,
                    code: Some(0),
                    stdout: stdout.to_owned(),
                    stderr: String::new(),
                },
            )
        }

        pub fn expect_output(self, line: &str, output: Output) -> FakeRunner {
            self.answers
                .borrow_mut()
                .push_back((line.to_owned(), output));
            self
        }
    }

    impl Runner for FakeRunner {
        fn run<'a>(&'a self, command: &'a CommandLine) -> Running<'a> {
            let line = command.to_string();
            self.ran.borrow_mut().push(line.clone());
            let (expected, output) = self
                .answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected command `{line}`"));
            assert_eq!(line, expected, "commands out of order");
            Box::pin(std::future::ready(Ok(output)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_prints_as_typed() {
        let line = CommandLine::new("kubectl", &["get", "deployment", "todo-chatbot-backend"]);
        assert_eq!(
            line.to_string(),
            "kubectl get deployment todo-chatbot-backend"
        );
        assert_eq!(CommandLine::parse(&line.to_string()), line);
    }

    #[test]
    fn scoped_commands_see_only_the_given_kubeconfig_and_no_helm_overrides() {
        let runner = Local::scoped(Path::new("/tmp/e2e/kubeconfig"), Path::new("/repo"));
        let command = runner.command(&CommandLine::parse(
            "helm upgrade todo-chatbot ./helm/todo-chatbot --set backend.replicaCount=4",
        ));
        let command = command.as_std();
        let envs: Vec<(String, Option<String>)> = command
            .get_envs()
            .map(|(key, value)| {
                (
                    key.to_string_lossy().into_owned(),
                    value.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&("KUBECONFIG".into(), Some("/tmp/e2e/kubeconfig".into()))));
        for variable in ["HELM_KUBECONTEXT", "HELM_NAMESPACE", "HELM_KUBETOKEN"] {
            assert!(
                envs.contains(&(variable.into(), None)),
                "{variable} is not removed: {envs:?}"
            );
        }
        assert_eq!(command.get_current_dir(), Some(Path::new("/repo")));
        let args: Vec<_> = command.get_args().collect();
        assert_eq!(args.len(), 5, "the arguments go through as typed: {args:?}");
    }

    #[test]
    fn unscoped_commands_keep_the_users_environment() {
        let command = Local::unscoped(Path::new("/repo")).command(&CommandLine::parse(
            "kubectl config view --minify --flatten",
        ));
        assert_eq!(command.as_std().get_envs().count(), 0);
    }

    #[test]
    fn a_failed_command_is_an_error_naming_it_and_its_stderr() {
        let output = Output {
            success: false,
            code: Some(1),
            stdout: String::new(),
            stderr: "Error from server (NotFound)\n".into(),
        };
        let error = output
            .stdout_of(&CommandLine::parse("kubectl get deployment x"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`kubectl get deployment x` failed (exit 1)"),
            "{error}"
        );
        assert!(error.contains("NotFound"), "{error}");
    }

    #[tokio::test]
    async fn a_starting_failure_names_the_program() {
        let runner = Local::unscoped(Path::new("/"));
        let error = runner
            .run(&CommandLine::parse("/nonexistent/curl http://localhost"))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/curl"), "{error}");
    }

    #[tokio::test]
    async fn a_command_gets_its_output_and_exit_code() {
        let runner = Local::unscoped(Path::new("/"));
        let output = runner.run(&CommandLine::parse("sh -c echo")).await.unwrap();
        assert!(output.success);
        let failed = runner
            .run(&CommandLine::new("sh", &["-c", "echo oops >&2; exit 3"]))
            .await
            .unwrap();
        assert_eq!((failed.success, failed.code), (false, Some(3)));
        assert_eq!(failed.stderr, "oops\n");
    }

    /// Whether process `pid` has ended (gone, or a zombie waiting to be reaped).
    fn ended(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('Z'))
            })
            .unwrap_or(true)
    }

    /// Starts a shell that writes its pid to a file, then sleeps for a minute.
    fn sleeper(pid_file: &Path) -> CommandLine {
        CommandLine::new(
            "sh",
            &[
                "-c",
                &format!("echo $$ > {}; exec sleep 60", pid_file.display()),
            ],
        )
    }

    async fn pid_in(pid_file: &Path) -> String {
        testkit::wait::until(
            "the command to write its pid",
            Duration::from_secs(10),
            Duration::from_millis(10),
            || async {
                std::fs::read_to_string(pid_file)
                    .ok()
                    .filter(|pid| pid.ends_with('\n'))
            },
        )
        .await
        .unwrap()
        .trim()
        .to_owned()
    }

    async fn wait_until_ended(pid: &str) {
        testkit::wait::until(
            "the process to be killed",
            Duration::from_secs(10),
            Duration::from_millis(10),
            || async { ended(pid).then_some(()) },
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_command_past_its_deadline_is_killed_and_named() {
        let pid_file = std::env::temp_dir().join(format!("deadline-{}.pid", std::process::id()));
        let runner = Local::unscoped(Path::new("/"));
        let command = sleeper(&pid_file).within(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let error = runner.run(&command).await.unwrap_err().to_string();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "it waited for the sleep"
        );
        assert!(
            error.contains("did not finish within 300ms: killed"),
            "{error}"
        );
        assert!(
            error.contains("exec sleep 60"),
            "the command is named: {error}"
        );
        wait_until_ended(&pid_in(&pid_file).await).await;
        let _ = std::fs::remove_file(pid_file);
    }

    #[tokio::test]
    async fn dropping_a_running_command_kills_it() {
        let pid_file = std::env::temp_dir().join(format!("dropped-{}.pid", std::process::id()));
        let runner = Local::unscoped(Path::new("/"));
        let command = sleeper(&pid_file);
        {
            let running = runner.run(&command);
            // What an interrupted check does to the command it awaits.
            let abandoned = tokio::time::timeout(Duration::from_millis(300), running).await;
            assert!(abandoned.is_err(), "the sleep ended by itself");
        }
        wait_until_ended(&pid_in(&pid_file).await).await;
        let _ = std::fs::remove_file(pid_file);
    }

    #[test]
    fn commands_have_the_default_deadline_unless_given_one() {
        let line = CommandLine::parse("kubectl get pods");
        assert_eq!(line.deadline, DEFAULT_DEADLINE);
        let waiting = CommandLine::new("helm", &["test", "todo-chatbot", "--timeout", "2m"])
            .within(Duration::from_secs(150));
        assert_eq!(waiting.deadline, Duration::from_secs(150));
        assert_eq!(waiting.to_string(), "helm test todo-chatbot --timeout 2m");
    }
}
