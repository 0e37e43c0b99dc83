//! The live cluster, through the Kubernetes API: waiting for rollouts and endpoints by watching
//! conditions, never by sleeping a fixed time.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, Pod, PodSecurityContext, PodSpec, ResourceRequirements,
    SeccompProfile, Secret, SecurityContext,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ListParams, LogParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Config};

use crate::names::Names;

/// True when a Deployment has finished rolling out to `replicas`: the controller has seen the
/// latest spec and every replica is updated, ready and available, with no old ones left.
pub fn is_rolled_out(deployment: &Deployment, replicas: i32) -> bool {
    let generation = deployment.metadata.generation.unwrap_or(0);
    let Some(status) = &deployment.status else {
        return false;
    };
    status.observed_generation.unwrap_or(0) >= generation
        && status.replicas.unwrap_or(0) == replicas
        && status.updated_replicas.unwrap_or(0) == replicas
        && status.ready_replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
        && status.unavailable_replicas.unwrap_or(0) == 0
}

/// True when a StatefulSet has `replicas` ready pods of its current revision (0 = all gone).
pub fn is_statefulset_at(statefulset: &StatefulSet, replicas: i32) -> bool {
    let generation = statefulset.metadata.generation.unwrap_or(0);
    let Some(status) = &statefulset.status else {
        return false;
    };
    status.observed_generation.unwrap_or(0) >= generation
        && status.replicas == replicas
        && status.ready_replicas.unwrap_or(0) == replicas
}

/// Ready endpoint addresses across a Service's EndpointSlices.
pub fn ready_addresses(slices: &[EndpointSlice]) -> usize {
    slices
        .iter()
        .flat_map(|slice| slice.endpoints.iter())
        .filter(|endpoint| {
            endpoint
                .conditions
                .as_ref()
                .and_then(|conditions| conditions.ready)
                .unwrap_or(false)
        })
        .map(|endpoint| endpoint.addresses.len())
        .sum()
}

/// True for a pod being deleted: `metadata.deletionTimestamp` is set (kubectl shows it as
/// Terminating). It still runs its preStop hook and drains, but it is no longer one of the
/// Deployment's replicas and must not be counted as one.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The pods that are not being deleted.
pub fn live(pods: Vec<Pod>) -> Vec<Pod> {
    pods.into_iter()
        .filter(|pod| !is_terminating(pod))
        .collect()
}

fn pod_name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// The digest a container status's `imageID` names. containerd's CRI reports the image's repo
/// digest when it has one (`<name>@sha256:...`; internal/cri/server/container_status.go) and
/// `kind load` imports with `ctr images import --digests`, which makes one named after the
/// import; the name part may differ from node to node, the digest does not.
pub fn image_digest(image_id: &str) -> &str {
    image_id
        .rsplit_once('@')
        .map_or(image_id, |(_, digest)| digest)
}

/// Per pod: the image reference and the digest of its `backend` container.
pub fn backend_images(pods: &[Pod]) -> BTreeMap<String, (String, String)> {
    pods.iter()
        .filter_map(|pod| {
            let spec_image = pod
                .spec
                .as_ref()?
                .containers
                .iter()
                .find(|container| container.name == "backend")?
                .image
                .clone()
                .unwrap_or_default();
            let digest = pod
                .status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .iter()
                .find(|status| status.name == "backend")
                .map(|status| image_digest(&status.image_id).to_owned())
                .unwrap_or_default();
            Some((pod_name(pod), (spec_image, digest)))
        })
        .collect()
}

/// What a rolling restart leaves to watch: the pods that were there before it. The restart is
/// over only when every one of them is gone, not merely marked for deletion, and traffic has
/// kept flowing for a while after the last one went, so its preStop pause, SIGTERM and drain
/// all happen under traffic.
#[derive(Debug)]
pub struct Replacement {
    old: BTreeMap<String, String>,
    tail_requests: usize,
    last_old_gone_at: Option<usize>,
}

/// Where a watched restart stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// Still waiting, and for what.
    Waiting(String),
    /// The new pods are rolled out, the old ones gone, and the tail of requests sent.
    Done,
}

impl Replacement {
    /// `old_pods` are the pods before the restart; `tail_requests` how many more requests must
    /// be sent once the last of them is gone.
    pub fn of(old_pods: &[Pod], tail_requests: usize) -> Replacement {
        Replacement {
            old: old_pods
                .iter()
                .map(|pod| (pod.metadata.uid.clone().unwrap_or_default(), pod_name(pod)))
                .collect(),
            tail_requests,
            last_old_gone_at: None,
        }
    }

    /// Names of the old pods still present, terminating ones included.
    pub fn remaining(&self, pods: &[Pod]) -> Vec<String> {
        pods.iter()
            .filter_map(|pod| {
                let uid = pod.metadata.uid.as_deref().unwrap_or_default();
                self.old.get(uid).cloned()
            })
            .collect()
    }

    /// One observation: whether the Deployment is rolled out, every pod of its selector
    /// (terminating ones included), and how many requests have been sent so far.
    pub fn observe(&mut self, rolled_out: bool, pods: &[Pod], sent: usize) -> Progress {
        let remaining = self.remaining(pods);
        if !rolled_out || !remaining.is_empty() {
            self.last_old_gone_at = None;
            return Progress::Waiting(if rolled_out {
                format!("old pods still present: {}", remaining.join(", "))
            } else {
                "the new pods to be rolled out".to_owned()
            });
        }
        let gone_at = *self.last_old_gone_at.get_or_insert(sent);
        let since = sent.saturating_sub(gone_at);
        if since < self.tail_requests {
            return Progress::Waiting(format!(
                "{} more requests after the last old pod went ({since} of {} sent)",
                self.tail_requests - since,
                self.tail_requests
            ));
        }
        Progress::Done
    }
}

/// Labels of the in-cluster probe pod: the release's, with a component no Service, NetworkPolicy
/// or PodDisruptionBudget of the charts selects.
pub fn probe_labels(names: &Names) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/instance".to_owned(),
            names.release.clone(),
        ),
        (
            "app.kubernetes.io/component".to_owned(),
            "conformance-probe".to_owned(),
        ),
        (
            "app.kubernetes.io/part-of".to_owned(),
            "todo-chatbot".to_owned(),
        ),
    ])
}

/// A run-once pod that resolves and calls `url` from inside the cluster with the backend
/// image's own `healthcheck` (the image has no shell or curl), under the restricted Pod
/// Security Standard like the chart's pods. `image` and `pull_policy` are the Deployment's, so
/// the node already has the image.
pub fn probe_pod(names: &Names, image: &str, pull_policy: Option<String>, url: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-conformance-probe-", names.release)),
            labels: Some(probe_labels(names)),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".to_owned()),
            active_deadline_seconds: Some(60),
            automount_service_account_token: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(1001),
                run_as_group: Some(1001),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    ..SeccompProfile::default()
                }),
                ..PodSecurityContext::default()
            }),
            containers: vec![Container {
                name: "probe".to_owned(),
                image: Some(image.to_owned()),
                image_pull_policy: pull_policy,
                command: Some(vec![
                    "/usr/local/bin/backend".to_owned(),
                    "healthcheck".to_owned(),
                    url.to_owned(),
                ]),
                resources: Some(ResourceRequirements {
                    limits: Some(BTreeMap::from([
                        ("cpu".to_owned(), Quantity("100m".to_owned())),
                        ("memory".to_owned(), Quantity("64Mi".to_owned())),
                    ])),
                    requests: Some(BTreeMap::from([
                        ("cpu".to_owned(), Quantity("10m".to_owned())),
                        ("memory".to_owned(), Quantity("16Mi".to_owned())),
                    ])),
                    ..ResourceRequirements::default()
                }),
                security_context: Some(SecurityContext {
                    allow_privilege_escalation: Some(false),
                    read_only_root_filesystem: Some(true),
                    run_as_non_root: Some(true),
                    capabilities: Some(Capabilities {
                        drop: Some(vec!["ALL".to_owned()]),
                        ..Capabilities::default()
                    }),
                    ..SecurityContext::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        ..Pod::default()
    }
}

/// True once a run-once pod has finished, either way.
pub fn has_finished(pod: Option<&Pod>) -> bool {
    let phase = pod
        .and_then(|pod| pod.status.as_ref())
        .and_then(|status| status.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed")) || pod.is_none()
}

pub struct Cluster {
    client: Client,
    namespace: String,
}

impl Cluster {
    /// Connects with the one context of `kubeconfig` and checks the API server answers.
    pub async fn connect(kubeconfig: &Path, namespace: &str) -> Result<Cluster> {
        let kubeconfig = Kubeconfig::read_from(kubeconfig)
            .with_context(|| format!("reading {}", kubeconfig.display()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .context("the kubeconfig")?;
        let client = Client::try_from(config).context("an API client")?;
        tokio::time::timeout(Duration::from_secs(10), client.apiserver_version())
            .await
            .map_err(|_| {
                anyhow!("the API server did not answer within 10 s (run `make kind-up` first)")
            })?
            .context("the API server refused the version request")?;
        Ok(Cluster {
            client,
            namespace: namespace.to_owned(),
        })
    }

    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// An object of this namespace by name.
    pub async fn get<K>(&self, name: &str) -> Result<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
    {
        self.api::<K>()
            .get(name)
            .await
            .with_context(|| format!("{} {name}", K::kind(&())))
    }

    pub async fn deployment(&self, name: &str) -> Result<Deployment> {
        self.api::<Deployment>()
            .get(name)
            .await
            .with_context(|| format!("Deployment {name}"))
    }

    /// Waits (watching, not polling) until `name` has rolled out to `replicas`, then until its
    /// Service has exactly that many ready endpoints.
    pub async fn wait_for_rollout(
        &self,
        name: &str,
        replicas: i32,
        timeout: Duration,
    ) -> Result<Deployment> {
        let condition = move |deployment: Option<&Deployment>| {
            deployment.is_some_and(|d| is_rolled_out(d, replicas))
        };
        let deployment =
            tokio::time::timeout(timeout, await_condition(self.api(), name, condition))
                .await
                .map_err(|_| {
                    anyhow!("Deployment {name} not rolled out to {replicas} within {timeout:?}")
                })??
                .ok_or_else(|| anyhow!("Deployment {name} was deleted"))?;
        self.wait_for_ready_endpoints(name, replicas as usize, timeout)
            .await?;
        Ok(deployment)
    }

    pub async fn wait_for_statefulset(
        &self,
        name: &str,
        replicas: i32,
        timeout: Duration,
    ) -> Result<()> {
        let condition =
            move |set: Option<&StatefulSet>| set.is_some_and(|s| is_statefulset_at(s, replicas));
        tokio::time::timeout(timeout, await_condition(self.api(), name, condition))
            .await
            .map_err(|_| {
                anyhow!("StatefulSet {name} not at {replicas} ready within {timeout:?}")
            })??;
        Ok(())
    }

    pub async fn ready_endpoints(&self, service: &str) -> Result<usize> {
        let slices = self
            .api::<EndpointSlice>()
            .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
            .await?;
        Ok(ready_addresses(&slices.items))
    }

    pub async fn wait_for_ready_endpoints(
        &self,
        service: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<()> {
        testkit::wait::until(
            &format!("Service {service} to have {count} ready endpoints"),
            timeout,
            Duration::from_millis(500),
            || async move { (self.ready_endpoints(service).await.ok()? == count).then_some(()) },
        )
        .await
    }

    /// Every pod of `selector`, those being deleted included.
    pub async fn all_pods(&self, selector: &str) -> Result<Vec<Pod>> {
        Ok(self
            .api::<Pod>()
            .list(&ListParams::default().labels(selector))
            .await?
            .items)
    }

    /// The pods of `selector` that are not being deleted.
    pub async fn live_pods(&self, selector: &str) -> Result<Vec<Pod>> {
        Ok(live(self.all_pods(selector).await?))
    }

    /// Polls until no pod of `selector` is being deleted (old pods of a rollout in their preStop
    /// pause and drain), so what follows sees the Deployment's pods only.
    pub async fn wait_until_none_terminating(
        &self,
        selector: &str,
        timeout: Duration,
    ) -> Result<()> {
        testkit::wait::until(
            &format!("no terminating pods of {selector}"),
            timeout,
            Duration::from_millis(500),
            || async move {
                let pods = self.all_pods(selector).await.ok()?;
                (!pods.iter().any(is_terminating)).then_some(())
            },
        )
        .await
    }

    pub async fn logs(&self, pod: &str) -> Result<String> {
        Ok(self.api::<Pod>().logs(pod, &LogParams::default()).await?)
    }

    /// A key of a Secret, decoded.
    pub async fn secret_value(&self, name: &str, key: &str) -> Result<String> {
        let secret = self
            .api::<Secret>()
            .get(name)
            .await
            .with_context(|| format!("Secret {name}"))?;
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(key))
            .ok_or_else(|| anyhow!("Secret {name} has no key {key}"))?;
        Ok(String::from_utf8(bytes.0.clone())?)
    }

    pub async fn scale_statefulset(&self, name: &str, replicas: i32) -> Result<()> {
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        self.api::<StatefulSet>()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// What `kubectl rollout restart` does: a new pod-template annotation.
    pub async fn restart_deployment(&self, name: &str) -> Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs()
            .to_string();
        let patch = serde_json::json!({
            "spec": { "template": { "metadata": { "annotations": {
                "kubectl.kubernetes.io/restartedAt": now
            }}}}
        });
        self.api::<Deployment>()
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Current `spec.replicas` of a StatefulSet.
    pub async fn statefulset_replicas(&self, name: &str) -> Result<i32> {
        let set = self
            .api::<StatefulSet>()
            .get(name)
            .await
            .with_context(|| format!("StatefulSet {name}"))?;
        Ok(set.spec.and_then(|spec| spec.replicas).unwrap_or(1))
    }

    /// Creates a pod (its name generated) and returns its name.
    pub async fn create_pod(&self, pod: &Pod) -> Result<String> {
        let created = self
            .api::<Pod>()
            .create(&PostParams::default(), pod)
            .await
            .context("creating the probe pod")?;
        created.metadata.name.context("the created pod has no name")
    }

    /// Waits (watching) until a run-once pod has succeeded or failed; returns its phase.
    pub async fn wait_for_pod_finished(&self, name: &str, timeout: Duration) -> Result<String> {
        let pod = tokio::time::timeout(timeout, await_condition(self.api(), name, has_finished))
            .await
            .map_err(|_| anyhow!("pod {name} did not finish within {timeout:?}"))??
            .with_context(|| format!("pod {name} was deleted before it finished"))?;
        Ok(pod
            .status
            .and_then(|status| status.phase)
            .unwrap_or_default())
    }

    /// Deletes a pod and waits (watching) until it is gone.
    pub async fn delete_pod(&self, name: &str, timeout: Duration) -> Result<()> {
        let api = self.api::<Pod>();
        let Some(pod) = api.get_opt(name).await? else {
            return Ok(());
        };
        let uid = pod.metadata.uid.unwrap_or_default();
        api.delete(name, &DeleteParams::default()).await?;
        tokio::time::timeout(
            timeout,
            await_condition(api, name, conditions::is_deleted(&uid)),
        )
        .await
        .map_err(|_| anyhow!("pod {name} not gone within {timeout:?}"))??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentStatus;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    /// A pod of a fake list: name, uid, and whether it is being deleted.
    fn pod(name: &str, uid: &str, terminating: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                uid: Some(uid.to_owned()),
                deletion_timestamp: terminating.then(|| Time(Default::default())),
                ..ObjectMeta::default()
            },
            ..Pod::default()
        }
    }

    #[test]
    fn terminating_pods_are_not_live() {
        let pods = vec![
            pod("new-a", "1", false),
            pod("new-b", "2", false),
            pod("old-a", "3", true),
            pod("old-b", "4", true),
        ];
        assert!(is_terminating(&pods[2]));
        let names: Vec<String> = live(pods).iter().map(pod_name).collect();
        assert_eq!(names, ["new-a", "new-b"]);
    }

    #[test]
    fn a_restart_waits_for_the_rollout_then_for_every_old_pod_to_be_gone() {
        let old = [pod("old-a", "1", false), pod("old-b", "2", false)];
        let mut replacement = Replacement::of(&old, 100);
        let surging = [
            pod("old-a", "1", false),
            pod("old-b", "2", false),
            pod("new-a", "3", false),
        ];
        assert_eq!(
            replacement.observe(false, &surging, 10),
            Progress::Waiting("the new pods to be rolled out".into())
        );
        // Rolled out, but the last old pod is still in its preStop pause: kubectl rollout status
        // would have returned here.
        let draining = [
            pod("new-a", "3", false),
            pod("new-b", "4", false),
            pod("old-b", "2", true),
        ];
        assert_eq!(
            replacement.observe(true, &draining, 400),
            Progress::Waiting("old pods still present: old-b".into())
        );
        let after = [pod("new-a", "3", false), pod("new-b", "4", false)];
        assert!(matches!(
            replacement.observe(true, &after, 500),
            Progress::Waiting(_)
        ));
        assert_eq!(
            replacement.observe(true, &after, 599),
            Progress::Waiting(
                "1 more requests after the last old pod went (99 of 100 sent)".into()
            )
        );
        assert_eq!(replacement.observe(true, &after, 600), Progress::Done);
    }

    #[test]
    fn the_tail_starts_again_if_an_old_pod_reappears_in_the_list() {
        let old = [pod("old-a", "1", false)];
        let mut replacement = Replacement::of(&old, 10);
        let after = [pod("new-a", "2", false)];
        assert!(matches!(
            replacement.observe(true, &after, 5),
            Progress::Waiting(_)
        ));
        // A stale list still holding the old pod: the count starts over from the next sighting.
        assert!(matches!(
            replacement.observe(true, &old, 12),
            Progress::Waiting(_)
        ));
        assert!(matches!(
            replacement.observe(true, &after, 20),
            Progress::Waiting(_)
        ));
        assert_eq!(replacement.observe(true, &after, 30), Progress::Done);
    }

    #[test]
    fn image_digests_ignore_the_per_node_import_name() {
        assert_eq!(
            image_digest("registry.example/library/import-2025-01-01@sha256:abc"),
            "sha256:abc"
        );
        assert_eq!(image_digest("sha256:abc"), "sha256:abc");
        let with_image = |name: &str, image_id: &str| Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "backend".into(),
                    image: Some("todo-chatbot-backend:latest".into()),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                container_statuses: Some(vec![ContainerStatus {
                    name: "backend".into(),
                    image_id: image_id.into(),
                    ..ContainerStatus::default()
                }]),
                ..PodStatus::default()
            }),
            ..pod(name, name, false)
        };
        let images = backend_images(&[
            with_image("a", "registry.example/library/import-2025-01-01@sha256:abc"),
            with_image("b", "registry.example/library/import-2025-02-02@sha256:abc"),
        ]);
        assert_eq!(images["a"], images["b"]);
        assert_eq!(
            images["a"],
            (
                "todo-chatbot-backend:latest".to_owned(),
                "sha256:abc".to_owned()
            )
        );
    }

    #[test]
    fn the_probe_pod_is_not_a_backend_pod_and_runs_restricted() {
        let names = Names::for_release("todo-chatbot");
        let url = "http://todo-chatbot-backend.default.svc.cluster.local:8000/api/health";
        let pod = probe_pod(
            &names,
            "todo-chatbot-backend:latest",
            Some("IfNotPresent".into()),
            url,
        );
        let labels = pod.metadata.labels.clone().unwrap();
        let selects_it = names.backend_pods().split(',').all(|pair| {
            let (key, value) = pair.split_once('=').unwrap();
            labels.get(key).map(String::as_str) == Some(value)
        });
        assert!(
            !selects_it,
            "the Service would send traffic to the probe: {labels:?}"
        );
        assert_eq!(labels["app.kubernetes.io/instance"], "todo-chatbot");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        let container = &spec.containers[0];
        assert_eq!(
            container.command.clone().unwrap(),
            ["/usr/local/bin/backend", "healthcheck", url]
        );
        assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
        let security = container.security_context.clone().unwrap();
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(security.capabilities.unwrap().drop.unwrap(), ["ALL"]);
        assert_eq!(spec.security_context.unwrap().run_as_non_root, Some(true));
    }

    #[test]
    fn a_probe_pod_has_finished_when_it_succeeded_failed_or_vanished() {
        let with_phase = |phase: &str| Pod {
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..PodStatus::default()
            }),
            ..Pod::default()
        };
        assert!(has_finished(Some(&with_phase("Succeeded"))));
        assert!(has_finished(Some(&with_phase("Failed"))));
        assert!(!has_finished(Some(&with_phase("Running"))));
        assert!(!has_finished(Some(&with_phase("Pending"))));
        assert!(has_finished(None));
    }

    fn deployment(generation: i64, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(generation),
                ..ObjectMeta::default()
            },
            status: Some(status),
            ..Deployment::default()
        }
    }

    fn status(
        observed: i64,
        replicas: i32,
        updated: i32,
        ready: i32,
        available: i32,
    ) -> DeploymentStatus {
        DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(replicas),
            updated_replicas: Some(updated),
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            ..DeploymentStatus::default()
        }
    }

    #[test]
    fn rollout_is_complete_only_when_every_count_agrees() {
        assert!(is_rolled_out(&deployment(3, status(3, 2, 2, 2, 2)), 2));
        assert!(
            !is_rolled_out(&deployment(4, status(3, 2, 2, 2, 2)), 2),
            "stale status"
        );
        assert!(
            !is_rolled_out(&deployment(3, status(3, 3, 2, 3, 3)), 2),
            "surge pod still there"
        );
        assert!(
            !is_rolled_out(&deployment(3, status(3, 2, 1, 2, 2)), 2),
            "old pod not replaced"
        );
        assert!(
            !is_rolled_out(&deployment(3, status(3, 2, 2, 1, 1)), 2),
            "not ready"
        );
        assert!(
            !is_rolled_out(&deployment(3, status(3, 4, 4, 4, 4)), 2),
            "wrong replica count"
        );
        assert!(!is_rolled_out(&Deployment::default(), 2), "no status yet");
    }

    fn endpoint(addresses: usize, ready: Option<bool>) -> Endpoint {
        Endpoint {
            addresses: (0..addresses).map(|n| format!("10.0.0.{n}")).collect(),
            conditions: Some(EndpointConditions {
                ready,
                ..EndpointConditions::default()
            }),
            ..Endpoint::default()
        }
    }

    #[test]
    fn only_ready_endpoints_count() {
        let slice = EndpointSlice {
            endpoints: vec![
                endpoint(1, Some(true)),
                endpoint(1, Some(false)),
                endpoint(1, None),
                endpoint(1, Some(true)),
            ],
            ..EndpointSlice::default()
        };
        assert_eq!(ready_addresses(&[slice.clone(), slice]), 4);
    }
}
