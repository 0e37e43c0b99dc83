//! External commands (kubectl, helm, curl). A [`CommandLine`] prints exactly as a user types it;
//! a [`Runner`] is the one place a command starts, so the checks that run commands can be
//! unit-tested with a fake runner and canned output.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// A program and its arguments, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: String,
    pub args: Vec<String>,
}

impl CommandLine {
    pub fn new(program: &str, args: &[&str]) -> CommandLine {
        CommandLine {
            program: program.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
        }
    }

    /// A command line without quoting, split on spaces (as the contract's commands are written).
    pub fn parse(line: &str) -> CommandLine {
        let mut words = line.split_whitespace();
        CommandLine {
            program: words.next().unwrap_or_default().to_owned(),
            args: words.map(str::to_owned).collect(),
        }
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

/// Runs commands. The harness's runner is [`Local`]; tests use fakes.
pub trait Runner {
    fn run(&self, command: &CommandLine) -> Result<Output>;
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

    /// The process that [`Runner::run`] starts for `line`.
    pub fn command(&self, line: &CommandLine) -> Command {
        let mut command = Command::new(program_path(&line.program));
        command.args(&line.args).current_dir(&self.dir);
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
    fn run(&self, line: &CommandLine) -> Result<Output> {
        let output = self.command(line).output().with_context(|| {
            format!("could not start `{line}` (is {} installed?)", line.program)
        })?;
        Ok(Output {
            success: output.status.success(),
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
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
        fn run(&self, command: &CommandLine) -> Result<Output> {
            let line = command.to_string();
            self.ran.borrow_mut().push(line.clone());
            let (expected, output) = self
                .answers
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected command `{line}`"));
            assert_eq!(line, expected, "commands out of order");
            Ok(output)
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
        assert_eq!(command.get_envs().count(), 0);
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

    #[test]
    fn a_starting_failure_names_the_program() {
        let runner = Local::unscoped(Path::new("/"));
        let error = runner
            .run(&CommandLine::parse("/nonexistent/curl http://localhost"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/curl"), "{error}");
    }
}
