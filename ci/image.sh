#!/usr/bin/env bash
# Builds the backend image (and, for the container test, a PostgreSQL image) and writes their
# names to target/images.env.
#
# IMAGE_BASES chooses the base images:
#   public  the Dockerfile's defaults from a registry (rust:<version> builder; postgres:<tag>)
#   local   base images made here from Debian packages (mmdebstrap | docker import), for
#           machines that cannot reach an image registry
#   auto    (default) public if the registry answers, else local
# IMAGE (default todo-chatbot-backend) and TAG (default: the git revision) name the result.
#
# Building the same tree again gives the same image ID: the image's creation time is the commit's
# (SOURCE_DATE_EPOCH overrides it), not the clock's, so a re-run of make kind-up loads nothing new
# and restarts nothing. With BuildKit the image carries no provenance attestation: kind loads
# images with `docker save` and `ctr images import --all-platforms`, which fails on the
# attestation manifest that Docker's containerd image store leaves out of the archive
# (kind#3795, containerd#11344).
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

command -v docker >/dev/null || die "docker is not installed (https://docs.docker.com/engine/install/)"
docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running, and may this user use it?)"

image=${IMAGE:-todo-chatbot-backend}
tag=${TAG:-$(source_revision)}
bases=${IMAGE_BASES:-auto}
rust_version=$(sed -E 's/^rust:([0-9.]+).*/\1/' <<<"$RUST_BUILDER_IMAGE")

if [ "$bases" = auto ]; then
  if docker image inspect "$RUST_BUILDER_IMAGE" >/dev/null 2>&1 || docker pull --quiet "$RUST_BUILDER_IMAGE" >/dev/null 2>&1; then
    bases=public
  else
    bases=local
    log "no image registry reachable: building from local base images"
  fi
fi

# mmdebstrap takes the machine's own apt sources when it has deb822 ones (a local mirror keeps
# working); otherwise its default Debian mirror.
debian_sources=()
[ -f /etc/apt/sources.list.d/debian.sources ] && debian_sources=(/etc/apt/sources.list.d/debian.sources)

# Builder base: Debian with a C toolchain plus this machine's Rust toolchain (no rustup download)
# and this machine's CA bundle, so cargo inside the build trusts what the host trusts (a proxy
# that re-signs TLS, for instance).
local_builder() {
  local sysroot version name
  command -v mmdebstrap >/dev/null || die "mmdebstrap is needed to make local base images (run ci/tools.sh)"
  sysroot=$(rustc --print sysroot)
  version=$(rustc --version | awk '{print $2}')
  name="todo-chatbot-local/rust-builder:$version"
  if ! docker image inspect "$name" >/dev/null 2>&1; then
    log "making $name (Debian $DEBIAN_SUITE, gcc, Rust $version from $sysroot)"
    # shellcheck disable=SC2016 # "$1" in a hook is the chroot, expanded by mmdebstrap
    mmdebstrap --quiet --variant=minbase --include=gcc,libc6-dev,ca-certificates \
      --customize-hook='mkdir -p "$1/usr/local/rust"' \
      --customize-hook="copy-in $sysroot/bin $sysroot/lib /usr/local/rust" \
      --customize-hook="copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs" \
      "$DEBIAN_SUITE" - "${debian_sources[@]}" |
      docker import \
        --change 'ENV PATH=/usr/local/rust/bin:/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV CARGO_HOME=/usr/local/cargo' \
        - "$name" >/dev/null
  fi
  printf '%s\n' "$name"
}

# PostgreSQL for the container test: Debian's server with an entrypoint that honours the
# official image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB.
local_postgres() {
  local name="todo-chatbot-local/postgres:$POSTGRES_MAJOR-$DEBIAN_SUITE"
  if ! docker image inspect "$name" >/dev/null 2>&1; then
    log "making $name"
    # shellcheck disable=SC2016 # "$1" in a hook is the chroot, expanded by mmdebstrap
    mmdebstrap --quiet --variant=minbase --include="postgresql-$POSTGRES_MAJOR" \
      --customize-hook="copy-in $REPO_ROOT/ci/images/postgres-entrypoint.sh /usr/local/bin" \
      --customize-hook='chroot "$1" install -d -o postgres -g postgres /var/lib/postgresql/data' \
      "$DEBIAN_SUITE" - "${debian_sources[@]}" |
      docker import \
        --change 'USER postgres' \
        --change 'ENV PGDATA=/var/lib/postgresql/data' \
        --change 'EXPOSE 5432' \
        --change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]' \
        - "$name" >/dev/null
  fi
  printf '%s\n' "$name"
}

if [ "$bases" = local ]; then
  builder=$(local_builder)
  postgres=$(local_postgres)
else
  builder=$RUST_BUILDER_IMAGE
  postgres=$POSTGRES_IMAGE
fi
[ "${rust_version}" ] || die "cannot read the Rust version from RUST_BUILDER_IMAGE=$RUST_BUILDER_IMAGE"

created_epoch=$(source_epoch)
created=$(utc_time "$created_epoch")
# The legacy builder is used where BuildKit (buildx) is missing; the Dockerfile works with both.
# BuildKit also stamps the image config and its history with the time of the build unless
# SOURCE_DATE_EPOCH is given (BuildKit 0.11+); the legacy builder reuses its cached steps' IDs.
buildkit_flags=()
if docker buildx version >/dev/null 2>&1; then
  buildkit_flags=(--provenance=false --build-arg "SOURCE_DATE_EPOCH=$created_epoch")
else
  export DOCKER_BUILDKIT=0
fi

log "building $image:$tag with builder $builder ($bases base images), created $created"
docker build --quiet "${buildkit_flags[@]}" \
  --file "$REPO_ROOT/service/Dockerfile" \
  --build-arg "BUILDER_IMAGE=$builder" \
  --build-arg "CARGO_AUDITABLE_VERSION=$CARGO_AUDITABLE_VERSION" \
  --build-arg "VERSION=$(awk -F'"' '/^version/ {print $2; exit}' "$REPO_ROOT/service/Cargo.toml")" \
  --build-arg "REVISION=$tag" \
  --build-arg "CREATED=$created" \
  --tag "$image:$tag" \
  "$REPO_ROOT" >/dev/null

size=$(docker image inspect "$image:$tag" --format '{{.Size}}')
# MiB (2^20 bytes) with one decimal, as make bench records it and the README gives it.
log "built $image:$tag ($(awk -v bytes="$size" 'BEGIN { printf "%.1f", bytes / 1048576 }') MiB, $size bytes)"
mkdir -p "$REPO_ROOT/target"
cat > "$REPO_ROOT/target/images.env" <<ENV
BACKEND_IMAGE=$image:$tag
POSTGRES_TEST_IMAGE=$postgres
IMAGE_BASES=$bases
BACKEND_IMAGE_BYTES=$size
ENV
printf '%s:%s\n' "$image" "$tag"
