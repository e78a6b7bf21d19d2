//! OTLP log records → `LogEvent`s, the event contract as push ingest fills it:
//!
//! - `k8s`: `k8s.namespace.name`, `k8s.pod.name`, `k8s.pod.uid`, `k8s.container.name`
//!   and `k8s.node.name` of the resource (the node defaults to the collector's); a
//!   token bound to a namespace places the events there whatever the resource says.
//! - `source`: kind `http`, name from the `source` parameter, else `service.name`, else
//!   `otlp`; `offset` is the record's number within the request; `via` the token.
//! - `ts`: `time_unix_nano`, else `observed_time_unix_nano`, else the time it was taken;
//!   `observed_ts` is always the time logpipe took it.
//! - `level`: `severity_number` by the OTLP ranges (1–4 trace, 5–8 debug, 9–12 info,
//!   13–16 warn, 17–20 error, 21–24 fatal), else `severity_text` as any level name, else
//!   for a string body the level a text line shows; `unknown` otherwise, and then the
//!   severity fields given are kept under `attributes`.
//! - `message`: a string body; a number or boolean as text; bytes in base64; for a
//!   key-value list its `msg`, `message` or `log` string. A list or an array is kept
//!   whole under `attributes.body` (without the member taken as message).
//! - `attributes`: the record's attributes as they were (dotted keys stay keys, which
//!   search reads as paths), plus `resource` (every resource attribute not taken into
//!   `k8s`, `service.name` included), `scope` (`name`, `version`, `attributes`),
//!   `trace_id` and `span_id` (hex), `trace_flags`, `event_name`. A record attribute
//!   named like one of these is kept under `attributes.record`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use logpipe_common::event::CONTRACT_VERSION;
use logpipe_common::{EventId, K8s, Level, LogEvent, Source, SourceKind, Timestamp};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Map, Value};

/// Source name of an OTLP resource without `service.name`, unless the request names one.
pub(crate) const DEFAULT_SOURCE: &str = "otlp";
/// The resource attribute a source name is taken from.
const SERVICE_NAME: &str = "service.name";
/// Members of a key-value list body taken as the message, in order of preference (the
/// contract's message fields).
const MESSAGE_FIELDS: [&str; 3] = ["msg", "message", "log"];
/// Members of `attributes` the mapping writes; a record attribute so named moves to
/// `attributes.record`.
const RESERVED: [&str; 10] = [
    "record",
    "resource",
    "scope",
    "body",
    "trace_id",
    "span_id",
    "trace_flags",
    "event_name",
    "severity_number",
    "severity_text",
];

/// Where a request's records come from, the same for all of them.
#[derive(Debug, Clone)]
pub(crate) struct Origin<'a> {
    /// The collector's node: the default `k8s.node`, and part of every event id.
    pub node: &'a str,
    /// The token's namespace, which wins over the resource's.
    pub namespace: Option<&'a str>,
    /// The token's name, for `source.via`.
    pub via: Option<&'a str>,
    /// The `source` parameter, which wins over `service.name`.
    pub source: Option<&'a str>,
    /// What the request's event ids derive from (with each record's number).
    pub identity: &'a str,
    pub observed_ts: Timestamp,
}

/// The source name of a resource's records.
pub(crate) fn source_name(resource: Option<&Resource>, given: Option<&str>) -> String {
    if let Some(given) = given {
        return given.to_owned();
    }
    resource
        .into_iter()
        .flat_map(|resource| &resource.attributes)
        .find(|kv| kv.key == SERVICE_NAME)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Any::StringValue(name) if !name.is_empty() => Some(name.clone()),
            _ => None,
        })
        .unwrap_or_else(|| DEFAULT_SOURCE.to_owned())
}

/// The events of one resource's records, numbered from `offset + 1`.
pub(crate) fn resource_events(
    resource_logs: ResourceLogs,
    origin: &Origin<'_>,
    offset: u64,
) -> Vec<LogEvent> {
    let source_name = source_name(resource_logs.resource.as_ref(), origin.source);
    let mut resource = object(
        resource_logs
            .resource
            .map(|resource| resource.attributes)
            .unwrap_or_default(),
    );
    let k8s = k8s(&mut resource, origin);
    let resource = (!resource.is_empty()).then_some(Value::Object(resource));
    let mut events = Vec::new();
    let mut number = offset;
    for scope_logs in resource_logs.scope_logs {
        let scope = scope_logs.scope.and_then(scope);
        for record in scope_logs.log_records {
            number += 1;
            let context = Context {
                k8s: &k8s,
                source_name: &source_name,
                resource: resource.as_ref(),
                scope: scope.as_ref(),
            };
            events.push(record_event(record, &context, origin, number));
        }
    }
    events
}

/// What a record's event takes from its resource and scope.
struct Context<'a> {
    k8s: &'a K8s,
    source_name: &'a str,
    resource: Option<&'a Value>,
    scope: Option<&'a Value>,
}

/// The Kubernetes metadata of a resource; the attributes it takes leave `resource`, and a
/// namespace the token overrides stays there.
fn k8s(resource: &mut Map<String, Value>, origin: &Origin<'_>) -> K8s {
    let mut take = |key: &str| match resource.get(key) {
        Some(Value::String(value)) if !value.is_empty() => {
            let value = value.clone();
            resource.remove(key);
            Some(value)
        }
        _ => None,
    };
    let namespace = match origin.namespace {
        Some(namespace) => Some(namespace.to_owned()),
        None => take("k8s.namespace.name"),
    };
    K8s {
        namespace,
        pod: take("k8s.pod.name"),
        pod_uid: take("k8s.pod.uid"),
        container: take("k8s.container.name"),
        node: take("k8s.node.name").unwrap_or_else(|| origin.node.to_owned()),
        ..K8s::default()
    }
}

/// `attributes.scope`: name, version and attributes when there are any.
fn scope(scope: InstrumentationScope) -> Option<Value> {
    let mut members = Map::new();
    if !scope.name.is_empty() {
        members.insert("name".into(), Value::String(scope.name));
    }
    if !scope.version.is_empty() {
        members.insert("version".into(), Value::String(scope.version));
    }
    if !scope.attributes.is_empty() {
        members.insert("attributes".into(), Value::Object(object(scope.attributes)));
    }
    (!members.is_empty()).then_some(Value::Object(members))
}

fn record_event(
    record: LogRecord,
    context: &Context<'_>,
    origin: &Origin<'_>,
    number: u64,
) -> LogEvent {
    let mut attributes = object(record.attributes);
    let moved: Map<String, Value> = RESERVED
        .iter()
        .filter_map(|key| attributes.remove_entry(*key))
        .collect();
    if !moved.is_empty() {
        attributes.insert("record".into(), Value::Object(moved));
    }
    let text_body = matches!(
        record.body.as_ref().and_then(|body| body.value.as_ref()),
        Some(Any::StringValue(_))
    );
    let (message, body) = body(record.body);
    let level = level(record.severity_number, &record.severity_text)
        .or_else(|| text_body.then(|| Level::from_text(&message)).flatten())
        .unwrap_or(Level::Unknown);
    if level == Level::Unknown {
        if record.severity_number != 0 {
            attributes.insert("severity_number".into(), record.severity_number.into());
        }
        if !record.severity_text.is_empty() {
            attributes.insert("severity_text".into(), record.severity_text.into());
        }
    }
    if let Some(body) = body {
        attributes.insert("body".into(), body);
    }
    if let Some(trace_id) = hex_id(&record.trace_id) {
        attributes.insert("trace_id".into(), Value::String(trace_id));
    }
    if let Some(span_id) = hex_id(&record.span_id) {
        attributes.insert("span_id".into(), Value::String(span_id));
    }
    let trace_flags = record.flags & 0xff;
    if trace_flags != 0 {
        attributes.insert("trace_flags".into(), trace_flags.into());
    }
    if !record.event_name.is_empty() {
        attributes.insert("event_name".into(), Value::String(record.event_name));
    }
    if let Some(scope) = context.scope {
        attributes.insert("scope".into(), scope.clone());
    }
    if let Some(resource) = context.resource {
        attributes.insert("resource".into(), resource.clone());
    }
    LogEvent {
        v: CONTRACT_VERSION,
        id: EventId::derive(origin.node, origin.identity, number),
        ts: time(record.time_unix_nano)
            .or_else(|| time(record.observed_time_unix_nano))
            .unwrap_or(origin.observed_ts),
        observed_ts: origin.observed_ts,
        level,
        message,
        stream: None,
        k8s: context.k8s.clone(),
        source: Source {
            kind: SourceKind::Http,
            name: Some(context.source_name.to_owned()),
            path: None,
            offset: Some(number),
            via: origin.via.map(str::to_owned),
        },
        attributes,
        flags: Vec::new(),
    }
}

/// The level of OTLP severity fields: the number by its ranges, else the text.
pub(crate) fn level(severity_number: i32, severity_text: &str) -> Option<Level> {
    match severity_number {
        1..=4 => Some(Level::Trace),
        5..=8 => Some(Level::Debug),
        9..=12 => Some(Level::Info),
        13..=16 => Some(Level::Warn),
        17..=20 => Some(Level::Error),
        21..=24 => Some(Level::Fatal),
        _ => Level::from_name(severity_text),
    }
}

/// The message of a body, and what is kept under `attributes.body`.
fn body(body: Option<AnyValue>) -> (String, Option<Value>) {
    match body.and_then(|body| body.value) {
        None => (String::new(), None),
        Some(Any::StringValue(text)) => (text, None),
        Some(Any::KvlistValue(list)) => {
            let mut members = object(list.values);
            let message = MESSAGE_FIELDS
                .iter()
                .find_map(|field| match members.get(*field) {
                    Some(Value::String(_)) => match members.remove(*field) {
                        Some(Value::String(text)) => Some(text),
                        _ => None,
                    },
                    _ => None,
                });
            let kept = (!members.is_empty()).then_some(Value::Object(members));
            (message.unwrap_or_default(), kept)
        }
        Some(Any::ArrayValue(array)) => (
            String::new(),
            Some(Value::Array(array.values.into_iter().map(json).collect())),
        ),
        Some(scalar) => match json(AnyValue {
            value: Some(scalar),
        }) {
            Value::String(text) => (text, None),
            other => (other.to_string(), None),
        },
    }
}

/// Key-value pairs as a JSON object (a repeated key: the last one).
pub(crate) fn object(pairs: Vec<KeyValue>) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|pair| (pair.key, pair.value.map_or(Value::Null, json)))
        .collect()
}

/// An OTLP value as JSON: bytes in base64, a double that JSON cannot hold as its name.
pub(crate) fn json(value: AnyValue) -> Value {
    match value.value {
        None => Value::Null,
        Some(Any::StringValue(text)) => Value::String(text),
        Some(Any::BoolValue(flag)) => Value::Bool(flag),
        Some(Any::IntValue(number)) => Value::from(number),
        Some(Any::DoubleValue(number)) => serde_json::Number::from_f64(number)
            .map_or_else(|| Value::String(number.to_string()), Value::Number),
        Some(Any::BytesValue(bytes)) => Value::String(STANDARD.encode(bytes)),
        Some(Any::ArrayValue(array)) => Value::Array(array.values.into_iter().map(json).collect()),
        Some(Any::KvlistValue(list)) => Value::Object(object(list.values)),
    }
}

/// A trace or span id in hex; none when absent or all zeros (OTLP's "no id").
fn hex_id(bytes: &[u8]) -> Option<String> {
    if bytes.iter().all(|&byte| byte == 0) {
        return None;
    }
    Some(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// A time in nanoseconds since the epoch; none for 0 (unset) or past 2262.
fn time(nanos: u64) -> Option<Timestamp> {
    match i64::try_from(nanos) {
        Ok(nanos) if nanos > 0 => Some(Timestamp::from_unix_nanos(nanos)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
    use opentelemetry_proto::tonic::logs::v1::ScopeLogs;
    use serde_json::json;

    fn text(value: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(Any::StringValue(value.into())),
        })
    }

    fn pair(key: &str, value: Any) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
        }
    }

    fn string(key: &str, value: &str) -> KeyValue {
        pair(key, Any::StringValue(value.into()))
    }

    fn origin() -> Origin<'static> {
        Origin {
            node: "node-1",
            namespace: None,
            via: Some("relay"),
            source: None,
            identity: "otlp:request:1",
            observed_ts: Timestamp::from_unix_nanos(5_000_000_000),
        }
    }

    fn resource_logs(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> ResourceLogs {
        ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "checkout.payments".into(),
                    version: "1.2.0".into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }
    }

    fn one(record: LogRecord) -> LogEvent {
        resource_events(resource_logs(Vec::new(), vec![record]), &origin(), 0).remove(0)
    }

    #[test]
    fn severity_numbers_by_range_then_text() {
        let expected = [
            (1, Level::Trace),
            (4, Level::Trace),
            (5, Level::Debug),
            (8, Level::Debug),
            (9, Level::Info),
            (12, Level::Info),
            (13, Level::Warn),
            (16, Level::Warn),
            (17, Level::Error),
            (20, Level::Error),
            (21, Level::Fatal),
            (24, Level::Fatal),
        ];
        for (number, level) in expected {
            assert_eq!(super::level(number, ""), Some(level), "{number}");
            assert_eq!(
                super::level(number, "debug"),
                Some(level),
                "the number wins"
            );
        }
        assert_eq!(super::level(0, "WARNING"), Some(Level::Warn));
        assert_eq!(super::level(25, "Information"), Some(Level::Info));
        assert_eq!(super::level(-1, ""), None);
        assert_eq!(super::level(0, "Metadata"), None);
    }

    #[test]
    fn an_unknown_severity_is_kept_in_attributes() {
        let event = one(LogRecord {
            severity_number: 30,
            severity_text: "Audit".into(),
            body: text("door opened"),
            ..LogRecord::default()
        });
        assert_eq!(event.level, Level::Unknown);
        assert_eq!(event.attributes["severity_number"], 30);
        assert_eq!(event.attributes["severity_text"], "Audit");
        // A string body shows its level as a text line would.
        let event = one(LogRecord {
            body: text("2026-11-27 10:00:00 ERROR [main] payment failed"),
            ..LogRecord::default()
        });
        assert_eq!(event.level, Level::Error);
        assert!(!event.attributes.contains_key("severity_number"));
    }

    #[test]
    fn bodies_of_every_kind() {
        let event = one(LogRecord {
            body: text("payment failed"),
            ..LogRecord::default()
        });
        assert_eq!(event.message, "payment failed");
        assert!(!event.attributes.contains_key("body"));

        let event = one(LogRecord {
            body: Some(AnyValue {
                value: Some(Any::KvlistValue(KeyValueList {
                    values: vec![
                        string("message", "order placed"),
                        pair("order", Any::IntValue(42)),
                        pair(
                            "items",
                            Any::ArrayValue(ArrayValue {
                                values: vec![text("a").unwrap(), text("b").unwrap()],
                            }),
                        ),
                    ],
                })),
            }),
            ..LogRecord::default()
        });
        assert_eq!(event.message, "order placed");
        assert_eq!(
            event.attributes["body"],
            json!({"order": 42, "items": ["a", "b"]})
        );

        let event = one(LogRecord {
            body: Some(AnyValue {
                value: Some(Any::KvlistValue(KeyValueList {
                    values: vec![pair("message", Any::IntValue(1))],
                })),
            }),
            ..LogRecord::default()
        });
        assert_eq!(event.message, "", "only a string member is a message");
        assert_eq!(event.attributes["body"], json!({"message": 1}));

        let event = one(LogRecord {
            body: Some(AnyValue {
                value: Some(Any::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Any::DoubleValue(1.5)),
                    }],
                })),
            }),
            ..LogRecord::default()
        });
        assert_eq!(event.message, "");
        assert_eq!(event.attributes["body"], json!([1.5]));

        for (value, message) in [
            (Any::IntValue(-7), "-7"),
            (Any::DoubleValue(0.25), "0.25"),
            (Any::DoubleValue(f64::NAN), "NaN"),
            (Any::BoolValue(true), "true"),
            (Any::BytesValue(vec![0, 255, 1]), "AP8B"),
        ] {
            let event = one(LogRecord {
                body: Some(AnyValue { value: Some(value) }),
                ..LogRecord::default()
            });
            assert_eq!(event.message, message);
        }
        assert_eq!(one(LogRecord::default()).message, "");
    }

    #[test]
    fn resource_scope_and_record_attributes() {
        let resource = vec![
            string("service.name", "checkout"),
            string("k8s.namespace.name", "shop"),
            string("k8s.pod.name", "api-7d9f-x2"),
            string("k8s.pod.uid", "uid-1"),
            string("k8s.container.name", "api"),
            string("k8s.node.name", "node-7"),
            string("deployment.environment", "prod"),
        ];
        let record = LogRecord {
            time_unix_nano: 1_700_000_000_000_000_001,
            observed_time_unix_nano: 1_700_000_000_000_000_002,
            severity_number: 17,
            body: text("payment failed"),
            attributes: vec![
                pair("http.response.status_code", Any::IntValue(502)),
                string("resource", "mine"),
                pair("ratio", Any::DoubleValue(0.5)),
            ],
            trace_id: (1..=16).collect(),
            span_id: vec![0xab; 8],
            flags: 0x101,
            event_name: "payment.failed".into(),
            ..LogRecord::default()
        };
        let events = resource_events(resource_logs(resource, vec![record]), &origin(), 10);
        let event = &events[0];
        assert_eq!(event.k8s.namespace.as_deref(), Some("shop"));
        assert_eq!(event.k8s.pod.as_deref(), Some("api-7d9f-x2"));
        assert_eq!(event.k8s.pod_uid.as_deref(), Some("uid-1"));
        assert_eq!(event.k8s.container.as_deref(), Some("api"));
        assert_eq!(event.k8s.node, "node-7");
        assert_eq!(event.kafka_key(), "shop/api-7d9f-x2");
        assert_eq!(event.source.kind, SourceKind::Http);
        assert_eq!(event.source.name.as_deref(), Some("checkout"));
        assert_eq!(event.source.offset, Some(11));
        assert_eq!(event.source.via.as_deref(), Some("relay"));
        assert_eq!(event.id, EventId::derive("node-1", "otlp:request:1", 11));
        assert_eq!(
            event.ts,
            Timestamp::from_unix_nanos(1_700_000_000_000_000_001)
        );
        assert_eq!(event.observed_ts, Timestamp::from_unix_nanos(5_000_000_000));
        assert_eq!(event.level, Level::Error);
        assert_eq!(
            Value::Object(event.attributes.clone()),
            json!({
                "http.response.status_code": 502,
                "ratio": 0.5,
                "record": {"resource": "mine"},
                "trace_id": "0102030405060708090a0b0c0d0e0f10",
                "span_id": "abababababababab",
                "trace_flags": 1,
                "event_name": "payment.failed",
                "scope": {"name": "checkout.payments", "version": "1.2.0"},
                "resource": {"service.name": "checkout", "deployment.environment": "prod"},
            })
        );
    }

    #[test]
    fn the_tokens_namespace_and_the_source_parameter_win() {
        let resource = vec![
            string("service.name", "checkout"),
            string("k8s.namespace.name", "kube-system"),
        ];
        let origin = Origin {
            namespace: Some("shop"),
            source: Some("shop-relay"),
            ..origin()
        };
        let event = resource_events(
            resource_logs(resource, vec![LogRecord::default()]),
            &origin,
            0,
        )
        .remove(0);
        assert_eq!(event.k8s.namespace.as_deref(), Some("shop"));
        assert_eq!(event.k8s.node, "node-1");
        assert_eq!(event.source.name.as_deref(), Some("shop-relay"));
        assert_eq!(
            event.attributes["resource"],
            json!({"service.name": "checkout", "k8s.namespace.name": "kube-system"})
        );
    }

    #[test]
    fn times_fall_back_to_observed_then_now() {
        let event = one(LogRecord {
            observed_time_unix_nano: 7,
            ..LogRecord::default()
        });
        assert_eq!(event.ts, Timestamp::from_unix_nanos(7));
        let event = one(LogRecord {
            time_unix_nano: u64::MAX,
            ..LogRecord::default()
        });
        assert_eq!(event.ts, event.observed_ts, "past 2262 is no time");
    }

    #[test]
    fn source_names() {
        assert_eq!(source_name(None, None), DEFAULT_SOURCE);
        let resource = Resource {
            attributes: vec![string("service.name", "billing")],
            ..Resource::default()
        };
        assert_eq!(source_name(Some(&resource), None), "billing");
        assert_eq!(source_name(Some(&resource), Some("given")), "given");
        let empty = Resource {
            attributes: vec![string("service.name", "")],
            ..Resource::default()
        };
        assert_eq!(source_name(Some(&empty), None), DEFAULT_SOURCE);
    }

    #[test]
    fn zero_ids_are_no_ids() {
        let event = one(LogRecord {
            trace_id: vec![0; 16],
            span_id: Vec::new(),
            ..LogRecord::default()
        });
        assert!(!event.attributes.contains_key("trace_id"));
        assert!(!event.attributes.contains_key("span_id"));
    }
}
