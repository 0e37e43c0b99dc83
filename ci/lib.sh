# Shared by the ci/ scripts: repository root, messages, pinned versions, installed tools.
# shellcheck shell=bash

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_ROOT
TOOLS_DIR="$REPO_ROOT/.tools"

# shellcheck source=ci/versions.env
source "$REPO_ROOT/ci/versions.env"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Puts the tools ci/tools.sh installed first on PATH and points HELM at the pinned Helm
# unless a helm was already on PATH.
use_tools() {
  [ -f "$TOOLS_DIR/env" ] || die "tools are not installed: run ci/tools.sh (or make tools) first"
  # shellcheck source=/dev/null
  source "$TOOLS_DIR/env"
}

# The short commit; with uncommitted changes, plus a hash of them, so every change of the
# sources gets a new image tag (and a re-run of kind-up rolls the pods).
source_revision() {
  local rev changes
  rev=$(git -C "$REPO_ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  changes=$(cd "$REPO_ROOT" && { git diff HEAD 2>/dev/null; git ls-files --others --exclude-standard -z 2>/dev/null | xargs -0 -r cat; })
  if [ -n "$changes" ]; then
    rev="$rev-dirty-$(printf '%s' "$changes" | sha256sum | cut -c1-8)"
  fi
  printf '%s\n' "$rev"
}

# The commit time of HEAD in seconds since 1970 (SOURCE_DATE_EPOCH if set: the
# reproducible-builds.org convention), so that building the same tree again gives an image with
# the same timestamps, hence the same image ID. Without git, the current time.
source_epoch() {
  if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    printf '%s\n' "$SOURCE_DATE_EPOCH"
  elif ! git -C "$REPO_ROOT" log -1 --format=%ct HEAD 2>/dev/null; then
    date +%s
  fi
}

# Seconds since 1970 as an RFC 3339 time in UTC (the OCI label's format), with GNU or BSD date.
utc_time() {
  date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%SZ
}
