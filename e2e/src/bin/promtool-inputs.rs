//! Writes what the monitoring chart gives Prometheus, rendered with the chart's defaults, as the
//! files `promtool` reads (`ci/test-monitoring.sh` runs it, then promtool on them):
//!
//! - `prometheus.yml`: the rendered config, its `rule_files` pointed at `rules/` here; with
//!   `--static-discovery` the backend job's Kubernetes discovery is replaced by a static target
//!   (for a promtool built without Kubernetes discovery, as Debian's is);
//! - `rules/alerts.yaml`: the rendered rules, alone in `rules/` as in the pod's mount;
//! - `tests/alerts-test.yaml`, the chart's unit tests of the rules, with the rules next to it as
//!   `tests/alerts.yaml`, the name it loads them by;
//! - `dashboard-rules.yaml`: every query of the dashboard as a recording rule
//!   `dashboard_expr_<n>`, and `dashboard-queries.txt`, the n-th query with its panel per line.
//!
//! Usage: promtool-inputs <directory> [--static-discovery]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use e2e::monitoring::{
    MonitoringFiles, alert_tests_yaml, dashboard_queries, dashboard_recording_rules,
};

/// What Grafana's interval variables stand for in the parsed queries.
const INTERVAL: &str = "5m";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), static_discovery) = (args.next().map(PathBuf::from), args.next()) else {
        bail!("usage: promtool-inputs <directory> [--static-discovery]");
    };
    let static_discovery = match static_discovery.as_deref() {
        None => false,
        Some("--static-discovery") => true,
        Some(other) => bail!("unknown argument {other}"),
    };
    let files = MonitoringFiles::of_defaults()?;
    fs::create_dir_all(dir.join("rules"))?;
    fs::create_dir_all(dir.join("tests"))?;

    let mut config = files.config()?;
    let rules = dir.join("rules").canonicalize()?;
    config.set_rule_files(&[&format!("{}/*.yaml", rules.display())]);
    if static_discovery {
        config.use_static_target("backend", "backend.invalid:8000", &BTreeMap::new())?;
    }
    fs::write(dir.join("prometheus.yml"), config.to_yaml()?)?;
    fs::write(rules.join("alerts.yaml"), &files.alerts)?;
    fs::write(dir.join("tests/alerts.yaml"), &files.alerts)?;
    fs::write(dir.join("tests/alerts-test.yaml"), alert_tests_yaml()?)?;

    let queries = dashboard_queries(&files.dashboard()?);
    fs::write(
        dir.join("dashboard-rules.yaml"),
        dashboard_recording_rules(&queries, INTERVAL)?,
    )?;
    let listing: String = queries
        .iter()
        .enumerate()
        .map(|(index, query)| {
            let expr = query.expr.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("dashboard_expr_{}  [{}]  {expr}\n", index + 1, query.panel)
        })
        .collect();
    fs::write(dir.join("dashboard-queries.txt"), listing)
        .with_context(|| format!("writing to {}", dir.display()))?;
    Ok(())
}
