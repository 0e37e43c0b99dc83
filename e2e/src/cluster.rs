//! The live cluster, through the Kubernetes API: waiting for rollouts and endpoints by watching
//! conditions, never by sleeping a fixed time.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ListParams, LogParams, Patch, PatchParams};
use kube::runtime::wait::await_condition;
use kube::{Api, Client};

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

pub struct Cluster {
    client: Client,
    namespace: String,
}

impl Cluster {
    /// Connects with the current kubeconfig and checks the API server answers.
    pub async fn connect(namespace: &str) -> Result<Cluster> {
        let client = Client::try_default()
            .await
            .context("no kubeconfig or cluster (run `make kind-up` first)")?;
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

    pub async fn pods(&self, selector: &str) -> Result<Vec<Pod>> {
        Ok(self
            .api::<Pod>()
            .list(&ListParams::default().labels(selector))
            .await?
            .items)
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

    /// Runs `command` in `pod` through kubectl (the image has no shell; the command must be a
    /// binary in it).
    pub fn exec(&self, pod: &str, command: &[&str]) -> Result<String> {
        let kubectl = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let output = std::process::Command::new(kubectl)
            .args(["exec", pod, "-n", &self.namespace, "-c", "backend", "--"])
            .args(command)
            .output()?;
        if !output.status.success() {
            bail!(
                "kubectl exec {pod}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentStatus;
    use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions};
    use kube::api::ObjectMeta;

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
