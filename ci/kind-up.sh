#!/usr/bin/env bash
# make kind-up: the whole stack on a local Kind cluster, API on http://localhost:30081.
# Idempotent: creates the cluster only if absent; re-running after a code change builds a new
# image tag (the commit, plus a hash of uncommitted changes) and rolls the pods to it.
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

# Never `latest`: a fixed tag per source state, so Kind never tries to pull and upgrades roll.
tag=$(source_revision)
image=todo-chatbot-backend
IMAGE=$image TAG=$tag bash "$REPO_ROOT/ci/image.sh" >/dev/null
log "loading $image:$tag into the cluster"
kind load docker-image "$image:$tag" --name "$CLUSTER"

log "installing or upgrading release $RELEASE in namespace $NAMESPACE"
"${HELM:-helm}" upgrade --install "$RELEASE" "$REPO_ROOT/charts/todo-chatbot" \
  --namespace "$NAMESPACE" --create-namespace \
  --values "$REPO_ROOT/values/kind.yaml" \
  --set-string "backend.image.tag=$tag" \
  --wait --timeout 10m

kubectl --namespace "$NAMESPACE" rollout status deployment/todo-chatbot-backend --timeout=5m
cat <<MSG

todo-chatbot is up (image $image:$tag):
  API          http://localhost:30081
  API docs     http://localhost:30081/docs
  Health       http://localhost:30081/api/health
  Prometheus   http://localhost:30090
  Grafana      http://localhost:30030  (user admin; password:
               kubectl --kubeconfig $KUBECONFIG -n $NAMESPACE get secret todo-chatbot-grafana -o jsonpath='{.data.admin-password}' | base64 -d)
Prove the contract: make test-e2e
MSG
