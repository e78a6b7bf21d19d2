//! The watches that keep the metadata cache: the node's pods (a field selector on
//! `spec.nodeName`, so one watch per node however many pods it runs) and the
//! namespaces; owners are followed with one `get` per ReplicaSet or Job, remembered.
//! kube-rs's watcher lists, watches with bookmarks, lists again after `410 Gone` and
//! reconnects with backoff.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use kube::{Api, Client, Resource, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{Metadata, PodInfo, bounded_labels};
use crate::telemetry;

/// Annotation a mirror pod carries with its static pod's kubelet uid.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// An API server that takes longer than this to accept a connection counts as down.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Owners remembered; the memory is cleared when it grows past this.
const MAX_OWNERS: usize = 10_000;

/// A client from the kubeconfig at `kubeconfig`, else the pod's service account, else
/// `~/.kube/config`.
pub async fn connect(kubeconfig: Option<&Path>) -> anyhow::Result<Client> {
    // Both of rustls's providers are linked into the binary, so the process has no
    // default until one is installed; another component may have installed it already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)?;
            kube::Config::from_custom_kubeconfig(file, &Default::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    // The watches retry with their own backoff; a request retried inside the client for
    // minutes would hide an outage, and new pods' lines would wait for nothing.
    config.default_retry = false;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    Ok(Client::try_from(config)?)
}

/// Keeps `metadata` until `shutdown`.
pub async fn run(
    metadata: Arc<Metadata>,
    client: Client,
    node: String,
    shutdown: CancellationToken,
) {
    info!(%node, "watching the node's pods and the namespaces");
    tokio::select! {
        () = pods(&metadata, client.clone(), &node) => {}
        () = namespaces(&metadata, client) => {}
        () = shutdown.cancelled() => {}
    }
}

async fn pods(metadata: &Metadata, client: Client, node: &str) {
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut events = watch_stream(Api::<Pod>::all(client.clone()), config)
        .default_backoff()
        .boxed();
    let mut owners = Owners::new(client);
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => metadata.begin_relist(),
            Ok(Event::InitApply(pod) | Event::Apply(pod)) => {
                let Some(uid) = pod.uid() else { continue };
                let mirror_of = pod.annotations().get(MIRROR_ANNOTATION).cloned();
                let info = owners.describe(metadata, &pod).await;
                metadata.apply(uid, info, mirror_of);
                telemetry::metadata_pods(metadata.pods());
            }
            Ok(Event::Delete(pod)) => {
                if let Some(uid) = pod.uid() {
                    metadata.delete(&uid);
                }
                telemetry::metadata_pods(metadata.pods());
            }
            Ok(Event::InitDone) => {
                metadata.end_relist();
                telemetry::metadata_pods(metadata.pods());
            }
            Err(error) => {
                metadata.set_reachable(false);
                telemetry::metadata_error("pods");
                warn!(%error, "watching the node's pods failed; retrying");
            }
        }
    }
}

async fn namespaces(metadata: &Metadata, client: Client) {
    let mut events = watch_stream(Api::<Namespace>::all(client), watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::InitApply(namespace) | Event::Apply(namespace)) => {
                let labels = bounded_labels(namespace.metadata.labels.as_ref());
                metadata.set_namespace(namespace.name_any(), labels);
            }
            // A deleted namespace's pods keep their metadata for the retention time.
            Ok(Event::Delete(_) | Event::Init | Event::InitDone) => {}
            Err(error) => {
                metadata.set_reachable(false);
                telemetry::metadata_error("namespaces");
                warn!(%error, "watching the namespaces failed; retrying");
            }
        }
    }
}

/// The top owners of ReplicaSets and Jobs, asked for once each.
struct Owners {
    client: Client,
    known: HashMap<(String, String, String), (String, String)>,
}

impl Owners {
    fn new(client: Client) -> Self {
        Owners {
            client,
            known: HashMap::new(),
        }
    }

    async fn describe(&mut self, metadata: &Metadata, pod: &Pod) -> PodInfo {
        let namespace = pod.namespace().unwrap_or_default();
        let workload = match controller(pod.owner_references()) {
            Some(owner) => Some(self.top(&namespace, owner).await),
            None => None,
        };
        PodInfo {
            name: pod.name_any(),
            labels: bounded_labels(pod.metadata.labels.as_ref()),
            annotations: metadata.allowed_annotations(
                pod.metadata
                    .annotations
                    .as_ref()
                    .unwrap_or(&Default::default()),
            ),
            workload,
            namespace,
        }
    }

    /// The workload above `owner`: a ReplicaSet's Deployment, a Job's CronJob, else the
    /// owner itself. When the API server cannot say, the owner itself (not remembered, so
    /// the next pod asks again).
    async fn top(&mut self, namespace: &str, owner: &OwnerReference) -> (String, String) {
        let own = (owner.kind.clone(), owner.name.clone());
        let key = (namespace.to_owned(), owner.kind.clone(), owner.name.clone());
        if let Some(known) = self.known.get(&key) {
            return known.clone();
        }
        let parent = match owner.kind.as_str() {
            "ReplicaSet" => self.parent::<ReplicaSet>(namespace, &owner.name).await,
            "Job" => self.parent::<Job>(namespace, &owner.name).await,
            _ => Ok(None),
        };
        match parent {
            Ok(parent) => {
                let top = parent.unwrap_or(own);
                if self.known.len() >= MAX_OWNERS {
                    self.known.clear();
                }
                self.known.insert(key, top.clone());
                top
            }
            Err(error) => {
                telemetry::metadata_error("owners");
                warn!(%error, kind = %owner.kind, name = %owner.name, %namespace, "could not read a pod's owner; naming the owner itself as its workload");
                own
            }
        }
    }

    async fn parent<K>(&self, namespace: &str, name: &str) -> kube::Result<Option<(String, String)>>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
        K::DynamicType: Default,
    {
        match Api::<K>::namespaced(self.client.clone(), namespace)
            .get_opt(name)
            .await?
        {
            Some(object) => Ok(controller(object.owner_references())
                .map(|parent| (parent.kind.clone(), parent.name.clone()))),
            None => Ok(None),
        }
    }
}

/// The owner reference marked as the controller, else the first.
fn controller(owners: &[OwnerReference]) -> Option<&OwnerReference> {
    owners
        .iter()
        .find(|owner| owner.controller == Some(true))
        .or_else(|| owners.first())
}
