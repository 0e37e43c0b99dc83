#!/usr/bin/env bash
# make release (CI on tags): the multi-arch image with SBOM and provenance, signed with cosign
# (keyless, through the CI's OIDC identity), a CycloneDX SBOM per platform made by trivy from the
# binary's dependency list (cargo auditable) and attested with cosign, and the chart pushed as an
# OCI artifact. The SBOMs stay in target/sbom/ for the workflow to attach to the GitHub release.
# Needs: docker buildx with QEMU for arm64, cosign, helm, trivy, jq, git, and the variables below.
# Cannot run without a registry and credentials (it does not run in `make test`). All of them are
# checked before anything is built or pushed, and every one missing is named at once.
#   REGISTRY            registry host
#   REGISTRY_NAMESPACE  path under it (the GitHub owner)
#   RELEASE_VERSION     the tag, vX.Y.Z (a pre-release suffix such as -rc.1 allowed)
#   REGISTRY_USERNAME / REGISTRY_PASSWORD  for `helm registry login`
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

problems=()
need_variable() { [ -n "${!1:-}" ] || problems+=("$1 is not set: $2"); }
need_variable REGISTRY "the image registry host"
need_variable REGISTRY_NAMESPACE "the path under it (the GitHub owner)"
need_variable RELEASE_VERSION "the tag, vX.Y.Z"
need_variable REGISTRY_USERNAME "the registry user, for helm registry login"
need_variable REGISTRY_PASSWORD "the registry password or token, for helm registry login"
if [ -n "${RELEASE_VERSION:-}" ] && ! [[ $RELEASE_VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  problems+=("RELEASE_VERSION=$RELEASE_VERSION is not a tag vX.Y.Z (the chart's version is X.Y.Z)")
fi
for tool in docker cosign helm trivy jq git; do
  command -v "$tool" >/dev/null || problems+=("$tool is not installed")
done
if command -v docker >/dev/null && ! docker buildx version >/dev/null 2>&1; then
  problems+=("docker buildx is not installed (multi-platform builds need it, with QEMU for arm64)")
fi
if [ ${#problems[@]} -gt 0 ]; then
  printf 'error: make release cannot start:\n' >&2
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
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

# Each platform's image gets the SBOM of what is in it: trivy reads the crates from the binary's
# dependency list (the same data scanners read), so a list that went missing fails the release.
rm -rf target/sbom
mkdir -p target/sbom
docker buildx imagetools inspect --raw "$image@$digest" >target/release-index.json
for arch in amd64 arm64; do
  platform_digest=$(jq -r --arg arch "$arch" \
    '.manifests[] | select(.platform.os == "linux" and .platform.architecture == $arch) | .digest' \
    target/release-index.json)
  [ -n "$platform_digest" ] || die "no linux/$arch image in $image@$digest"
  sbom="target/sbom/todo-chatbot-backend-$version-linux-$arch.cdx.json"
  log "SBOM of $image@$platform_digest (linux/$arch) -> $sbom"
  trivy image --quiet --image-src remote --format cyclonedx --output "$sbom" "$image@$platform_digest"
  crates=$(jq '[.components[]? | select((.purl // "") | startswith("pkg:cargo/"))] | length' "$sbom")
  [ "$crates" -gt 0 ] || die "the SBOM of linux/$arch names no Rust crate: the binary carries no dependency list"
  log "attesting the SBOM ($crates crates) on $image@$platform_digest"
  cosign attest --yes --type cyclonedx --predicate "$sbom" "$image@$platform_digest"
done

log "packaging and pushing the chart $version"
mkdir -p target/chart
helm package charts/todo-chatbot --version "$version" --app-version "$version" --destination target/chart
printf '%s' "$REGISTRY_PASSWORD" | helm registry login "$REGISTRY" --username "$REGISTRY_USERNAME" --password-stdin
helm push "target/chart/todo-chatbot-$version.tgz" "oci://$REGISTRY/$REGISTRY_NAMESPACE/charts"
log "released $image:$version ($digest) and oci://$REGISTRY/$REGISTRY_NAMESPACE/charts/todo-chatbot:$version"
