#!/usr/bin/env bash
# Run promtool on what the monitoring chart ships to Prometheus. `make test` runs this, so local
# runs and CI are the same command. The checks of the rendered files themselves (the backend job's
# discovery, every alert labelled, described and tested both ways, the dashboard's datasource)
# are Rust tests in e2e/tests/monitoring.rs; this script only calls promtool.
#
# Needs on PATH: cargo, helm (or HELM=/path/to/helm) and promtool (Debian's `prometheus`
# package, or PROMTOOL=/path/to/promtool).
#   1. e2e's promtool-inputs renders the umbrella with its defaults (namespace default, where the
#      alert tests expect the rules) and writes prometheus.yml, the rules with their unit tests
#      and the dashboard's queries as recording rules. Debian's promtool has no Kubernetes
#      discovery: with such a promtool the backend job gets a static target instead (its
#      discovery stanza is checked by the Rust tests)
#   2. promtool check config, check rules and test rules (tests/alerts-test.yaml of the chart)
#   3. promtool check rules on the dashboard's queries: every one parses
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

HELM="${HELM:-helm}"
PROMTOOL="${PROMTOOL:-promtool}"
export HELM
command -v "$PROMTOOL" >/dev/null 2>&1 || die "promtool not found (apt-get install prometheus, or set PROMTOOL)"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

log "tools: $("$HELM" version --short), $("$PROMTOOL" --version 2>&1 | head -n1)"

printf 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n' >"$OUT/k8s-sd-probe.yml"
if "$PROMTOOL" check config "$OUT/k8s-sd-probe.yml" >/dev/null 2>&1; then
  discovery=native
  inputs=("$OUT/inputs")
else
  discovery=static
  inputs=("$OUT/inputs" --static-discovery)
fi

log "render the chart and write promtool's inputs (Kubernetes discovery: $discovery)"
cargo run --quiet --locked -p e2e --bin promtool-inputs -- "${inputs[@]}"
cd "$OUT/inputs"

log "promtool check config prometheus.yml"
"$PROMTOOL" check config prometheus.yml || die "promtool check config on the rendered prometheus.yml"

log "promtool check rules alerts.yaml"
"$PROMTOOL" check rules rules/alerts.yaml || die "promtool check rules on the rendered alerts.yaml"

log "promtool test rules alerts-test.yaml"
(cd tests && "$PROMTOOL" test rules alerts-test.yaml) || die "promtool test rules (charts/todo-chatbot/charts/monitoring/tests/alerts-test.yaml)"

log "promtool check rules on the dashboard's queries"
"$PROMTOOL" check rules dashboard-rules.yaml >dashboard-check.log 2>&1 || {
  cat dashboard-check.log >&2
  echo "(dashboard_expr_N is the Nth query of the dashboard:)" >&2
  cat dashboard-queries.txt >&2
  die "a PromQL expression of files/backend-dashboard.json does not parse"
}
sed 's/^/    parses: /' dashboard-queries.txt

log "monitoring OK"
