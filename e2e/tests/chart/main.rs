//! Chart tests: `helm template` output read back as Kubernetes types, one behaviour per test.
//! No cluster needed. The Helm binary is `$HELM` (ci/tools.sh's pinned Helm) or `helm`.

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
