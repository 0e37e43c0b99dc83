#!/usr/bin/env bash
# make kind-debug: what is needed to debug the Kind cluster of make kind-up, in target/e2e/debug/:
# the release (helm status, history, values), the namespace's objects and events, every pod's
# logs (previous ones too), kube-system's pods, events and logs (kindnet, which also enforces the
# NetworkPolicies, CoreDNS, kube-proxy, the control plane), and `kind export logs` (the nodes'
# journals, containerd and kubelet logs). CI runs it when make kind-up or make test-e2e fails.
# It collects what it can and never stops at the first failure; it fails only if it got nothing.
set -uo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ci/kind.sh
source "$REPO_ROOT/ci/kind.sh"
[ -f "$TOOLS_DIR/env" ] && use_tools

report_dir="$REPO_ROOT/target/e2e"
out="$report_dir/debug"
mkdir -p "$report_dir"
collected=no

if command -v kind >/dev/null && cluster_exists; then
  use_cluster_kubeconfig
  log "collecting the release's and kube-system's state into $out"
  if E2E_CONTEXT="kind-$CLUSTER" E2E_NAMESPACE="${E2E_NAMESPACE:-$NAMESPACE}" E2E_REPORT_DIR="$report_dir" \
    cargo run --locked --quiet -p e2e --bin bundle; then
    collected=yes
  else
    log "the cluster's state could not be collected (see above)"
  fi
  log "kind export logs into $out/kind-logs"
  # A deadline: kind copies files out of every node container.
  if timeout 300 kind export logs "$out/kind-logs" --name "$CLUSTER" >&2; then
    collected=yes
  else
    log "kind export logs failed"
  fi
else
  log "no Kind cluster named $CLUSTER: only Docker's view of its nodes is collected"
fi

mkdir -p "$out"
if command -v docker >/dev/null; then
  docker ps --all --filter "label=io.x-k8s.kind.cluster=$CLUSTER" > "$out/docker-ps.txt" 2>&1 && collected=yes
fi
[ "$collected" = yes ] || die "nothing could be collected"
log "debugging bundle: $out"
