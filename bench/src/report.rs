//! Results: the JSON record, the markdown table with the targets, and the machine they ran on.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::service::CpuTime;
use crate::setup::Setup;
use crate::wrk::LoadResult;

#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    pub name: String,
    #[serde(flatten)]
    pub result: LoadResult,
    pub service_cpu: ServiceCpu,
}

/// The service's CPU per request during a workload, and the share of it spent in the kernel.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct ServiceCpu {
    pub per_request_us: f64,
    pub kernel_share: f64,
}

impl ServiceCpu {
    pub fn of(cpu: CpuTime, requests: u64) -> ServiceCpu {
        let total = (cpu.user + cpu.system).as_secs_f64();
        ServiceCpu {
            per_request_us: total * 1e6 / requests.max(1) as f64,
            kernel_share: if total > 0.0 {
                cpu.system.as_secs_f64() / total
            } else {
                0.0
            },
        }
    }
}

/// One round: every workload, then pgbench's ceiling.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub workloads: Vec<Workload>,
    pub ceiling: f64,
}

impl Round {
    fn rate(&self, name: &str) -> f64 {
        self.workloads
            .iter()
            .find(|w| w.name.starts_with(name))
            .map(|w| w.result.requests_per_sec)
            .unwrap_or(f64::NAN)
    }
}

/// Shares as whole percentages: "52%, 50%, 41%".
fn percentages(shares: &[f64]) -> String {
    shares
        .iter()
        .map(|share| format!("{:.0}%", share * 100.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The middle value (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Each workload's numbers as the median over the rounds (errors added up).
fn medians(rounds: &[Round]) -> Vec<Workload> {
    let Some(first) = rounds.first() else {
        return Vec::new();
    };
    first
        .workloads
        .iter()
        .map(|workload| {
            let runs: Vec<&Workload> = rounds
                .iter()
                .filter_map(|round| round.workloads.iter().find(|w| w.name == workload.name))
                .collect();
            let of = |value: fn(&Workload) -> f64| median(runs.iter().map(|w| value(w)).collect());
            Workload {
                name: workload.name.clone(),
                result: LoadResult {
                    requests_per_sec: of(|w| w.result.requests_per_sec).round(),
                    p50_ms: of(|w| w.result.p50_ms),
                    p99_ms: of(|w| w.result.p99_ms),
                    requests: runs.iter().map(|w| w.result.requests).sum(),
                    errors: runs.iter().map(|w| w.result.errors).sum(),
                },
                service_cpu: ServiceCpu {
                    per_request_us: of(|w| w.service_cpu.per_request_us),
                    kernel_share: of(|w| w.service_cpu.kernel_share),
                },
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct ImageFacts {
    pub image: Option<String>,
    pub size_bytes: Option<u64>,
    pub container_idle_memory: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchResults {
    pub date: String,
    pub machine: String,
    pub connections: u32,
    pub pool_size: u32,
    pub seconds_per_workload: u64,
    pub runs: usize,
    /// Medians over the rounds.
    pub workloads: Vec<Workload>,
    pub pgbench_get_by_id_tps: f64,
    /// The median of the rounds' shares (each round's get by id over its own pgbench).
    pub get_by_id_share_of_ceiling: f64,
    pub get_by_id_share_per_round: Vec<f64>,
    /// The same, with a Better Auth JWT plugin token (EdDSA) instead of HS256.
    pub get_by_id_plugin_token_share_of_ceiling: f64,
    pub get_by_id_plugin_token_share_per_round: Vec<f64>,
    pub idle_rss_bytes: u64,
    pub peak_rss_bytes: u64,
    pub time_to_first_200_ms: f64,
    pub list_cost_ratio_100k_vs_1k: f64,
    pub image: ImageFacts,
}

const MIB: f64 = 1024.0 * 1024.0;

/// The get-by-id workload with a Better Auth JWT plugin token (EdDSA) instead of HS256.
pub const PLUGIN_GET_BY_ID: &str = "get by id, EdDSA plugin token";

impl BenchResults {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rounds: &[Round],
        idle_rss: u64,
        peak_rss: u64,
        time_to_first_200: Duration,
        image: ImageFacts,
        connections: u32,
        pool_size: u32,
        duration: Duration,
    ) -> BenchResults {
        let shares: Vec<f64> = rounds
            .iter()
            .map(|round| round.rate("get by id") / round.ceiling)
            .collect();
        let plugin_shares: Vec<f64> = rounds
            .iter()
            .map(|round| round.rate(PLUGIN_GET_BY_ID) / round.ceiling)
            .collect();
        let list_ratio = median(
            rounds
                .iter()
                .map(|round| round.rate("list, limit 20 (1k") / round.rate("list, limit 20 (100k"))
                .collect(),
        );
        BenchResults {
            date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            machine: machine(),
            connections,
            pool_size,
            seconds_per_workload: duration.as_secs(),
            runs: rounds.len(),
            get_by_id_share_of_ceiling: median(shares.clone()),
            get_by_id_share_per_round: shares,
            get_by_id_plugin_token_share_of_ceiling: median(plugin_shares.clone()),
            get_by_id_plugin_token_share_per_round: plugin_shares,
            list_cost_ratio_100k_vs_1k: list_ratio,
            workloads: medians(rounds),
            pgbench_get_by_id_tps: median(rounds.iter().map(|r| r.ceiling).collect()).round(),
            idle_rss_bytes: idle_rss,
            peak_rss_bytes: peak_rss,
            time_to_first_200_ms: time_to_first_200.as_secs_f64() * 1000.0,
            image,
        }
    }

    /// The median rate of the workload `name`.
    fn rate(&self, name: &str) -> f64 {
        self.workloads
            .iter()
            .find(|w| w.name == name)
            .map_or(f64::NAN, |w| w.result.requests_per_sec)
    }

    pub fn errors(&self) -> u64 {
        self.workloads.iter().map(|w| w.result.errors).sum()
    }

    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let mark = |met: bool| if met { "yes" } else { "**no**" };
        let _ = writeln!(out, "Measured {} on {}.", self.date, self.machine);
        let _ = writeln!(
            out,
            "wrk, PostgreSQL and the service share the same cores, so every number is lower than the service alone would reach. \
             {} connections, {} s per workload, pool of {} connections; medians of {} rounds.\n",
            self.connections, self.seconds_per_workload, self.pool_size, self.runs
        );
        let _ = writeln!(out, "| Target | Measured | Goal | Met |");
        let _ = writeln!(out, "|---|---|---|---|");
        let share = self.get_by_id_share_of_ceiling * 100.0;
        let _ = writeln!(
            out,
            "| get by id vs. pgbench ceiling (same query, {} connections) | {share:.0}% (rounds: {}; {:.0} req/s vs {:.0} tps) | at least 45% (stretch 50%) | {} |",
            self.pool_size,
            percentages(&self.get_by_id_share_per_round),
            self.rate("get by id"),
            self.pgbench_get_by_id_tps,
            mark(share >= 45.0)
        );
        let plugin_share = self.get_by_id_plugin_token_share_of_ceiling * 100.0;
        let _ = writeln!(
            out,
            "| get by id with a Better Auth JWT plugin token (EdDSA) vs. the same ceiling | {plugin_share:.0}% (rounds: {}; {:.0} req/s) | at least 45% | {} |",
            percentages(&self.get_by_id_plugin_token_share_per_round),
            self.rate(PLUGIN_GET_BY_ID),
            mark(plugin_share >= 45.0)
        );
        let idle = self.idle_rss_bytes as f64 / MIB;
        let peak = self.peak_rss_bytes as f64 / MIB;
        let _ = writeln!(
            out,
            "| idle RSS | {idle:.1} MiB | under 15 MiB | {} |",
            mark(idle < 15.0)
        );
        let _ = writeln!(
            out,
            "| peak RSS at {} connections | {peak:.1} MiB | under 40 MiB | {} |",
            self.connections,
            mark(peak < 40.0)
        );
        let _ = writeln!(
            out,
            "| start to first 200 on /api/health | {:.0} ms | under 100 ms | {} |",
            self.time_to_first_200_ms,
            mark(self.time_to_first_200_ms < 100.0)
        );
        let _ = writeln!(
            out,
            "| non-2xx responses, all workloads | {} | 0 | {} |",
            self.errors(),
            mark(self.errors() == 0)
        );
        let _ = writeln!(
            out,
            "| list cost, 100k vs 1k tasks of one user | {:.2}x | within 2x | {} |",
            self.list_cost_ratio_100k_vs_1k,
            mark(self.list_cost_ratio_100k_vs_1k <= 2.0)
        );
        match (&self.image.size_bytes, &self.image.container_idle_memory) {
            (Some(size), memory) => {
                let _ = writeln!(
                    out,
                    "| image size | {:.1} MiB | (recorded) | |",
                    *size as f64 / MIB
                );
                let _ = writeln!(
                    out,
                    "| container idle memory (docker stats: anonymous memory, without the mapped binary that idle RSS counts) | {} | (recorded) | |",
                    memory.as_deref().unwrap_or("not measured")
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "| image | {} | (recorded) | |",
                    self.image.note.as_deref().unwrap_or("not measured")
                );
            }
        }
        let _ = writeln!(
            out,
            "\n| Workload | req/s | p50 | p99 | non-2xx | service CPU per request | of it in the kernel |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for workload in &self.workloads {
            let r = &workload.result;
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.0} µs | {:.0}% |",
                workload.name,
                r.requests_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.errors,
                workload.service_cpu.per_request_us,
                workload.service_cpu.kernel_share * 100.0
            );
        }
        out
    }
}

/// Replaces the text between `<!-- {marker}:start -->` and `<!-- {marker}:end -->`.
pub fn replace_section(document: &str, marker: &str, content: &str) -> Result<String> {
    let start = format!("<!-- {marker}:start -->");
    let end = format!("<!-- {marker}:end -->");
    let from = document
        .find(&start)
        .with_context(|| format!("no {start} marker"))?
        + start.len();
    let to = document
        .find(&end)
        .with_context(|| format!("no {end} marker"))?;
    Ok(format!(
        "{}\n{}\n{}",
        &document[..from],
        content.trim_end(),
        &document[to..]
    ))
}

pub fn update_section(path: &Path, marker: &str, content: &str) -> Result<()> {
    let document = std::fs::read_to_string(path)?;
    std::fs::write(path, replace_section(&document, marker, content)?)?;
    Ok(())
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// CPU model, cores, memory and kernel.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .and_then(|rest| rest.split(':').nth(1))
        })
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    format!(
        "{model}, {cores} cores, {:.0} GiB RAM, Linux {}",
        memory_kib as f64 / 1024.0 / 1024.0,
        command_output("uname", &["-r"])
    )
}

/// Image size and the idle memory of the image running against the benchmark's database.
pub fn image_facts(root: &Path, setup: &Setup) -> Result<ImageFacts> {
    let env = std::fs::read_to_string(root.join("target/images.env")).unwrap_or_default();
    let Some(image) = env
        .lines()
        .find_map(|l| l.strip_prefix("BACKEND_IMAGE="))
        .map(str::to_owned)
    else {
        return Ok(ImageFacts {
            image: None,
            size_bytes: None,
            container_idle_memory: None,
            note: Some("no image built (make image)".into()),
        });
    };
    let size = command_output(
        "docker",
        &["image", "inspect", "--format", "{{.Size}}", &image],
    )
    .parse()
    .ok();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let name = format!("bench-idle-{}", std::process::id());
    let started = Command::new("docker")
        .args([
            "run",
            "--detach",
            "--rm",
            "--name",
            &name,
            "--network",
            "host",
            "--read-only",
        ])
        .args(["--env", &format!("DATABASE_URL={}", setup.database_url)])
        .args([
            "--env",
            &format!("BETTER_AUTH_SECRET={}", crate::service::SECRET),
        ])
        .args([
            "--env",
            &format!("PORT={port}"),
            "--env",
            "LOG_LEVEL=warn",
            &image,
        ])
        .output()?;
    let memory = if started.status.success() {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline
            && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("docker")
            .args([
                "exec",
                &name,
                "/usr/local/bin/backend",
                "healthcheck",
                &format!("http://127.0.0.1:{port}/api/health"),
            ])
            .output();
        let usage = command_output(
            "docker",
            &["stats", "--no-stream", "--format", "{{.MemUsage}}", &name],
        );
        let _ = Command::new("docker").args(["stop", &name]).output();
        Some(usage.split('/').next().unwrap_or("").trim().to_owned())
    } else {
        None
    };
    Ok(ImageFacts {
        image: Some(image),
        size_bytes: size,
        container_idle_memory: memory,
        note: (!started.status.success())
            .then(|| String::from_utf8_lossy(&started.stderr).trim().to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn a_workload_is_summarised_by_its_medians_with_errors_added_up() {
        let round = |rate: f64, p99: f64, errors: u64| Round {
            workloads: vec![Workload {
                name: "get by id".into(),
                result: LoadResult {
                    requests_per_sec: rate,
                    p50_ms: 1.0,
                    p99_ms: p99,
                    requests: 100,
                    errors,
                },
                service_cpu: ServiceCpu {
                    per_request_us: 10.0,
                    kernel_share: 0.5,
                },
            }],
            ceiling: 2.0 * rate,
        };
        let rounds = [
            round(100.0, 9.0, 0),
            round(300.0, 3.0, 1),
            round(200.0, 5.0, 0),
        ];
        let summary = medians(&rounds);
        assert_eq!(summary[0].result.requests_per_sec, 200.0);
        assert_eq!(summary[0].result.p99_ms, 5.0);
        assert_eq!(summary[0].result.errors, 1);
        assert_eq!(summary[0].result.requests, 300);
    }

    #[test]
    fn only_the_marked_section_is_replaced() {
        let document = "# Title\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n";
        let updated = replace_section(document, "results", "| new |\n").unwrap();
        assert_eq!(
            updated,
            "# Title\n<!-- results:start -->\n| new |\n<!-- results:end -->\ntail\n"
        );
        assert!(replace_section("no markers", "results", "x").is_err());
    }
}
