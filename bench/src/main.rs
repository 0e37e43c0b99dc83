//! `make bench` and `make soak`: the release binary on a throwaway PostgreSQL 15 (default
//! settings, fsync on), driven by wrk; pgbench measures the database's own ceiling for the same
//! query. Results go to bench/results.json and the table in bench/README.md.
//!
//!   bench bench   load benchmark (BENCH_SECONDS per workload, default 10)
//!   bench soak    SOAK_MINUTES (default 10) at half the measured get-by-id rate, RSS sampled

mod pgbench;
mod report;
mod service;
mod setup;
mod soak;
mod wrk;

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::json;

use crate::report::{BenchResults, Workload};
use crate::service::{SECRET, Service};
use crate::setup::{binary, repo_root, setup};

/// The service's default pool size: pgbench gets the same number of connections.
const POOL_SIZE: u32 = 10;
const CONNECTIONS: u32 = 64;

fn main() -> Result<()> {
    let command = std::env::args().nth(1).unwrap_or_default();
    let runtime = tokio::runtime::Runtime::new()?;
    match command.as_str() {
        "bench" => runtime.block_on(bench()),
        "soak" => runtime.block_on(soak::run()),
        _ => bail!("usage: bench bench | bench soak"),
    }
}

fn seconds() -> u64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

async fn bench() -> Result<()> {
    let binary = binary()?;
    let setup = setup(&binary).await?;
    let service = Service::start(&binary, &setup.database_url)?;
    let (idle_rss, _) = service.memory()?;
    let duration = Duration::from_secs(seconds());
    let auth = format!(
        "Authorization: Bearer {}",
        testkit::jwt::mint(SECRET, "bench", 3600)
    );
    let large_auth = format!(
        "Authorization: Bearer {}",
        testkit::jwt::mint(SECRET, "bench-large", 3600)
    );
    let writer_auth = format!(
        "Authorization: Bearer {}",
        testkit::jwt::mint(SECRET, "bench-writer", 3600)
    );
    let post_script = std::env::temp_dir().join("bench-post.lua");
    std::fs::write(
        &post_script,
        "wrk.method = \"POST\"\nwrk.body = '{\"title\": \"benchmark task\"}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    )?;

    let run =
        |name: &str, path: &str, header: Option<&str>, script: Option<&Path>| -> Result<Workload> {
            println!(
                "load: {name} ({CONNECTIONS} connections, {}s)",
                duration.as_secs()
            );
            let result = wrk::run(&wrk::Load {
                url: &format!("{}{path}", service.base),
                connections: CONNECTIONS,
                threads: 2,
                duration,
                headers: header.map(str::to_owned).into_iter().collect(),
                script,
            })?;
            println!(
                "  {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
                result.requests_per_sec, result.p50_ms, result.p99_ms, result.errors
            );
            Ok(Workload {
                name: name.to_owned(),
                result,
            })
        };

    let mut workloads = vec![
        run("health", "/api/health", None, None)?,
        run(
            "get by id",
            &format!("/api/tasks/{}", setup.task_id),
            Some(&auth),
            None,
        )?,
        run(
            "list, limit 20 (1k tasks)",
            "/api/tasks?limit=20",
            Some(&auth),
            None,
        )?,
        run(
            "list, limit 20 (100k tasks)",
            "/api/tasks?limit=20",
            Some(&large_auth),
            None,
        )?,
        run(
            "create",
            "/api/tasks",
            Some(&writer_auth),
            Some(&post_script),
        )?,
    ];
    let (_, peak_rss) = service.memory()?;

    println!("pgbench: get-by-id at {POOL_SIZE} connections");
    let script = std::env::temp_dir().join("bench-get-by-id.sql");
    std::fs::write(&script, pgbench::GET_BY_ID)?;
    let ceiling = pgbench::run(
        setup.server.bin_dir(),
        &setup.database_url,
        &script,
        POOL_SIZE,
        duration,
        &[("id", &setup.task_id), ("user", "bench")],
    )?;
    println!("  {ceiling:.0} tps");
    let time_to_first_200 = service.time_to_first_200;
    drop(service);

    let image = report::image_facts(&repo_root(), &setup)?;
    workloads
        .iter_mut()
        .for_each(|w| w.result.requests_per_sec = w.result.requests_per_sec.round());
    let results = BenchResults::new(
        workloads,
        ceiling,
        idle_rss,
        peak_rss,
        time_to_first_200,
        image,
        CONNECTIONS,
        POOL_SIZE,
        duration,
    );
    let json_path = repo_root().join("bench/results.json");
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&json!(results))? + "\n",
    )?;
    report::update_section(
        &repo_root().join("bench/README.md"),
        "results",
        &results.to_markdown(),
    )?;
    println!("\n{}", results.to_markdown());
    println!("written: {} and bench/README.md", json_path.display());
    Ok(())
}
