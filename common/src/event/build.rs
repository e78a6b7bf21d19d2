//! Turning a raw record (the bytes an application wrote, plus where they were read) into a
//! `LogEvent`: the one constructor used by the collector's tailer and its HTTP ingest path.
//! The interpretation itself is `WireEvent::from_raw`'s; this parses its attributes.

use super::{K8s, LogEvent, Source, Stream, Timestamp, WireEvent};

/// Fields an application may carry its event time in, in order of preference.
pub(super) const TS_FIELDS: [&str; 4] = ["ts", "time", "timestamp", "@timestamp"];
/// Fields an application may carry its severity in, in order of preference (`log.level`
/// is handled both as a flat key and nested, as ECS loggers write it either way).
pub(super) const LEVEL_FIELDS: [&str; 4] = ["level", "lvl", "severity", "log.level"];
/// Fields an application may carry its message in, in order of preference.
pub(super) const MESSAGE_FIELDS: [&str; 3] = ["msg", "message", "log"];
/// Kubernetes audit events carry their time here; it is used when none of `TS_FIELDS`
/// is present, and kept in the attributes because it is part of the audit record.
pub(super) const AUDIT_TS_FIELD: &str = "requestReceivedTimestamp";

/// One record as read, before interpretation.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// What the application wrote, without the runtime's framing (CRI prefix, docker JSON).
    pub payload: &'a [u8],
    /// The container runtime's timestamp for the record, when the format has one.
    pub runtime_ts: Option<Timestamp>,
    pub observed_ts: Timestamp,
    pub stream: Option<Stream>,
    pub k8s: K8s,
    pub source: Source,
    /// Stable identity of the input the record was read from (device, inode and
    /// fingerprint of a file; or an ingest batch); with the node and `offset`, it fixes
    /// the event id.
    pub identity: &'a str,
    pub offset: u64,
    /// The payload was cut at the line limit.
    pub truncated: bool,
}

impl LogEvent {
    /// Interprets a raw record (see `WireEvent::from_raw`), attributes parsed.
    pub fn from_raw(raw: RawRecord<'_>) -> LogEvent {
        WireEvent::from_raw(raw).into_event()
    }
}

pub(super) fn strip_line_ending(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::event::{EventId, Flag, Level, SourceKind};
    use serde_json::Value;
    use serde_json::json;

    /// A record of a container's file; tests of the interpretation share it.
    pub(in crate::event) fn record(payload: &[u8]) -> RawRecord<'_> {
        RawRecord {
            payload,
            runtime_ts: Some(Timestamp::from_unix_nanos(1_000_000_000_000_000_000)),
            observed_ts: Timestamp::from_unix_nanos(1_000_000_000_500_000_000),
            stream: Some(Stream::Stderr),
            k8s: K8s {
                namespace: Some("shop".into()),
                pod: Some("api-7d9f-x2".into()),
                pod_uid: Some("uid-1".into()),
                container: Some("api".into()),
                node: "node-3".into(),
                ..K8s::default()
            },
            source: Source {
                kind: SourceKind::File,
                name: None,
                path: Some("/var/log/pods/shop_api_uid-1/api/0.log".into()),
                offset: Some(42),
                via: None,
            },
            identity: "dev=1,ino=2",
            offset: 42,
            truncated: false,
        }
    }

    #[test]
    fn json_object_is_split_into_fields() {
        let payload = br#"{"ts":"2026-11-27T05:00:00.123456789+01:00","level":"ERROR","msg":"payment failed","user_id":42,"http":{"status":502,"path":"/pay"}}"#;
        let event = LogEvent::from_raw(record(payload));
        assert_eq!(event.v, 1);
        assert_eq!(event.ts.to_string(), "2026-11-27T04:00:00.123456789Z");
        assert_eq!(event.level, Level::Error);
        assert_eq!(event.message, "payment failed");
        assert_eq!(
            Value::Object(event.attributes.clone()),
            json!({"user_id": 42, "http": {"status": 502, "path": "/pay"}})
        );
        assert!(event.flags.is_empty());
        assert_eq!(event.id, EventId::derive("node-3", "dev=1,ino=2", 42));
        assert_eq!(event.kafka_key(), "shop/api-7d9f-x2");
    }

    #[test]
    fn plain_text_is_kept_whole() {
        let event = LogEvent::from_raw(record(b"  GET /healthz 200 {\"not\": json\n"));
        assert_eq!(event.message, "  GET /healthz 200 {\"not\": json");
        assert_eq!(event.level, Level::Unknown);
        assert_eq!(
            event.ts,
            Timestamp::from_unix_nanos(1_000_000_000_000_000_000)
        );
        assert!(event.attributes.is_empty());
    }

    #[test]
    fn json_that_is_not_an_object_is_kept_whole() {
        for payload in [&b"[1,2,3]"[..], b"\"quoted\"", b"42", b"{\"open\": "] {
            let event = LogEvent::from_raw(record(payload));
            assert_eq!(event.message.as_bytes(), payload);
            assert!(event.attributes.is_empty());
        }
    }

    #[test]
    fn invalid_ts_and_level_stay_in_attributes() {
        let event = LogEvent::from_raw(record(
            br#"{"time":"later","level":"Metadata","message":"x"}"#,
        ));
        assert_eq!(
            event.ts,
            Timestamp::from_unix_nanos(1_000_000_000_000_000_000)
        );
        assert_eq!(event.level, Level::Unknown);
        assert_eq!(
            Value::Object(event.attributes),
            json!({"time": "later", "level": "Metadata"})
        );
    }

    #[test]
    fn ts_fields_in_order_and_epoch_units() {
        let event = LogEvent::from_raw(record(br#"{"@timestamp":1700000000123,"msg":"m"}"#));
        assert_eq!(event.ts.to_string(), "2023-11-14T22:13:20.123000000Z");
        assert!(event.attributes.is_empty());
        let event = LogEvent::from_raw(record(br#"{"timestamp":1700000000123456,"time":"bad"}"#));
        assert_eq!(event.ts.to_string(), "2023-11-14T22:13:20.123456000Z");
        assert_eq!(Value::Object(event.attributes), json!({"time": "bad"}));
    }

    #[test]
    fn nested_and_flat_log_level() {
        let event = LogEvent::from_raw(record(
            br#"{"log":{"level":"warning","logger":"x"},"message":"m"}"#,
        ));
        assert_eq!(event.level, Level::Warn);
        assert_eq!(
            Value::Object(event.attributes),
            json!({"log": {"logger": "x"}})
        );
        let event = LogEvent::from_raw(record(br#"{"log.level":"crit","message":"m"}"#));
        assert_eq!(event.level, Level::Fatal);
        let event = LogEvent::from_raw(record(br#"{"severity":3}"#));
        assert_eq!(event.level, Level::Error);
        assert_eq!(event.message, "");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_flagged() {
        let event = LogEvent::from_raw(record(b"caf\xe9 \xff\xfe"));
        assert_eq!(event.message, "caf\u{fffd} \u{fffd}\u{fffd}");
        assert_eq!(event.flags, vec![Flag::InvalidUtf8]);
    }

    #[test]
    fn truncated_is_flagged() {
        let mut raw = record(b"{\"msg\": \"cut");
        raw.truncated = true;
        let event = LogEvent::from_raw(raw);
        assert!(event.has_flag(Flag::Truncated));
        assert_eq!(event.message, "{\"msg\": \"cut");
    }

    #[test]
    fn without_runtime_ts_the_observed_time_is_used() {
        let mut raw = record(b"plain");
        raw.runtime_ts = None;
        let event = LogEvent::from_raw(raw);
        assert_eq!(event.ts, event.observed_ts);
    }

    #[test]
    fn serialized_shape_matches_the_contract() {
        let event = LogEvent::from_raw(record(br#"{"level":"info","msg":"hi","a":{"b":1}}"#));
        let json: Value = serde_json::to_value(&event).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "v",
                "id",
                "ts",
                "observed_ts",
                "level",
                "message",
                "stream",
                "k8s",
                "source",
                "attributes"
            ]
        );
        assert_eq!(json["stream"], "stderr");
        assert_eq!(
            json["source"],
            json!({"kind": "file", "path": "/var/log/pods/shop_api_uid-1/api/0.log", "offset": 42})
        );
    }
}
