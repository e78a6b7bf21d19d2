//! What one webhook call says, independent of the payload format it is rendered in.

use std::collections::BTreeMap;

use logpipe_common::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use xxhash_rust::xxh3::xxh3_64;

/// Whether an alert starts or ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Firing,
    Resolved,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        }
    }
}

/// One alert to tell receivers about. The `generic` format sends exactly this, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Notification {
    /// Sent as `webhook-id`; the same on every retry and replay, so receivers can drop
    /// duplicates.
    pub id: String,
    pub rule: String,
    pub status: Status,
    pub severity: String,
    pub summary: String,
    /// The rule's group-by fields and their values for this alert.
    pub group: BTreeMap<String, String>,
    /// Matching events counted by the rule.
    pub count: u64,
    pub starts_at: Timestamp,
    /// Set once the alert is resolved.
    pub ends_at: Option<Timestamp>,
    /// The event that triggered the alert, when one did.
    pub event: Option<EventJson>,
    /// Extra labels from the rule.
    pub labels: BTreeMap<String, String>,
    /// The search showing the alert's events, for links to the web UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
}

/// An event as JSON text, as it is written to Kafka: carried in alerts and sent as it is,
/// read into a tree only where a template looks into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct EventJson(Box<RawValue>);

impl EventJson {
    pub(crate) fn new(raw: Box<RawValue>) -> EventJson {
        EventJson(raw)
    }

    pub(crate) fn text(&self) -> &str {
        self.0.get()
    }

    /// The event as a tree.
    pub(crate) fn value(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.0.get()).ok()
    }
}

impl From<serde_json::Value> for EventJson {
    fn from(value: serde_json::Value) -> EventJson {
        EventJson(serde_json::value::to_raw_value(&value).expect("a tree is written out"))
    }
}

/// The same text: written by one writer, the same event.
impl PartialEq for EventJson {
    fn eq(&self, other: &EventJson) -> bool {
        self.text() == other.text()
    }
}

/// The search that shows the events behind an alert: the rule's query narrowed to the
/// alert's group, from the start of the window that raised it (until the alert ends, or
/// until now while it fires).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Search {
    /// In the search language, as the web UI's `q` takes it.
    pub query: String,
    pub from: Timestamp,
}

impl Notification {
    /// The label set naming this alert, as Alertmanager receivers route on it: the rule's
    /// extra labels, overridden by the group fields, overridden by `alertname` and
    /// `severity`.
    pub(crate) fn alert_labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.labels.clone();
        labels.extend(self.group.clone());
        labels.insert("alertname".into(), self.rule.clone());
        if !self.severity.is_empty() {
            labels.insert("severity".into(), self.severity.clone());
        }
        labels
    }

    /// A stable 16-hex-digit hash of the label set, like Alertmanager's `fingerprint`:
    /// the same alert has the same fingerprint when it fires and when it resolves.
    pub(crate) fn fingerprint(&self) -> String {
        let mut text = Vec::new();
        for (name, value) in self.alert_labels() {
            text.extend_from_slice(name.as_bytes());
            text.push(0xff);
            text.extend_from_slice(value.as_bytes());
            text.push(0xff);
        }
        format!("{:016x}", xxh3_64(&text))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A firing alert as the engine would produce it.
    pub(crate) fn sample() -> Notification {
        Notification {
            id: "checkout-errors-7f3a9c".into(),
            rule: "checkout-errors".into(),
            status: Status::Firing,
            severity: "critical".into(),
            summary: "5 errors in checkout-7d9f".into(),
            group: BTreeMap::from([("k8s.pod".into(), "checkout-7d9f".into())]),
            count: 5,
            starts_at: Timestamp::from_unix_nanos(1_700_000_000_123_000_000),
            ends_at: None,
            event: Some(serde_json::json!({"message": "payment failed", "level": "error"}).into()),
            labels: BTreeMap::from([("team".into(), "shop".into())]),
            search: Some(Search {
                query: "k8s.namespace:shop AND level:error AND k8s.pod:\"checkout-7d9f\"".into(),
                from: Timestamp::from_unix_nanos(1_699_999_940_123_000_000),
            }),
        }
    }

    #[test]
    fn labels_put_alertname_and_severity_over_group_over_extra() {
        let mut notification = sample();
        notification
            .labels
            .insert("k8s.pod".into(), "overridden".into());
        notification
            .labels
            .insert("alertname".into(), "overridden".into());
        let labels = notification.alert_labels();
        assert_eq!(labels["alertname"], "checkout-errors");
        assert_eq!(labels["severity"], "critical");
        assert_eq!(labels["k8s.pod"], "checkout-7d9f");
        assert_eq!(labels["team"], "shop");
    }

    #[test]
    fn fingerprint_follows_labels_not_status_or_time() {
        let firing = sample();
        let mut resolved = sample();
        resolved.status = Status::Resolved;
        resolved.ends_at = Some(Timestamp::from_unix_nanos(1_700_000_100_000_000_000));
        assert_eq!(firing.fingerprint(), resolved.fingerprint());
        assert_eq!(firing.fingerprint().len(), 16);
        let mut other = sample();
        other
            .group
            .insert("k8s.pod".into(), "checkout-other".into());
        assert_ne!(firing.fingerprint(), other.fingerprint());
    }
}
