#!/usr/bin/env bash
# Check what the monitoring chart ships to Prometheus and Grafana with promtool. `make test` runs
# this, so local runs and CI are the same command.
#
# Needs on PATH: helm (or HELM=/path/to/helm), promtool (Debian's `prometheus` package, or
# PROMTOOL=/path/to/promtool) and python3 with PyYAML (or PYTHON=/path/to/python).
#   1. helm template the umbrella with its defaults plus monitoring.enabled=true (namespace
#      todo-chatbot) and take prometheus.yml and alerts.yaml from the Prometheus ConfigMap and
#      the dashboard from the Grafana ConfigMap, i.e. exactly what the cluster gets
#   2. promtool check config (the rule_files glob pointed at the extracted rules). Debian's
#      promtool has no Kubernetes discovery: then the backend job's kubernetes_sd_configs is
#      checked here (role, release namespace only) and replaced by a static target for promtool
#   3. promtool check rules, and every alert has a severity label and summary and description
#      annotations
#   4. promtool test rules with charts/todo-chatbot/charts/monitoring/tests/alerts-test.yaml;
#      every alert must have a test where it fires and one where it stays silent
#   5. every PromQL expression of the dashboard parses (promtool check rules on them as recording
#      rules, Grafana's $__ variables replaced by 5m) and every panel uses the datasource uid
#      the provisioned datasource has
#   6. the metric names the dashboard uses (without `up`), one per line, printed and written to
#      $DASHBOARD_METRICS_OUT when set, for comparison with a scrape of the real service
set -euo pipefail

HELM="${HELM:-helm}"
PROMTOOL="${PROMTOOL:-promtool}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="$ROOT/charts/todo-chatbot"
TESTS="$CHART/charts/monitoring/tests"
RELEASE=todo-chatbot
# The namespace the deployment contract (and make kind-up) puts the release in.
NAMESPACE=default

step() { printf '==> %s\n' "$*"; }
die() { printf 'test-monitoring: FAILED: %s\n' "$*" >&2; exit 1; }

if [[ -z "${PYTHON:-}" ]]; then
  for candidate in python3 /opt/chartvenv/bin/python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import yaml' 2>/dev/null; then
      PYTHON="$candidate"
      break
    fi
  done
fi
[[ -n "${PYTHON:-}" ]] || die "no python with PyYAML found (set PYTHON=/path/to/python)"
command -v "$PROMTOOL" >/dev/null 2>&1 || die "promtool not found (apt-get install prometheus, or set PROMTOOL)"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

step "tools: $("$HELM" version --short), $("$PROMTOOL" --version 2>&1 | head -n1), $("$PYTHON" --version 2>&1)"

step "helm template $RELEASE ${CHART#"$ROOT"/} --namespace $NAMESPACE --set monitoring.enabled=true"
"$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --set monitoring.enabled=true \
  >"$OUT/render.yaml" 2>"$OUT/helm.log" || { cat "$OUT/helm.log" >&2; die "helm template"; }

# Debian's promtool is built without Kubernetes service discovery (kubernetes_sd_configs is an
# unknown field to it). With such a promtool the config is checked with the discovery replaced
# by a static target (relabeling, globals and rule files are still checked by promtool) and the
# discovery stanza itself is checked here: role pod or endpoints, the release namespace only.
printf 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n' >"$OUT/k8s-sd-probe.yml"
if "$PROMTOOL" check config "$OUT/k8s-sd-probe.yml" >/dev/null 2>&1; then
  K8S_SD=native
else
  K8S_SD=static
fi

step "extract prometheus.yml, rules and dashboard from the rendered ConfigMaps"
mkdir -p "$OUT/rules"
"$PYTHON" - "$OUT" "$RELEASE" "$NAMESPACE" "$K8S_SD" <<'PY' || die "extracting the rendered ConfigMaps"
import json, sys, yaml

out, release, namespace, k8s_sd = sys.argv[1:5]
configmaps = {}
for doc in yaml.safe_load_all(open(f"{out}/render.yaml")):
    if doc and doc.get("kind") == "ConfigMap":
        configmaps[doc["metadata"]["name"]] = doc.get("data") or {}

def key(cm, name):
    data = configmaps.get(cm)
    if data is None:
        sys.exit(f"ConfigMap {cm} not in the render")
    if name not in data:
        sys.exit(f"ConfigMap {cm} has no key {name}")
    return data[name]

config = yaml.safe_load(key(f"{release}-prometheus", "prometheus.yml"))
if config.get("rule_files") != ["/etc/prometheus/rules/*.yaml"]:
    sys.exit(f"prometheus.yml rule_files is {config.get('rule_files')!r}, not the rules mount")
jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
backend = jobs.get("backend")
if backend is None:
    sys.exit(f"prometheus.yml has no scrape job named backend (jobs: {sorted(jobs)})")
sd = backend.get("kubernetes_sd_configs") or []
if len(sd) != 1 or sd[0].get("role") not in ("pod", "endpoints"):
    sys.exit(f"job backend: expected one kubernetes_sd_configs entry with role pod or endpoints, got {sd!r}")
if sd[0].get("namespaces", {}).get("names") != [namespace]:
    sys.exit(f"job backend: discovery must be limited to namespace {namespace}, got {sd[0].get('namespaces')!r}")
if k8s_sd == "static":
    del backend["kubernetes_sd_configs"]
    backend["static_configs"] = [{"targets": ["backend.invalid:8000"]}]
    print("    promtool lacks Kubernetes discovery: job backend checked with a static target in its place")
# The rules are mounted at /etc/prometheus/rules in the pod; here they are next to the config.
config["rule_files"] = [f"{out}/rules/*.yaml"]
with open(f"{out}/prometheus.yml", "w") as f:
    yaml.safe_dump(config, f, sort_keys=False)
with open(f"{out}/rules/alerts.yaml", "w") as f:
    f.write(key(f"{release}-prometheus", "alerts.yaml"))

grafana = f"{release}-grafana"
with open(f"{out}/backend-dashboard.json", "w") as f:
    f.write(key(grafana, "backend-dashboard.json"))
datasources = yaml.safe_load(key(grafana, "datasources.yaml"))["datasources"]
with open(f"{out}/datasource-uids", "w") as f:
    f.write("\n".join(ds["uid"] for ds in datasources) + "\n")
PY

step "promtool check config prometheus.yml (Kubernetes discovery: $K8S_SD)"
"$PROMTOOL" check config "$OUT/prometheus.yml" || die "promtool check config on the rendered prometheus.yml"

step "promtool check rules alerts.yaml"
"$PROMTOOL" check rules "$OUT/rules/alerts.yaml" || die "promtool check rules on the rendered alerts.yaml"

step "every alert has a severity label, summary and description, a firing and a silent test"
cp "$TESTS/alerts-test.yaml" "$OUT/rules/alerts-test.yaml"
"$PYTHON" - "$OUT/rules/alerts.yaml" "$OUT/rules/alerts-test.yaml" <<'PY' || die "alert rules or their tests are incomplete"
import sys, yaml

rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
problems = []
alerts = []
for group in rules["groups"]:
    for rule in group["rules"]:
        if "alert" not in rule:
            continue
        name = rule["alert"]
        alerts.append(name)
        if not rule.get("labels", {}).get("severity"):
            problems.append(f"{name}: no severity label")
        for annotation in ("summary", "description"):
            if not rule.get("annotations", {}).get(annotation):
                problems.append(f"{name}: no {annotation} annotation")
fires, silent = set(), set()
for test in tests.get("tests", []):
    for case in test.get("alert_rule_test", []):
        (fires if case.get("exp_alerts") else silent).add(case["alertname"])
for name in alerts:
    if name not in fires:
        problems.append(f"{name}: no test where it fires")
    if name not in silent:
        problems.append(f"{name}: no test where it stays silent")
for name in sorted((fires | silent) - set(alerts)):
    problems.append(f"{name}: tested but not in the rules")
for problem in problems:
    print(f"    {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"    {len(alerts)} alerts: {', '.join(alerts)}")
PY

step "promtool test rules alerts-test.yaml"
(cd "$OUT/rules" && "$PROMTOOL" test rules alerts-test.yaml) || die "promtool test rules (charts/todo-chatbot/charts/monitoring/tests/alerts-test.yaml)"

step "dashboard: datasource uids, PromQL as recording rules, metric names"
"$PYTHON" - "$OUT" <<'PY' || die "the dashboard's panels or queries"
import json, re, sys, yaml

out = sys.argv[1]
dashboard = json.load(open(f"{out}/backend-dashboard.json"))
uids = set(open(f"{out}/datasource-uids").read().split())

def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))

problems, exprs = [], []
for panel in panels(dashboard.get("panels", [])):
    title = panel.get("title", f"panel {panel.get('id')}")
    refs = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
    for ref in refs:
        if not isinstance(ref, dict) or ref.get("uid") not in uids:
            problems.append(f"{title}: datasource {ref!r} is not a provisioned uid {sorted(uids)}")
    for target in panel.get("targets", []):
        if target.get("expr"):
            exprs.append((title, target["expr"]))
if not exprs:
    problems.append("the dashboard has no PromQL expressions")
for problem in problems:
    print(f"    {problem}", file=sys.stderr)
if problems:
    sys.exit(1)

# Grafana's interval variables become a plain duration; any other $variable a label value.
def substitute(expr):
    expr = re.sub(r"\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?", "5m", expr)
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(:[a-z]+)?\}?", "x", expr)

rules = [{"record": f"dashboard_expr_{i}", "expr": substitute(expr)}
         for i, (_, expr) in enumerate(exprs, 1)]
with open(f"{out}/dashboard-rules.yaml", "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f, sort_keys=False)
with open(f"{out}/dashboard-exprs.txt", "w") as f:
    for i, (title, expr) in enumerate(exprs, 1):
        f.write(f"dashboard_expr_{i}  [{title}]  {' '.join(expr.split())}\n")

# Metric names: identifiers left after removing strings, label matchers, ranges and grouping
# clauses that are not functions (followed by "("), aggregations or keywords.
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "atan2", "inf", "nan", "sum", "min", "max", "avg", "count", "group",
    "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "limitk",
    "limit_ratio", "up",
}
names = set()
for _, expr in exprs:
    e = substitute(expr)
    e = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', "", e)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()", e):
        if match.group(1).lower() not in KEYWORDS:
            names.add(match.group(1))
if not names:
    sys.exit("no metric names found in the dashboard's queries")
with open(f"{out}/dashboard-metrics.txt", "w") as f:
    f.write("".join(f"{name}\n" for name in sorted(names)))
print(f"    {len(exprs)} expressions in {len({t for t, _ in exprs})} panels")
PY
"$PROMTOOL" check rules "$OUT/dashboard-rules.yaml" >"$OUT/dashboard-check.log" 2>&1 || {
  cat "$OUT/dashboard-check.log" >&2
  echo "    (dashboard_expr_N is the Nth query of the dashboard:)" >&2
  sed 's/^/    /' "$OUT/dashboard-exprs.txt" >&2
  die "a PromQL expression of files/backend-dashboard.json does not parse"
}
sed 's/^/    parses: /' "$OUT/dashboard-exprs.txt"

step "metric names used by the dashboard (besides up)"
sed 's/^/    /' "$OUT/dashboard-metrics.txt"
if [[ -n "${DASHBOARD_METRICS_OUT:-}" ]]; then
  cp "$OUT/dashboard-metrics.txt" "$DASHBOARD_METRICS_OUT"
  step "wrote them to $DASHBOARD_METRICS_OUT"
fi

step "monitoring OK"
