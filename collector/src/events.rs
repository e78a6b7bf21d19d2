//! Building the events the collector ships: one per record read, and `gap` events for
//! bytes lost before they could be read.

use logpipe_common::event::{Flag, K8s, Member, WireEvent};
use logpipe_common::{EventId, Level, LogEvent, RawRecord, Source, SourceKind, Timestamp};
use serde_json::{Map, json};

use crate::discovery::Origin;
use crate::tailer::Output;

/// Bytes kept free below the broker's message limit for the event's own fields.
const ENVELOPE_BYTES: usize = 4 * 1024;
/// What an event's fixed fields (id, times, Kubernetes metadata, source) take, about.
const ENVELOPE_ESTIMATE_BYTES: usize = 512;

/// The event of one record of a tailed file, its attributes still the record's text.
pub(crate) fn record_event<'a>(
    output: &'a Output,
    key: &'a str,
    path: &str,
    origin: &Origin,
    node: &str,
    observed_ts: Timestamp,
) -> WireEvent<'a> {
    let mut wire = WireEvent::from_raw(RawRecord {
        payload: &output.payload,
        runtime_ts: output.runtime_ts,
        observed_ts,
        stream: output.stream,
        k8s: origin.k8s(node),
        source: Source {
            kind: SourceKind::File,
            name: origin.source_name().map(str::to_owned),
            path: Some(path.to_owned()),
            offset: Some(output.offset),
            via: None,
        },
        identity: key,
        offset: output.offset,
        truncated: output.truncated,
    });
    if output.unparsed {
        wire.event.flags.push(Flag::Unparsed);
    }
    wire
}

/// The `k8s` and `source` members of every event of the file at `path`, written once
/// (`WireEvent::origin`): `k8s` is the origin's, with what the API server adds.
pub(crate) fn origin_json(path: &str, origin: &Origin, k8s: &K8s) -> Vec<u8> {
    logpipe_common::event::origin_json(
        k8s,
        &Source {
            kind: SourceKind::File,
            name: origin.source_name().map(str::to_owned),
            path: Some(path.to_owned()),
            offset: None,
            via: None,
        },
    )
}

/// Why bytes were lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GapReason {
    /// The file disappeared while the collector was not running.
    DeletedWhileDown,
    /// A rotated or deleted file was not read to its end within the drain budget.
    DrainBudgetExceeded,
    /// The file was truncated before everything written to it was read.
    Truncated,
}

impl GapReason {
    fn as_str(self) -> &'static str {
        match self {
            GapReason::DeletedWhileDown => "deleted_while_down",
            GapReason::DrainBudgetExceeded => "drain_budget_exceeded",
            GapReason::Truncated => "truncated",
        }
    }
}

/// One event naming the file and the bytes lost. Its id is fixed by the file and offset,
/// so reporting the same gap again after a crash gives the same event.
pub(crate) fn gap_event(
    key: &str,
    path: &str,
    origin: &Origin,
    node: &str,
    offset: u64,
    bytes: u64,
    reason: GapReason,
) -> LogEvent {
    let now = Timestamp::now();
    let mut attributes = Map::new();
    attributes.insert(
        "logpipe".into(),
        json!({"gap": {"bytes": bytes, "offset": offset, "reason": reason.as_str(), "path": path}}),
    );
    LogEvent {
        v: logpipe_common::event::CONTRACT_VERSION,
        id: EventId::derive(node, &format!("gap:{key}"), offset),
        ts: now,
        observed_ts: now,
        level: Level::Warn,
        message: format!(
            "gap: {bytes} bytes of {path} were lost before they were read ({})",
            reason.as_str()
        ),
        stream: None,
        k8s: origin.k8s(node),
        source: Source {
            kind: SourceKind::File,
            name: origin.source_name().map(str::to_owned),
            path: Some(path.to_owned()),
            offset: Some(offset),
            via: None,
        },
        attributes,
        flags: vec![Flag::Gap],
    }
}

/// `encode` for an event whose attributes may still be raw text, written with `k8s`
/// (what `WireEvent::origin` says of it).
pub(crate) fn encode_wire(wire: WireEvent<'_>, k8s: &K8s, max_bytes: usize) -> Vec<u8> {
    let raw_bytes: usize = wire
        .members
        .iter()
        .map(|(key, member)| match member {
            Member::Raw(raw) => key.as_str().len() + raw.get().len() + 4,
            Member::Parsed(_) => key.as_str().len() + 64,
        })
        .sum();
    // The shared origin (Kubernetes metadata and source) is written as it is.
    let origin_bytes = wire.origin.map_or(0, <[u8]>::len);
    let mut encoded = Vec::with_capacity(
        ENVELOPE_ESTIMATE_BYTES + origin_bytes + wire.event.message.len() + raw_bytes,
    );
    wire.write_json(&mut encoded);
    if encoded.len() <= max_bytes {
        return encoded;
    }
    let mut event = wire.into_event();
    event.k8s = k8s.clone();
    encode(&mut event, max_bytes)
}

/// Serializes an event to fit in one Kafka message of at most `max_bytes`: an event
/// whose JSON grew past it (escaping can multiply a record's size) keeps a cut message,
/// loses its attributes and is flagged truncated.
pub(crate) fn encode(event: &mut LogEvent, max_bytes: usize) -> Vec<u8> {
    // Sized up front: growing the buffer while serializing was a tenth of the per-event
    // cost. The fixed fields take a few hundred bytes; the message and attributes about
    // what they took as text.
    let attributes_estimate = if event.attributes.is_empty() {
        0
    } else {
        event.message.len() + 256
    };
    let mut encoded =
        Vec::with_capacity(ENVELOPE_ESTIMATE_BYTES + event.message.len() + attributes_estimate);
    if serde_json::to_writer(&mut encoded, event).is_err() {
        encoded.clear();
    }
    if encoded.len() <= max_bytes {
        return encoded;
    }
    let budget = max_bytes.saturating_sub(ENVELOPE_BYTES) / 6;
    let mut cut = budget.min(event.message.len());
    while !event.message.is_char_boundary(cut) {
        cut -= 1;
    }
    event.message.truncate(cut);
    let dropped = std::mem::take(&mut event.attributes).len();
    event
        .attributes
        .insert("logpipe".into(), json!({"dropped_attributes": dropped}));
    if !event.flags.contains(&Flag::Truncated) {
        event.flags.push(Flag::Truncated);
    }
    serde_json::to_vec(event).unwrap_or_default()
}

#[cfg(test)]
fn attribute<'a>(event: &'a LogEvent, path: &[&str]) -> Option<&'a serde_json::Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(event.attributes.get(*first)?, |value, key| value.get(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::Pod {
            namespace: "shop".into(),
            pod: "api-0".into(),
            uid: "u".into(),
            container: "api".into(),
        }
    }

    #[test]
    fn gap_events_are_deterministic() {
        let a = gap_event(
            "1:2:3",
            "/p/0.log",
            &origin(),
            "n",
            10,
            99,
            GapReason::DeletedWhileDown,
        );
        let b = gap_event(
            "1:2:3",
            "/p/0.log",
            &origin(),
            "n",
            10,
            99,
            GapReason::DeletedWhileDown,
        );
        assert_eq!(a.id, b.id);
        assert_eq!(a.level, Level::Warn);
        assert_eq!(
            attribute(&a, &["logpipe", "gap", "bytes"]),
            Some(&json!(99))
        );
        assert!(a.flags.contains(&Flag::Gap));
        assert_eq!(a.k8s.namespace.as_deref(), Some("shop"));
    }

    #[test]
    fn the_shared_origin_is_written_as_each_event_would_write_it() {
        let host = Origin::Host {
            name: "kube-audit".into(),
        };
        for (origin, path) in [
            (origin(), "/var/log/pods/shop_api-0_u/api/0.log"),
            (host, "/var/log/kubernetes/audit/\"odd\".log"),
        ] {
            let output = Output {
                payload: br#"{"msg":"hello","n":1}"#.to_vec(),
                runtime_ts: None,
                stream: None,
                offset: 77,
                end: 99,
                truncated: false,
                unparsed: false,
            };
            let mut alone = record_event(&output, "k", path, &origin, "node-1", Timestamp::now());
            let k8s = enriched(&origin);
            alone.event.k8s = k8s.clone();
            let shared = origin_json(path, &origin, &k8s);
            let mut with_shared = alone.clone();
            with_shared.origin = Some(&shared);
            assert_eq!(
                encode_wire(with_shared, &k8s, 1 << 20),
                encode_wire(alone, &k8s, 1 << 20)
            );
        }
    }

    /// The origin's `k8s` with what the API server adds.
    fn enriched(origin: &Origin) -> K8s {
        let mut k8s = origin.k8s("node-1");
        if k8s.pod.is_some() {
            k8s.workload = Some("api".into());
            k8s.workload_kind = Some("Deployment".into());
            k8s.labels = [("app".into(), "api \"quoted\"".into())].into();
            k8s.annotations = [("app.kubernetes.io/version".into(), "1.2".into())].into();
            k8s.namespace_labels = [("team".into(), "shop".into())].into();
        }
        k8s
    }

    #[test]
    fn oversized_events_are_cut_to_fit() {
        let output = Output {
            payload: vec![0x01; 300_000],
            runtime_ts: None,
            stream: None,
            offset: 0,
            end: 300_001,
            truncated: false,
            unparsed: false,
        };
        let k8s = enriched(&origin());
        let event = record_event(&output, "k", "/p", &origin(), "n", Timestamp::now());
        let encoded = encode_wire(event, &k8s, 1 << 20);
        assert!(encoded.len() <= 1 << 20, "{}", encoded.len());
        let event: LogEvent = serde_json::from_slice(&encoded).unwrap();
        assert!(event.flags.contains(&Flag::Truncated));
        // The cut event keeps what the API server said of its pod.
        assert_eq!(event.k8s, k8s);
        // Raw attributes that do not fit are dropped as parsed ones are.
        let mut payload = b"{\"msg\":\"big\",\"blob\":[".to_vec();
        payload.extend(std::iter::repeat_n(b"1,".as_slice(), 600_000).flatten());
        payload.extend(b"1]}");
        let big = Output {
            payload,
            ..output.clone()
        };
        let encoded = encode_wire(
            record_event(&big, "k", "/p", &origin(), "n", Timestamp::now()),
            &k8s,
            1 << 20,
        );
        let event: LogEvent = serde_json::from_slice(&encoded).unwrap();
        assert!(event.flags.contains(&Flag::Truncated));
        assert_eq!(event.message, "big");
        assert_eq!(
            attribute(&event, &["logpipe", "dropped_attributes"]),
            Some(&json!(1))
        );
        let small = encode_wire(
            record_event(
                &Output {
                    payload: b"hi".to_vec(),
                    ..output
                },
                "k",
                "/p",
                &origin(),
                "n",
                Timestamp::now(),
            ),
            &k8s,
            1 << 20,
        );
        assert!(small.len() < 1000);
    }
}
