//! A reader of the form events are written in (`serde_json::to_vec(&LogEvent)`: one
//! object, no whitespace, each field once, no `null`), for `LogEventRef::from_bytes`.
//!
//! It reads that form in one pass without serde's field machinery and answers `None` for
//! anything else: another form, a field it does not know, a value `LogEvent` would refuse.
//! The caller then reads the text with serde_json, which accepts what `LogEvent` accepts
//! and says what is wrong. So this reader decides nothing on its own: every value goes
//! through the same `Deserialize` code (`Level`, `Timestamp`, `EventId`, `Flag`, ...) and
//! escaped strings are unescaped by serde_json, string by string; the attributes are left
//! raw once `tree` has checked them as `LogEvent` reads them.

use std::borrow::Cow;

use super::tree::{plain_len, tree_len};
use super::{K8sRef, LogEventRef, Pairs, RawAttributes, SourceRef, Text};
use serde::Deserialize;
use serde::de::value::BorrowedStrDeserializer;

/// The event in `text` when it is in the plain form; `None` sends it to serde_json.
pub(super) fn read(text: &str) -> Option<LogEventRef<'_>> {
    Scan { text, at: 0 }.event()
}

struct Scan<'a> {
    text: &'a str,
    at: usize,
}

/// A string value: borrowed when it has no escapes, else unescaped by serde_json.
enum Str<'a> {
    Plain(&'a str),
    Escaped(String),
}

/// Sets a field read once; a field written twice is left to serde_json (which refuses it).
fn once<T>(field: &mut Option<T>, value: Option<T>) -> Option<()> {
    if field.is_some() {
        return None;
    }
    *field = Some(value?);
    Some(())
}

impl<'a> Scan<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        if self.peek()? != byte {
            return None;
        }
        self.at += 1;
        Some(())
    }

    /// Calls `member` with each key of an object, the scan then at its value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let Str::Plain(key) = self.string()? else {
                return None;
            };
            self.eat(b':')?;
            member(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn string(&mut self) -> Option<Str<'a>> {
        self.eat(b'"')?;
        let start = self.at;
        let rest = &self.bytes()[start..];
        let end = plain_len(rest);
        if end == rest.len() {
            return None;
        }
        if rest[end] == b'"' {
            self.at = start + end + 1;
            return Some(Str::Plain(&self.text[start..start + end]));
        }
        if rest[end] < 0x20 {
            return None;
        }
        // Escapes: find the closing quote, then let serde_json read the string.
        let mut at = start + end;
        loop {
            match *self.bytes().get(at)? {
                b'\\' => at += 2,
                b'"' => break,
                _ => at += 1,
            }
        }
        let quoted = self.text.get(start - 1..at + 1)?;
        let text: String = serde_json::from_str(quoted).ok()?;
        self.at = at + 1;
        Some(Str::Escaped(text))
    }

    fn text(&mut self) -> Option<Text<'a>> {
        Some(Text(match self.string()? {
            Str::Plain(text) => Cow::Borrowed(text),
            Str::Escaped(text) => Cow::Owned(text),
        }))
    }

    /// A value read from a string by its own `Deserialize` (an id, a time, a level).
    fn value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        let Str::Plain(text) = self.string()? else {
            return None;
        };
        T::deserialize(BorrowedStrDeserializer::<serde_json::Error>::new(text)).ok()
    }

    /// An unsigned integer in JSON's form, up to `max`.
    fn number(&mut self, max: u64) -> Option<u64> {
        let digits = self.bytes()[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || digits > 20 || (digits > 1 && self.bytes()[self.at] == b'0') {
            return None;
        }
        let text = &self.text[self.at..self.at + digits];
        self.at += digits;
        // A fraction or an exponent: serde_json decides.
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        text.parse().ok().filter(|n| *n <= max)
    }

    fn pairs(&mut self) -> Option<Pairs<'a>> {
        let mut pairs = Vec::new();
        self.members(|scan, key| {
            let value = scan.text()?;
            pairs.push((Text(Cow::Borrowed(key)), value));
            Some(())
        })?;
        Some(Pairs(pairs))
    }

    /// The attributes object, left raw once checked.
    fn attributes(&mut self) -> Option<RawAttributes<'a>> {
        if self.peek()? != b'{' {
            return None;
        }
        let len = tree_len(&self.text[self.at..]).ok()?;
        let raw = &self.text[self.at..self.at + len];
        self.at += len;
        Some(RawAttributes(raw))
    }

    fn flags(&mut self) -> Option<Vec<crate::event::Flag>> {
        self.eat(b'[')?;
        let mut flags = Vec::new();
        if self.eat(b']').is_some() {
            return Some(flags);
        }
        loop {
            flags.push(self.value()?);
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(flags);
                }
                _ => return None,
            }
        }
    }

    fn k8s(&mut self) -> Option<K8sRef<'a>> {
        let (mut namespace, mut pod, mut pod_uid, mut container, mut node) =
            (None, None, None, None, None);
        let (mut workload, mut workload_kind) = (None, None);
        let (mut labels, mut annotations, mut namespace_labels) = (None, None, None);
        self.members(|scan, key| {
            match key {
                "namespace" => once(&mut namespace, scan.text())?,
                "pod" => once(&mut pod, scan.text())?,
                "pod_uid" => once(&mut pod_uid, scan.text())?,
                "container" => once(&mut container, scan.text())?,
                "node" => once(&mut node, scan.text())?,
                "workload" => once(&mut workload, scan.text())?,
                "workload_kind" => once(&mut workload_kind, scan.text())?,
                "labels" => once(&mut labels, scan.pairs())?,
                "annotations" => once(&mut annotations, scan.pairs())?,
                "namespace_labels" => once(&mut namespace_labels, scan.pairs())?,
                _ => return None,
            };
            Some(())
        })?;
        Some(K8sRef {
            namespace,
            pod,
            pod_uid,
            container,
            node: node?,
            workload,
            workload_kind,
            labels: labels.unwrap_or_default(),
            annotations: annotations.unwrap_or_default(),
            namespace_labels: namespace_labels.unwrap_or_default(),
        })
    }

    fn source(&mut self) -> Option<SourceRef<'a>> {
        let (mut kind, mut name, mut path, mut offset, mut via) = (None, None, None, None, None);
        self.members(|scan, key| {
            match key {
                "kind" => once(&mut kind, scan.value())?,
                "name" => once(&mut name, scan.text())?,
                "path" => once(&mut path, scan.text())?,
                "offset" => once(&mut offset, scan.number(u64::MAX))?,
                "via" => once(&mut via, scan.text())?,
                _ => return None,
            };
            Some(())
        })?;
        Some(SourceRef {
            kind: kind?,
            name,
            path,
            offset,
            via,
        })
    }

    fn event(&mut self) -> Option<LogEventRef<'a>> {
        let (mut v, mut id, mut ts, mut observed_ts, mut level) = (None, None, None, None, None);
        let (mut message, mut stream, mut k8s, mut source) = (None, None, None, None);
        let (mut attributes, mut flags) = (None, None);
        self.members(|scan, key| {
            match key {
                "v" => once(&mut v, scan.number(u32::MAX.into()))?,
                "id" => once(&mut id, scan.value())?,
                "ts" => once(&mut ts, scan.value())?,
                "observed_ts" => once(&mut observed_ts, scan.value())?,
                "level" => once(&mut level, scan.value())?,
                "message" => once(&mut message, scan.text())?,
                "stream" => once(&mut stream, scan.value())?,
                "k8s" => once(&mut k8s, scan.k8s())?,
                "source" => once(&mut source, scan.source())?,
                "attributes" => once(&mut attributes, scan.attributes())?,
                "flags" => once(&mut flags, scan.flags())?,
                _ => return None,
            };
            Some(())
        })?;
        // Nothing after the event.
        if self.at != self.bytes().len() {
            return None;
        }
        Some(LogEventRef {
            v: u32::try_from(v?).ok()?,
            id: id?,
            ts: ts?,
            observed_ts: observed_ts?,
            level: level?,
            message: message?,
            stream,
            k8s: k8s?,
            source: source?,
            attributes,
            flags: flags.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Flag, LogEvent, Timestamp};
    use crate::testkit::sample_event;

    /// What serde_json reads from `text`, written out to compare.
    fn by_serde(text: &str) -> Result<String, serde_json::Error> {
        serde_json::from_str::<LogEventRef<'_>>(text).map(|event| format!("{event:?}"))
    }

    /// Events in every shape the collector writes: escapes, labels, flags, optional
    /// fields present and absent, no attributes.
    fn written(n: u64) -> Vec<u8> {
        let mut event: LogEvent = sample_event(n, Timestamp::now());
        match n % 5 {
            0 => {
                event.message = format!("quoted \"{n}\"\nand a tab\t and \u{e9}\u{1F600}");
                event.k8s.namespace = Some("esc\\aped".into());
            }
            1 => {
                event.k8s.workload = Some("api".into());
                event.k8s.workload_kind = Some("Deployment".into());
                event.k8s.pod_uid = Some("7d3c".into());
                event.k8s.labels =
                    [("app".into(), format!("a\"{n}")), ("b".into(), "".into())].into();
                event.k8s.annotations = [("app.kubernetes.io/version".into(), "1".into())].into();
                event.k8s.namespace_labels = [("team".into(), "shop".into())].into();
                event.flags = vec![Flag::Truncated, Flag::Repaired];
            }
            2 => {
                event.attributes.clear();
                event.stream = None;
                event.source.offset = Some(u64::MAX);
                event.source.name = Some("n".into());
                event.source.via = Some("otlp".into());
            }
            3 => {
                event.message = String::new();
                event
                    .attributes
                    .insert("note".into(), "a \"quoted\" \\ word".into());
            }
            _ => {}
        }
        serde_json::to_vec(&event).unwrap()
    }

    #[test]
    fn reads_every_shape_the_collector_writes_as_serde_json_does() {
        for n in 0..50 {
            let bytes = written(n);
            let text = std::str::from_utf8(&bytes).unwrap();
            let read = read(text).unwrap_or_else(|| panic!("not read in one pass: {text}"));
            assert_eq!(format!("{read:?}"), by_serde(text).unwrap(), "{text}");
            let owned: LogEvent = serde_json::from_str(text).unwrap();
            assert_eq!(read.to_owned().unwrap(), owned);
            assert_eq!(
                matches!(read.message.0, Cow::Borrowed(_)),
                !read.message.as_str().contains(['"', '\n', '\t']),
            );
        }
    }

    #[test]
    fn leaves_every_other_form_to_serde_json() {
        let good = String::from_utf8(written(1)).unwrap();
        let cases = [
            good.replacen("\"v\":1,", "\"v\":1,\"v\":1,", 1),
            good.replacen("\"v\":1,", "\"v\":1,\"extra\":{\"a\":[1]},", 1),
            good.replacen("\"v\":1,", "\"v\": 1,", 1),
            good.replacen("\"v\":1,", "\"v\":01,", 1),
            good.replacen("\"v\":1,", "\"v\":1.0,", 1),
            good.replacen("\"v\":1,", "\"v\":4294967296,", 1),
            good.replacen("\"v\":1,", "\"v\":-1,", 1),
            good.replacen("\"level\":\"info\"", "\"level\":\"\\u0069nfo\"", 1),
            good.replacen("\"level\":\"info\"", "\"level\":\"INFO\"", 1),
            good.replacen("\"stream\":\"stdout\"", "\"stream\":null", 1),
            good.replacen("\"k8s\":{", "\"k8s\":{\"pod\":null,", 1),
            good.replacen("\"k8s\":{", "\"k8s\":{\"pod\":\"a\",", 1),
            good.replacen(
                "\"kind\":\"file\"",
                "\"kind\":\"file\",\"kind\":\"file\"",
                1,
            ),
            good.replacen("\"labels\":{", "\"labels\":{\"x\":1,", 1),
            good.replacen("\"message\":\"", "\"mess\\u0061ge\":\"", 1),
            good.replacen("\"message\":\"", "\"message\":\"\\x", 1),
            good.replacen("\"message\":\"", "\"message\":\"\u{1}", 1),
            good.replacen("\"attributes\":{", "\"attributes\":null,\"x\":{", 1),
            good.replacen("\"attributes\":{", "\"attributes\": {", 1),
            good.replacen("\"attributes\":{", "\"attributes\":{\"a\":[}", 1),
            good.replacen("\"flags\":[", "\"flags\":[7,", 1),
            good.replacen(
                "\"source\":{",
                "\"source\":{\"offset\":18446744073709551616,",
                1,
            ),
            format!("{good} "),
            format!("{good}{{}}"),
            format!(" {good}"),
            good[..good.len() - 1].to_owned(),
            "[1]".to_owned(),
            String::new(),
        ];
        for case in cases {
            assert_ne!(case, good);
            assert!(read(&case).is_none(), "{case}");
            let from_bytes = LogEventRef::from_bytes(case.as_bytes()).map(|e| format!("{e:?}"));
            assert_eq!(
                from_bytes.as_ref().map_err(ToString::to_string),
                by_serde(&case).as_ref().map_err(ToString::to_string),
                "{case}"
            );
        }
    }

    #[test]
    fn attributes_nested_past_log_event_s_limit_are_refused_as_it_refuses_them() {
        let good = String::from_utf8(written(4)).unwrap();
        // Brackets in strings are no levels, nor is an escaped quote the string's end.
        let quoted = format!("\"\\\"{}\"", "[".repeat(300));
        for (depth, nested) in [99, 100, 124, 125, 126, 127, 128, 129]
            .map(|depth| {
                (
                    depth,
                    format!("{}1{}", "[".repeat(depth), "]".repeat(depth)),
                )
            })
            .into_iter()
            .chain([(0, quoted)])
        {
            let case = good.replacen(
                "\"attributes\":{",
                &format!("\"attributes\":{{\"a\":{nested},"),
                1,
            );
            let from_bytes = LogEventRef::from_bytes(case.as_bytes()).map(|e| format!("{e:?}"));
            assert_eq!(
                from_bytes.as_ref().map_err(ToString::to_string),
                by_serde(&case).as_ref().map_err(ToString::to_string),
                "{depth}"
            );
            let full = serde_json::from_str::<LogEvent>(&case);
            assert_eq!(from_bytes.is_ok(), full.is_ok(), "{depth}");
        }
    }

    #[test]
    fn attributes_with_a_lone_surrogate_escaped_are_refused_as_log_event_refuses_them() {
        let good = String::from_utf8(written(4)).unwrap();
        for (value, accepted) in [
            (r#""\ud83d\ude00""#, true),
            (r#""\\ud800""#, true),
            (r#""\\\ud800""#, false),
            (r#""\\\\ud800 \u00e9""#, true),
            (r#""\u0041\n\ud83d\ude00\t""#, true),
            (r#""\ud800""#, false),
            (r#""\udc00""#, false),
            (r#""\ud800\u0041""#, false),
            (r#""\ud800\n""#, false),
            (r#""\ud800\ud800""#, false),
            (r#"{"\udfff":1}"#, false),
            ("1e400", false),
            ("-1e400", false),
            ("1e-400", true),
            ("1.5e300", true),
            (&"9".repeat(400), false),
            (&"9".repeat(300), true),
        ] {
            let case = good.replacen(
                "\"attributes\":{",
                &format!("\"attributes\":{{\"a\":{value},"),
                1,
            );
            let full = serde_json::from_str::<LogEvent>(&case);
            assert_eq!(full.is_ok(), accepted, "{value} {full:?}");
            let from_bytes = LogEventRef::from_bytes(case.as_bytes()).map(|e| format!("{e:?}"));
            assert_eq!(from_bytes.is_ok(), accepted, "{value}");
            assert_eq!(by_serde(&case).is_ok(), accepted, "{value}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// Any edit of a written event: whatever this reader reads, serde_json reads the
        /// same.
        #[test]
        fn reads_nothing_serde_json_would_read_otherwise(
            n in 0u64..10,
            edits in proptest::collection::vec(
                (proptest::num::usize::ANY, 0u8..3, proptest::sample::select(
                    b"\"\\{}[],: 0n.e-a\x01\x7f9".to_vec(),
                )),
                1..4,
            ),
        ) {
            let mut bytes = written(n);
            for (at, edit, byte) in edits {
                let at = at % bytes.len();
                match edit {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes)
                && let Some(read) = read(text)
            {
                proptest::prop_assert_eq!(Ok(format!("{read:?}")), by_serde(text).map_err(|e| e.to_string()), "{}", text);
            }
        }
    }
}
