//! A `WireEvent` written as the contract's JSON: the same bytes serde_json writes for the
//! `LogEvent`, the application's untouched members copied verbatim.

use super::{Member, WireEvent};
use crate::event::{K8s, Source, Timestamp};

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
        if let Some(via) = &event.source.via {
            out.extend_from_slice(b",\"via\":");
            write_str(out, via);
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
    for (name, value) in [
        ("workload", &k8s.workload),
        ("workload_kind", &k8s.workload_kind),
    ] {
        if let Some(value) = value {
            out.push(b',');
            write_key(out, name);
            write_str(out, value);
        }
    }
    for (name, map) in [
        ("labels", &k8s.labels),
        ("annotations", &k8s.annotations),
        ("namespace_labels", &k8s.namespace_labels),
    ] {
        if map.is_empty() {
            continue;
        }
        out.push(b',');
        write_key(out, name);
        out.push(b'{');
        for (index, (key, value)) in map.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_str(out, key);
            out.push(b':');
            write_str(out, value);
        }
        out.push(b'}');
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Flag;
    use crate::event::Text;
    use crate::event::build::tests::record;

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
            if n % 2 == 1 {
                raw.k8s.workload = Some(text.to_string());
                raw.k8s.workload_kind = Some("Deployment".into());
                raw.k8s.labels = [
                    (text.to_string(), text.to_string()),
                    ("app".into(), "x".into()),
                ]
                .into();
                raw.k8s.namespace_labels = [("team".into(), text.to_string())].into();
            }
            if n % 3 == 1 {
                raw.k8s.annotations = [("a.b/c".into(), text.to_string())].into();
            }
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
}
