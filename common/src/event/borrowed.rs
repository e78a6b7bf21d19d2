//! A `LogEvent` read in place from its Kafka message: strings are borrowed from the
//! message where they need no unescaping and the attributes stay raw JSON until someone
//! asks for them. Readers that look at a few fields of every event (the alerting role)
//! skip building the attribute tree and most allocations; the accepted input is the same
//! as `LogEvent`'s.

mod scan;
mod tree;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{EventId, Flag, K8s, Level, LogEvent, Source, SourceKind, Stream, Timestamp};

/// Text borrowed from the message when it has no escapes, owned when it had to be
/// unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

/// The `LogEvent` fields, with the same names, defaults and checks. The attributes stay
/// raw JSON (`A` = `RawAttributes`) or are read by a reader's own type (`A` implements
/// `AttributesObject`), in the same pass. Written out, it is the `LogEvent`'s JSON.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(bound(
    deserialize = "A: Deserialize<'de> + AttributesObject",
    serialize = "A: Serialize"
))]
pub struct LogEventRef<'a, A = RawAttributes<'a>> {
    pub v: u32,
    pub id: EventId,
    pub ts: Timestamp,
    pub observed_ts: Timestamp,
    pub level: Level,
    #[serde(borrow)]
    pub message: Text<'a>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<Stream>,
    #[serde(borrow)]
    pub k8s: K8sRef<'a>,
    #[serde(borrow)]
    pub source: SourceRef<'a>,
    /// The attributes object; `None` when absent.
    #[serde(
        default = "Option::default",
        deserialize_with = "object",
        serialize_with = "object_or_empty"
    )]
    pub attributes: Option<A>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct K8sRef<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub pod_uid: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Text<'a>>,
    #[serde(borrow)]
    pub node: Text<'a>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub workload_kind: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Pairs::is_empty")]
    pub labels: Pairs<'a>,
    #[serde(borrow, default, skip_serializing_if = "Pairs::is_empty")]
    pub annotations: Pairs<'a>,
    #[serde(borrow, default, skip_serializing_if = "Pairs::is_empty")]
    pub namespace_labels: Pairs<'a>,
}

/// A JSON object of strings (labels, annotations), its members in the order written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairs<'a>(pub Vec<(Text<'a>, Text<'a>)>);

impl<'a> Pairs<'a> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn to_map(&self) -> std::collections::BTreeMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor;

        impl<'de> Visitor<'de> for PairsVisitor {
            type Value = Pairs<'de>;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an object of strings")
            }

            fn visit_map<M: de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(pair) = map.next_entry::<Text<'de>, Text<'de>>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }

        deserializer.deserialize_map(PairsVisitor)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SourceRef<'a> {
    pub kind: SourceKind,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub path: Option<Text<'a>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Text<'a>>,
}

/// A JSON value that can tell whether it is an object.
pub trait AttributesObject {
    fn is_object(&self) -> bool;

    /// Whether serde_json reads it into a tree, as `LogEvent`'s attributes; a value it
    /// parsed into one was held to that already.
    fn reads_as_tree(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// The attributes object's JSON as the event holds it, checked to read as `LogEvent`'s
/// attributes do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawAttributes<'a>(&'a str);

impl<'a> RawAttributes<'a> {
    pub fn get(self) -> &'a str {
        self.0
    }
}

impl AttributesObject for RawAttributes<'_> {
    fn is_object(&self) -> bool {
        self.0.starts_with('{')
    }

    fn reads_as_tree(&self) -> Result<(), &'static str> {
        reads_as_tree(self.0)
    }
}

/// Read by serde_json as a raw value, which it checks for JSON's grammar.
impl<'de: 'a, 'a> Deserialize<'de> for RawAttributes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&RawValue>::deserialize(deserializer).map(|raw| RawAttributes(raw.get()))
    }
}

/// Written as it is.
impl Serialize for RawAttributes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

/// `LogEvent` takes only an object for `attributes`, one serde_json reads into a tree;
/// so does this.
fn object<'de, D, A>(deserializer: D) -> Result<Option<A>, D::Error>
where
    D: Deserializer<'de>,
    A: Deserialize<'de> + AttributesObject,
{
    let value = A::deserialize(deserializer)?;
    if !value.is_object() {
        return Err(de::Error::invalid_type(
            de::Unexpected::Other("a non-object value"),
            &"the attributes object",
        ));
    }
    value.reads_as_tree().map_err(de::Error::custom)?;
    Ok(Some(value))
}

/// Whether serde_json reads the JSON value `raw` (which it has checked) into a tree, as
/// `LogEvent`'s attributes: what it says when not. Passing over a raw value, serde_json
/// neither counts its levels, nor pairs the surrogates its `\\u` escapes name, nor reads
/// its numbers.
fn reads_as_tree(raw: &str) -> Result<(), &'static str> {
    match tree::tree_len(raw)? {
        len if len == raw.len() => Ok(()),
        _ => Err("text after the attributes"),
    }
}

/// Absent attributes are written as `LogEvent` writes them: an empty object.
fn object_or_empty<S: serde::Serializer, A: Serialize>(
    attributes: &Option<A>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match attributes {
        Some(attributes) => attributes.serialize(serializer),
        None => serde_json::Map::new().serialize(serializer),
    }
}

fn owned(text: &Option<Text<'_>>) -> Option<String> {
    text.as_ref().map(|t| t.as_str().to_owned())
}

impl<'a, A: Deserialize<'a> + AttributesObject> LogEventRef<'a, A> {
    /// Reads a Kafka message. The text is checked for UTF-8 once, not string by string.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            // Not UTF-8: the parser says where.
            Err(_) => serde_json::from_slice(bytes),
        }
    }
}

impl<'a> LogEventRef<'a> {
    /// Reads a Kafka message with the attributes left raw: in one pass when it is in the
    /// form events are written in (`scan`), else by serde_json.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => match scan::read(text) {
                Some(event) => Ok(event),
                None => serde_json::from_str(text),
            },
            Err(_) => serde_json::from_slice(bytes),
        }
    }

    /// The event as every other reader has it: the attributes parsed.
    pub fn to_owned(&self) -> Result<LogEvent, serde_json::Error> {
        let attributes = match self.attributes {
            Some(raw) => serde_json::from_str(raw.get())?,
            None => serde_json::Map::new(),
        };
        Ok(LogEvent {
            v: self.v,
            id: self.id,
            ts: self.ts,
            observed_ts: self.observed_ts,
            level: self.level,
            message: self.message.as_str().to_owned(),
            stream: self.stream,
            k8s: K8s {
                namespace: owned(&self.k8s.namespace),
                pod: owned(&self.k8s.pod),
                pod_uid: owned(&self.k8s.pod_uid),
                container: owned(&self.k8s.container),
                node: self.k8s.node.as_str().to_owned(),
                workload: owned(&self.k8s.workload),
                workload_kind: owned(&self.k8s.workload_kind),
                labels: self.k8s.labels.to_map(),
                annotations: self.k8s.annotations.to_map(),
                namespace_labels: self.k8s.namespace_labels.to_map(),
            },
            source: Source {
                kind: self.source.kind,
                name: owned(&self.source.name),
                path: owned(&self.source.path),
                offset: self.source.offset,
                via: owned(&self.source.via),
            },
            attributes,
            flags: self.flags.clone(),
        })
    }
}

/// Written as `LogEvent`'s maps are: by key, the last of a key written twice.
impl Serialize for Pairs<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter().collect::<std::collections::BTreeMap<_, _>>())
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::sample_event;

    #[test]
    fn reads_back_to_the_same_event_with_strings_borrowed_where_possible() {
        for n in 0..64 {
            let mut event = sample_event(n, Timestamp::now());
            if n % 3 == 0 {
                event.message = format!("quoted \"{n}\"\nand a tab\t");
                event.k8s.namespace = Some("esc\\aped".into());
            }
            if n % 2 == 0 {
                event.k8s.workload = Some("api".into());
                event.k8s.workload_kind = Some("Deployment".into());
                event.k8s.labels = [("app".into(), format!("a\"{n}"))].into();
                event.k8s.annotations = [("app.kubernetes.io/version".into(), "1".into())].into();
                event.k8s.namespace_labels = [("team".into(), "shop".into())].into();
            }
            let json = serde_json::to_vec(&event).unwrap();
            let read = LogEventRef::from_bytes(&json).unwrap();
            assert_eq!(read.to_owned().unwrap(), event);
            // Written out, it is the event's own JSON.
            assert_eq!(serde_json::to_vec(&read).unwrap(), json);
            assert_eq!(
                matches!(read.message.0, Cow::Borrowed(_)),
                n % 3 != 0,
                "{}",
                event.message
            );
        }
    }

    #[test]
    fn is_written_out_as_log_event_writes_what_it_read() {
        // Labels unsorted and one twice, no attributes, no stream, a flag unknown.
        let text = r#"{"v":1,"id":"0123456789abcdef0123456789abcdef","ts":"2026-01-02T03:04:05Z","observed_ts":"2026-01-02T03:04:05.5Z","level":"warn","message":"m","k8s":{"node":"n","labels":{"b":"1","a":"2","b":"3"}},"source":{"kind":"http"},"flags":["gap","from_the_future"]}"#;
        let full: LogEvent = serde_json::from_str(text).unwrap();
        let read = LogEventRef::from_bytes(text.as_bytes()).unwrap();
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            serde_json::to_string(&full).unwrap()
        );
    }

    #[test]
    fn accepts_and_refuses_what_log_event_accepts_and_refuses() {
        let good = serde_json::to_value(sample_event(1, Timestamp::now())).unwrap();
        let mut cases = vec![good.clone()];
        for (field, value) in [
            ("attributes", serde_json::json!([1, 2])),
            ("attributes", serde_json::json!("text")),
            ("attributes", serde_json::Value::Null),
            ("attributes", serde_json::json!({})),
            (
                "k8s",
                serde_json::json!({"node": "n", "labels": {"app": 1}}),
            ),
            ("k8s", serde_json::json!({"node": "n", "labels": ["app"]})),
            ("level", serde_json::json!("loud")),
            ("ts", serde_json::json!("yesterday")),
            ("id", serde_json::json!("zz")),
            ("message", serde_json::json!(7)),
            ("stream", serde_json::Value::Null),
            ("flags", serde_json::json!(["truncated", "from_the_future"])),
        ] {
            let mut case = good.clone();
            case[field] = value;
            cases.push(case);
        }
        for field in ["attributes", "k8s", "message", "flags", "stream"] {
            let mut case = good.clone();
            case.as_object_mut().unwrap().remove(field);
            cases.push(case);
        }
        let mut case = good.clone();
        case["k8s"]["pod"] = serde_json::Value::Null;
        cases.push(case);
        let mut bytes = serde_json::to_vec(&good).unwrap();
        let at = bytes.windows(3).position(|w| w == b"GET").unwrap();
        bytes[at] = 0xff;
        assert!(serde_json::from_slice::<LogEvent>(&bytes).is_err());
        assert!(LogEventRef::from_bytes(&bytes).is_err());
        for case in cases {
            let text = case.to_string();
            let full = serde_json::from_str::<LogEvent>(&text);
            let read = serde_json::from_str::<LogEventRef<'_>>(&text);
            // `from_bytes` reads this form in one pass (`scan`): the same answer.
            let from_bytes = LogEventRef::from_bytes(text.as_bytes());
            assert_eq!(full.is_ok(), read.is_ok(), "{text}");
            assert_eq!(full.is_ok(), from_bytes.is_ok(), "{text}");
            if let (Ok(full), Ok(read), Ok(from_bytes)) = (full, read, from_bytes) {
                assert_eq!(read.to_owned().unwrap(), full, "{text}");
                assert_eq!(from_bytes.to_owned().unwrap(), full, "{text}");
            }
        }
    }
}
