//! The parts of one event that queries look at, computed once per event when first needed
//! and shared by every predicate checked against it. A view reads a `LogEvent` or, with
//! no attribute tree built, a `LogEventRef` straight from its Kafka message: attribute
//! leaves then come from one pass over the raw JSON with strings borrowed.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;

use logpipe_common::event::{
    EventId, Flag, Level, LogEvent, LogEventRef, RawAttributes, SourceKind, Stream, Text, Timestamp,
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};

use crate::analyzer::{WordList, any_word};
use crate::fields::{Keyword, LabelMap};

/// An attribute leaf's value: what queries compare against.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LeafValue<'a> {
    Text(Cow<'a, str>),
    Number(Number),
    Bool(bool),
}

/// Every non-null leaf under `attributes` with its dotted path (arrays flattened, dotted
/// keys the same as nested ones), the paths kept in one buffer.
#[derive(Debug, Default)]
pub(crate) struct Leaves<'a> {
    paths: String,
    items: Vec<Item<'a>>,
    /// Arrays entered above the value being walked.
    depth_in_arrays: usize,
}

#[derive(Debug)]
struct Item<'a> {
    path: (usize, usize),
    /// `None` for what is no leaf: a null, an empty object or array.
    value: Option<LeafValue<'a>>,
    in_array: bool,
}

impl<'a> Leaves<'a> {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &LeafValue<'a>)> {
        self.items.iter().filter_map(|item| {
            let value = item.value.as_ref()?;
            Some((&self.paths[item.path.0..item.path.1], value))
        })
    }

    fn push(&mut self, path: &str, value: LeafValue<'a>) {
        self.record(path, Some(value));
    }

    fn record(&mut self, path: &str, value: Option<LeafValue<'a>>) {
        let start = self.paths.len();
        self.paths.push_str(path);
        self.items.push(Item {
            path: (start, self.paths.len()),
            value,
            in_array: self.depth_in_arrays > 0,
        });
    }

    /// The value at `path` when the leaves alone tell it: one leaf has that path, outside
    /// any array, and nothing else sits at or under it. `lookup` finds the same value.
    fn only(&self, path: &str) -> Option<&LeafValue<'a>> {
        let mut found = None;
        for item in &self.items {
            let at = &self.paths[item.path.0..item.path.1];
            let Some(rest) = at.strip_prefix(path) else {
                continue;
            };
            if !rest.is_empty() && !rest.starts_with('.') {
                continue;
            }
            if found.is_some() || !rest.is_empty() || item.in_array {
                return None;
            }
            found = Some(item.value.as_ref()?);
        }
        found
    }
}

/// The attribute paths a reader looks at. A view of an event read in place given them
/// walks only the parts of the raw attributes at, above or under one of them; what it
/// answers about those paths is the same as with a full walk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributePaths {
    paths: Vec<String>,
}

impl AttributePaths {
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        let mut paths: Vec<String> = paths.into_iter().collect();
        paths.sort();
        paths.dedup();
        AttributePaths { paths }
    }

    /// Whether the walk enters `path`: it leads to a wanted path or lies under one.
    fn enters(&self, path: &str) -> bool {
        self.paths
            .iter()
            .any(|wanted| at_or_under(path, wanted) || at_or_under(wanted, path))
    }
}

fn at_or_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    Event(&'a LogEvent),
    Borrowed(&'a LogEventRef<'a>),
}

/// The fields every query may look at, the same whichever way the event was read.
#[derive(Debug, Clone, Copy)]
struct Head<'a> {
    id: EventId,
    ts: Timestamp,
    observed_ts: Timestamp,
    level: Level,
    message: &'a str,
    stream: Option<Stream>,
    namespace: Option<&'a str>,
    pod: Option<&'a str>,
    pod_uid: Option<&'a str>,
    container: Option<&'a str>,
    node: &'a str,
    workload: Option<&'a str>,
    workload_kind: Option<&'a str>,
    source_kind: SourceKind,
    source_name: Option<&'a str>,
    source_path: Option<&'a str>,
    source_via: Option<&'a str>,
    flags: &'a [Flag],
}

impl<'a> Head<'a> {
    fn of(source: Source<'a>) -> Self {
        match source {
            Source::Event(event) => Head {
                id: event.id,
                ts: event.ts,
                observed_ts: event.observed_ts,
                level: event.level,
                message: &event.message,
                stream: event.stream,
                namespace: event.k8s.namespace.as_deref(),
                pod: event.k8s.pod.as_deref(),
                pod_uid: event.k8s.pod_uid.as_deref(),
                container: event.k8s.container.as_deref(),
                node: &event.k8s.node,
                workload: event.k8s.workload.as_deref(),
                workload_kind: event.k8s.workload_kind.as_deref(),
                source_kind: event.source.kind,
                source_name: event.source.name.as_deref(),
                source_path: event.source.path.as_deref(),
                source_via: event.source.via.as_deref(),
                flags: &event.flags,
            },
            Source::Borrowed(event) => {
                let text = |value: &'a Option<Text<'a>>| value.as_ref().map(Text::as_str);
                Head {
                    id: event.id,
                    ts: event.ts,
                    observed_ts: event.observed_ts,
                    level: event.level,
                    message: event.message.as_str(),
                    stream: event.stream,
                    namespace: text(&event.k8s.namespace),
                    pod: text(&event.k8s.pod),
                    pod_uid: text(&event.k8s.pod_uid),
                    container: text(&event.k8s.container),
                    node: event.k8s.node.as_str(),
                    workload: text(&event.k8s.workload),
                    workload_kind: text(&event.k8s.workload_kind),
                    source_kind: event.source.kind,
                    source_name: text(&event.source.name),
                    source_path: text(&event.source.path),
                    source_via: text(&event.source.via),
                    flags: &event.flags,
                }
            }
        }
    }
}

/// One event as queries see it.
#[derive(Debug)]
pub struct EventView<'a> {
    source: Source<'a>,
    head: Head<'a>,
    /// Walk only these of raw attributes; all when `None`.
    paths: Option<&'a AttributePaths>,
    message_words: OnceCell<WordList>,
    leaves: OnceCell<Leaves<'a>>,
    attribute_words: OnceCell<Vec<WordList>>,
    /// The raw attributes' top-level members, for looking up one path.
    members: OnceCell<Vec<(Text<'a>, &'a RawValue)>>,
    /// Those members parsed, each when first read.
    parsed: OnceCell<Vec<OnceCell<Option<Value>>>>,
}

impl<'a> EventView<'a> {
    pub fn new(event: &'a LogEvent) -> Self {
        Self::of(Source::Event(event))
    }

    /// A view of an event read in place.
    pub fn borrowed(event: &'a LogEventRef<'a>) -> Self {
        Self::of(Source::Borrowed(event))
    }

    /// A view of an event read in place for queries that look at no attribute but
    /// `paths` (and never at all string attributes at once).
    pub fn borrowed_for(event: &'a LogEventRef<'a>, paths: &'a AttributePaths) -> Self {
        EventView {
            paths: Some(paths),
            ..Self::of(Source::Borrowed(event))
        }
    }

    fn of(source: Source<'a>) -> Self {
        EventView {
            source,
            head: Head::of(source),
            paths: None,
            message_words: OnceCell::new(),
            leaves: OnceCell::new(),
            attribute_words: OnceCell::new(),
            members: OnceCell::new(),
            parsed: OnceCell::new(),
        }
    }

    pub fn id(&self) -> EventId {
        self.head.id
    }

    pub fn ts(&self) -> Timestamp {
        self.head.ts
    }

    pub fn observed_ts(&self) -> Timestamp {
        self.head.observed_ts
    }

    pub fn message(&self) -> &'a str {
        self.head.message
    }

    /// The whole event as JSON text, as it is written to Kafka (for an event read in
    /// place, written out as it was read: no `LogEvent` or tree in between, the attributes
    /// copied as they came); `None` when it cannot be written.
    pub fn to_json(&self) -> Option<Box<RawValue>> {
        match self.source {
            Source::Event(event) => serde_json::value::to_raw_value(event).ok(),
            Source::Borrowed(event) => serde_json::value::to_raw_value(event).ok(),
        }
    }

    /// The attributes object as written, of an event read in place (empty when it has
    /// none); `None` for a parsed event.
    pub fn raw_attributes(&self) -> Option<&'a str> {
        match self.source {
            Source::Event(_) => None,
            Source::Borrowed(event) => Some(event.attributes.map_or("", RawAttributes::get)),
        }
    }

    /// The words of the message, as the index makes them.
    pub fn message_words(&self) -> &WordList {
        self.message_words
            .get_or_init(|| WordList::of(self.message()))
    }

    /// Whether `test` holds for some word of the message: over the words made already,
    /// or else as they are made, without keeping them.
    pub fn any_message_word(&self, test: impl FnMut(&str) -> bool) -> bool {
        let mut test = test;
        match self.message_words.get() {
            Some(words) => words.iter().any(|(_, word)| test(word)),
            None => any_word(self.message(), test),
        }
    }

    pub(crate) fn leaves(&self) -> &Leaves<'a> {
        self.leaves.get_or_init(|| {
            let mut leaves = Leaves::default();
            match self.source {
                Source::Event(event) => flatten(&event.attributes, &mut String::new(), &mut leaves),
                Source::Borrowed(event) => {
                    if let Some(raw) = event.attributes {
                        // Sized once: paths are shorter than the text they come from.
                        leaves.paths.reserve(raw.get().len());
                        leaves.items.reserve(16);
                        let mut walk = Walk {
                            path: &mut String::with_capacity(128),
                            out: &mut leaves,
                            paths: self.paths,
                        };
                        // The text was checked when the event was read; a nesting too
                        // deep for the parser keeps the leaves before it.
                        let mut reader = serde_json::Deserializer::from_str(raw.get());
                        let _ = (&mut walk).deserialize(&mut reader);
                    }
                }
            }
            leaves
        })
    }

    /// The words of each string attribute.
    pub(crate) fn attribute_words(&self) -> &[WordList] {
        self.attribute_words.get_or_init(|| {
            self.leaves()
                .iter()
                .filter_map(|(_, value)| match value {
                    LeafValue::Text(text) => Some(WordList::of(text)),
                    _ => None,
                })
                .collect()
        })
    }

    /// Whether `test` holds for the text of some string attribute.
    pub fn any_attribute_text(&self, mut test: impl FnMut(&str) -> bool) -> bool {
        self.leaves()
            .iter()
            .any(|(_, value)| matches!(value, LeafValue::Text(text) if test(text)))
    }

    /// Each string value at exactly `path` (every string element of an array there).
    pub fn attribute_texts(&self, path: &str, mut each: impl FnMut(&str)) {
        for (leaf_path, value) in self.leaves().iter() {
            if leaf_path == path
                && let LeafValue::Text(text) = value
            {
                each(text);
            }
        }
    }

    /// The attribute at dotted `path`, nested objects or dotted keys alike (an exact key
    /// first, then splits from the right).
    pub fn attribute(&self, path: &str) -> Option<Cow<'a, Value>> {
        match self.source {
            Source::Event(event) => lookup(&event.attributes, path).map(Cow::Borrowed),
            Source::Borrowed(event) => {
                if let Some(value) = self.leaves().only(path) {
                    return Some(Cow::Owned(match value {
                        LeafValue::Text(text) => Value::String(text.to_string()),
                        LeafValue::Number(number) => Value::Number(number.clone()),
                        LeafValue::Bool(value) => Value::Bool(*value),
                    }));
                }
                let members = self.members.get_or_init(|| {
                    event
                        .attributes
                        .map(|raw| members(raw.get()))
                        .unwrap_or_default()
                });
                lookup_raw(members, path)
                    .and_then(|raw| serde_json::from_str(raw.get()).ok())
                    .map(Cow::Owned)
            }
        }
    }

    /// The attribute at dotted `path`, as [`EventView::attribute`] finds it, borrowed: of
    /// an event read in place, each top-level member is parsed once per view, when first
    /// read. For readers that look at many paths of one event.
    pub fn attribute_ref(&self, path: &str) -> Option<&Value> {
        let event = match self.source {
            Source::Event(event) => return lookup(&event.attributes, path),
            Source::Borrowed(event) => event,
        };
        let members = self.members.get_or_init(|| {
            event
                .attributes
                .map(|raw| members(raw.get()))
                .unwrap_or_default()
        });
        let parsed = self
            .parsed
            .get_or_init(|| members.iter().map(|_| OnceCell::new()).collect());
        let member = |key: &str| {
            let at = members.iter().position(|(k, _)| k.as_str() == key)?;
            parsed[at]
                .get_or_init(|| serde_json::from_str(members[at].1.get()).ok())
                .as_ref()
        };
        // As `lookup`: the exact key first, then splits from the right.
        if let Some(value) = member(path) {
            return Some(value);
        }
        let mut split = path.len();
        while let Some(dot) = path[..split].rfind('.') {
            if let Some(Value::Object(inner)) = member(&path[..dot])
                && let Some(found) = lookup(inner, &path[dot + 1..])
            {
                return Some(found);
            }
            split = dot;
        }
        None
    }

    /// The value of `key` in one of the maps of strings from the API server.
    pub fn label(&self, map: LabelMap, key: &str) -> Option<&'a str> {
        match self.source {
            Source::Event(event) => {
                let k8s = &event.k8s;
                let map = match map {
                    LabelMap::Labels => &k8s.labels,
                    LabelMap::Annotations => &k8s.annotations,
                    LabelMap::NamespaceLabels => &k8s.namespace_labels,
                };
                map.get(key).map(String::as_str)
            }
            Source::Borrowed(event) => {
                let k8s = &event.k8s;
                let map = match map {
                    LabelMap::Labels => &k8s.labels,
                    LabelMap::Annotations => &k8s.annotations,
                    LabelMap::NamespaceLabels => &k8s.namespace_labels,
                };
                map.get(key)
            }
        }
    }

    /// Whether any value of a keyword field (`flags` has several) passes `test`; the
    /// id is formatted only when asked for.
    pub fn keyword_any(&self, keyword: Keyword, mut test: impl FnMut(&str) -> bool) -> bool {
        let head = &self.head;
        let one = |value: Option<&str>, test: &mut dyn FnMut(&str) -> bool| value.is_some_and(test);
        match keyword {
            Keyword::Id => test(&head.id.to_string()),
            Keyword::Level => test(head.level.as_str()),
            Keyword::Stream => one(head.stream.map(Stream::as_str), &mut test),
            Keyword::Namespace => one(head.namespace, &mut test),
            Keyword::Pod => one(head.pod, &mut test),
            Keyword::PodUid => one(head.pod_uid, &mut test),
            Keyword::Container => one(head.container, &mut test),
            Keyword::Node => test(head.node),
            Keyword::Workload => one(head.workload, &mut test),
            Keyword::WorkloadKind => one(head.workload_kind, &mut test),
            Keyword::SourceKind => test(head.source_kind.as_str()),
            Keyword::SourceName => one(head.source_name, &mut test),
            Keyword::SourcePath => one(head.source_path, &mut test),
            Keyword::SourceVia => one(head.source_via, &mut test),
            Keyword::Flags => head.flags.iter().any(|f| test(f.as_str())),
        }
    }
}

fn flatten<'a>(map: &'a Map<String, Value>, path: &mut String, out: &mut Leaves<'a>) {
    for (key, value) in map {
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(key);
        flatten_value(value, path, out);
        path.truncate(len);
    }
}

fn flatten_value<'a>(value: &'a Value, path: &mut String, out: &mut Leaves<'a>) {
    match value {
        Value::Null => out.record(path, None),
        Value::Object(map) if map.is_empty() => out.record(path, None),
        Value::Object(map) => flatten(map, path, out),
        Value::Array(values) if values.is_empty() => out.record(path, None),
        Value::Array(values) => {
            out.depth_in_arrays += 1;
            values.iter().for_each(|v| flatten_value(v, path, out));
            out.depth_in_arrays -= 1;
        }
        Value::String(text) => out.push(path, LeafValue::Text(Cow::Borrowed(text))),
        Value::Number(number) => out.push(path, LeafValue::Number(number.clone())),
        Value::Bool(value) => out.push(path, LeafValue::Bool(*value)),
    }
}

/// `flatten` over JSON text: the same leaves in the same order, strings borrowed.
struct Walk<'s, 'a> {
    path: &'s mut String,
    out: &'s mut Leaves<'a>,
    paths: Option<&'a AttributePaths>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for &mut Walk<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for &mut Walk<'_, 'a> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut empty = true;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            empty = false;
            let len = self.path.len();
            if len > 0 {
                self.path.push('.');
            }
            self.path.push_str(key.as_str());
            if self.paths.is_none_or(|paths| paths.enters(self.path)) {
                map.next_value_seed(&mut *self)?;
            } else {
                map.next_value::<de::IgnoredAny>()?;
            }
            self.path.truncate(len);
        }
        if empty {
            self.out.record(self.path, None);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.depth_in_arrays += 1;
        let mut empty = true;
        while seq.next_element_seed(&mut *self)?.is_some() {
            empty = false;
        }
        self.out.depth_in_arrays -= 1;
        if empty {
            self.out.record(self.path, None);
        }
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<(), E> {
        self.out
            .push(self.path, LeafValue::Text(Cow::Borrowed(text)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        self.out
            .push(self.path, LeafValue::Text(Cow::Owned(text.to_owned())));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.out.push(self.path, LeafValue::Number(value.into()));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.out.push(self.path, LeafValue::Number(value.into()));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        if let Some(number) = Number::from_f64(value) {
            self.out.push(self.path, LeafValue::Number(number));
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.out.push(self.path, LeafValue::Bool(value));
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.record(self.path, None);
        Ok(())
    }
}

/// The members of a raw object, values left raw; a later duplicate key wins, as in a
/// parsed `Map`.
fn members(raw: &str) -> Vec<(Text<'_>, &RawValue)> {
    struct Members;

    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(Text<'de>, &'de RawValue)>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("an object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out: Self::Value = Vec::new();
            while let Some((key, value)) = map.next_entry::<Text<'de>, &'de RawValue>()? {
                match out.iter_mut().find(|(k, _)| k == &key) {
                    Some(entry) => entry.1 = value,
                    None => out.push((key, value)),
                }
            }
            Ok(out)
        }
    }

    let mut reader = serde_json::Deserializer::from_str(raw);
    de::Deserializer::deserialize_map(&mut reader, Members).unwrap_or_default()
}

fn lookup<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = map.get(path) {
        return Some(value);
    }
    let mut split = path.len();
    while let Some(dot) = path[..split].rfind('.') {
        if let Some(Value::Object(inner)) = map.get(&path[..dot])
            && let Some(found) = lookup(inner, &path[dot + 1..])
        {
            return Some(found);
        }
        split = dot;
    }
    None
}

/// `lookup` over raw members.
fn lookup_raw<'a>(members: &[(Text<'a>, &'a RawValue)], path: &str) -> Option<&'a RawValue> {
    let get = |key: &str| {
        members
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| *v)
    };
    if let Some(value) = get(path) {
        return Some(value);
    }
    let mut split = path.len();
    while let Some(dot) = path[..split].rfind('.') {
        if let Some(inner) = get(&path[..dot])
            && inner.get().starts_with('{')
            && let Some(found) = lookup_raw(&self::members(inner.get()), &path[dot + 1..])
        {
            return Some(found);
        }
        split = dot;
    }
    None
}

#[cfg(test)]
mod tests {
    use logpipe_common::testkit::sample_event;
    use serde_json::json;

    use super::*;

    fn both(attributes: Value, mut check: impl FnMut(&EventView<'_>)) {
        let mut event = sample_event(3, Timestamp::now());
        event.attributes = attributes.as_object().unwrap().clone();
        check(&EventView::new(&event));
        let text = serde_json::to_string(&event).unwrap();
        let read: LogEventRef<'_> = serde_json::from_str(&text).unwrap();
        check(&EventView::borrowed(&read));
    }

    #[test]
    fn the_json_of_an_event_read_in_place_is_the_event_s_own_in_the_same_order() {
        for attributes in [
            json!({}),
            json!({"z": 1, "a": {"y": [1, "two", null], "b": true}, "m": "text"}),
        ] {
            let mut event = sample_event(5, Timestamp::now());
            event.attributes = attributes.as_object().unwrap().clone();
            event.k8s.labels.insert("team".into(), "shop".into());
            let expected = serde_json::to_string(&event).unwrap();
            let read = LogEventRef::from_bytes(expected.as_bytes()).unwrap();
            let json = EventView::borrowed(&read).to_json().unwrap();
            assert_eq!(json.get(), expected);
            assert_eq!(EventView::new(&event).to_json().unwrap().get(), json.get());
        }
    }

    #[test]
    fn a_view_for_some_paths_answers_about_them_as_a_full_view_does() {
        let mut event = sample_event(3, Timestamp::now());
        event.attributes = json!({
            "http": {"status": 502, "path": "/cart", "headers": {"x": "1"}},
            "http.path": null,
            "user": {"id": 7, "roles": ["a", "b"]},
            "noise": {"deep": {"er": [1, 2, 3]}},
        })
        .as_object()
        .unwrap()
        .clone();
        let text = serde_json::to_string(&event).unwrap();
        let read: LogEventRef<'_> = serde_json::from_str(&text).unwrap();
        let wanted = ["http.status", "http.path", "user", "missing.path"];
        let paths = AttributePaths::new(wanted.iter().map(|p| p.to_string()));
        let full = EventView::borrowed(&read);
        let some = EventView::borrowed_for(&read, &paths);
        for path in wanted.iter().chain(&["user.id", "user.roles"]) {
            let of = |view: &EventView<'_>| -> Vec<String> {
                view.leaves()
                    .iter()
                    .filter(|(p, _)| at_or_under(p, path))
                    .map(|(p, v)| format!("{p}={v:?}"))
                    .collect()
            };
            assert_eq!(of(&full), of(&some), "{path}");
            assert_eq!(full.attribute(path), some.attribute(path), "{path}");
            assert_eq!(
                full.attribute(path).as_deref(),
                some.attribute_ref(path),
                "{path}"
            );
        }
        assert!(some.leaves().iter().all(|(p, _)| !p.starts_with("noise")));
    }

    #[test]
    fn a_dotted_key_that_is_null_or_empty_hides_the_nested_value_as_in_a_parsed_map() {
        for shadow in [Value::Null, json!({}), json!([]), json!([7])] {
            let mut attributes = serde_json::Map::new();
            attributes.insert("a.b".into(), shadow.clone());
            attributes.insert("a".into(), json!({"b": 5}));
            both(Value::Object(attributes), |view| {
                assert_eq!(
                    view.attribute("a.b").map(Cow::into_owned),
                    Some(shadow.clone())
                );
                assert_eq!(view.attribute_ref("a.b"), Some(&shadow));
            });
        }
    }

    #[test]
    fn leaves_and_lookups_are_the_same_from_a_parsed_or_a_raw_event() {
        let attributes = json!({
            "http": {"status": 502, "path": "/cart", "ok": false, "latency": 1.50},
            "a.b": "dotted",
            "a": {"b": "nested", "c": {}},
            "tags": ["x", "y\"z", {"deep": [1, null, 2]}],
            "none": null,
            "empty": [],
            "esc\"aped": "tab\there",
        });
        let mut expected: Option<Vec<(String, LeafValue<'static>)>> = None;
        both(attributes, |view| {
            let leaves: Vec<(String, LeafValue<'static>)> = view
                .leaves()
                .iter()
                .map(|(path, value)| {
                    let value = match value {
                        LeafValue::Text(text) => LeafValue::Text(Cow::Owned(text.to_string())),
                        LeafValue::Number(n) => LeafValue::Number(n.clone()),
                        LeafValue::Bool(b) => LeafValue::Bool(*b),
                    };
                    (path.to_string(), value)
                })
                .collect();
            assert_eq!(leaves.len(), 11, "{leaves:?}");
            match &expected {
                None => expected = Some(leaves),
                Some(first) => assert_eq!(first, &leaves),
            }
            let get = |path: &str| {
                let value = view.attribute(path).map(Cow::into_owned);
                assert_eq!(value.as_ref(), view.attribute_ref(path), "{path}");
                value
            };
            assert_eq!(get("http.status"), Some(json!(502)));
            assert_eq!(get("http.latency"), Some(json!(1.5)));
            assert_eq!(get("a.b"), Some(json!("dotted")));
            assert_eq!(get("a.c"), Some(json!({})));
            assert_eq!(
                get("tags"),
                Some(json!(["x", "y\"z", {"deep": [1, null, 2]}]))
            );
            assert_eq!(get("none"), Some(Value::Null));
            assert_eq!(get("esc\"aped"), Some(json!("tab\there")));
            assert_eq!(get("http.missing"), None);
            assert_eq!(get("tags.deep"), None);
            assert_eq!(get("empty"), Some(json!([])));
            assert_eq!(get("a"), Some(json!({"b": "nested", "c": {}})));
            assert_eq!(
                get("http"),
                Some(json!({"status": 502, "path": "/cart", "ok": false, "latency": 1.5}))
            );
            assert_eq!(view.attribute_words().len(), 6);
        });
    }
}
