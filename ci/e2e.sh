#!/usr/bin/env bash
# make test-e2e: proves the deployment contract on the Kind cluster of `make kind-up`, or on the
# context named in E2E_CONTEXT. Writes target/e2e/conformance.md, and target/e2e/bundle/ when a
# check fails. The run scales PostgreSQL to 0 and back, scales the backend to 4 and back
# (helm upgrade, then helm rollback) and restarts its pods.
# Without the cluster it fails at once; it never reports success having checked nothing.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ci/kind.sh
source "$REPO_ROOT/ci/kind.sh"
[ -f "$TOOLS_DIR/env" ] && use_tools

if [ -n "${E2E_CONTEXT:-}" ]; then
  # Another cluster, named explicitly: the user's kubeconfig, no Kind needed.
  require_tools kubectl helm curl
  log "testing context $E2E_CONTEXT (E2E_CONTEXT), namespace $NAMESPACE"
else
  require_tools kind kubectl helm curl
  cluster_exists || die "no Kind cluster named $CLUSTER: run 'make kind-up' first"
  use_cluster_kubeconfig
  export E2E_CONTEXT="kind-$CLUSTER"
fi

export E2E_NAMESPACE=${E2E_NAMESPACE:-$NAMESPACE}
export E2E_REPORT_DIR="$REPO_ROOT/target/e2e"
cd "$REPO_ROOT"
cargo run --locked --quiet -p e2e --bin conformance
