//! Kafka message → `LogEvent`: the contract read strictly when it holds, repaired
//! best-effort when required fields are missing or mistyped, refused (for the dead-letter
//! topic) when the message is not an event at all or comes from an unknown contract version.

use std::borrow::Cow;
use std::time::Duration;

use logpipe_common::event::{CONTRACT_VERSION, EventId, Flag, Timestamp};
use serde_json::{Map, Value};

use logpipe_store::document::{Event, EventDocument, Placed};
use logpipe_store::layout::Day;
use logpipe_store::schema::Fields;

/// Longest excerpt of a parser error quoted in a dead-letter reason.
const REASON_MAX_CHARS: usize = 200;

/// One message as it came off the events topic.
#[derive(Debug, Clone, Copy)]
pub struct KafkaRecord<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    /// The message timestamp, in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// How far `ts` may stray from `observed_ts` before the event is placed by `observed_ts`.
#[derive(Debug, Clone, Copy)]
pub struct TsBounds {
    pub max_past: Duration,
    pub max_future: Duration,
}

/// Why a message cannot be indexed; it goes to the dead-letter topic with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected(pub String);

/// Reads `record` into the document it is indexed as.
pub fn decode(
    record: &KafkaRecord<'_>,
    bounds: &TsBounds,
    fields: &Fields,
) -> Result<EventDocument, Rejected> {
    let payload = record
        .payload
        .ok_or_else(|| Rejected("empty message (no value)".to_owned()))?;
    let read = EventDocument::try_new(fields, payload.to_vec(), |json| match Event::parse(json) {
        Ok(event) if event.v == CONTRACT_VERSION => Ok(place(event, json, bounds)),
        Ok(event) => Err(Some(unsupported_version(&Value::from(event.v)))),
        Err(_) => Err(None),
    });
    match read {
        Ok(document) => Ok(document),
        Err(Some(rejected)) => Err(rejected),
        Err(None) => {
            let stored = repair(record, payload)?;
            EventDocument::try_new(fields, stored, |json| {
                Event::parse(json).map(|event| place(event, json, bounds))
            })
            .map_err(|error| Rejected(format!("not a log event: {}", excerpt(&error.to_string()))))
        }
    }
}

/// Routes the event to the day of its `ts`, or of its `observed_ts` when `ts` is out of
/// bounds (the stored JSON then carries the `ts_out_of_bounds` flag).
fn place<'a>(mut event: Event<'a>, stored: &[u8], bounds: &TsBounds) -> Placed<'a> {
    let observed = event.observed_ts.unix_nanos();
    let ts = event.ts.unix_nanos();
    let past = i64::try_from(bounds.max_past.as_nanos()).unwrap_or(i64::MAX);
    let future = i64::try_from(bounds.max_future.as_nanos()).unwrap_or(i64::MAX);
    let in_bounds = ts >= observed.saturating_sub(past) && ts <= observed.saturating_add(future);
    if in_bounds {
        return Placed {
            day: Day::of(event.ts),
            event,
            flagged: None,
        };
    }
    let day = Day::of(event.observed_ts);
    if event.flags.contains(&Flag::TsOutOfBounds) {
        return Placed {
            event,
            day,
            flagged: None,
        };
    }
    let flagged = with_flag(stored, Flag::TsOutOfBounds);
    event.flags.push(Flag::TsOutOfBounds);
    Placed {
        event,
        day,
        flagged: Some(flagged),
    }
}

/// `stored` (an event this module read) with `flag` added to its flags. Everything else
/// stays as written, unknown members and flags of a newer version included.
fn with_flag(stored: &[u8], flag: Flag) -> Vec<u8> {
    let flag_json = format!("\"{}\"", flag.as_str());
    let mut out = Vec::with_capacity(stored.len() + flag_json.len() + 16);
    match top_level_member(stored, "flags") {
        Some(value) => {
            // The event was read, so `flags` is an array: insert before its `]`.
            let close = value.end - 1;
            let empty = stored[value.start + 1..close]
                .iter()
                .all(u8::is_ascii_whitespace);
            out.extend_from_slice(&stored[..close]);
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(flag_json.as_bytes());
            out.extend_from_slice(&stored[close..]);
        }
        None => {
            let close = stored
                .iter()
                .rposition(|&b| b == b'}')
                .unwrap_or(stored.len());
            out.extend_from_slice(&stored[..close]);
            out.extend_from_slice(b",\"flags\":[");
            out.extend_from_slice(flag_json.as_bytes());
            out.push(b']');
            out.extend_from_slice(&stored[close..]);
        }
    }
    out
}

/// Where the value of the top-level member `name` of a JSON object lies in `json`, which
/// must be valid JSON (it was parsed already).
fn top_level_member(json: &[u8], name: &str) -> Option<std::ops::Range<usize>> {
    let mut at = skip_whitespace(json, 0);
    if json.get(at) != Some(&b'{') {
        return None;
    }
    loop {
        // Past the `{` or the `,` before a member: its key, `:` and value.
        at = skip_whitespace(json, at + 1);
        if json.get(at) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(json, at);
        let start = skip_whitespace(json, skip_whitespace(json, key_end) + 1);
        let end = value_end(json, start);
        if is_key(&json[at..key_end], name) {
            return Some(start..end);
        }
        at = skip_whitespace(json, end);
        if json.get(at) != Some(&b',') {
            return None;
        }
    }
}

/// The index after the string that starts with the quote at `start`.
fn string_end(json: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while let Some(&byte) = json.get(at) {
        match byte {
            b'"' => return at + 1,
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
    json.len()
}

/// The index after the value that starts at `start`.
fn value_end(json: &[u8], start: usize) -> usize {
    match json.get(start) {
        Some(b'"') => string_end(json, start),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut at = start;
            while at < json.len() {
                match json[at] {
                    b'"' => at = string_end(json, at),
                    b'{' | b'[' => {
                        depth += 1;
                        at += 1;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        at += 1;
                        if depth == 0 {
                            return at;
                        }
                    }
                    _ => at += 1,
                }
            }
            json.len()
        }
        // A number, `true`, `false` or `null`.
        _ => json[start.min(json.len())..]
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
            .map_or(json.len(), |length| start + length),
    }
}

fn skip_whitespace(json: &[u8], mut at: usize) -> usize {
    while json.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// Whether the quoted JSON string `quoted` says `name`, escapes included.
fn is_key(quoted: &[u8], name: &str) -> bool {
    let inner = &quoted[1..quoted.len().saturating_sub(1).max(1)];
    if !inner.contains(&b'\\') {
        return inner == name.as_bytes();
    }
    serde_json::from_slice::<String>(quoted).is_ok_and(|key| key == name)
}

fn unsupported_version(found: &Value) -> Rejected {
    Rejected(format!(
        "unsupported event version {found} (this indexer reads version {CONTRACT_VERSION})"
    ))
}

/// The slow path for a message that is not a well-formed v1 event.
fn repair(record: &KafkaRecord<'_>, payload: &[u8]) -> Result<Vec<u8>, Rejected> {
    let (text, invalid_utf8) = match std::str::from_utf8(payload) {
        Ok(text) => (Cow::Borrowed(text), false),
        Err(_) => (String::from_utf8_lossy(payload), true),
    };
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| Rejected(format!("not JSON: {}", excerpt(&error.to_string()))))?;
    let Value::Object(mut object) = value else {
        return Err(Rejected(format!(
            "not a JSON object but {}",
            json_type(&value)
        )));
    };
    match object.get("v") {
        None => {}
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(CONTRACT_VERSION)) => {}
        Some(other) => return Err(unsupported_version(other)),
    }
    let mut invalid = Map::new();
    let now = Timestamp::now();
    let kafka_time = record
        .timestamp_ms
        .and_then(|ms| ms.checked_mul(1_000_000))
        .map(Timestamp::from_unix_nanos)
        .unwrap_or(now);
    object.insert("v".into(), Value::from(CONTRACT_VERSION));
    let id = EventId::derive(
        "kafka",
        &format!("{}/{}", record.topic, record.partition),
        u64::try_from(record.offset).unwrap_or(0),
    );
    fix(
        &mut object,
        &mut invalid,
        "id",
        |v| v.as_str().is_some_and(|s| s.parse::<EventId>().is_ok()),
        || Value::from(id.to_string()),
    );
    fix(
        &mut object,
        &mut invalid,
        "observed_ts",
        is_timestamp,
        || Value::from(kafka_time.to_string()),
    );
    let observed = object.get("observed_ts").cloned().unwrap_or_default();
    fix(&mut object, &mut invalid, "ts", is_timestamp, || observed);
    fix(&mut object, &mut invalid, "level", is_level, || {
        Value::from("unknown")
    });
    fix(
        &mut object,
        &mut invalid,
        "message",
        Value::is_string,
        || Value::from(""),
    );
    if object
        .get("stream")
        .is_some_and(|s| !matches!(s.as_str(), Some("stdout" | "stderr")))
    {
        invalid.insert("stream".into(), object.remove("stream").unwrap_or_default());
    }
    fix(
        &mut object,
        &mut invalid,
        "k8s",
        is_k8s,
        || serde_json::json!({"node": "unknown"}),
    );
    fix(
        &mut object,
        &mut invalid,
        "source",
        is_source,
        || serde_json::json!({"kind": "kafka"}),
    );
    fix(
        &mut object,
        &mut invalid,
        "attributes",
        Value::is_object,
        || Value::Object(Map::new()),
    );
    if object
        .get("flags")
        .is_some_and(|f| !f.is_array() || serde_json::from_value::<Vec<Flag>>(f.clone()).is_err())
    {
        invalid.insert("flags".into(), object.remove("flags").unwrap_or_default());
    }
    if !invalid.is_empty()
        && let Some(Value::Object(attributes)) = object.get_mut("attributes")
    {
        attributes.insert("_invalid".into(), Value::Object(invalid));
    }
    if invalid_utf8 {
        push_flag(&mut object, Flag::InvalidUtf8);
    }
    push_flag(&mut object, Flag::Repaired);
    serde_json::to_vec(&object)
        .map_err(|error| Rejected(format!("not a log event: {}", excerpt(&error.to_string()))))
}

/// Replaces `object[name]` by `default()` when it is missing or fails `valid`; a replaced
/// value is kept in `invalid`.
fn fix(
    object: &mut Map<String, Value>,
    invalid: &mut Map<String, Value>,
    name: &str,
    valid: impl Fn(&Value) -> bool,
    default: impl FnOnce() -> Value,
) {
    match object.get(name) {
        Some(value) if valid(value) => {}
        Some(_) => {
            let value = object
                .insert(name.to_owned(), default())
                .unwrap_or_default();
            invalid.insert(name.to_owned(), value);
        }
        None => {
            object.insert(name.to_owned(), default());
        }
    }
}

fn is_timestamp(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| Timestamp::parse_rfc3339(s).is_some())
}

fn is_level(value: &Value) -> bool {
    serde_json::from_value::<logpipe_common::event::Level>(value.clone()).is_ok()
}

fn is_k8s(value: &Value) -> bool {
    serde_json::from_value::<logpipe_common::event::K8s>(value.clone()).is_ok()
}

fn is_source(value: &Value) -> bool {
    serde_json::from_value::<logpipe_common::event::Source>(value.clone()).is_ok()
}

fn push_flag(object: &mut Map<String, Value>, flag: Flag) {
    let flags = object
        .entry("flags")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(flags) = flags
        && !flags.iter().any(|f| f.as_str() == Some(flag.as_str()))
    {
        flags.push(Value::from(flag.as_str()));
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(REASON_MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use logpipe_common::event::LogEvent;
    use proptest::prelude::*;
    use serde_json::json;
    use tantivy::schema::{OwnedValue, Value as _};

    /// What `decode` handed over, kept past the call.
    #[derive(Debug)]
    struct Seen {
        event: LogEvent,
        attributes: Option<OwnedValue>,
        stored: Vec<u8>,
        /// Whether `stored` is the message as it came.
        as_sent: bool,
        day: Day,
    }

    fn read(record: &KafkaRecord<'_>, bounds: &TsBounds) -> Result<Seen, Rejected> {
        let (_, fields) = logpipe_store::schema::build();
        let document = decode(record, bounds, &fields)?;
        Ok(Seen {
            // The event as indexed is the stored JSON.
            event: serde_json::from_slice(document.stored()).unwrap(),
            attributes: document
                .event()
                .attributes
                .as_ref()
                .map(|a| OwnedValue::from(a.root().as_value())),
            stored: document.stored().to_vec(),
            as_sent: record.payload == Some(document.stored()),
            day: document.day(),
        })
    }

    const BOUNDS: TsBounds = TsBounds {
        max_past: Duration::from_secs(7 * 86_400),
        max_future: Duration::from_secs(3_600),
    };

    fn event(ts: &str, observed: &str) -> Value {
        json!({
            "v": 1,
            "id": "5f0c1e2a9b7d4c3e8a1f6b2d0c9e7a41",
            "ts": ts,
            "observed_ts": observed,
            "level": "error",
            "message": "payment failed",
            "stream": "stderr",
            "k8s": {"namespace": "shop", "pod": "api-1", "container": "api", "node": "node-3"},
            "source": {"kind": "file", "path": "/var/log/pods/x/api/0.log", "offset": 7},
            "attributes": {"http": {"status": 502}},
            "extension": "kept"
        })
    }

    fn record(payload: &[u8]) -> KafkaRecord<'_> {
        KafkaRecord {
            topic: "logs",
            partition: 2,
            offset: 41,
            key: Some(b"shop/api-1"),
            payload: Some(payload),
            timestamp_ms: Some(1_795_000_000_000),
        }
    }

    #[test]
    fn a_valid_event_is_stored_byte_for_byte() {
        let bytes =
            serde_json::to_vec(&event("2026-11-27T05:00:00Z", "2026-11-27T05:00:01Z")).unwrap();
        let decoded = read(&record(&bytes), &BOUNDS).unwrap();
        assert!(decoded.as_sent);
        assert_eq!(&*decoded.stored, &bytes[..]);
        assert_eq!(decoded.day.to_string(), "2026-11-27");
        assert!(decoded.event.flags.is_empty());
    }

    #[test]
    fn ts_out_of_bounds_places_by_observed_ts_and_flags_the_stored_event() {
        for ts in ["2001-01-01T00:00:00Z", "2026-11-29T00:00:00Z"] {
            let bytes = serde_json::to_vec(&event(ts, "2026-11-27T05:00:00Z")).unwrap();
            let decoded = read(&record(&bytes), &BOUNDS).unwrap();
            assert_eq!(decoded.day.to_string(), "2026-11-27", "{ts}");
            assert!(decoded.event.has_flag(Flag::TsOutOfBounds));
            let stored: Value = serde_json::from_slice(&decoded.stored).unwrap();
            assert_eq!(stored["flags"], json!(["ts_out_of_bounds"]));
            assert_eq!(stored["ts"], ts, "ts itself is kept");
            assert_eq!(stored["extension"], "kept", "unknown fields survive");
        }
        let yesterday = event("2026-11-26T23:59:00Z", "2026-11-27T00:00:10Z");
        let bytes = serde_json::to_vec(&yesterday).unwrap();
        let decoded = read(&record(&bytes), &BOUNDS).unwrap();
        assert_eq!(decoded.day.to_string(), "2026-11-26");
    }

    #[test]
    fn flagging_keeps_flags_and_members_it_does_not_know() {
        let mut value = event("2001-01-01T00:00:00Z", "2026-11-27T05:00:00Z");
        value["flags"] = json!(["truncated", "from_the_future"]);
        value["we\"ird\nkey"] = json!({"deep": [1, "two"]});
        let bytes = serde_json::to_vec(&value).unwrap();
        let decoded = read(&record(&bytes), &BOUNDS).unwrap();
        let stored: Value = serde_json::from_slice(&decoded.stored).unwrap();
        assert_eq!(
            stored["flags"],
            json!(["truncated", "from_the_future", "ts_out_of_bounds"])
        );
        value["flags"] = stored["flags"].clone();
        assert_eq!(stored, value);
        let again = read(&record(&decoded.stored), &BOUNDS).unwrap();
        assert!(again.as_sent, "an already flagged event is stored as it is");
    }

    #[test]
    fn not_json_and_not_objects_are_rejected_with_the_reason() {
        let cases: [(&[u8], &str); 5] = [
            (b"not json at all", "not JSON"),
            (b"{\"v\":1,", "not JSON"),
            (b"[1,2,3]", "not a JSON object but an array"),
            (b"\"text\"", "not a JSON object but a string"),
            (b"\x00\xff\xfe binary", "not JSON"),
        ];
        for (payload, reason) in cases {
            let Rejected(found) = read(&record(payload), &BOUNDS).unwrap_err();
            assert!(found.starts_with(reason), "{found} for {payload:?}");
        }
        let empty = KafkaRecord {
            payload: None,
            ..record(b"")
        };
        assert!(read(&empty, &BOUNDS).unwrap_err().0.contains("empty"));
    }

    #[test]
    fn unknown_versions_are_rejected() {
        for version in [json!(2), json!(0), json!("1"), json!(null)] {
            let mut value = event("2026-11-27T05:00:00Z", "2026-11-27T05:00:00Z");
            value["v"] = version.clone();
            let bytes = serde_json::to_vec(&value).unwrap();
            let Rejected(reason) = read(&record(&bytes), &BOUNDS).unwrap_err();
            assert!(
                reason.contains("unsupported event version"),
                "{reason} for {version}"
            );
        }
    }

    #[test]
    fn missing_fields_are_filled_in_and_flagged() {
        let bytes = br#"{"message": "hello", "level": 42, "custom": {"a": 1}}"#;
        let first = read(&record(bytes), &BOUNDS).unwrap();
        let again = read(&record(bytes), &BOUNDS).unwrap();
        assert_eq!(
            first.event.id, again.event.id,
            "the id derives from the offset"
        );
        assert!(first.event.has_flag(Flag::Repaired));
        assert_eq!(first.event.message, "hello");
        assert_eq!(first.event.k8s.node, "unknown");
        assert_eq!(
            first.event.source.kind,
            logpipe_common::event::SourceKind::Kafka
        );
        assert_eq!(first.event.ts, first.event.observed_ts);
        assert_eq!(first.event.ts.unix_nanos(), 1_795_000_000_000 * 1_000_000);
        let Some(OwnedValue::Object(attributes)) = &first.attributes else {
            panic!("attributes are an object");
        };
        assert!(attributes.iter().any(|(key, _)| key == "_invalid"));
        let stored: Value = serde_json::from_slice(&first.stored).unwrap();
        assert_eq!(stored["custom"]["a"], 1, "unknown fields survive");
        assert_eq!(stored["flags"], json!(["repaired"]));
        let reread: LogEvent = serde_json::from_slice(&first.stored).unwrap();
        assert_eq!(reread.id, first.event.id);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_flagged() {
        let mut bytes =
            serde_json::to_vec(&event("2026-11-27T05:00:00Z", "2026-11-27T05:00:00Z")).unwrap();
        let at = bytes.windows(7).position(|w| w == b"payment").unwrap();
        bytes[at] = 0xff;
        let decoded = read(&record(&bytes), &BOUNDS).unwrap();
        assert!(decoded.event.has_flag(Flag::InvalidUtf8));
        assert_eq!(decoded.event.message, "\u{fffd}ayment failed");
        assert_eq!(
            decoded.event.id.to_string(),
            "5f0c1e2a9b7d4c3e8a1f6b2d0c9e7a41"
        );
    }

    proptest! {
        #[test]
        fn any_bytes_decode_or_are_rejected(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read(&record(&bytes), &BOUNDS);
        }

        #[test]
        fn flagging_agrees_with_editing_the_parsed_object(
            extra in proptest::collection::vec(
                (
                    prop_oneof![Just("x".to_owned()), Just("flags2".to_owned()), Just("fl\"ags".to_owned()), "[a-z]{1,6}"],
                    prop_oneof![
                        Just(json!("\"flags\":[\"x\"]")),
                        Just(json!({"flags": ["nested"], "a": [{"flags": 1}]})),
                        Just(json!(["]", "}", "\\\"", {"[": "{"}])),
                        any::<i64>().prop_map(Value::from),
                    ],
                ),
                0..6,
            ),
            flags in prop_oneof![Just(None), Just(Some(json!([]))), Just(Some(json!(["truncated"]))), Just(Some(json!(["a_new_flag", "gap"])))],
            pretty in any::<bool>(),
        ) {
            let mut value = event("2001-01-01T00:00:00Z", "2026-11-27T05:00:00Z");
            let object = value.as_object_mut().unwrap();
            for (key, extra) in extra {
                if !object.contains_key(&key) {
                    object.insert(key, extra);
                }
            }
            if let Some(flags) = flags {
                object.insert("flags".into(), flags);
            }
            let bytes = if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            };
            let flagged: Value = serde_json::from_slice(&with_flag(&bytes, Flag::TsOutOfBounds)).unwrap();
            let mut expected = value.as_object().unwrap().clone();
            push_flag(&mut expected, Flag::TsOutOfBounds);
            prop_assert_eq!(flagged, Value::Object(expected));
        }

        #[test]
        fn any_json_object_decodes_or_is_rejected(
            fields in proptest::collection::btree_map("[a-z_]{1,8}", any::<i64>().prop_map(Value::from), 0..8)
        ) {
            let object: Map<String, Value> = fields.into_iter().collect();
            let bytes = serde_json::to_vec(&object).unwrap();
            if let Ok(decoded) = read(&record(&bytes), &BOUNDS) {
                let reread: LogEvent = serde_json::from_slice(&decoded.stored).unwrap();
                prop_assert_eq!(reread.id, decoded.event.id);
            }
        }
    }
}
