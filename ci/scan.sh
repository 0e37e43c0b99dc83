#!/usr/bin/env bash
# make scan, and the scan job of CI: what a security team's scanner sees, with trivy.
#   1. the backend image (ci/image.sh builds it; BACKEND_IMAGE names another): vulnerabilities
#      of everything trivy finds in it, the crates of the binary's dependency list (cargo
#      auditable) included. Fails on fixable HIGH or CRITICAL ones, and when trivy sees no Rust
#      crate at all: a scratch image whose binary carries no list scans clean whatever it holds.
#   2. the chart, rendered with its defaults (what make kind-up installs) and with each
#      values/*.yaml: misconfigurations. Fails on HIGH or CRITICAL ones.
# Reports land in target/scan/: JSON (everything found, every package), SARIF, and the image's
# CycloneDX SBOM. Needs trivy $TRIVY_VERSION (ci/versions.env) and the network: trivy downloads
# its vulnerability database and its checks. make lint and make test do not run it.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

command -v trivy >/dev/null ||
  die "trivy is not installed: make scan needs trivy $TRIVY_VERSION (see https://trivy.dev) and the network"
version=$(trivy --version | awk '/^Version:/ { print $2; exit }')
if [ "$version" != "$TRIVY_VERSION" ]; then
  log "warning: trivy $version here, CI uses $TRIVY_VERSION (ci/versions.env); findings may differ"
fi
command -v jq >/dev/null || die "jq is needed to read trivy's report (apt-get install jq)"
if [ -f "$TOOLS_DIR/env" ]; then use_tools; fi
HELM=${HELM:-helm}
command -v "$HELM" >/dev/null || die "helm is needed to render the chart (run ci/tools.sh, or set HELM)"

out=target/scan
rm -rf "$out"
mkdir -p "$out/render"

image=${BACKEND_IMAGE:-$(bash ci/image.sh)}
log "trivy image $image: vulnerabilities, every finding to $out/image.json and image.sarif"
trivy image --quiet --scanners vuln --format json --output "$out/image.json" "$image"
trivy convert --quiet --format sarif --output "$out/image.sarif" "$out/image.json"
trivy convert --quiet --format cyclonedx --output "$out/image.cdx.json" "$out/image.json"
crates=$(jq '[.Results[]? | select(.Type == "rustbinary") | .Packages[]?] | length' "$out/image.json")
[ "$crates" -gt 0 ] ||
  die "trivy found no Rust crate in $image: its binary carries no dependency list (service/Dockerfile builds it with cargo auditable)"
log "trivy reads $crates crates from the binary's dependency list"
log "trivy image $image: fixable HIGH and CRITICAL vulnerabilities fail"
trivy image --quiet --skip-db-update --scanners vuln --severity HIGH,CRITICAL --ignore-unfixed \
  --exit-code 1 "$image"

chart=charts/todo-chatbot
log "helm template todo-chatbot $chart: the defaults and each values/*.yaml, to $out/render/"
"$HELM" template todo-chatbot "$chart" --namespace default >"$out/render/default.yaml"
for values in values/*.yaml; do
  "$HELM" template todo-chatbot "$chart" --namespace default -f "$values" \
    >"$out/render/$(basename "$values")"
done
log "trivy config $out/render: misconfigurations, every finding to $out/config.json and config.sarif"
trivy config --quiet --format json --output "$out/config.json" "$out/render"
trivy convert --quiet --format sarif --output "$out/config.sarif" "$out/config.json"
log "trivy config $out/render: HIGH and CRITICAL misconfigurations fail"
trivy config --quiet --skip-check-update --severity HIGH,CRITICAL --exit-code 1 "$out/render"

log "scans passed; reports in $out/"
