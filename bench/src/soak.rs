//! The soak run: a steady mixed load at half the measured get-by-id rate for SOAK_MINUTES,
//! sampling the service's memory. wrk cannot hold a fixed rate, so the load comes from a small
//! paced client here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;
use tokio::time::MissedTickBehavior;

use crate::service::{SECRET, Service};
use crate::setup::{binary, repo_root, setup};

const WORKERS: u64 = 32;
/// Memory is compared from the end of the warm-up, when pools and buffers have grown to size.
const WARM_UP: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize)]
struct SoakResults {
    minutes: u64,
    target_rate: f64,
    achieved_rate: f64,
    requests: u64,
    errors: u64,
    rss_after_warm_up_bytes: u64,
    rss_at_end_bytes: u64,
    rss_growth_percent: f64,
    peak_rss_bytes: u64,
    samples: Vec<(u64, u64)>,
}

pub async fn run() -> Result<()> {
    let minutes: u64 = std::env::var("SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("bench/results.json"))
            .context("bench/results.json: run `make bench` first")?,
    )?;
    let peak = results["workloads"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["name"] == "get by id"))
        .and_then(|w| w["requests_per_sec"].as_f64())
        .context("no get-by-id rate in bench/results.json")?;
    let rate = peak / 2.0;

    let binary = binary()?;
    let setup = setup(&binary).await?;
    let service = Service::start(&binary, &setup.database_url, &[])?;
    println!(
        "soak: {minutes} min at {rate:.0} req/s (half of {peak:.0}), 60% get, 30% list, 10% create"
    );

    let requests = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(minutes * 60);
    let token = testkit::jwt::mint(SECRET, "bench", 7200);
    let client = reqwest::Client::new();
    let period = Duration::from_secs_f64(WORKERS as f64 / rate);
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (client, token, requests, errors) = (
                client.clone(),
                token.clone(),
                requests.clone(),
                errors.clone(),
            );
            let (base, task) = (service.base.clone(), setup.task_id.clone());
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(period);
                ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
                let mut n = worker;
                while Instant::now() < deadline {
                    ticker.tick().await;
                    n += 1;
                    let request = match n % 10 {
                        0 => client
                            .post(format!("{base}/api/tasks"))
                            .json(&serde_json::json!({"title": "soak"})),
                        1..=3 => client.get(format!("{base}/api/tasks?limit=20")),
                        _ => client.get(format!("{base}/api/tasks/{task}")),
                    };
                    let ok = request
                        .bearer_auth(&token)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success());
                    requests.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();

    let started = Instant::now();
    let mut samples = Vec::new();
    let mut after_warm_up = None;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (rss, _) = service.memory()?;
        let elapsed = started.elapsed().as_secs();
        samples.push((elapsed, rss));
        if after_warm_up.is_none() && started.elapsed() >= WARM_UP {
            after_warm_up = Some(rss);
        }
        println!(
            "  {elapsed:>4}s  RSS {:.1} MiB  {} requests, {} errors",
            rss as f64 / 1048576.0,
            requests.load(Ordering::Relaxed),
            errors.load(Ordering::Relaxed)
        );
    }
    for worker in workers {
        worker.await?;
    }
    let (end, peak_rss) = service.memory()?;
    let base = after_warm_up.unwrap_or(samples.first().map(|s| s.1).unwrap_or(end));
    let total = requests.load(Ordering::Relaxed);
    let soak = SoakResults {
        minutes,
        target_rate: rate.round(),
        achieved_rate: (total as f64 / started.elapsed().as_secs_f64()).round(),
        requests: total,
        errors: errors.load(Ordering::Relaxed),
        rss_after_warm_up_bytes: base,
        rss_at_end_bytes: end,
        rss_growth_percent: (end as f64 - base as f64) / base as f64 * 100.0,
        peak_rss_bytes: peak_rss,
        samples,
    };
    std::fs::write(
        repo_root().join("bench/soak.json"),
        serde_json::to_string_pretty(&soak)? + "\n",
    )?;
    let table = format!(
        "Measured on {}.\n\n| Measure | Result | Goal | Met |\n|---|---|---|---|\n\
         | duration | {} min at {:.0} req/s (target {:.0}) | 10 min at half the get-by-id peak | |\n\
         | RSS after warm-up → end | {:.1} → {:.1} MiB ({:+.1}%) | growth under 5% | {} |\n\
         | errors | {} of {} requests | 0 | {} |\n",
        crate::report::machine(),
        soak.minutes,
        soak.achieved_rate,
        soak.target_rate,
        base as f64 / 1048576.0,
        end as f64 / 1048576.0,
        soak.rss_growth_percent,
        if soak.rss_growth_percent < 5.0 {
            "yes"
        } else {
            "**no**"
        },
        soak.errors,
        soak.requests,
        if soak.errors == 0 { "yes" } else { "**no**" },
    );
    crate::report::update_section(&repo_root().join("bench/README.md"), "soak", &table)?;
    println!("\n{table}");
    Ok(())
}
