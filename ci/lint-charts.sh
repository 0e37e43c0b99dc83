#!/usr/bin/env bash
# Lint, render, schema-validate and security-scan the Helm charts. `make lint` and CI run this,
# so local runs and CI are the same command.
#
# Needs on PATH: helm (or HELM=/path/to/helm), kubernetes-validate and checkov (both from PyPI);
# `make tools` installs them into .tools/, and `source .tools/env` puts them on PATH (make lint
# and make test do). Every command is logged exactly as it runs.
#   1. helm lint --strict: the umbrella, every chart in its charts/ on its own (the library
#      todo-common too), and the umbrella with each values/*.yaml
#   2. helm template todo-chatbot charts/todo-chatbot with the defaults (what make kind-up installs)
#      and each values/*.yaml, plus the defaults with the Prometheus Operator objects forced on
#      (monitoring-operator) and with them instead of the bundled Prometheus and Grafana
#      (monitoring-own-grafana: the dashboard ConfigMap for another Grafana's sidecar), and
#      production with a Gateway API HTTPRoute instead of its Ingress (production-gateway); every render also gets e2e/tests/chart/offline-secrets.yaml, TEST ONLY
#      values for the secrets the chart would generate on a cluster (a render without one fails
#      without them)
#   3. kubernetes-validate --strict of every rendered object against each Kubernetes version below;
#      objects of CRDs it has no schema for (the monitoring chart's ServiceMonitor and
#      PrometheusRule, the backend's HTTPRoute) are set aside and named, and any other object without a schema fails
#   4. checkov on every render: zero failed checks (the only skips are the annotations the charts
#      put on their objects, each with its reason)
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

HELM="${HELM:-helm}"
CHART=charts/todo-chatbot
RELEASE=todo-chatbot
# TEST ONLY, NOT SECRETS: what stands in for the secrets a render without a cluster cannot keep.
TEST_SECRETS=e2e/tests/chart/offline-secrets.yaml
# Rendered into the namespace the deployment contract puts the release in, so the scan sees what
# users deploy: the charts set metadata.namespace from the release namespace, and there they
# carry the contract's skip of CKV_K8S_21 (objects in "default").
NAMESPACE=default
# Oldest supported (Chart.yaml kubeVersion >=1.30, preStop sleep) and a current release.
KUBE_VERSIONS=(1.30.0 1.33.0)

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

log "tools: $("$HELM" version --short), kubernetes-validate $(kubernetes-validate --version 2>&1 | tail -n1), checkov $(checkov --version 2>&1 | tail -n1)"

# The command as it runs ($1 onwards), quoted where the shell needs it, for the log.
quoted() {
  local line
  printf -v line '%q ' "$@"
  printf '%s' "${line% }"
}

charts=("$CHART")
for sub in "$CHART"/charts/*/; do
  charts+=("${sub%/}")
done
lint() {
  log "$(quoted "$HELM" lint --strict "$@")"
  "$HELM" lint --strict "$@" >"$OUT/lint.log" 2>&1 || { cat "$OUT/lint.log"; exit 1; }
}
for chart in "${charts[@]}"; do
  lint "$chart"
done

values_files=(values/*.yaml)
for values in "${values_files[@]}"; do
  lint "$CHART" -f "$values"
done

# One render per values set: the defaults, then each values file.
renders=()
render() {
  local name="$1"
  shift
  local command=("$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" --values "$TEST_SECRETS" "$@")
  log "$(quoted "${command[@]}")  # -> $name.yaml"
  "${command[@]}" >"$OUT/$name.yaml"
  renders+=("$name")
}
render default
for values in "${values_files[@]}"; do
  render "$(basename "$values" .yaml)" -f "$values"
done
# The monitoring chart's ServiceMonitor and PrometheusRule, as GitOps tools render them.
render monitoring-operator --set monitoring.serviceMonitor.force=true
# With kube-prometheus-stack's Prometheus and Grafana instead of the bundled ones: the operator
# objects and the dashboard ConfigMap for its Grafana's sidecar.
render monitoring-own-grafana --set monitoring.serviceMonitor.force=true \
  --set monitoring.prometheus.enabled=false --set monitoring.grafana.enabled=false
# Production behind a Gateway API HTTPRoute instead of the Ingress, as on a cluster serving it.
render production-gateway -f values/production.yaml --set backend.ingress.enabled=false \
  --set backend.httpRoute.enabled=true --api-versions gateway.networking.k8s.io/v1/HTTPRoute

# API groups of CRDs that kubernetes-validate has no schemas for.
CRD_GROUPS='monitoring.coreos.com|gateway.networking.k8s.io'
for name in "${renders[@]}"; do
  # Split the render: CRD objects aside, everything else to be validated.
  awk -v crd="$OUT/$name.crd.yaml" -v core="$OUT/$name.core.yaml" -v groups="$CRD_GROUPS" '
    function flush() { if (doc != "") { printf "---\n%s", doc > (iscrd ? crd : core) }; doc = ""; iscrd = 0 }
    /^---/ { flush(); next }
    $0 ~ "^apiVersion: (" groups ")/" { iscrd = 1 }
    { doc = doc $0 "\n" }
    END { flush() }
  ' "$OUT/$name.yaml"
  touch "$OUT/$name.crd.yaml" "$OUT/$name.core.yaml"
  set_aside=$({ grep -E '^kind: ' "$OUT/$name.crd.yaml" || true; } | sed 's/^kind: //' | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
  for version in "${KUBE_VERSIONS[@]}"; do
    validate=(kubernetes-validate --strict --quiet -k "$version" "$OUT/$name.core.yaml")
    log "$(quoted "${validate[@]}")  # $name.yaml${set_aside:+ without the CRD objects it has no schema for: $set_aside}"
    # It only warns about kinds it has no schema for; here that fails (a typo in a kind or apiVersion).
    "${validate[@]}" 2>&1 | tee "$OUT/validate.log"
    if grep -q "Couldn't find schema" "$OUT/validate.log"; then
      echo "kubernetes-validate has no schema for an object above (not a known CRD group: $CRD_GROUPS)" >&2
      exit 1
    fi
  done
done

for name in "${renders[@]}"; do
  # --skip-download: no Prisma Cloud guideline lookups, the scan itself is offline.
  scan=(checkov -f "$name.yaml" --framework kubernetes --quiet --compact --skip-download)
  log "cd $(quoted "$OUT") && $(quoted "${scan[@]}")"
  (cd "$OUT" && "${scan[@]}") >"$OUT/checkov.log" 2>&1 || { cat "$OUT/checkov.log"; exit 1; }
  grep -E 'Passed checks' "$OUT/checkov.log" | sed 's/^/    /'
done

log "charts OK"
