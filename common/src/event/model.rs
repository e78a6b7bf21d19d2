//! The `LogEvent` v1 record as it travels on Kafka, one JSON object per message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EventId, Level, Timestamp};

/// The version written in `v`. Readers keep accepting every older version.
pub const CONTRACT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    pub v: u32,
    pub id: EventId,
    /// Event time: the application's own timestamp when it gave a valid one, else the
    /// container runtime's, else the time the record was read.
    pub ts: Timestamp,
    /// When the record was read by logpipe.
    pub observed_ts: Timestamp,
    pub level: Level,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
    pub k8s: K8s,
    pub source: Source,
    /// Every other field of the application's JSON object, nested as it was.
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// What happened to the record on its way in (replaced bytes, truncation); absent
    /// when nothing did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Kubernetes metadata; only what is known is present (host files know only the node).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct K8s {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub node: String,
    /// The workload the pod belongs to, its owners followed up to the top (a Deployment
    /// rather than its ReplicaSet, a CronJob rather than its Job); from the API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// That workload's kind: `Deployment`, `StatefulSet`, `DaemonSet`, `CronJob`, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_kind: Option<String>,
    /// The pod's labels, from the API server.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The pod's annotations whose keys the collector's allow-list names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The labels of the pod's namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub namespace_labels: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// A file tailed on the node: a container log or a host file such as the audit log.
    File,
    /// Events pushed to the collector's HTTP ingest endpoint.
    Http,
    /// A message on the events topic that named no source (written by another producer).
    Kafka,
    /// A Kubernetes Event (`events.k8s.io`: OOMKilled, FailedScheduling, BackOff), read
    /// from the API server once per cluster.
    #[serde(rename = "k8s-event")]
    K8sEvent,
}

/// Which input produced the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub kind: SourceKind,
    /// The configured input name, e.g. `kube-audit`; absent for container logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Byte offset of the record in the file (or its line number in an ingest batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The name of the ingest token that pushed the event over HTTP; absent for what the
    /// collector read itself. Set by the collector, never taken from the event's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// Bytes that were not valid UTF-8 were replaced with U+FFFD.
    InvalidUtf8,
    /// The record was longer than the line limit and was cut.
    Truncated,
    /// The line did not match its file's container log format and is kept whole.
    Unparsed,
    /// The event reports bytes lost before they could be read.
    Gap,
    /// `ts` was absurdly far from `observed_ts` and was not used for placing the event.
    TsOutOfBounds,
    /// Required fields were missing or invalid and were filled in by the indexer; the
    /// values it replaced are kept under `attributes._invalid`.
    Repaired,
    /// The collector asks the API server for pod metadata, and had none for this pod when
    /// the event left (the API server unreachable, or the pod not seen in time).
    K8sMetadataMissing,
    /// A flag written by a newer logpipe.
    #[serde(other)]
    Other,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Http => "http",
            SourceKind::Kafka => "kafka",
            SourceKind::K8sEvent => "k8s-event",
        }
    }
}

impl Flag {
    /// The name as written in `flags`.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::InvalidUtf8 => "invalid_utf8",
            Flag::Truncated => "truncated",
            Flag::Unparsed => "unparsed",
            Flag::Gap => "gap",
            Flag::TsOutOfBounds => "ts_out_of_bounds",
            Flag::Repaired => "repaired",
            Flag::K8sMetadataMissing => "k8s_metadata_missing",
            Flag::Other => "other",
        }
    }
}

impl LogEvent {
    pub fn has_flag(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// The Kafka message key: `<namespace>/<pod>` keeps one pod's lines in order within a
    /// partition; events without a pod are keyed by node and source.
    pub fn kafka_key(&self) -> String {
        match (&self.k8s.namespace, &self.k8s.pod) {
            (Some(namespace), Some(pod)) => format!("{namespace}/{pod}"),
            _ => format!(
                "{}/{}",
                self.k8s.node,
                self.source.name.as_deref().unwrap_or("unnamed")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_their_serialized_form() {
        for flag in [
            Flag::InvalidUtf8,
            Flag::Truncated,
            Flag::Unparsed,
            Flag::Gap,
            Flag::TsOutOfBounds,
            Flag::Repaired,
            Flag::K8sMetadataMissing,
        ] {
            assert_eq!(serde_json::to_value(flag).unwrap(), flag.as_str());
        }
        for kind in [
            SourceKind::File,
            SourceKind::Http,
            SourceKind::Kafka,
            SourceKind::K8sEvent,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for stream in [Stream::Stdout, Stream::Stderr] {
            assert_eq!(serde_json::to_value(stream).unwrap(), stream.as_str());
        }
    }
}
