#!/usr/bin/env bash
# make token: prints a JWT the Kind release accepts (SUB, default dev-user; TTL, default 1h),
# minted by `backend token` inside a backend pod, so the secret never leaves the cluster.
#   TOKEN=$(make -s token SUB=alice TTL=2h)
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ci/kind.sh
source "$REPO_ROOT/ci/kind.sh"
[ -f "$TOOLS_DIR/env" ] && use_tools
require_tools kind kubectl
cluster_exists || die "no Kind cluster named $CLUSTER: run 'make kind-up' first"
use_cluster_kubeconfig
mint_token "${SUB:-dev-user}" "${TTL:-1h}"
