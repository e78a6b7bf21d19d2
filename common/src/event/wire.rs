//! An event on its way to Kafka with its attributes kept as the application wrote them.
//! Parsing a JSON payload into a tree only to write the same tree out again would be most
//! of the collector's work per record: here each member of the payload's object stays a
//! slice of the record until something must change it (a field taken for `ts`, `level` or
//! `message`, a secret masked), and is written out verbatim. Read back, the message is the
//! same `LogEvent` that `LogEvent::from_raw` builds.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::build::{AUDIT_TS_FIELD, LEVEL_FIELDS, MESSAGE_FIELDS, TS_FIELDS, strip_line_ending};
use super::{
    CONTRACT_VERSION, EventId, Flag, K8s, Level, LogEvent, RawRecord, Source, Text, Timestamp,
};

/// One attribute: still the application's text, or a value that was changed.
#[derive(Debug, Clone)]
pub enum Member<'a> {
    Raw(&'a RawValue),
    Parsed(Value),
}

impl Member<'_> {
    /// Whether the value's JSON starts with `byte` (`"` a string, `{` an object), told
    /// without parsing it.
    fn starts_with(&self, byte: u8) -> bool {
        match self {
            Member::Raw(raw) => raw.get().as_bytes().first() == Some(&byte),
            Member::Parsed(Value::String(_)) => byte == b'"',
            Member::Parsed(Value::Object(_)) => byte == b'{',
            Member::Parsed(_) => false,
        }
    }

    /// The value as a tree.
    pub fn to_value(&self) -> Value {
        match self {
            Member::Raw(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
            Member::Parsed(value) => value.clone(),
        }
    }
}

/// A `LogEvent` whose attributes are `members` (its own `attributes` stay empty).
#[derive(Debug, Clone)]
pub struct WireEvent<'a> {
    pub event: LogEvent,
    pub members: Vec<(Text<'a>, Member<'a>)>,
    /// `event`'s `k8s` and `source` but the source's `offset`, as `origin_json` writes
    /// them: shared by every event of one file, written once for all of them.
    pub origin: Option<&'a [u8]>,
}

impl<'a> WireEvent<'a> {
    /// Interprets a raw record. Never fails: a payload that is not a JSON object is kept
    /// whole in `message`, invalid UTF-8 is replaced and flagged.
    pub fn from_raw(raw: RawRecord<'a>) -> WireEvent<'a> {
        let mut flags = Vec::new();
        if raw.truncated {
            flags.push(Flag::Truncated);
        }
        let fallback_ts = raw.runtime_ts.unwrap_or(raw.observed_ts);
        // The strict check is the fast path; lossy decoding only for the rare bad record,
        // whose members are then no slices of the record and are kept parsed.
        let (ts, level, message, members) = match std::str::from_utf8(raw.payload) {
            Ok(text) => interpret(strip_line_ending(text), fallback_ts),
            Err(_) => {
                flags.push(Flag::InvalidUtf8);
                let text = String::from_utf8_lossy(raw.payload);
                let (ts, level, message, members) =
                    interpret(strip_line_ending(&text), fallback_ts);
                let members = members
                    .into_iter()
                    .map(|(key, member)| {
                        let value = member.to_value();
                        (Text(key.0.into_owned().into()), Member::Parsed(value))
                    })
                    .collect();
                (ts, level, message, members)
            }
        };
        WireEvent {
            origin: None,
            event: LogEvent {
                v: CONTRACT_VERSION,
                id: EventId::derive(&raw.k8s.node, raw.identity, raw.offset),
                ts,
                observed_ts: raw.observed_ts,
                level,
                message,
                stream: raw.stream,
                k8s: raw.k8s,
                source: raw.source,
                attributes: Map::new(),
                flags,
            },
            members,
        }
    }

    /// An event built whole, its attributes as parsed members.
    pub fn from_event(mut event: LogEvent) -> WireEvent<'a> {
        let members = std::mem::take(&mut event.attributes)
            .into_iter()
            .map(|(key, value)| (Text(key.into()), Member::Parsed(value)))
            .collect();
        WireEvent {
            event,
            members,
            origin: None,
        }
    }

    /// The `LogEvent` with its attributes parsed.
    pub fn into_event(self) -> LogEvent {
        let mut event = self.event;
        event.attributes = self
            .members
            .into_iter()
            .map(|(key, member)| {
                let value = member.to_value();
                (key.0.into_owned(), value)
            })
            .collect();
        event
    }
}

impl WireEvent<'_> {
    /// Appends the event's JSON to `out`: the same bytes as serializing it with
    /// serde_json, written directly (the fixed fields need no escaping and most strings
    /// none either, which one pass over eight bytes at a time tells).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let event = &self.event;
        out.extend_from_slice(b"{\"v\":");
        let mut number = itoa::Buffer::new();
        out.extend_from_slice(number.format(event.v).as_bytes());
        out.extend_from_slice(b",\"id\":\"");
        out.extend_from_slice(&event.id.hex_bytes());
        out.extend_from_slice(b"\",\"ts\":\"");
        out.extend_from_slice(&event.ts.rfc3339_bytes());
        out.extend_from_slice(b"\",\"observed_ts\":\"");
        out.extend_from_slice(&observed_text(event.observed_ts));
        out.extend_from_slice(b"\",\"level\":\"");
        out.extend_from_slice(event.level.as_str().as_bytes());
        out.extend_from_slice(b"\",\"message\":");
        write_str(out, &event.message);
        if let Some(stream) = event.stream {
            out.extend_from_slice(b",\"stream\":\"");
            out.extend_from_slice(stream.as_str().as_bytes());
            out.push(b'"');
        }
        match self.origin {
            Some(origin) => out.extend_from_slice(origin),
            None => write_origin(out, &event.k8s, &event.source),
        }
        if let Some(offset) = event.source.offset {
            out.extend_from_slice(b",\"offset\":");
            out.extend_from_slice(number.format(offset).as_bytes());
        }
        out.extend_from_slice(b"},\"attributes\":{");
        for (n, (key, member)) in self.members.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_str(out, key.as_str());
            out.push(b':');
            match member {
                Member::Raw(raw) => out.extend_from_slice(raw.get().as_bytes()),
                Member::Parsed(value) => {
                    // Writing to a Vec cannot fail; a value always serializes.
                    let _ = serde_json::to_writer(&mut *out, value);
                }
            }
        }
        out.push(b'}');
        if !event.flags.is_empty() {
            out.extend_from_slice(b",\"flags\":[");
            for (n, flag) in event.flags.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(flag.as_str().as_bytes());
                out.push(b'"');
            }
            out.push(b']');
        }
        out.push(b'}');
    }
}

/// The `k8s` and `source` members of an event from `k8s` and `source`, the source's
/// `offset` left out (it follows, then the source's closing brace): what `write_json`
/// writes, for `WireEvent::origin`.
pub fn origin_json(k8s: &K8s, source: &Source) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_origin(&mut out, k8s, source);
    out
}

fn write_origin(out: &mut Vec<u8>, k8s: &K8s, source: &Source) {
    out.extend_from_slice(b",\"k8s\":{");
    for (name, value) in [
        ("namespace", &k8s.namespace),
        ("pod", &k8s.pod),
        ("pod_uid", &k8s.pod_uid),
        ("container", &k8s.container),
    ] {
        if let Some(value) = value {
            write_key(out, name);
            write_str(out, value);
            out.push(b',');
        }
    }
    write_key(out, "node");
    write_str(out, &k8s.node);
    out.extend_from_slice(b"},\"source\":{\"kind\":\"");
    out.extend_from_slice(source.kind.as_str().as_bytes());
    out.push(b'"');
    for (name, value) in [("name", &source.name), ("path", &source.path)] {
        if let Some(value) = value {
            out.push(b',');
            write_key(out, name);
            write_str(out, value);
        }
    }
}

/// The text of an observation time: a batch of records shares one, formatted once.
fn observed_text(ts: Timestamp) -> [u8; 30] {
    thread_local! {
        static LAST: std::cell::Cell<(Timestamp, [u8; 30])> =
            std::cell::Cell::new((Timestamp::from_unix_nanos(0), Timestamp::from_unix_nanos(0).rfc3339_bytes()));
    }
    LAST.with(|last| {
        let (at, text) = last.get();
        if at == ts {
            return text;
        }
        let text = ts.rfc3339_bytes();
        last.set((ts, text));
        text
    })
}

fn write_key(out: &mut Vec<u8>, name: &str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// A JSON string as serde_json writes it (the same escapes, lower-case hex). Eight bytes
/// are checked at a time; only a word holding something to escape is looked at byte by
/// byte, and the runs between escapes are copied whole.
fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        if needs_escaping(word) {
            for (offset, &byte) in word.iter().enumerate() {
                if byte < 0x20 || byte == b'"' || byte == b'\\' {
                    out.extend_from_slice(&bytes[start..at + offset]);
                    write_escape(out, byte);
                    start = at + offset + 1;
                }
            }
        }
        at += 8;
    }
    for (offset, &byte) in words.remainder().iter().enumerate() {
        if byte < 0x20 || byte == b'"' || byte == b'\\' {
            out.extend_from_slice(&bytes[start..at + offset]);
            write_escape(out, byte);
            start = at + offset + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_escape(out: &mut Vec<u8>, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]),
    }
}

/// Whether `bytes` hold a quote, a backslash or a control character, eight at a time.
fn needs_escaping(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        if below_space
            | has_zero(word ^ (ONES * u64::from(b'"')))
            | has_zero(word ^ (ONES * u64::from(b'\\')))
            != 0
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// A JSON object's time, level, message and remaining members; any other text is the
/// message whole, its level guessed from its words.
fn interpret(
    text: &str,
    fallback_ts: Timestamp,
) -> (Timestamp, Level, String, Vec<(Text<'_>, Member<'_>)>) {
    let trimmed = text.trim();
    let object = if trimmed.starts_with('{') {
        members(trimmed)
    } else {
        None
    };
    match object {
        Some(mut members) => {
            let ts = take_ts(&mut members).unwrap_or(fallback_ts);
            let level = take_level(&mut members).unwrap_or(Level::Unknown);
            let message = take_message(&mut members).unwrap_or_default();
            (ts, level, message, members)
        }
        None => {
            let level = Level::from_text(text).unwrap_or(Level::Unknown);
            (fallback_ts, level, text.to_owned(), Vec::new())
        }
    }
}

/// The members of a JSON object, values left raw; a later duplicate key replaces the
/// value in the earlier one's place, as a parsed `Map` does. `None` when `text` is not
/// exactly one JSON object.
fn members(text: &str) -> Option<Vec<(Text<'_>, Member<'_>)>> {
    struct Members;

    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(Text<'de>, Member<'de>)>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a JSON object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Self::Value = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some((key, value)) = map.next_entry::<Text<'de>, &'de RawValue>()? {
                match out.iter_mut().find(|(k, _)| k == &key) {
                    Some(entry) => entry.1 = Member::Raw(value),
                    None => out.push((key, Member::Raw(value))),
                }
            }
            Ok(out)
        }
    }

    let mut reader = serde_json::Deserializer::from_str(text);
    let members = de::Deserializer::deserialize_map(&mut reader, Members).ok()?;
    reader.end().ok()?;
    Some(members)
}

fn position(members: &[(Text<'_>, Member<'_>)], key: &str) -> Option<usize> {
    members.iter().position(|(k, _)| k.as_str() == key)
}

fn take_ts(members: &mut Vec<(Text<'_>, Member<'_>)>) -> Option<Timestamp> {
    for field in TS_FIELDS {
        if let Some(at) = position(members, field)
            && let Some(ts) = Timestamp::from_json(&members[at].1.to_value())
        {
            members.remove(at);
            return Some(ts);
        }
    }
    let is_audit_event = position(members, "apiVersion").is_some_and(|at| {
        members[at]
            .1
            .to_value()
            .as_str()
            .is_some_and(|api| api.starts_with("audit.k8s.io/"))
    });
    if is_audit_event {
        let at = position(members, AUDIT_TS_FIELD)?;
        return Timestamp::from_json(&members[at].1.to_value());
    }
    None
}

fn take_level(members: &mut Vec<(Text<'_>, Member<'_>)>) -> Option<Level> {
    for field in LEVEL_FIELDS {
        if let Some(at) = position(members, field)
            && let Some(level) = Level::from_json(&members[at].1.to_value())
        {
            members.remove(at);
            return Some(level);
        }
    }
    let at = position(members, "log").filter(|at| members[*at].1.starts_with(b'{'))?;
    let Value::Object(mut nested) = members[at].1.to_value() else {
        return None;
    };
    let level = nested.get("level").and_then(Level::from_json)?;
    nested.shift_remove("level");
    if nested.is_empty() {
        members.remove(at);
    } else {
        members[at].1 = Member::Parsed(Value::Object(nested));
    }
    Some(level)
}

fn take_message(members: &mut Vec<(Text<'_>, Member<'_>)>) -> Option<String> {
    for field in MESSAGE_FIELDS {
        if let Some(at) = position(members, field)
            && members[at].1.starts_with(b'"')
            && let Value::String(message) = members[at].1.to_value()
        {
            members.remove(at);
            return Some(strip_line_ending(&message).to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::build::tests::record;
    use crate::testkit::shared_data;

    /// The message the wire event writes reads back as the event `from_raw` builds; for a
    /// payload written compactly, byte for byte.
    fn same(payload: &[u8]) {
        let parsed = LogEvent::from_raw(record(payload));
        let wire = WireEvent::from_raw(record(payload));
        let mut written = Vec::new();
        wire.write_json(&mut written);
        let expected = serde_json::to_vec(&parsed).unwrap();
        let read: LogEvent = serde_json::from_slice(&written).unwrap();
        let reference: LogEvent = serde_json::from_slice(&expected).unwrap();
        assert_eq!(read, reference, "{}", String::from_utf8_lossy(payload));
        let compact = std::str::from_utf8(payload)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(text.trim()).ok())
            .is_some_and(|value| value.to_string() == String::from_utf8_lossy(payload));
        if compact {
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
        }
        assert_eq!(wire.into_event(), parsed);
    }

    #[test]
    fn a_wire_event_reads_back_as_the_parsed_event() {
        let cases: &[&[u8]] = &[
            br#"{"ts":"2026-11-27T05:00:00.123456789+01:00","level":"ERROR","msg":"payment failed","user_id":42,"http":{"status":502,"path":"/pay"}}"#,
            br#"{"time":1700000000,"lvl":"warn","message":"a\nb\r\n","x":[1,2.5,-0,1e3,12345678901234567890123]}"#,
            br#"{"log":{"level":"debug","origin":"main.go"},"msg":"nested"}"#,
            br#"{"log":{"level":"debug"},"msg":"nested and emptied"}"#,
            br#"{"log":"the message is here\n","stream":"stdout"}"#,
            br#"{"msg":{"not":"a string"},"message":"this one"}"#,
            br#"{"ts":"yesterday","level":"loud","msg":"kept in attributes"}"#,
            br#"{"a":1,"b":2,"a":3}"#,
            br#"{"esc\"aped":"tab\there \u00e9 \ud83d\ude00","k":"\u0000"}"#,
            br#"  {"spaced" : [ 1 , 2 ] , "o" : { } }  "#,
            br#"{}"#,
            br#"{"a":1} trailing"#,
            br#"[1,2,3]"#,
            br#"{"unterminated":"#,
            b"{\"bad\":\"\xff\xfe\"}",
            b"plain text ERROR line\n",
            br#"{"apiVersion":"audit.k8s.io/v1","requestReceivedTimestamp":"2026-01-01T00:00:00Z","verb":"get"}"#,
        ];
        for payload in cases {
            same(payload);
        }
    }

    #[test]
    fn real_json_lines_read_back_as_the_parsed_event() {
        let data = shared_data();
        let mut lines = 0;
        for entry in std::fs::read_dir(data.join("falco-k8s-audit/trace_files/k8s_audit")).unwrap()
        {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                same(line.as_bytes());
                lines += 1;
            }
        }
        let nginx =
            std::fs::read_to_string(data.join("elastic-examples/nginxplus_json_logs.jsonl"))
                .unwrap();
        for line in nginx.lines().take(200) {
            same(line.as_bytes());
            lines += 1;
        }
        assert!(lines > 100, "{lines}");
    }

    #[test]
    fn written_json_is_what_serde_json_writes() {
        let texts = [
            "plain",
            "",
            "quote \" and backslash \\ and tab \t",
            "\u{1} \u{1f} \u{7f} é ünï 😀 \u{2028}",
            "exactly8",
            "seven77",
            "0123456789abcdef\n",
            "ÿÿÿÿÿÿÿÿ\"",
        ];
        for (n, text) in texts.iter().enumerate() {
            let payload =
                serde_json::json!({"msg": text, "k": {"inner": text}, (*text): n}).to_string();
            let mut raw = record(payload.as_bytes());
            raw.k8s.pod = Some(text.to_string());
            raw.source.name = Some(text.to_string());
            if n % 2 == 0 {
                raw.stream = None;
                raw.k8s.namespace = None;
                raw.source.offset = None;
                raw.truncated = true;
            }
            let mut wire = WireEvent::from_raw(raw);
            if n % 3 == 0 {
                wire.members.push((
                    Text("parsed".into()),
                    Member::Parsed(serde_json::json!([text, 1.5])),
                ));
                wire.event.flags.push(Flag::Unparsed);
            }
            let mut written = Vec::new();
            wire.write_json(&mut written);
            // The payload was written compactly, so the parsed event writes the same bytes.
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&wire.into_event()).unwrap(),
                "{text:?}"
            );
        }
        for text in texts
            .iter()
            .chain(&["a\"bcdefgh", "abcdefg\\", "abcdefgh\u{0}"])
        {
            let expected = serde_json::to_string(text).unwrap() != format!("\"{text}\"");
            assert_eq!(needs_escaping(text.as_bytes()), expected, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn strings_are_written_as_serde_json_writes_them(text in "(\\PC|[\\x00-\\x1f\"\\\\\\x7f])*") {
            let mut written = Vec::new();
            write_str(&mut written, &text);
            proptest::prop_assert_eq!(String::from_utf8(written).unwrap(), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn escaping_is_found_wherever_it_is(text in "\\PC{0,40}", byte in 0u8..0x80, at in 0usize..41) {
            let mut bytes = text.into_bytes();
            let at = at.min(bytes.len());
            bytes.insert(at, byte);
            if let Ok(text) = String::from_utf8(bytes) {
                let expected = serde_json::to_string(&text).unwrap() != format!("\"{text}\"");
                proptest::prop_assert_eq!(needs_escaping(text.as_bytes()), expected);
            }
        }
    }

    #[test]
    fn untouched_members_stay_the_records_text() {
        let payload = br#"{"msg":"m","http":{"status":502},"tags":["a","b"]}"#;
        let wire = WireEvent::from_raw(record(payload));
        assert!(
            wire.members
                .iter()
                .all(|(_, m)| matches!(m, Member::Raw(_)))
        );
        assert_eq!(wire.members.len(), 2);
    }
}
