//! Chart tests: `helm template` output read back as Kubernetes types, one behaviour per test.
//! No cluster needed. The Helm binary is `$HELM` (ci/tools.sh's pinned Helm) or `helm` on PATH;
//! without either, the tests that need it are skipped by name (they fail with E2E_REQUIRE=1):
//! each starts with `skip_without_helm!()` (support.rs), and `without_helm.rs` proves it.

mod contract;
mod docs;
mod exposure;
mod fake_api;
mod frontend;
mod gitops;
mod golden;
mod helpers;
mod hooks;
mod kind;
mod layout;
mod monitoring;
mod names;
mod network;
mod postgres;
mod production;
mod scaling;
mod schema;
mod secrets;
mod support;
mod upgrade;
mod without_helm;
