//! A raw record interpreted: a JSON object's time, level and message taken out of its
//! members, the rest kept as slices of the record; any other text is the message whole.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{Member, WireEvent};
use crate::event::build::{
    AUDIT_TS_FIELD, LEVEL_FIELDS, MESSAGE_FIELDS, TS_FIELDS, strip_line_ending,
};
use crate::event::{CONTRACT_VERSION, EventId, Flag, Level, LogEvent, RawRecord, Text, Timestamp};

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
