//! Running wrk and reading its report.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

/// One wrk run's numbers.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LoadResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Responses outside 2xx/3xx plus socket errors.
    pub errors: u64,
}

pub struct Load<'a> {
    pub url: &'a str,
    pub connections: u32,
    pub threads: u32,
    pub duration: Duration,
    pub headers: Vec<String>,
    /// A Lua script for requests other than GET (e.g. POST with a body).
    pub script: Option<&'a std::path::Path>,
}

/// A wrk script that POSTs a new task; with `tokens`, each request is signed by the next token
/// in turn (a different user per request), otherwise the headers given on the command line
/// apply.
pub fn post_script(tokens: &[String]) -> String {
    let mut script = String::from(
        "wrk.method = \"POST\"\n\
         wrk.body = '{\"title\": \"benchmark task\"}'\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n",
    );
    if !tokens.is_empty() {
        let quoted: Vec<String> = tokens.iter().map(|token| format!("\"{token}\"")).collect();
        script.push_str(&format!(
            "local tokens = {{ {} }}\n\
             local turn = 0\n\
             request = function()\n  \
               turn = turn % #tokens + 1\n  \
               wrk.headers[\"Authorization\"] = \"Bearer \" .. tokens[turn]\n  \
               return wrk.format()\n\
             end\n",
            quoted.join(", ")
        ));
    }
    script
}

pub fn run(load: &Load) -> Result<LoadResult> {
    let mut command = Command::new("wrk");
    command
        .arg(format!("--threads={}", load.threads))
        .arg(format!("--connections={}", load.connections))
        .arg(format!("--duration={}s", load.duration.as_secs()))
        .arg("--latency");
    for header in &load.headers {
        command.arg("--header").arg(header);
    }
    if let Some(script) = load.script {
        command.arg("--script").arg(script);
    }
    command.arg(load.url);
    let output = command
        .output()
        .context("running wrk (apt-get install wrk, or run ci/tools.sh)")?;
    if !output.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    parse(&String::from_utf8_lossy(&output.stdout))
}

/// Reads `Requests/sec`, the 50% and 99% lines of `--latency`, the request count, and the
/// non-2xx/3xx and socket error counts.
pub fn parse(report: &str) -> Result<LoadResult> {
    let mut result = LoadResult {
        requests_per_sec: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        errors: 0,
    };
    for line in report.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["Requests/sec:", value] => result.requests_per_sec = value.parse()?,
            ["50%", value] => result.p50_ms = millis(value)?,
            ["99%", value] => result.p99_ms = millis(value)?,
            [count, "requests", "in", ..] => result.requests = count.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                result.errors += count.parse::<u64>()?
            }
            ["Socket", "errors:", rest @ ..] => {
                for value in rest
                    .iter()
                    .filter_map(|v| v.trim_end_matches(',').parse::<u64>().ok())
                {
                    result.errors += value;
                }
            }
            _ => {}
        }
    }
    if result.requests_per_sec.is_nan() || result.p99_ms.is_nan() {
        bail!("unexpected wrk output:\n{report}");
    }
    Ok(result)
}

fn millis(value: &str) -> Result<f64> {
    let (number, unit) = value.split_at(
        value
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(value.len()),
    );
    let number: f64 = number.parse()?;
    Ok(match unit {
        "us" => number / 1000.0,
        "ms" => number,
        "s" => number * 1000.0,
        "m" => number * 60_000.0,
        other => bail!("unknown latency unit {other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "Running 10s test @ http://127.0.0.1:8000/api/health
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms    1.02ms  30.11ms   90.00%
    Req/Sec    15.20k     1.10k   17.00k    70.00%
  Latency Distribution
     50%    1.95ms
     75%    2.40ms
     90%    3.10ms
     99%  812.00us
  302511 requests in 10.00s, 60.31MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  30240.75
Transfer/sec:      6.03MB
";

    #[test]
    fn reads_rate_latencies_and_errors() {
        let result = parse(REPORT).unwrap();
        assert_eq!(result.requests_per_sec, 30240.75);
        assert_eq!(result.p50_ms, 1.95);
        assert_eq!(result.p99_ms, 0.812);
        assert_eq!(result.requests, 302511);
        assert_eq!(result.errors, 7);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("nothing useful").is_err());
    }
}
