//! Event → tantivy document, per the schema in `schema.rs`.
//!
//! An [`EventDocument`] owns the JSON of one event together with the event read from it,
//! and tantivy indexes it as it is: strings are read from the JSON where they lie instead
//! of being copied into a `TantivyDocument` first.

use logpipe_common::event::{LogEvent, LogEventRef, Pairs, Text, Timestamp};
use self_cell::self_cell;
use tantivy::schema::Field;
use tantivy::schema::document::{Document, ReferenceValue, ReferenceValueLeaf, Value};
use tantivy::{DateTime, TantivyDocument};

use crate::json::{Elements, JsonRef, JsonTree, Members};
use crate::layout::Day;
use crate::schema::Fields;

/// An event as the store reads it: strings borrowed from the message, the attributes
/// read for the index in the same pass.
pub type Event<'a> = LogEventRef<'a, JsonTree<'a>>;

/// An event read from its JSON, and where it goes.
#[derive(Debug)]
pub struct Placed<'a> {
    pub event: Event<'a>,
    /// The day index it belongs to.
    pub day: Day,
    /// The JSON stored with the document when it is not the JSON read (a flag added).
    pub flagged: Option<Vec<u8>>,
}

#[derive(Debug)]
struct Indexed<'a> {
    placed: Placed<'a>,
    id: String,
}

self_cell!(
    struct Cell {
        owner: Vec<u8>,
        #[covariant]
        dependent: Indexed,
    }

    impl {Debug}
);

/// One event as tantivy indexes it: the JSON it was read from (or repaired into) and the
/// event read in place from that JSON.
#[derive(Debug)]
pub struct EventDocument {
    fields: Fields,
    cell: Cell,
}

impl EventDocument {
    /// Reads `json` with `read`, which places the event it finds in its day.
    pub fn try_new<E>(
        fields: &Fields,
        json: Vec<u8>,
        read: impl for<'a> FnOnce(&'a [u8]) -> Result<Placed<'a>, E>,
    ) -> Result<Self, E> {
        let cell = Cell::try_new(json, |json| {
            read(json).map(|placed| Indexed {
                id: placed.event.id.to_string(),
                placed,
            })
        })?;
        Ok(EventDocument {
            fields: fields.clone(),
            cell,
        })
    }

    /// The document of `json`, an event, in the day of its `ts`.
    pub fn parse(fields: &Fields, json: Vec<u8>) -> Result<Self, serde_json::Error> {
        EventDocument::try_new(fields, json, |json| {
            Event::parse(json).map(|event| Placed {
                day: Day::of(event.ts),
                event,
                flagged: None,
            })
        })
    }

    pub fn event(&self) -> &Event<'_> {
        &self.cell.borrow_dependent().placed.event
    }

    pub fn day(&self) -> Day {
        self.cell.borrow_dependent().placed.day
    }

    /// The JSON kept for returning the hit.
    pub fn stored(&self) -> &[u8] {
        match &self.cell.borrow_dependent().placed.flagged {
            Some(flagged) => flagged,
            None => self.cell.borrow_owner(),
        }
    }
}

impl Document for EventDocument {
    type Value<'a> = FieldValue<'a>;
    type FieldsValuesIter<'a> = std::vec::IntoIter<(Field, FieldValue<'a>)>;

    fn iter_fields_and_values(&self) -> Self::FieldsValuesIter<'_> {
        let fields = &self.fields;
        let indexed = self.cell.borrow_dependent();
        let event = &indexed.placed.event;
        let k8s = &event.k8s;
        let mut values = Vec::with_capacity(24);
        values.push((fields.id, FieldValue::Str(&indexed.id)));
        values.push((fields.ts, FieldValue::Date(date(event.ts))));
        values.push((
            fields.observed_ts,
            FieldValue::Date(date(event.observed_ts)),
        ));
        values.push((fields.level, FieldValue::Str(event.level.as_str())));
        if let Some(stream) = event.stream {
            values.push((fields.stream, FieldValue::Str(stream.as_str())));
        }
        for (field, value) in [
            (fields.namespace, &k8s.namespace),
            (fields.pod, &k8s.pod),
            (fields.pod_uid, &k8s.pod_uid),
            (fields.container, &k8s.container),
            (fields.source_name, &event.source.name),
            (fields.source_path, &event.source.path),
        ] {
            if let Some(value) = value {
                values.push((field, FieldValue::Str(value.as_str())));
            }
        }
        if let (Some(field), Some(via)) = (fields.source_via, &event.source.via) {
            values.push((field, FieldValue::Str(via.as_str())));
        }
        values.push((fields.node, FieldValue::Str(k8s.node.as_str())));
        for (field, value) in [
            (fields.workload, &k8s.workload),
            (fields.workload_kind, &k8s.workload_kind),
        ] {
            if let (Some(field), Some(value)) = (field, value) {
                values.push((field, FieldValue::Str(value.as_str())));
            }
        }
        for (field, map) in [
            (fields.labels, &k8s.labels),
            (fields.annotations, &k8s.annotations),
            (fields.namespace_labels, &k8s.namespace_labels),
        ] {
            if let Some(field) = field.filter(|_| !map.is_empty()) {
                values.push((field, FieldValue::Pairs(map)));
            }
        }
        values.push((
            fields.source_kind,
            FieldValue::Str(event.source.kind.as_str()),
        ));
        values.push((fields.message, FieldValue::Str(event.message.as_str())));
        let attributes = event.attributes.as_ref().map(JsonTree::root);
        if let Some(attributes) = attributes.filter(|a| !a.is_empty_object()) {
            values.push((fields.attributes, FieldValue::Json(attributes)));
            values.extend(
                attributes
                    .strings()
                    .map(|text| (fields.attribute_text, FieldValue::Str(text))),
            );
        }
        for flag in &event.flags {
            values.push((fields.flags, FieldValue::Str(flag.as_str())));
        }
        values.push((fields.event, FieldValue::Bytes(self.stored())));
        values.into_iter()
    }
}

/// One value of an [`EventDocument`].
#[derive(Debug, Clone, Copy)]
pub enum FieldValue<'a> {
    Str(&'a str),
    Date(DateTime),
    Bytes(&'a [u8]),
    Json(JsonRef<'a>),
    /// A map of strings (labels, annotations), as a JSON object.
    Pairs(&'a Pairs<'a>),
}

type ToField<'a> = fn(JsonRef<'a>) -> FieldValue<'a>;

/// The members of an object value: of the attributes' JSON, or of a map of strings.
#[derive(Debug)]
pub enum ObjectMembers<'a> {
    Json(Members<'a>),
    Pairs(std::slice::Iter<'a, (Text<'a>, Text<'a>)>),
}

impl<'a> Iterator for ObjectMembers<'a> {
    type Item = (&'a str, FieldValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            ObjectMembers::Json(members) => members
                .next()
                .map(|(key, value)| (key, FieldValue::Json(value))),
            ObjectMembers::Pairs(pairs) => pairs
                .next()
                .map(|(key, value)| (key.as_str(), FieldValue::Str(value.as_str()))),
        }
    }
}

impl<'a> Value<'a> for FieldValue<'a> {
    type ArrayIter = std::iter::Map<Elements<'a>, ToField<'a>>;
    type ObjectIter = ObjectMembers<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            FieldValue::Str(text) => ReferenceValueLeaf::Str(text).into(),
            FieldValue::Date(date) => ReferenceValueLeaf::Date(date).into(),
            FieldValue::Bytes(bytes) => ReferenceValueLeaf::Bytes(bytes).into(),
            FieldValue::Json(json) => match json.as_value() {
                ReferenceValue::Leaf(leaf) => ReferenceValue::Leaf(leaf),
                ReferenceValue::Array(elements) => {
                    ReferenceValue::Array(elements.map(FieldValue::Json as ToField<'a>))
                }
                ReferenceValue::Object(members) => {
                    ReferenceValue::Object(ObjectMembers::Json(members))
                }
            },
            FieldValue::Pairs(pairs) => {
                ReferenceValue::Object(ObjectMembers::Pairs(pairs.0.iter()))
            }
        }
    }
}

/// The document of an event built in memory (tests, benchmarks, imports), stored as
/// `serde_json` writes it.
pub fn document_of(fields: &Fields, event: &LogEvent) -> TantivyDocument {
    let stored = serde_json::to_vec(event).unwrap_or_default();
    match EventDocument::parse(fields, stored) {
        Ok(document) => document.into_tantivy_document(),
        Err(_) => unreachable!("a serialized LogEvent reads back"),
    }
}

pub fn date(ts: Timestamp) -> DateTime {
    DateTime::from_timestamp_nanos(ts.unix_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tantivy::{Index, IndexWriter};

    fn events() -> Vec<Vec<u8>> {
        let base = json!({
            "v": 1,
            "id": "5f0c1e2a9b7d4c3e8a1f6b2d0c9e7a41",
            "ts": "2026-11-27T05:00:00Z",
            "observed_ts": "2026-11-27T05:00:01Z",
            "level": "error",
            "message": "payment \"failed\" for order 7",
            "stream": "stderr",
            "k8s": {"namespace": "shop", "pod": "api-1", "container": "api", "node": "node-3"},
            "source": {"kind": "file", "path": "/var/log/pods/x/api/0.log", "offset": 7},
            "attributes": {
                "http": {"status": 502, "path": "/pay\tnow", "latency": 0.25},
                "tags": ["a", 1, null, {"deep": -3}],
                "ok": false,
            },
            "flags": ["truncated"],
        });
        let mut sparse = json!({
            "v": 1,
            "id": "00000000000000000000000000000001",
            "ts": "2026-11-27T06:00:00.123456789Z",
            "observed_ts": "2026-11-27T06:00:00Z",
            "level": "info",
            "message": "",
            "k8s": {"node": "node-1"},
            "source": {"kind": "kafka"},
        });
        let mut empty_attributes = sparse.clone();
        empty_attributes["id"] = json!("00000000000000000000000000000002");
        empty_attributes["attributes"] = json!({});
        sparse["attributes"] = json!({"é\"x": "ünïcode \u{1F600}"});
        [base, sparse, empty_attributes]
            .iter()
            .map(|event| serde_json::to_vec(event).unwrap())
            .collect()
    }

    /// A field's name, a term's bytes and its document frequency.
    type TermCount = (String, Vec<u8>, u32);

    /// Every term of every indexed field with its document frequency, the fast columns
    /// the events have and every stored document.
    fn contents(index: &Index) -> (Vec<TermCount>, Vec<String>, Vec<TantivyDocument>) {
        let searcher = index.reader().unwrap().searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let segment = &searcher.segment_readers()[0];
        let mut terms = Vec::new();
        for (field, entry) in index.schema().fields() {
            if !entry.is_indexed() {
                continue;
            }
            let inverted = segment.inverted_index(field).unwrap();
            let mut stream = inverted.terms().stream().unwrap();
            while let Some((term, info)) = stream.next() {
                terms.push((entry.name().to_owned(), term.to_vec(), info.doc_freq));
            }
        }
        let fast = segment.fast_fields();
        let columns = [
            "id",
            "ts",
            "level",
            "k8s.pod",
            "flags",
            "attributes.http.status",
            "attributes.http.path",
            "attributes.http.latency",
            "attributes.tags",
            "attributes.tags.deep",
            "attributes.ok",
            "attributes.é\"x",
        ]
        .iter()
        .map(|name| {
            let types: Vec<_> = fast
                .dynamic_column_handles(name)
                .unwrap()
                .iter()
                .map(|handle| format!("{:?}", handle.column_type()))
                .collect();
            let bytes = fast.column_num_bytes(name).unwrap_or_default();
            format!("{name} {types:?} {bytes}")
        })
        .collect();
        let stored = (0..segment.max_doc())
            .map(|doc| searcher.doc(tantivy::DocAddress::new(0, doc)).unwrap())
            .collect();
        (terms, columns, stored)
    }

    #[test]
    fn an_event_document_indexes_and_stores_as_the_tantivy_document_built_from_it() {
        let (schema, fields) = crate::schema::build();
        let direct = Index::create_in_ram(schema.clone());
        let mut writer: IndexWriter<EventDocument> =
            direct.writer_with_num_threads(1, 15_000_000).unwrap();
        let converted = Index::create_in_ram(schema);
        let mut converted_writer: IndexWriter =
            converted.writer_with_num_threads(1, 15_000_000).unwrap();
        for json in events() {
            let document = EventDocument::parse(&fields, json.clone()).unwrap();
            assert_eq!(document.stored(), &json[..]);
            writer.add_document(document).unwrap();
            let document = EventDocument::parse(&fields, json).unwrap();
            converted_writer
                .add_document(document.into_tantivy_document())
                .unwrap();
        }
        writer.commit().unwrap();
        converted_writer.commit().unwrap();
        let (terms, columns, stored) = contents(&direct);
        assert!(terms.len() > 30, "{terms:?}");
        assert!(
            columns[5].contains("I64") || columns[5].contains("U64"),
            "{columns:?}"
        );
        assert_eq!((terms, columns, stored), contents(&converted));
    }
}
