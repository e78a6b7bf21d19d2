//! Pod metadata from the API server: labels, allowed annotations, the owning workload and
//! the namespace's labels, added to the `k8s` member of every event of the pod.
//!
//! `watch` keeps this cache with two watches per node (the node's pods by a field
//! selector on `spec.nodeName`, and the namespaces) and one `get` per ReplicaSet or Job
//! it meets. The tail loop reads the cache: a pod's log file is held back for at most
//! the wait bound while its pod is not known yet, then read with or without metadata;
//! events shipped without are flagged `k8s_metadata_missing`. A deleted pod's entry is
//! kept for the retention time, so its last lines still get it.

mod watch;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use globset::GlobSet;
use logpipe_common::event::K8s;

pub use watch::{connect, run};

/// Longest annotation value taken; longer ones (serialized objects, certificates) are
/// left out.
const MAX_ANNOTATION_BYTES: usize = 1024;
/// Most labels or annotations taken from one object, so that every event keeps a
/// bounded envelope.
const MAX_ENTRIES: usize = 64;

/// What the cache knows of one pod.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Kind and name of the top owner.
    pub workload: Option<(String, String)>,
}

#[derive(Debug)]
struct PodEntry {
    info: Arc<PodInfo>,
    deleted_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    pods: HashMap<String, PodEntry>,
    /// A static pod's kubelet uid (its log directory's) → its mirror pod's uid.
    mirrors: HashMap<String, String>,
    namespaces: HashMap<String, BTreeMap<String, String>>,
    /// Uids seen since the pod watch (re)started its list.
    relisting: Option<HashSet<String>>,
    /// Whether the last answer of the API server was a success; `None` before the first.
    reachable: Option<bool>,
}

/// The pod metadata cache, shared by the watch tasks and the tail loop.
#[derive(Debug)]
pub struct Metadata {
    state: RwLock<State>,
    annotations: GlobSet,
    /// How long the tail loop holds back a file whose pod is not known yet.
    pub(crate) wait: Duration,
    retain: Duration,
}

/// What the cache says of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    Found,
    /// Not known yet, and the API server answers (or has not been asked yet).
    Pending,
    /// Not known, and the API server does not answer.
    Unavailable,
}

impl Metadata {
    pub fn new(annotations: GlobSet, wait: Duration, retain: Duration) -> Self {
        Metadata {
            state: RwLock::new(State::default()),
            annotations,
            wait,
            retain,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn lookup(&self, uid: &str) -> Lookup {
        let state = self.read();
        if state.pod(uid).is_some() {
            Lookup::Found
        } else if state.reachable == Some(false) {
            Lookup::Unavailable
        } else {
            Lookup::Pending
        }
    }

    /// Adds what is known of the pod `k8s.pod_uid` and of its namespace to `k8s`; false
    /// when the pod is not known (its namespace's labels may still be added).
    pub(crate) fn enrich(&self, k8s: &mut K8s) -> bool {
        let state = self.read();
        let info = k8s.pod_uid.as_deref().and_then(|uid| state.pod(uid));
        let namespace = info
            .map(|info| info.namespace.as_str())
            .or(k8s.namespace.as_deref());
        if let Some(labels) = namespace.and_then(|namespace| state.namespaces.get(namespace)) {
            k8s.namespace_labels = labels.clone();
        }
        let Some(info) = info else {
            return false;
        };
        if let Some((kind, name)) = &info.workload {
            k8s.workload_kind = Some(kind.clone());
            k8s.workload = Some(name.clone());
        }
        k8s.labels = info.labels.clone();
        k8s.annotations = info.annotations.clone();
        true
    }

    /// The annotations the allow-list takes, bounded.
    pub(crate) fn allowed_annotations(
        &self,
        annotations: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        annotations
            .iter()
            .filter(|(key, value)| {
                value.len() <= MAX_ANNOTATION_BYTES && self.annotations.is_match(key.as_str())
            })
            .take(MAX_ENTRIES)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }

    pub(crate) fn set_reachable(&self, reachable: bool) {
        self.write().reachable = Some(reachable);
    }

    /// The pod watch starts listing every pod again.
    pub(crate) fn begin_relist(&self) {
        self.write().relisting = Some(HashSet::new());
    }

    /// The list is complete: pods it did not name were deleted meanwhile.
    pub(crate) fn end_relist(&self) {
        let now = Instant::now();
        let mut state = self.write();
        let Some(seen) = state.relisting.take() else {
            return;
        };
        for (uid, entry) in &mut state.pods {
            if !seen.contains(uid) && entry.deleted_at.is_none() {
                entry.deleted_at = Some(now);
            }
        }
        state.reachable = Some(true);
        self.expire(&mut state, now);
    }

    pub(crate) fn apply(&self, uid: String, info: PodInfo, mirror_of: Option<String>) {
        let now = Instant::now();
        let mut state = self.write();
        if let Some(seen) = &mut state.relisting {
            seen.insert(uid.clone());
        }
        if let Some(kubelet_uid) = mirror_of {
            state.mirrors.insert(kubelet_uid, uid.clone());
        }
        state.pods.insert(
            uid,
            PodEntry {
                info: Arc::new(info),
                deleted_at: None,
            },
        );
        state.reachable = Some(true);
        self.expire(&mut state, now);
    }

    pub(crate) fn delete(&self, uid: &str) {
        let now = Instant::now();
        let mut state = self.write();
        if let Some(entry) = state.pods.get_mut(uid) {
            entry.deleted_at.get_or_insert(now);
        }
        state.reachable = Some(true);
        self.expire(&mut state, now);
    }

    pub(crate) fn set_namespace(&self, name: String, labels: BTreeMap<String, String>) {
        let mut state = self.write();
        state.namespaces.insert(name, labels);
        state.reachable = Some(true);
    }

    /// Forgets pods deleted longer than the retention time ago.
    fn expire(&self, state: &mut State, now: Instant) {
        let retain = self.retain;
        state.pods.retain(|_, entry| {
            entry
                .deleted_at
                .is_none_or(|at| now.saturating_duration_since(at) < retain)
        });
        let State { pods, mirrors, .. } = state;
        mirrors.retain(|_, uid| pods.contains_key(uid));
    }

    /// Pods known, deleted ones included.
    pub fn pods(&self) -> usize {
        self.read().pods.len()
    }
}

impl State {
    fn pod(&self, uid: &str) -> Option<&PodInfo> {
        let entry = self.pods.get(uid).or_else(|| {
            self.mirrors
                .get(uid)
                .and_then(|mirror| self.pods.get(mirror))
        })?;
        Some(&entry.info)
    }
}

/// Labels bounded like annotations.
pub(crate) fn bounded_labels(
    labels: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    labels
        .into_iter()
        .flatten()
        .take(MAX_ENTRIES)
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}
