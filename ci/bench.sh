#!/usr/bin/env bash
# make bench / make soak: release build, the image (for its size and idle memory), then the
# benchmark or the soak run (bench/src/main.rs). Needs wrk and the PostgreSQL 15 server binaries
# (ci/tools.sh installs them).
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
bash ci/tools.sh
use_tools
cargo build --locked --release -p backend -p bench
if [ "${1:-bench}" = bench ]; then
  bash ci/image.sh >/dev/null || log "image build failed: image size and container memory will not be measured"
fi
exec target/release/bench "${1:-bench}"
