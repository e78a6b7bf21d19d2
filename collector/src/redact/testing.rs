//! Helpers of the redaction tests: redacting a text or a record with the default rules,
//! texts built from pieces of secrets and of their masks, and the origin of test events.

use std::sync::LazyLock;

use logpipe_common::RawRecord;
use logpipe_common::event::{K8s, LogEvent, Source, SourceKind, Timestamp, WireEvent};
use proptest::prelude::*;

use super::Redactor;
use super::mask::MASK;

/// The default redactor, built once for all tests.
pub(super) fn defaults() -> &'static Redactor {
    static REDACTOR: LazyLock<Redactor> = LazyLock::new(Redactor::with_defaults);
    &REDACTOR
}

pub(super) fn redact(text: &str) -> (String, usize) {
    let mut text = text.to_owned();
    let count = defaults().redact_text(&mut text);
    (text, count)
}

fn record(payload: &str) -> RawRecord<'_> {
    RawRecord {
        payload: payload.as_bytes(),
        runtime_ts: None,
        observed_ts: Timestamp::from_unix_nanos(1),
        stream: None,
        k8s: origin().0,
        source: origin().1,
        identity: "i",
        offset: 0,
        truncated: false,
    }
}

/// The event a container writing `payload` makes, unredacted.
pub(super) fn event_of(payload: &str) -> LogEvent {
    LogEvent::from_raw(record(payload))
}

/// The event of `payload` redacted as the ingest path does (parsed) and as the tailer
/// does (attributes left as the application's text, written and read back), with the
/// number of values each masked.
pub(super) fn redact_both_ways(payload: &str) -> [(LogEvent, usize); 2] {
    let mut parsed = event_of(payload);
    let parsed_count = defaults().redact_event(&mut parsed);
    let mut wire = WireEvent::from_raw(record(payload));
    let wire_count = defaults().redact_wire(&mut wire);
    let mut bytes = Vec::new();
    wire.write_json(&mut bytes);
    let written: LogEvent = serde_json::from_slice(&bytes).expect("a written event reads back");
    [(parsed, parsed_count), (written, wire_count)]
}

pub(super) fn assert_redacts(cases: &[(&str, &str)]) {
    for (input, expected) in cases {
        let (output, count) = redact(input);
        assert_eq!(output, *expected, "{input}");
        assert!(count >= 1, "{input}");
    }
}

pub(super) fn assert_keeps(inputs: &[&str]) {
    for input in inputs {
        assert_eq!(redact(input), (input.to_string(), 0), "{input}");
    }
}

/// Text built from pieces of secrets and of their masks, to reach the rules' edges.
pub(super) fn secretish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("password".to_owned()),
        Just("token".to_owned()),
        Just("clientSecret".to_owned()),
        Just("Cookie".to_owned()),
        Just("Bearer".to_owned()),
        Just("Basic dXNlcjpwYXNz".to_owned()),
        Just("AKIA".to_owned()),
        Just("eyJ".to_owned()),
        Just("ghp_".to_owned()),
        Just("postgres://".to_owned()),
        Just("@".to_owned()),
        Just(".".to_owned()),
        Just("-----BEGIN PRIVATE KEY-----".to_owned()),
        Just("-----END PRIVATE KEY-----".to_owned()),
        Just("\\n".to_owned()),
        Just("\n".to_owned()),
        Just(";".to_owned()),
        Just("4111".to_owned()),
        Just("1111".to_owned()),
        Just("0004".to_owned()),
        Just(MASK.to_owned()),
        Just("=".to_owned()),
        Just(":".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("'".to_owned()),
        Just(" ".to_owned()),
        Just("-".to_owned()),
        "[A-Z0-9]{1,16}",
        "[a-z_]{1,6}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// The `k8s` and `source` of a test event: a file on `node-1`, nothing else known.
pub(super) fn origin() -> (K8s, Source) {
    (
        K8s {
            node: "node-1".into(),
            ..K8s::default()
        },
        Source {
            kind: SourceKind::File,
            name: None,
            path: None,
            offset: None,
            via: None,
        },
    )
}
