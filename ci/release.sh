#!/usr/bin/env bash
# make release (CI on tags): the multi-arch image with SBOM and provenance, signed with cosign
# (keyless, through the CI's OIDC identity), and the chart pushed as an OCI artifact.
# Needs: docker buildx with QEMU for arm64, cosign, helm, and the variables below. Cannot run
# without a registry and credentials (it does not run in `make test`).
#   REGISTRY            registry host
#   REGISTRY_NAMESPACE  path under it (the GitHub owner)
#   RELEASE_VERSION     the tag, vX.Y.Z
#   REGISTRY_USERNAME / REGISTRY_PASSWORD  for `helm registry login`
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

: "${REGISTRY:?set REGISTRY (the image registry host)}"
: "${REGISTRY_NAMESPACE:?set REGISTRY_NAMESPACE}"
: "${RELEASE_VERSION:?set RELEASE_VERSION (vX.Y.Z)}"
version=${RELEASE_VERSION#v}
image="$REGISTRY/$REGISTRY_NAMESPACE/todo-chatbot-backend"

log "building and pushing $image:$version for linux/amd64 and linux/arm64"
docker buildx build \
  --file service/Dockerfile \
  --platform linux/amd64,linux/arm64 \
  --build-arg "BUILDER_IMAGE=$RUST_BUILDER_IMAGE" \
  --build-arg "CARGO_AUDITABLE_VERSION=$CARGO_AUDITABLE_VERSION" \
  --build-arg "VERSION=$version" \
  --build-arg "REVISION=$(git rev-parse HEAD)" \
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --sbom=true --provenance=mode=max \
  --tag "$image:$version" \
  --metadata-file target/release-image.json \
  --push .
digest=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["containerimage.digest"])' target/release-image.json)

log "signing $image@$digest"
cosign sign --yes "$image@$digest"

log "packaging and pushing the chart $version"
mkdir -p target/chart
helm package charts/todo-chatbot --version "$version" --app-version "$version" --destination target/chart
printf '%s' "${REGISTRY_PASSWORD:?}" | helm registry login "$REGISTRY" --username "${REGISTRY_USERNAME:?}" --password-stdin
helm push "target/chart/todo-chatbot-$version.tgz" "oci://$REGISTRY/$REGISTRY_NAMESPACE/charts"
log "released $image:$version ($digest) and oci://$REGISTRY/$REGISTRY_NAMESPACE/charts/todo-chatbot:$version"
