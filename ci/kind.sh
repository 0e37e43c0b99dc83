# Shared by the Kind scripts: cluster name, prerequisites, a kubeconfig for this cluster only.
# shellcheck shell=bash

CLUSTER=${KIND_CLUSTER_NAME:-todo-chatbot}
NAMESPACE=${NAMESPACE:-todo-chatbot}
# shellcheck disable=SC2034 # used by the scripts that source this file
RELEASE=todo-chatbot

# Fails naming every missing tool and where to get it.
require_kind_tools() {
  local missing=()
  command -v docker >/dev/null || missing+=("docker: https://docs.docker.com/engine/install/")
  command -v kind >/dev/null || missing+=("kind $KIND_VERSION: https://kind.sigs.k8s.io/docs/user/quick-start/#installation")
  command -v kubectl >/dev/null || missing+=("kubectl $KUBECTL_VERSION: https://kubernetes.io/docs/tasks/tools/ (or run ci/tools.sh)")
  command -v "${HELM:-helm}" >/dev/null || missing+=("helm $HELM3_VERSION: https://helm.sh/docs/intro/install/ (or run ci/tools.sh)")
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'error: missing prerequisites:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
  docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running, and may this user use it?)"
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER"
}

# Points KUBECONFIG at a file holding only this cluster, so nothing here depends on (or changes)
# the user's current context.
use_cluster_kubeconfig() {
  local file="$REPO_ROOT/target/kind-$CLUSTER.kubeconfig"
  mkdir -p "$(dirname "$file")"
  kind get kubeconfig --name "$CLUSTER" > "$file"
  export KUBECONFIG=$file
}
