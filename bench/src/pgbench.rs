//! The database's own ceiling for the get-by-id query: pgbench running the service's statement
//! at the service's pool size.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The statement `TaskStore::get` runs, as a pgbench script.
pub const GET_BY_ID: &str = "SELECT id, title, description, completed, created_at, updated_at FROM tasks WHERE id = :id AND user_id = :user;\n";

/// Transactions per second of `script` with `clients` connections (prepared statements, as the
/// service uses); pgbench from `bin_dir`, the server's own binaries.
pub fn run(
    bin_dir: &Path,
    url: &str,
    script: &Path,
    clients: u32,
    duration: Duration,
    variables: &[(&str, &str)],
) -> Result<f64> {
    let pgbench = bin_dir.join("pgbench");
    if !pgbench.exists() {
        bail!(
            "pgbench not found next to the server in {} (Debian: postgresql-15)",
            bin_dir.display()
        );
    }
    let mut command = Command::new(pgbench);
    command
        .args(["--no-vacuum", "--protocol=prepared", "--jobs=2"])
        .arg(format!("--client={clients}"))
        .arg(format!("--time={}", duration.as_secs()))
        .arg(format!("--file={}", script.display()));
    for (name, value) in variables {
        command.arg(format!("--define={name}={value}"));
    }
    command.arg(url);
    let output = command.output().context("running pgbench")?;
    if !output.status.success() {
        bail!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse_tps(&String::from_utf8_lossy(&output.stdout))
}

/// `tps = 12345.678901 (without initial connection time)`.
pub fn parse_tps(report: &str) -> Result<f64> {
    report
        .lines()
        .find_map(|line| line.trim().strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|value| value.parse::<f64>())
        .transpose()?
        .with_context(|| format!("no tps in pgbench output:\n{report}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tps_without_connection_time() {
        let report = "number of transactions actually processed: 200000\nlatency average = 0.1 ms\ninitial connection time = 12.3 ms\ntps = 19876.543210 (without initial connection time)\n";
        assert_eq!(parse_tps(report).unwrap(), 19876.54321);
        assert!(parse_tps("oops").is_err());
    }
}
