//! An API server that speaks the Kubernetes list and watch protocol for pods,
//! namespaces, ReplicaSets, Jobs and Events (`events.k8s.io/v1`), and takes Leases
//! (`coordination.k8s.io/v1`: get, create, and update with optimistic concurrency), on a
//! free loopback port: lists with a resource
//! version, watches that replay from one and stream what changes after, bookmarks,
//! `410 Gone` for a version compacted away, dropped connections and an outage (every
//! request answered 503). It counts the requests it gets, so a test can say how many
//! a collector made.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

/// One change, as a watch sends it.
#[derive(Debug, Clone)]
struct Change {
    version: u64,
    /// `pods`, `namespaces`, `replicasets`, `jobs`.
    resource: &'static str,
    kind: &'static str,
    object: Value,
}

#[derive(Debug, Default)]
struct Objects {
    version: u64,
    /// By resource, then `namespace/name`.
    objects: BTreeMap<&'static str, BTreeMap<String, Value>>,
    log: Vec<Change>,
    /// Watches from a version below this get `410 Gone`.
    compacted: u64,
    down: bool,
    requests: Vec<String>,
}

impl Objects {
    /// Counts a request; during an outage, its answer.
    fn admit(&mut self, verb: &str, resource: &str) -> Option<Response> {
        self.requests.push(format!("{verb} {resource}"));
        self.down.then(|| {
            status(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "down",
            )
        })
    }
}

#[derive(Debug, Clone)]
struct Shared {
    objects: Arc<Mutex<Objects>>,
    changes: broadcast::Sender<Change>,
    /// Bumped to end every open watch.
    cut: watch::Sender<u64>,
}

/// The fake API server; stopped when dropped.
#[derive(Debug)]
pub struct FakeApiServer {
    shared: Shared,
    addr: SocketAddr,
    kubeconfig: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeApiServer {
    pub async fn start() -> FakeApiServer {
        let (changes, _) = broadcast::channel(65_536);
        let (cut, _) = watch::channel(0);
        let shared = Shared {
            objects: Arc::new(Mutex::new(Objects {
                version: 100,
                ..Objects::default()
            })),
            changes,
            cut,
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let kubeconfig = tempfile::tempdir().unwrap();
        std::fs::write(
            kubeconfig.path().join("config"),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\nusers:\n- name: fake\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\ncurrent-context: fake\n"
            ),
        )
        .unwrap();
        FakeApiServer {
            shared,
            addr,
            kubeconfig,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig file naming this server.
    pub fn kubeconfig(&self) -> PathBuf {
        self.kubeconfig.path().join("config")
    }

    /// Creates or replaces an object (`metadata.resourceVersion` is set) and tells the
    /// watches.
    pub fn apply(&self, resource: &'static str, mut object: Value) {
        self.change(resource, |objects, version| {
            object["metadata"]["resourceVersion"] = json!(version.to_string());
            let key = key_of(&object);
            let kind = match objects
                .objects
                .entry(resource)
                .or_default()
                .insert(key, object.clone())
            {
                Some(_) => "MODIFIED",
                None => "ADDED",
            };
            Some((kind, object))
        });
    }

    /// Deletes an object by `namespace/name` (or `name`) and tells the watches.
    pub fn delete(&self, resource: &'static str, key: &str) {
        self.change(resource, |objects, version| {
            let mut object = objects.objects.entry(resource).or_default().remove(key)?;
            object["metadata"]["resourceVersion"] = json!(version.to_string());
            Some(("DELETED", object))
        });
    }

    fn change(
        &self,
        resource: &'static str,
        make: impl FnOnce(&mut Objects, u64) -> Option<(&'static str, Value)>,
    ) {
        let mut objects = self.shared.objects.lock().unwrap();
        let version = objects.version + 1;
        let Some((kind, object)) = make(&mut objects, version) else {
            return;
        };
        objects.version = version;
        let change = Change {
            version,
            resource,
            kind,
            object,
        };
        objects.log.push(change.clone());
        let _ = self.shared.changes.send(change);
    }

    /// The object `namespace/name` (or `name`) of `resource`, as stored.
    pub fn get(&self, resource: &str, key: &str) -> Option<Value> {
        let objects = self.shared.objects.lock().unwrap();
        objects
            .objects
            .get(resource)
            .and_then(|all| all.get(key))
            .cloned()
    }

    /// Sends a bookmark at the current version on every open watch.
    pub fn bookmark(&self) {
        let objects = self.shared.objects.lock().unwrap();
        for resource in ["pods", "namespaces", "events"] {
            let _ = self.shared.changes.send(Change {
                version: objects.version,
                resource,
                kind: "BOOKMARK",
                object: json!({"kind": kind_of(resource), "apiVersion": "v1",
                    "metadata": {"resourceVersion": objects.version.to_string()}}),
            });
        }
    }

    /// Forgets the change history: open watches end with `410 Gone`, and so does any
    /// watch from an older version, forcing a new list.
    pub fn expire(&self) {
        let mut objects = self.shared.objects.lock().unwrap();
        objects.compacted = objects.version + 1;
        objects.version += 1;
        let version = objects.version;
        for resource in ["pods", "namespaces", "events"] {
            let _ = self.shared.changes.send(Change {
                version,
                resource,
                kind: "ERROR",
                object: gone(),
            });
        }
    }

    /// Drops every open watch connection.
    pub fn disconnect(&self) {
        self.shared.cut.send_modify(|n| *n += 1);
    }

    /// An outage: every request gets 503 and the open watches are dropped; `false` ends it.
    pub fn set_down(&self, down: bool) {
        self.shared.objects.lock().unwrap().down = down;
        if down {
            self.disconnect();
        }
    }

    /// The requests received so far, as `list pods`, `watch pods`, `get replicasets`.
    pub fn requests(&self) -> Vec<String> {
        self.shared.objects.lock().unwrap().requests.clone()
    }

    /// Waits until `condition` holds of the requests received.
    pub async fn wait_for_requests(&self, condition: impl Fn(&[String]) -> bool, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while !condition(&self.requests()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the API server did not get the expected requests: {:?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn kind_of(resource: &str) -> &'static str {
    match resource {
        "pods" => "Pod",
        "namespaces" => "Namespace",
        "replicasets" => "ReplicaSet",
        "events" => "Event",
        "leases" => "Lease",
        _ => "Job",
    }
}

fn key_of(object: &Value) -> String {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    match object["metadata"]["namespace"].as_str() {
        Some(namespace) => format!("{namespace}/{name}"),
        None => name.to_owned(),
    }
}

fn gone() -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version", "reason": "Expired", "code": 410})
}

/// A Kubernetes Event (`events.k8s.io/v1`) about `regarding` (`kind`, `name`) in
/// `namespace`.
pub fn event(
    namespace: &str,
    name: &str,
    regarding: (&str, &str),
    type_: &str,
    reason: &str,
    note: &str,
) -> Value {
    json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}"),
            "creationTimestamp": "2026-12-05T10:00:00Z"},
        "eventTime": "2026-12-05T10:00:00.123456Z",
        "reportingController": "kubelet", "reportingInstance": "node-1",
        "action": "Killing", "reason": reason, "type": type_, "note": note,
        "regarding": {"kind": regarding.0, "name": regarding.1, "namespace": namespace,
            "uid": format!("uid-{}", regarding.1), "apiVersion": "v1"},
    })
}

/// A pod on `node` with `labels`, owned by `owner` (`kind`, `name`) when given.
pub fn pod(
    namespace: &str,
    name: &str,
    uid: &str,
    node: &str,
    labels: &[(&str, &str)],
    owner: Option<(&str, &str)>,
) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "app:1"}]},
    });
    if let Some((kind, owner)) = owner {
        pod["metadata"]["ownerReferences"] = owner_reference(kind, owner);
    }
    pod
}

/// A namespace with `labels`.
pub fn namespace(name: &str, labels: &[(&str, &str)]) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": format!("ns-{name}"), "labels": labels}})
}

/// A ReplicaSet or Job `name` owned by `owner` (`kind`, `name`).
pub fn owned(resource: &str, namespace: &str, name: &str, owner: (&str, &str)) -> Value {
    let api_version = match resource {
        "replicasets" => "apps/v1",
        _ => "batch/v1",
    };
    json!({"apiVersion": api_version, "kind": kind_of(resource),
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}"),
            "ownerReferences": owner_reference(owner.0, owner.1)},
        "spec": {}})
}

fn owner_reference(kind: &str, name: &str) -> Value {
    let api_version = match kind {
        "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet" => "apps/v1",
        _ => "batch/v1",
    };
    json!([{"apiVersion": api_version, "kind": kind, "name": name,
        "uid": format!("uid-{name}"), "controller": true}])
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    Query(params): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let [
        "apis",
        "coordination.k8s.io",
        "v1",
        "namespaces",
        ns,
        "leases",
        rest @ ..,
    ] = segments.as_slice()
    {
        return lease(&shared, &method, ns, rest.first().copied(), &body);
    }
    // /api/v1/pods, /api/v1/namespaces,
    // /apis/{group}/v1/namespaces/{ns}/{resource}/{name}
    let (resource, name): (&'static str, Option<String>) = match segments.as_slice() {
        ["api", "v1", "pods"] => ("pods", None),
        ["api", "v1", "namespaces"] => ("namespaces", None),
        ["apis", "events.k8s.io", "v1", "events"] => ("events", None),
        ["apis", "apps", "v1", "namespaces", ns, "replicasets", name] => {
            ("replicasets", Some(format!("{ns}/{name}")))
        }
        ["apis", "batch", "v1", "namespaces", ns, "jobs", name] => {
            ("jobs", Some(format!("{ns}/{name}")))
        }
        _ => return status(StatusCode::NOT_FOUND, "NotFound", "no such path"),
    };
    let watching = params.get("watch").is_some_and(|w| w == "true" || w == "1");
    {
        let mut objects = shared.objects.lock().unwrap();
        let verb = match (&name, watching) {
            (Some(_), _) => "get",
            (None, true) => "watch",
            (None, false) => "list",
        };
        if let Some(refused) = objects.admit(verb, resource) {
            return refused;
        }
    }
    let selector = params.get("fieldSelector").cloned();
    if let Some(name) = name {
        let objects = shared.objects.lock().unwrap();
        return match objects.objects.get(resource).and_then(|all| all.get(&name)) {
            Some(object) => axum::Json(object.clone()).into_response(),
            None => status(StatusCode::NOT_FOUND, "NotFound", "not found"),
        };
    }
    if !watching {
        let objects = shared.objects.lock().unwrap();
        let items: Vec<Value> = objects
            .objects
            .get(resource)
            .into_iter()
            .flat_map(|all| all.values())
            .filter(|object| selected(object, selector.as_deref()))
            .cloned()
            .collect();
        return axum::Json(json!({
            "apiVersion": "v1", "kind": format!("{}List", kind_of(resource)),
            "metadata": {"resourceVersion": objects.version.to_string()},
            "items": items,
        }))
        .into_response();
    }
    let from: u64 = params
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bookmarks = params
        .get("allowWatchBookmarks")
        .is_some_and(|b| b == "true");
    let timeout = params
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300));
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(1024);
    let mut changes = shared.changes.subscribe();
    let mut cut = shared.cut.subscribe();
    let replay: Vec<Change> = {
        let objects = shared.objects.lock().unwrap();
        if from < objects.compacted {
            vec![Change {
                version: objects.version,
                resource,
                kind: "ERROR",
                object: gone(),
            }]
        } else {
            objects
                .log
                .iter()
                .filter(|change| change.version > from && change.resource == resource)
                .cloned()
                .collect()
        }
    };
    tokio::spawn(async move {
        let send = |change: &Change| {
            let line = json!({"type": change.kind, "object": change.object});
            let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
            bytes.push(b'\n');
            Bytes::from(bytes)
        };
        let wanted = |change: &Change| {
            change.resource == resource
                && (change.kind == "ERROR"
                    || (change.kind == "BOOKMARK" && bookmarks)
                    || (change.kind != "BOOKMARK" && selected(&change.object, selector.as_deref())))
        };
        for change in &replay {
            if wanted(change) {
                if sender.send(send(change)).await.is_err() {
                    return;
                }
                if change.kind == "ERROR" {
                    return;
                }
            }
        }
        let last = replay.last().map(|c| c.version).unwrap_or(from);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                change = changes.recv() => {
                    let Ok(change) = change else { return };
                    if change.version <= last && change.kind != "ERROR" && change.kind != "BOOKMARK" {
                        continue;
                    }
                    if wanted(&change) {
                        if sender.send(send(&change)).await.is_err() {
                            return;
                        }
                        if change.kind == "ERROR" {
                            return;
                        }
                    }
                }
                _ = cut.changed() => return,
                () = &mut deadline => return,
            }
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), receiver))
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

/// Whether `object` passes a `spec.nodeName=<node>` field selector.
fn selected(object: &Value, selector: Option<&str>) -> bool {
    let Some(selector) = selector else {
        return true;
    };
    selector.split(',').all(|term| match term.split_once('=') {
        Some(("spec.nodeName", node)) => object["spec"]["nodeName"].as_str() == Some(node),
        _ => true,
    })
}

/// Leases: get, create, and update only from the version last read (409 otherwise).
fn lease(
    shared: &Shared,
    method: &Method,
    namespace: &str,
    name: Option<&str>,
    body: &[u8],
) -> Response {
    let mut objects = shared.objects.lock().unwrap();
    let verb = match *method {
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        _ => "other",
    };
    if let Some(refused) = objects.admit(verb, "leases") {
        return refused;
    }
    let stored = |objects: &Objects, key: &str| {
        objects
            .objects
            .get("leases")
            .and_then(|all| all.get(key))
            .cloned()
    };
    match (verb, name) {
        ("get", Some(name)) => match stored(&objects, &format!("{namespace}/{name}")) {
            Some(lease) => axum::Json(lease).into_response(),
            None => status(StatusCode::NOT_FOUND, "NotFound", "not found"),
        },
        ("create" | "update", _) => {
            let Ok(mut lease) = serde_json::from_slice::<Value>(body) else {
                return status(StatusCode::BAD_REQUEST, "BadRequest", "not a lease");
            };
            let key = format!(
                "{namespace}/{}",
                lease["metadata"]["name"].as_str().unwrap_or("")
            );
            let current = stored(&objects, &key);
            match (verb, &current) {
                ("create", Some(_)) => {
                    return status(StatusCode::CONFLICT, "AlreadyExists", "already exists");
                }
                ("update", None) => return status(StatusCode::NOT_FOUND, "NotFound", "not found"),
                ("update", Some(current))
                    if current["metadata"]["resourceVersion"]
                        != lease["metadata"]["resourceVersion"] =>
                {
                    return status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        "the object has been modified",
                    );
                }
                _ => {}
            }
            objects.version += 1;
            lease["metadata"]["resourceVersion"] = json!(objects.version.to_string());
            lease["metadata"]["namespace"] = json!(namespace);
            objects
                .objects
                .entry("leases")
                .or_default()
                .insert(key, lease.clone());
            let code = if verb == "create" {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, axum::Json(lease)).into_response()
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not supported",
        ),
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    (
        code,
        axum::Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()})),
    )
        .into_response()
}
