# Shared by the Kind scripts: cluster, release and image names, prerequisites, a kubeconfig for
# this cluster only, and the steps of make kind-up (each a function, so e2e/tests/kind.rs can run
# it against stand-in commands).
# shellcheck shell=bash

CLUSTER=${KIND_CLUSTER_NAME:-todo-chatbot}
# The deployment contract's namespace ("default": its commands carry no -n, and the frontend
# reaches the backend at todo-chatbot-backend.default.svc.cluster.local), unless KIND_NAMESPACE
# names another.
NAMESPACE=${KIND_NAMESPACE:-default}
RELEASE=todo-chatbot
# The chart's default image (backend.image.repository and tag), so a plain `helm upgrade`, the
# contract's scaling command included, finds it on the nodes.
IMAGE=todo-chatbot-backend
DEFAULT_TAG=latest
BACKEND=$RELEASE-backend
# Annotation on the backend Deployment's own metadata (not its pod template, so setting it rolls
# nothing) holding the Docker image ID last loaded for it. Helm leaves it alone: Helm 3 patches
# with a three-way merge whose deletions come from the previous release's manifest only, and Helm
# 4's server-side apply removes only fields its own field manager owned.
LOADED_IMAGE_ANNOTATION=todo-chatbot/loaded-image-id

# Fails naming every missing tool and where to get it; the arguments are the tools needed.
require_tools() {
  local missing=() tool
  for tool in "$@"; do
    case $tool in
      docker) command -v docker >/dev/null || missing+=("docker: https://docs.docker.com/engine/install/") ;;
      kind) command -v kind >/dev/null || missing+=("kind $KIND_VERSION: https://kind.sigs.k8s.io/docs/user/quick-start/#installation") ;;
      kubectl) command -v kubectl >/dev/null || missing+=("kubectl $KUBECTL_VERSION: https://kubernetes.io/docs/tasks/tools/ (or run ci/tools.sh)") ;;
      helm) command -v "${HELM:-helm}" >/dev/null || missing+=("helm $HELM3_VERSION: https://helm.sh/docs/intro/install/ (or run ci/tools.sh)") ;;
      curl) command -v curl >/dev/null || missing+=("curl: the contract's verification commands use it") ;;
    esac
  done
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'error: missing prerequisites:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
  if [[ " $* " == *" docker "* ]]; then
    docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running, and may this user use it?)"
  fi
}

require_kind_tools() {
  require_tools docker kind kubectl helm
}

cluster_exists() {
  kind get clusters 2>/dev/null | grep -qx "$CLUSTER"
}

# Points KUBECONFIG at a file holding only this cluster, its context naming $NAMESPACE, so
# nothing here depends on (or changes) the user's current context and the contract's commands
# (no -n) act on the release.
use_cluster_kubeconfig() {
  local file="$REPO_ROOT/target/kind-$CLUSTER.kubeconfig"
  mkdir -p "$(dirname "$file")"
  kind get kubeconfig --name "$CLUSTER" > "$file"
  chmod 600 "$file"
  export KUBECONFIG=$file
  kubectl config set-context --current --namespace "$NAMESPACE" >/dev/null
}

# Tags the built image $1 as the chart's default image, loads that into every node of the
# cluster and prints its Docker image ID. `kind load docker-image` compares this same ID
# (`docker image inspect -f {{ .Id }}`) with the node's and skips nodes that have it already.
load_image() {
  local built=$1
  # Chained: a command substitution does not inherit set -e.
  docker tag "$built" "$IMAGE:$DEFAULT_TAG" &&
    kind load docker-image "$IMAGE:$DEFAULT_TAG" --name "$CLUSTER" >&2 &&
    docker image inspect --format '{{.Id}}' "$IMAGE:$DEFAULT_TAG"
}

# Succeeds if Docker keeps its images in the containerd image store (the default of Docker
# Desktop 4.34+ and of fresh Docker Engine 29+ installs; `docker info` then names the containerd
# snapshotter as its storage driver). There `docker image inspect` gives the manifest's digest
# while the nodes' CRI gives the config's, so `kind load docker-image` (v0.30) never sees that a
# node has the image already and sends it again (kind#4236): slower, but it changes nothing.
uses_containerd_image_store() {
  docker info --format '{{json .DriverStatus}}' 2>/dev/null | grep -q 'io.containerd.snapshotter'
}

# Succeeds if the backend Deployment exists.
backend_exists() {
  [ -n "$(kubectl get deployment "$BACKEND" --ignore-not-found -o name)" ]
}

# The image ID recorded on the backend Deployment (empty without one, or without the Deployment).
recorded_image() {
  kubectl get deployment "$BACKEND" --ignore-not-found \
    -o "jsonpath={.metadata.annotations.$LOADED_IMAGE_ANNOTATION}"
}

# Installs or upgrades the release with the chart's defaults and nothing else (no -f, no --set):
# exactly what the contract's `helm upgrade todo-chatbot ./helm/todo-chatbot --set
# backend.replicaCount=4` starts from, so that command changes the replica count only.
install_release() {
  "${HELM:-helm}" upgrade --install "$RELEASE" "$REPO_ROOT/charts/todo-chatbot" \
    --namespace "$NAMESPACE" --create-namespace \
    --wait --timeout 10m
}

# Prints a token the release accepts for user $1, valid for $2 (`backend token`'s syntax: 90s,
# 30m, 2h), minted inside a backend pod: the image has no shell, and BETTER_AUTH_SECRET never
# leaves the cluster.
mint_token() {
  kubectl exec "deployment/$BACKEND" -c backend -- /usr/local/bin/backend token "$1" --ttl "$2"
}

# The image tag never changes, so the pod template doesn't either: after loading another build,
# the backend's pods are restarted here. Arguments: the loaded image ID, whether the Deployment
# existed before this run ("yes"/"no"), and the image ID it recorded then. A Deployment created by
# this run already runs the loaded image; one that recorded no ID ran an image of unknown age.
roll_to_image() {
  local loaded=$1 existed=$2 recorded=$3
  kubectl annotate deployment "$BACKEND" --overwrite "$LOADED_IMAGE_ANNOTATION=$loaded" >/dev/null
  if [ "$existed" = yes ] && [ "$recorded" != "$loaded" ]; then
    log "image changed (${recorded:-none recorded} -> $loaded): restarting the backend's pods"
    kubectl rollout restart deployment "$BACKEND"
  fi
}
