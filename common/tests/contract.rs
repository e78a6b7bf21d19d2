//! The event contract over real payloads from ../shared/data, and property tests.

use logpipe_common::testkit::shared_data;
use logpipe_common::{Level, LogEvent, Timestamp};
use proptest::prelude::*;
use serde_json::Value;

use crate::util::{container_record, host_file_record, lines_under};

fn round_trips(event: &LogEvent) {
    let json = serde_json::to_string(event).unwrap();
    let back: LogEvent = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, event, "round trip of {json}");
}

/// Fluent Bit's Kubernetes test logs are docker json-file lines: the application payload
/// is the `log` field and the runtime time is `time`.
#[test]
fn fluent_bit_container_logs() {
    let lines = lines_under(&shared_data().join("fluent-bit-k8s-testdata/log"), ".log");
    assert!(
        lines.len() >= 50,
        "expected the fluent-bit test logs, found {}",
        lines.len()
    );
    let (mut structured, mut plain) = (0, 0);
    for (offset, (file, line)) in lines.iter().enumerate() {
        let docker: Value = serde_json::from_slice(line).unwrap_or_else(|e| panic!("{file}: {e}"));
        let payload = docker["log"].as_str().unwrap().as_bytes();
        let runtime_ts = Timestamp::from_json(&docker["time"]).unwrap();
        let event = LogEvent::from_raw(container_record(payload, Some(runtime_ts), offset as u64));
        round_trips(&event);
        let text = std::str::from_utf8(payload).unwrap();
        match serde_json::from_str::<Value>(text.trim()) {
            Ok(Value::Object(object)) => {
                structured += 1;
                // Every field of the application's object survives: consumed into ts,
                // level or message, or kept in attributes.
                for key in object.keys() {
                    let consumed = [
                        "ts",
                        "time",
                        "timestamp",
                        "@timestamp",
                        "level",
                        "lvl",
                        "severity",
                        "msg",
                        "message",
                        "log",
                    ]
                    .contains(&key.as_str());
                    assert!(
                        consumed || event.attributes.contains_key(key),
                        "{file}: lost {key}"
                    );
                }
            }
            _ => {
                plain += 1;
                assert_eq!(event.message, text.trim_end_matches('\n'), "{file}");
                assert!(event.attributes.is_empty());
                assert_eq!(event.ts, runtime_ts, "{file}");
            }
        }
    }
    assert!(
        structured > 0 && plain > 0,
        "structured {structured}, plain {plain}"
    );
}

/// Kubernetes audit events from the API server's audit log: the audit `level`
/// (Metadata, Request, ...) is not a severity and stays with the record; event time is
/// when the request was received.
#[test]
fn kubernetes_audit_events() {
    let lines = lines_under(&shared_data().join("falco-k8s-audit/trace_files"), ".json");
    assert!(
        lines.len() >= 47,
        "expected the falco audit traces, found {}",
        lines.len()
    );
    for (offset, (file, line)) in lines.iter().enumerate() {
        let event = LogEvent::from_raw(host_file_record(line, "kube-audit", offset as u64));
        round_trips(&event);
        let original: Value = serde_json::from_slice(line).unwrap();
        if original["apiVersion"]
            .as_str()
            .is_some_and(|api| api.starts_with("audit.k8s.io/"))
        {
            assert_eq!(event.level, Level::Unknown, "{file}");
            assert_eq!(event.attributes["level"], original["level"], "{file}");
            assert_eq!(event.attributes["auditID"], original["auditID"], "{file}");
            assert_eq!(
                event.attributes["objectRef"], original["objectRef"],
                "{file}"
            );
            // Older audit events carry a top-level `timestamp`, which wins as DESIGN.md
            // orders the fields; otherwise the time the request was received.
            let expected = Timestamp::from_json(&original["timestamp"])
                .or_else(|| Timestamp::from_json(&original["requestReceivedTimestamp"]))
                .unwrap();
            assert_eq!(event.ts, expected, "{file}");
        }
        assert_eq!(event.k8s.namespace, None);
        assert_eq!(event.source.name.as_deref(), Some("kube-audit"));
    }
}

/// NGINX Plus status documents: deeply nested JSON with an epoch-milliseconds timestamp.
#[test]
fn nginx_nested_json_documents() {
    let path = shared_data().join("elastic-examples/nginxplus_json_logs.jsonl");
    let text = std::fs::read(&path).unwrap();
    let mut count = 0;
    for (offset, line) in text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let original: Value = serde_json::from_slice(line).unwrap();
        let event = LogEvent::from_raw(container_record(line, None, offset as u64));
        round_trips(&event);
        let millis = original["timestamp"].as_i64().unwrap();
        assert_eq!(event.ts.unix_nanos(), millis * 1_000_000);
        assert!(!event.attributes.contains_key("timestamp"));
        assert_eq!(event.attributes["server_zones"], original["server_zones"]);
        assert_eq!(event.attributes["upstreams"], original["upstreams"]);
        count += 1;
    }
    assert_eq!(count, 500);
}

/// Real Apache access-log lines are not JSON: kept whole.
#[test]
fn apache_access_log_lines_are_kept_whole() {
    let text = std::fs::read(shared_data().join("elastic-examples/apache_logs")).unwrap();
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() >= 10_000, "{}", lines.len());
    for (offset, line) in lines.iter().enumerate() {
        let event = LogEvent::from_raw(container_record(line, None, offset as u64));
        assert_eq!(event.message.as_bytes(), *line);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_bytes_make_an_event_that_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
        let event = LogEvent::from_raw(container_record(&payload, None, 7));
        round_trips(&event);
    }

    #[test]
    fn json_ish_payloads_round_trip(
        message in "[^\"\\\\]{0,40}",
        level in prop_oneof![Just("WARNING"), Just("err"), Just("critical"), Just("Metadata"), Just("6")],
        ts in prop_oneof![Just(Value::from(1_700_000_000_123_i64)), Just(Value::from("2026-11-27T05:00:00+02:00")), Just(Value::from("nope")), Just(Value::from(0.5))],
        number in any::<f64>().prop_filter("finite", |n| n.is_finite()),
        nested in "[a-z]{1,8}",
    ) {
        let payload = serde_json::json!({
            "time": ts, "level": level, "msg": message, "n": number, "deep": {nested.clone(): [1, {"x": nested}]}
        });
        let bytes = serde_json::to_vec(&payload).unwrap();
        let event = LogEvent::from_raw(container_record(&bytes, None, 9));
        round_trips(&event);
        let expected = message.strip_suffix('\n').unwrap_or(&message);
        let expected = expected.strip_suffix('\r').unwrap_or(expected);
        prop_assert_eq!(event.message.as_str(), expected);
        prop_assert_eq!(&event.attributes["deep"], &payload["deep"]);
    }
}
