#!/usr/bin/env bash
# make kind-down: deletes the Kind cluster (and with it the release and its data).
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ci/kind.sh
source "$REPO_ROOT/ci/kind.sh"
command -v kind >/dev/null || die "kind is not installed; there is no cluster to delete"
if cluster_exists; then
  kind delete cluster --name "$CLUSTER"
else
  log "no Kind cluster named $CLUSTER"
fi
