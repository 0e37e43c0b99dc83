# The front door. Every target calls a script in ci/, so a local run and CI run the same thing.
# `make help` lists the targets.

SHELL := bash
.DEFAULT_GOAL := help

.PHONY: help tools build dev test test-charts test-monitoring image scan lint fmt openapi kind-up token kind-down test-e2e kind-debug bench soak release clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

tools: ## Install pinned test tools into .tools/ (helm 3 and 4, kubectl, checkov, kubernetes-validate; Debian packages if missing); `source .tools/env` puts them on your PATH
	@bash ci/tools.sh

build: ## Build the workspace (debug)
	cargo build --workspace --locked

dev: ## Run the backend on localhost:8000 against a throwaway PostgreSQL, CORS for http://localhost:3000, BETTER_AUTH_URL passed through; prints a dev token; Ctrl-C stops all (no cluster needed)
	@bash ci/dev.sh

test: ## Run every test that needs no cluster: Rust tests, chart tests (Helm 3 and 4), chart lint and scans, monitoring checks, image build and container test
	@bash ci/test.sh

test-charts: ## Chart tests, lint, schema validation and security scan only
	@bash ci/test.sh charts

test-monitoring: ## Prometheus config, alert rules and dashboard checks only
	@bash ci/test.sh monitoring

image: ## Build the backend image (public base images if reachable, otherwise local ones made with mmdebstrap)
	@bash ci/image.sh

scan: ## Scan the image (fixable HIGH/CRITICAL vulnerabilities fail) and the rendered chart (misconfigurations) with trivy; needs the network; reports in target/scan/
	@bash ci/scan.sh

lint: ## rustfmt, clippy (warnings are errors), import cycles, chart lint and scans, workflow schema check, cargo deny (built into .tools/ on the first run)
	@bash ci/lint.sh

fmt: ## Format the Rust code
	cargo fmt --all

openapi: ## Regenerate service/openapi.json from the code (a test fails while it is stale)
	cargo run --quiet --locked -p backend -- openapi > service/openapi.json

kind-up: ## Create the Kind cluster if needed, build and load the image, install or upgrade the chart with its defaults (namespace default, or KIND_NAMESPACE), wait, print the URLs
	@bash ci/kind-up.sh

token: ## Print a JWT the Kind release accepts, for user SUB (default dev-user), valid TTL (default 1h), minted inside a backend pod
	@bash ci/token.sh

kind-down: ## Delete the Kind cluster
	@bash ci/kind-down.sh

test-e2e: ## Prove the deployment contract on the Kind cluster (scales and restarts things, then restores them; E2E_CONTEXT names another cluster); writes target/e2e/conformance.md (and a failure bundle)
	@bash ci/e2e.sh

kind-debug: ## Collect what debugging the Kind cluster needs (release, pods and their logs, kube-system, kind export logs) into target/e2e/debug/
	@bash ci/kind-debug.sh

bench: ## Load benchmark on this machine (about 5 minutes after the builds): rewrites the tracked bench/results.json and the table in bench/README.md
	@bash ci/bench.sh bench

soak: ## Ten-minute soak at half the measured peak rate: RSS growth and errors; rewrites bench/soak.json and its table (not part of CI)
	@bash ci/bench.sh soak

release: ## Multi-arch image with SBOM and signature, chart pushed as OCI (CI on tags; needs REGISTRY, REGISTRY_NAMESPACE, RELEASE_VERSION, REGISTRY_USERNAME, REGISTRY_PASSWORD)
	@bash ci/release.sh

clean: ## Remove build outputs and .tools/ (the pinned tools, cargo-deny included)
	cargo clean
	rm -rf .tools
