//! A Kubernetes Event as a logpipe event: its note is the message, `Warning` is `warn`
//! and `Normal` is `info`, the object it is about gives `k8s.namespace` (and `k8s.pod`
//! for a pod), and the Event itself, but its note and most of its metadata, is kept under
//! `attributes`.

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp as Instant;
use logpipe_common::event::{CONTRACT_VERSION, K8s};
use logpipe_common::{EventId, Level, LogEvent, Source, SourceKind, Timestamp};
use serde_json::{Map, Value};

/// The source name of every Kubernetes Event.
pub(crate) const SOURCE_NAME: &str = "k8s-events";

pub(crate) fn log_event(event: &Event, node: &str) -> LogEvent {
    let uid = event.metadata.uid.as_deref().unwrap_or_default();
    let version = event
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or_default();
    let regarding = event.regarding.as_ref();
    let namespace = regarding
        .and_then(|r| r.namespace.clone())
        .or_else(|| event.metadata.namespace.clone());
    let is_pod = regarding.and_then(|r| r.kind.as_deref()) == Some("Pod");
    let observed = Timestamp::now();
    let ts = event
        .event_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| event.series.as_ref().map(|s| s.last_observed_time.0))
        .or_else(|| event.deprecated_last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .map_or(observed, timestamp);
    let level = match event.type_.as_deref() {
        Some("Warning") => Level::Warn,
        Some("Normal") => Level::Info,
        _ => Level::Unknown,
    };
    let message = event
        .note
        .clone()
        .filter(|note| !note.is_empty())
        .or_else(|| event.reason.clone())
        .unwrap_or_default();
    LogEvent {
        v: CONTRACT_VERSION,
        // The same Event version has the same id whichever collector read it.
        id: EventId::derive(SOURCE_NAME, &format!("{uid}/{version}"), 0),
        ts,
        observed_ts: observed,
        level,
        message,
        stream: None,
        k8s: K8s {
            namespace,
            pod: regarding.filter(|_| is_pod).and_then(|r| r.name.clone()),
            pod_uid: regarding.filter(|_| is_pod).and_then(|r| r.uid.clone()),
            // A kubelet's Event names its node; others are the cluster's.
            node: event
                .deprecated_source
                .as_ref()
                .and_then(|s| s.host.clone())
                .unwrap_or_else(|| node.to_owned()),
            ..K8s::default()
        },
        source: Source {
            kind: SourceKind::K8sEvent,
            name: Some(SOURCE_NAME.into()),
            path: None,
            offset: None,
            via: None,
        },
        attributes: attributes(event),
        flags: Vec::new(),
    }
}

fn timestamp(instant: Instant) -> Timestamp {
    Timestamp::from_unix_nanos(i64::try_from(instant.as_nanosecond()).unwrap_or(i64::MAX))
}

/// The Event as the API server wrote it, without its note (the message) and with only
/// the metadata that names it.
fn attributes(event: &Event) -> Map<String, Value> {
    let Ok(Value::Object(mut members)) = serde_json::to_value(event) else {
        return Map::new();
    };
    members.remove("note");
    members.remove("apiVersion");
    members.remove("kind");
    if let Some(Value::Object(metadata)) = members.get_mut("metadata") {
        metadata.retain(|key, _| {
            matches!(
                key.as_str(),
                "name" | "namespace" | "uid" | "resourceVersion" | "creationTimestamp"
            )
        });
    }
    members
}
