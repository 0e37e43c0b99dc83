#!/usr/bin/env bash
# make test-e2e: proves the deployment contract on the Kind cluster of `make kind-up`.
# Writes target/e2e/conformance.md, and target/e2e/bundle/ when a check fails.
# Without the cluster it fails at once; it never reports success having checked nothing.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ci/kind.sh
source "$REPO_ROOT/ci/kind.sh"
[ -f "$TOOLS_DIR/env" ] && use_tools
require_kind_tools
cluster_exists || die "no Kind cluster named $CLUSTER: run 'make kind-up' first"
use_cluster_kubeconfig
kubectl get namespace "$NAMESPACE" >/dev/null 2>&1 || die "namespace $NAMESPACE not found: run 'make kind-up' first"

export E2E_NAMESPACE=$NAMESPACE
export E2E_REPORT_DIR="$REPO_ROOT/target/e2e"
cd "$REPO_ROOT"
cargo run --locked --quiet -p e2e --bin conformance
