#!/usr/bin/env bash
# `make dev`: the backend on localhost:8000 (PORT) against a throwaway PostgreSQL from the local
# server binaries, with CORS for the Next.js dev server (http://localhost:3000) and
# BETTER_AUTH_URL passed through from the environment; prints a dev token. No cluster needed.
# Ctrl-C stops the backend and the database and removes its data (testkit/src/bin/backend-dev.rs).
set -euo pipefail
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
  die "no PostgreSQL server binaries: run 'make tools' (Debian package postgresql-$POSTGRES_MAJOR)"
log "building the backend and the dev runner"
cargo build --locked --quiet -p backend -p testkit --bins
target=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
exec "$target/debug/backend-dev" "$target/debug/backend"
