//! Realistic events for tests and benchmarks, and a producer that writes them to a topic
//! and waits for every acknowledgement.

use std::time::Duration;

use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use serde_json::json;

use crate::event::{EventId, K8s, Level, LogEvent, Source, SourceKind, Stream, Timestamp};
use crate::kafka::KafkaSettings;

const NAMESPACES: [&str; 4] = ["shop", "payments", "kube-system", "search"];
const PATHS: [&str; 5] = ["/pay", "/cart", "/api/v1/items", "/healthz", "/login"];

/// Event number `n` of a run: ten pods over four namespaces, nested HTTP attributes, a
/// level mix with one error in 16. The id derives from `n`, so the same `n` is the same
/// event.
pub fn sample_event(n: u64, ts: Timestamp) -> LogEvent {
    let namespace = NAMESPACES[(n % 4) as usize];
    let pod = format!("{namespace}-api-{}", n % 10);
    let status = if n.is_multiple_of(16) { 502 } else { 200 };
    let path = PATHS[(n % 5) as usize];
    let attributes = json!({
        "user_id": n % 997,
        "latency_ms": n.wrapping_mul(37) % 1500,
        "http": {"method": "GET", "path": path, "status": status},
        "trace": {"id": format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))},
    });
    let serde_json::Value::Object(attributes) = attributes else {
        unreachable!("an object literal");
    };
    LogEvent {
        v: 1,
        id: EventId::derive("node-1", "testkit", n),
        ts,
        observed_ts: ts,
        level: if status == 502 {
            Level::Error
        } else {
            Level::Info
        },
        message: format!("GET {path} answered {status} for request {n}"),
        stream: Some(Stream::Stdout),
        k8s: K8s {
            namespace: Some(namespace.to_owned()),
            pod: Some(pod),
            pod_uid: None,
            container: Some("api".to_owned()),
            node: "node-1".to_owned(),
            ..K8s::default()
        },
        source: Source {
            kind: SourceKind::File,
            name: None,
            path: Some("/var/log/pods/testkit/api/0.log".to_owned()),
            offset: Some(n),
            via: None,
        },
        attributes,
        flags: Vec::new(),
    }
}

/// An event on `node-1` in namespace `shop` with `message` and `attributes` (an object).
pub fn event_with(message: &str, attributes: serde_json::Value) -> LogEvent {
    let serde_json::Value::Object(attributes) = attributes else {
        panic!("an object");
    };
    LogEvent {
        v: 1,
        id: EventId::derive("node-1", "test", 0),
        ts: Timestamp::from_unix_nanos(1_790_000_000_000_000_000),
        observed_ts: Timestamp::from_unix_nanos(1_790_000_000_000_000_000),
        level: Level::Info,
        message: message.to_string(),
        stream: Some(Stream::Stdout),
        k8s: K8s {
            namespace: Some("shop".into()),
            pod: Some("api-1".into()),
            pod_uid: None,
            container: Some("api".into()),
            node: "node-1".into(),
            ..K8s::default()
        },
        source: Source {
            kind: SourceKind::File,
            name: None,
            path: Some("/var/log/pods/x/0.log".into()),
            offset: Some(0),
            via: None,
        },
        attributes,
        flags: Vec::new(),
    }
}

/// The events of a file of Kubernetes audit events (one JSON object per line, as the
/// traces of `../shared/data/falco-k8s-audit`), read as the collector reads the
/// `kube-audit` host file on `node-1`.
pub fn audit_events(path: &std::path::Path) -> Vec<LogEvent> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let identity = path.display().to_string();
    text.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(n, line)| {
            LogEvent::from_raw(crate::event::RawRecord {
                payload: line,
                runtime_ts: None,
                observed_ts: Timestamp::now(),
                stream: None,
                k8s: K8s {
                    node: "node-1".into(),
                    ..K8s::default()
                },
                source: Source {
                    kind: SourceKind::File,
                    name: Some("kube-audit".into()),
                    path: Some(identity.clone()),
                    offset: Some(n as u64),
                    via: None,
                },
                identity: &identity,
                offset: n as u64,
                truncated: false,
            })
        })
        .collect()
}

/// Produces every `(key, value)` to `topic` and waits until all are acknowledged.
pub fn produce_all<I>(settings: &KafkaSettings, topic: &str, messages: I) -> anyhow::Result<usize>
where
    I: IntoIterator<Item = (String, Vec<u8>)>,
{
    let producer: ThreadedProducer<DefaultProducerContext> = settings.producer().create()?;
    let mut count = 0;
    for (key, value) in messages {
        let mut record = BaseRecord::to(topic).key(&key).payload(&value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        count += 1;
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(count)
}

/// Produces `events` as the collector does (key `<namespace>/<pod>`, the event's JSON)
/// and waits until all are acknowledged.
pub fn produce_events(
    settings: &KafkaSettings,
    topic: &str,
    events: &[LogEvent],
) -> anyhow::Result<usize> {
    let messages: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|event| Ok((event.kafka_key(), serde_json::to_vec(event)?)))
        .collect::<anyhow::Result<_>>()?;
    produce_all(settings, topic, messages)
}
