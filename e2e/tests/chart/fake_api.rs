//! A small fake Kubernetes API for renders that ask the cluster (`helm template --dry-run=server`):
//! what a render cannot see on its own is what `lookup` finds, and `lookup` is what keeps the
//! chart's generated secrets. Served over plain HTTP on a local port, it answers only what Helm
//! 3.19 and 4.1 ask during such a render: the version, discovery (`/api`, `/apis` and one resource
//! list per group version) and GET and LIST of the objects it holds, in any namespace. Anything
//! else (a write, a path it does not know) is answered 404 or 405 and recorded, so a test can
//! assert Helm asked for nothing more.
//!
//! The objects it holds are those an install created: [`FakeApi::hold`] stores a render's objects
//! with the ownership metadata Helm stamps on what it creates (pkg/action/validate.go: the
//! release-name and release-namespace annotations and the managed-by label), so a second render
//! sees them as the release's own. [`FakeApi::keep`] stores what the cluster itself keeps, such
//! as the API server's `kubernetes` EndpointSlice ([`endpoint_slice`]), which the monitoring
//! chart's Prometheus NetworkPolicy reads with `lookup`.

use std::any::TypeId;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use e2e::manifests::Manifests;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, APIVersions, GroupVersionForDiscovery,
    ObjectMeta, ServerAddressByClientCIDR, Status,
};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde::Serialize;
use serde_json::{Value, json};

/// A kind the fake serves, as discovery describes it.
#[derive(Debug, Clone)]
struct Served {
    api_version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
}

fn served<K: k8s_openapi::Resource + 'static>() -> Served {
    Served {
        api_version: K::API_VERSION,
        kind: K::KIND,
        plural: K::URL_PATH_SEGMENT,
        namespaced: TypeId::of::<K::Scope>() == TypeId::of::<NamespaceResourceScope>(),
    }
}

/// The kinds the chart renders (with any values the tests use), Namespace, and EndpointSlice (which
/// the chart reads: the API server's addresses). A render holding another kind fails in
/// [`FakeApi::hold`], naming it.
fn kinds() -> Vec<Served> {
    vec![
        served::<Namespace>(),
        served::<Secret>(),
        served::<ConfigMap>(),
        served::<Service>(),
        served::<ServiceAccount>(),
        served::<PersistentVolumeClaim>(),
        served::<Pod>(),
        served::<Deployment>(),
        served::<StatefulSet>(),
        served::<Job>(),
        served::<NetworkPolicy>(),
        served::<Ingress>(),
        served::<Role>(),
        served::<RoleBinding>(),
        served::<PodDisruptionBudget>(),
        served::<HorizontalPodAutoscaler>(),
        served::<EndpointSlice>(),
    ]
}

/// The EndpointSlice the control plane keeps for Service `service` in namespace default, one
/// endpoint per address, one port named https. For `kubernetes` this is the API server's own,
/// as kube-apiserver writes it (pkg/controlplane/reconcilers/endpointsadapter.go: named after the
/// Service, labelled `kubernetes.io/service-name`, IPv4).
pub fn endpoint_slice(service: &str, addresses: &[&str], port: i32) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(service.to_owned()),
            namespace: Some("default".to_owned()),
            labels: Some(BTreeMap::from([(
                "kubernetes.io/service-name".to_owned(),
                service.to_owned(),
            )])),
            ..ObjectMeta::default()
        },
        address_type: "IPv4".to_owned(),
        endpoints: addresses
            .iter()
            .map(|address| Endpoint {
                addresses: vec![(*address).to_owned()],
                ..Endpoint::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("https".to_owned()),
            port: Some(port),
            protocol: Some("TCP".to_owned()),
            ..EndpointPort::default()
        }]),
    }
}

/// What the fake serves, holds and was asked.
#[derive(Default)]
struct State {
    /// The kinds discovery lists and the fake answers for.
    kinds: Vec<Served>,
    /// By (apiVersion, plural, namespace, name).
    objects: BTreeMap<(String, String, String, String), Value>,
    /// Requests it could not answer as a cluster would: `METHOD path`.
    unexpected: Vec<String>,
}

/// The running fake API and a kubeconfig that points at it.
pub struct FakeApi {
    state: Arc<Mutex<State>>,
    kubeconfig: PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl FakeApi {
    /// Starts serving every kind of [`kinds`] on a free local port, holding no objects.
    pub fn start() -> FakeApi {
        FakeApi::serving(kinds())
    }

    /// Like [`FakeApi::start`], for a cluster that does not serve `api_version` (such as
    /// `discovery.k8s.io/v1` before Kubernetes 1.21): discovery leaves it out and its paths are
    /// unknown.
    pub fn start_without(api_version: &str) -> FakeApi {
        FakeApi::serving(
            kinds()
                .into_iter()
                .filter(|served| served.api_version != api_version)
                .collect(),
        )
    }

    fn serving(kinds: Vec<Served>) -> FakeApi {
        let state = Arc::new(Mutex::new(State {
            kinds,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(serve(listener, shared, stopped));
        });
        let kubeconfig =
            std::env::temp_dir().join(format!("fake-api-{}-{port}.kubeconfig", std::process::id()));
        std::fs::write(&kubeconfig, kubeconfig_text(port)).unwrap();
        FakeApi {
            state,
            kubeconfig,
            _stop: stop,
        }
    }

    /// A kubeconfig whose one context is this fake, namespace `default`.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Holds every object of `manifests` as an install by `release` in `namespace` creates it.
    pub fn hold(&self, manifests: &Manifests, release: &str, namespace: &str) {
        let mut state = self.state.lock().unwrap();
        let kinds = state.kinds.clone();
        for object in manifests.objects() {
            let mut object = object.clone();
            let (api_version, kind) = (
                object["apiVersion"].as_str().unwrap_or_default().to_owned(),
                object["kind"].as_str().unwrap_or_default().to_owned(),
            );
            let served = kinds
                .iter()
                .find(|served| served.api_version == api_version && served.kind == kind)
                .unwrap_or_else(|| {
                    panic!("the fake API does not serve {api_version} {kind}: add it to kinds()")
                });
            let metadata = object["metadata"]
                .as_object_mut()
                .expect("every object has metadata");
            let object_namespace = metadata
                .entry("namespace")
                .or_insert_with(|| json!(namespace))
                .as_str()
                .unwrap_or(namespace)
                .to_owned();
            let name = metadata["name"].as_str().unwrap_or_default().to_owned();
            let annotations = metadata.entry("annotations").or_insert_with(|| json!({}));
            if annotations.is_null() {
                *annotations = json!({});
            }
            annotations["meta.helm.sh/release-name"] = json!(release);
            annotations["meta.helm.sh/release-namespace"] = json!(namespace);
            let labels = metadata.entry("labels").or_insert_with(|| json!({}));
            if labels.is_null() {
                *labels = json!({});
            }
            labels["app.kubernetes.io/managed-by"] = json!("Helm");
            state.objects.insert(
                (
                    api_version,
                    served.plural.to_owned(),
                    object_namespace,
                    name,
                ),
                object,
            );
        }
    }

    /// Holds `object` as the cluster itself keeps it, owned by no release (its namespace is the
    /// object's own).
    pub fn keep<K>(&self, object: &K)
    where
        K: k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta> + Serialize,
    {
        let mut state = self.state.lock().unwrap();
        assert!(
            state
                .kinds
                .iter()
                .any(|served| served.api_version == K::API_VERSION && served.kind == K::KIND),
            "the fake API does not serve {} {}",
            K::API_VERSION,
            K::KIND
        );
        let metadata = object.metadata();
        state.objects.insert(
            (
                K::API_VERSION.to_owned(),
                K::URL_PATH_SEGMENT.to_owned(),
                metadata.namespace.clone().unwrap_or_default(),
                metadata.name.clone().expect("a name"),
            ),
            serde_json::to_value(object).unwrap(),
        );
    }

    /// The requests the fake could not answer as a cluster would (writes, unknown paths).
    pub fn unexpected(&self) -> Vec<String> {
        self.state.lock().unwrap().unexpected.clone()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

fn kubeconfig_text(port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster:
      server: http://127.0.0.1:{port}
contexts:
  - name: fake
    context:
      cluster: fake
      namespace: default
      user: fake
current-context: fake
users:
  - name: fake
    user:
      token: fake
"
    )
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(answer(&state, &request)) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap()
}

fn status(code: StatusCode, reason: &str, message: String) -> Response<Full<Bytes>> {
    json_response(
        code,
        &Status {
            code: Some(i32::from(code.as_u16())),
            reason: Some(reason.to_owned()),
            status: Some("Failure".to_owned()),
            message: Some(message),
            ..Status::default()
        },
    )
}

/// One answer. Paths are the API's own: `/api/v1/...` for the core group, `/apis/<group>/<version>/...`
/// for the others, `.../namespaces/<ns>/<plural>[/<name>]` for namespaced objects.
fn answer(state: &Mutex<State>, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let asked = format!("{} {}", request.method(), request.uri());
    if request.method() != Method::GET {
        state.lock().unwrap().unexpected.push(asked.clone());
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("the fake API is read-only: {asked}"),
        );
    }
    let kinds = state.lock().unwrap().kinds.clone();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => json_response(StatusCode::OK, &version()),
        ["api"] => json_response(StatusCode::OK, &core_versions()),
        ["apis"] => json_response(StatusCode::OK, &groups(&kinds)),
        ["api", version, rest @ ..] => resources(state, &kinds, version, rest, &asked),
        ["apis", group, version, rest @ ..] => {
            resources(state, &kinds, &format!("{group}/{version}"), rest, &asked)
        }
        _ => {
            state.lock().unwrap().unexpected.push(asked.clone());
            status(StatusCode::NOT_FOUND, "NotFound", asked)
        }
    }
}

fn version() -> Info {
    Info {
        major: "1".into(),
        minor: "33".into(),
        git_version: "v1.33.0".into(),
        platform: "linux/amd64".into(),
        ..Info::default()
    }
}

fn core_versions() -> APIVersions {
    APIVersions {
        versions: vec!["v1".into()],
        server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
            client_cidr: "0.0.0.0/0".into(),
            server_address: "127.0.0.1".into(),
        }],
    }
}

fn groups(kinds: &[Served]) -> APIGroupList {
    let mut by_group: BTreeMap<&str, &str> = BTreeMap::new();
    for served in kinds {
        if let Some((group, version)) = served.api_version.split_once('/') {
            by_group.insert(group, version);
        }
    }
    APIGroupList {
        groups: by_group
            .into_iter()
            .map(|(group, version)| {
                let version = GroupVersionForDiscovery {
                    group_version: format!("{group}/{version}"),
                    version: version.to_owned(),
                };
                APIGroup {
                    name: group.to_owned(),
                    preferred_version: Some(version.clone()),
                    versions: vec![version],
                    ..APIGroup::default()
                }
            })
            .collect(),
    }
}

/// Under one group version: its resource list, or a LIST or GET of objects.
fn resources(
    state: &Mutex<State>,
    kinds: &[Served],
    api_version: &str,
    rest: &[&str],
    asked: &str,
) -> Response<Full<Bytes>> {
    let of_version: Vec<&Served> = kinds
        .iter()
        .filter(|served| served.api_version == api_version)
        .collect();
    let mut state = state.lock().unwrap();
    if of_version.is_empty() {
        state.unexpected.push(asked.to_owned());
        return status(StatusCode::NOT_FOUND, "NotFound", asked.to_owned());
    }
    let (namespace, plural, name) = match rest {
        [] => return json_response(StatusCode::OK, &resource_list(api_version, &of_version)),
        ["namespaces", namespace, plural] => (Some(*namespace), *plural, None),
        ["namespaces", namespace, plural, name] => (Some(*namespace), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => {
            state.unexpected.push(asked.to_owned());
            return status(StatusCode::NOT_FOUND, "NotFound", asked.to_owned());
        }
    };
    let Some(served) = of_version.iter().find(|served| served.plural == plural) else {
        state.unexpected.push(asked.to_owned());
        return status(StatusCode::NOT_FOUND, "NotFound", asked.to_owned());
    };
    let matches = |key: &(String, String, String, String)| {
        key.0 == api_version
            && key.1 == plural
            && namespace.is_none_or(|namespace| key.2 == namespace)
    };
    match name {
        Some(name) => match state
            .objects
            .iter()
            .find(|(key, _)| matches(key) && key.3 == name)
        {
            Some((_, object)) => json_response(StatusCode::OK, object),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{plural} \"{name}\" not found"),
            ),
        },
        None => {
            let items: Vec<&Value> = state
                .objects
                .iter()
                .filter(|(key, _)| matches(key))
                .map(|(_, object)| object)
                .collect();
            json_response(
                StatusCode::OK,
                &json!({
                    "apiVersion": api_version,
                    "kind": format!("{}List", served.kind),
                    "metadata": {"resourceVersion": "1"},
                    "items": items,
                }),
            )
        }
    }
}

fn resource_list(api_version: &str, of_version: &[&Served]) -> APIResourceList {
    APIResourceList {
        group_version: api_version.to_owned(),
        resources: of_version
            .iter()
            .map(|served| APIResource {
                name: served.plural.to_owned(),
                singular_name: served.kind.to_lowercase(),
                namespaced: served.namespaced,
                kind: served.kind.to_owned(),
                verbs: ["get", "list", "create", "update", "patch", "delete"]
                    .map(str::to_owned)
                    .to_vec(),
                ..APIResource::default()
            })
            .collect(),
    }
}
