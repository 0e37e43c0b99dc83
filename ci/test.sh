#!/usr/bin/env bash
# What `make test` runs, and CI through .ci/run: every test that needs no Kubernetes cluster.
# It installs what it needs first (ci/tools.sh) and sets E2E_REQUIRE=1, so a missing
# dependency (Docker, an image, Prometheus) fails the run instead of skipping a test.
#
#   ci/test.sh              everything below
#   ci/test.sh charts       chart tests (Helm 3 and 4), lint, schema validation, security scan
#   ci/test.sh monitoring   promtool checks and the live dashboard check
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

bash ci/tools.sh
use_tools
export E2E_REQUIRE=1

chart_checks() {
  log "chart tests with $("$HELM" version --short)"
  cargo test --locked -p e2e --test chart
  log "chart tests with $("$HELM4" version --short)"
  HELM=$HELM4 cargo test --locked -p e2e --test chart
  log "chart lint, Kubernetes schema validation and security scan"
  bash ci/lint-charts.sh
  HELM=$HELM4 bash ci/lint-charts.sh
}

monitoring_checks() {
  log "monitoring: promtool checks of the rendered config, rules and dashboard"
  bash ci/test-monitoring.sh
  log "monitoring: the rendered config, rules and dashboard, and a live scrape by Prometheus"
  cargo test --locked -p e2e --test monitoring
}

case ${1:-all} in
  charts) chart_checks ;;
  monitoring) monitoring_checks ;;
  all)
    log "building the workspace"
    cargo build --locked --workspace --all-targets
    log "building the images for the container test"
    bash ci/image.sh
    log "Rust tests: service on throwaway PostgreSQL servers, faults, chart, image and monitoring tests"
    # --no-fail-fast: one failing test binary must not hide the others' results.
    cargo test --locked --workspace --no-fail-fast
    log "chart tests again with $("$HELM4" version --short)"
    # --workspace rather than -p e2e: the same feature set as above, so nothing is rebuilt.
    HELM=$HELM4 cargo test --locked --workspace --test chart
    bash ci/lint-charts.sh
    HELM=$HELM4 bash ci/lint-charts.sh
    bash ci/test-monitoring.sh
    log "all tests passed"
    ;;
  *) die "unknown suite '$1' (all, charts, monitoring)" ;;
esac
