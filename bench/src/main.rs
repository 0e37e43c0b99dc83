//! `make bench` and `make soak`: the release binary on a throwaway PostgreSQL 15 (default
//! settings, fsync on), driven by wrk; pgbench measures the database's own ceiling for the same
//! query. Results go to bench/results.json and the table in bench/README.md. Get by id runs with
//! both kinds of token: HS256 with the shared secret, and a Better Auth JWT plugin token (EdDSA,
//! checked against a stand-in JWKS).
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

use testkit::auth_server::AuthServer;
use testkit::jwt::{Alg, SigningKey};

use crate::report::{BenchResults, PLUGIN_GET_BY_ID, Round, ServiceCpu, Workload};
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

/// Rounds of all workloads and pgbench; the report takes each number's median.
fn runs() -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|runs| *runs > 0)
        .unwrap_or(3)
}

/// Users the many-users create workload spreads its requests over, as real traffic does (the
/// one-user create figure shows creates of one user queueing on that user's task count row).
const WRITERS: usize = 64;

async fn bench() -> Result<()> {
    let binary = binary()?;
    let setup = setup(&binary).await?;
    // Better Auth's JWKS, for the plugin-token workload: what the frontend's tokens cost.
    let auth_server = AuthServer::start().await;
    let plugin_key = SigningKey::generate(Alg::EdDSA, "bench-key");
    auth_server.publish(&[&plugin_key]);
    let service = Service::start(
        &binary,
        &setup.database_url,
        &[("BETTER_AUTH_URL", &auth_server.url())],
    )?;
    let (idle_rss, _) = service.memory()?;
    let duration = Duration::from_secs(seconds());
    let bearer = |user: &str| {
        format!(
            "Authorization: Bearer {}",
            testkit::jwt::mint(SECRET, user, 3600)
        )
    };
    let auth = bearer("bench");
    let mut plugin_claims = testkit::jwt::better_auth_claims("bench", &auth_server.url());
    // Valid for the whole run, which takes longer than the plugin's 15 minutes.
    plugin_claims["exp"] = json!(testkit::jwt::now() + 4 * 3600);
    let plugin_auth = format!("Authorization: Bearer {}", plugin_key.token(&plugin_claims));
    let large_auth = bearer("bench-large");
    let writer_auth = bearer("bench-writer");
    let post_script = std::env::temp_dir().join("bench-post.lua");
    std::fs::write(&post_script, wrk::post_script(&[]))?;
    let many_writers_script = std::env::temp_dir().join("bench-post-many-users.lua");
    let tokens: Vec<String> = (0..WRITERS)
        .map(|n| testkit::jwt::mint(SECRET, &format!("bench-writer-{n}"), 3600))
        .collect();
    std::fs::write(&many_writers_script, wrk::post_script(&tokens))?;
    let get_by_id = format!("/api/tasks/{}", setup.task_id);
    let script = std::env::temp_dir().join("bench-get-by-id.sql");
    std::fs::write(&script, pgbench::GET_BY_ID)?;

    let run = |name: &str,
               path: &str,
               header: Option<&str>,
               script: Option<&Path>|
     -> Result<Workload> {
        println!(
            "load: {name} ({CONNECTIONS} connections, {}s)",
            duration.as_secs()
        );
        let cpu_before = service.cpu()?;
        let result = wrk::run(&wrk::Load {
            url: &format!("{}{path}", service.base),
            connections: CONNECTIONS,
            threads: 2,
            duration,
            headers: header.map(str::to_owned).into_iter().collect(),
            script,
        })?;
        let cpu = service.cpu()? - cpu_before;
        println!(
            "  {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors; service CPU {:.0} us/request, {:.0}% in the kernel",
            result.requests_per_sec,
            result.p50_ms,
            result.p99_ms,
            result.errors,
            ServiceCpu::of(cpu, result.requests).per_request_us,
            ServiceCpu::of(cpu, result.requests).kernel_share * 100.0
        );
        Ok(Workload {
            name: name.to_owned(),
            service_cpu: ServiceCpu::of(cpu, result.requests),
            result,
        })
    };

    let mut rounds = Vec::new();
    for round in 1..=runs() {
        println!("round {round} of {}", runs());
        let workloads = vec![
            run("health", "/api/health", None, None)?,
            run("get by id", &get_by_id, Some(&auth), None)?,
            run(PLUGIN_GET_BY_ID, &get_by_id, Some(&plugin_auth), None)?,
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
                "create, one user",
                "/api/tasks",
                Some(&writer_auth),
                Some(&post_script),
            )?,
            run(
                &format!("create, {WRITERS} users"),
                "/api/tasks",
                None,
                Some(&many_writers_script),
            )?,
        ];
        println!("pgbench: get-by-id at {POOL_SIZE} connections");
        let ceiling = pgbench::run(
            setup.server.bin_dir(),
            &setup.database_url,
            &script,
            POOL_SIZE,
            duration,
            &[("id", &setup.task_id), ("user", "bench")],
        )?;
        println!("  {ceiling:.0} tps");
        rounds.push(Round { workloads, ceiling });
    }
    let (_, peak_rss) = service.memory()?;
    let time_to_first_200 = service.time_to_first_200;
    drop(service);

    let image = report::image_facts(&repo_root(), &setup)?;
    let results = BenchResults::new(
        &rounds,
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
