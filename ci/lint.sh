#!/usr/bin/env bash
# What `make lint` runs, and the lint job of CI: formatting, clippy with warnings as errors,
# shell scripts, the charts (lint, schema validation, security scan), the workflow files against
# GitHub's schema, and cargo deny. Offline except the RustSec advisory check, which runs only
# with LINT_ONLINE=1 (CI sets it) because it downloads the advisory database.
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

bash ci/tools.sh
use_tools

log "rustfmt"
cargo fmt --all --check
log "clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings
log "no import cycles between the files of any crate"
cargo test --locked --quiet -p e2e --test imports
log "shellcheck"
shellcheck --external-sources ci/*.sh ci/images/*.sh .ci/run
log "charts"
bash ci/lint-charts.sh
log "workflows against GitHub's workflow schema"
check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml

# The pinned cargo-deny lives in .tools/ like the other tools (make clean removes it), not in
# ~/.cargo/bin, and runs from there: `cargo deny` would prefer one in ~/.cargo/bin.
cargo_deny="$TOOLS_DIR/bin/cargo-deny"
if [ "$("$cargo_deny" --version 2>/dev/null | awk '{print $2}')" != "$CARGO_DENY_VERSION" ]; then
  log "installing cargo-deny $CARGO_DENY_VERSION into .tools/bin (built from source on the first run: minutes)"
  cargo install --locked --quiet --root "$TOOLS_DIR" --version "$CARGO_DENY_VERSION" cargo-deny
fi
log "cargo deny: licenses, bans, sources"
"$cargo_deny" --locked check licenses bans sources
if [ "${LINT_ONLINE:-0}" = 1 ]; then
  log "cargo deny: advisories"
  "$cargo_deny" --locked check advisories
else
  log "skipped cargo deny advisories: needs the network (set LINT_ONLINE=1)"
fi
log "skipped trivy's image vulnerability and chart misconfiguration scans: they need the network; make scan runs them (CI's scan job does)"
log "lint passed"
