#!/usr/bin/env bash
# make kind-up: the whole stack on a local Kind cluster, API on http://localhost:30081.
# Idempotent: creates the cluster only if absent, installs or upgrades the release with the
# chart's defaults (in namespace "default", or KIND_NAMESPACE), and after a code change loads the
# new build under the same tag (todo-chatbot-backend:latest) and restarts the backend's pods.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=ci/kind.sh
source "$REPO_ROOT/ci/kind.sh"
[ -f "$TOOLS_DIR/env" ] && use_tools
require_kind_tools

if cluster_exists; then
  log "Kind cluster $CLUSTER exists"
else
  log "creating Kind cluster $CLUSTER ($KIND_NODE_IMAGE)"
  kind create cluster --name "$CLUSTER" --config "$REPO_ROOT/kind/cluster.yaml" --image "$KIND_NODE_IMAGE" --wait 180s
fi
use_cluster_kubeconfig

# Built under the source revision (the commit, plus a hash of uncommitted changes) for
# traceability, then loaded as the chart's default image.
revision=$(source_revision)
IMAGE=$IMAGE TAG=$revision bash "$REPO_ROOT/ci/image.sh" >/dev/null
log "loading $IMAGE:$revision as $IMAGE:$DEFAULT_TAG into the cluster"
if uses_containerd_image_store; then
  log "Docker's containerd image store: kind sends the image to every node again even when they have it (kind#4236); the cluster does not change"
fi
loaded=$(load_image "$IMAGE:$revision")

existed=no
backend_exists && existed=yes
recorded=$(recorded_image)
log "installing or upgrading release $RELEASE in namespace $NAMESPACE with the chart's defaults"
install_release
roll_to_image "$loaded" "$existed" "$recorded"
kubectl rollout status deployment "$BACKEND" --timeout=5m

cat <<MSG

todo-chatbot is up in namespace $NAMESPACE (image $IMAGE:$DEFAULT_TAG = $revision, $loaded):
  API          http://localhost:30081
  API docs     http://localhost:30081/docs
  Health       http://localhost:30081/api/health
  Prometheus   http://localhost:30090
  Grafana      http://localhost:30030  (user admin; password:
               kubectl --kubeconfig $KUBECONFIG get secret $RELEASE-grafana -o jsonpath='{.data.admin-password}' | base64 -d)
kubectl: KUBECONFIG=$KUBECONFIG (context kind-$CLUSTER, namespace $NAMESPACE)
Prove the contract: make test-e2e
MSG
