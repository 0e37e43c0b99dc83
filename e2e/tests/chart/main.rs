//! Chart tests: `helm template` output read back as Kubernetes types, one behaviour per test.
//! No cluster needed. The Helm binary is `$HELM` (ci/tools.sh's pinned Helm) or `helm`.

mod contract;
mod docs;
mod golden;
mod helpers;
mod kind;
mod layout;
mod names;
mod postgres;
mod production;
mod schema;
mod secrets;
mod support;
