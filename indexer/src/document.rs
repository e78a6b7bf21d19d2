//! Event → tantivy document, per the schema in `schema.rs`.

use logpipe_common::event::{LogEvent, Timestamp};
use tantivy::{DateTime, TantivyDocument};

use crate::decode::Event;
use crate::json::JsonTree;
use crate::schema::Fields;

/// Builds the document of `event`; `stored` is the JSON kept for returning the hit.
pub fn document(fields: &Fields, event: &Event<'_>, stored: &[u8]) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.id, event.id.to_string());
    doc.add_date(fields.ts, date(event.ts));
    doc.add_date(fields.observed_ts, date(event.observed_ts));
    doc.add_text(fields.level, event.level.as_str());
    if let Some(stream) = event.stream {
        doc.add_text(fields.stream, stream.as_str());
    }
    let k8s = &event.k8s;
    for (field, value) in [
        (fields.namespace, &k8s.namespace),
        (fields.pod, &k8s.pod),
        (fields.pod_uid, &k8s.pod_uid),
        (fields.container, &k8s.container),
        (fields.source_name, &event.source.name),
        (fields.source_path, &event.source.path),
    ] {
        if let Some(value) = value {
            doc.add_text(field, value.as_str());
        }
    }
    doc.add_text(fields.node, k8s.node.as_str());
    doc.add_text(fields.source_kind, event.source.kind.as_str());
    doc.add_text(fields.message, event.message.as_str());
    let attributes = event.attributes.as_ref().map(JsonTree::root);
    if let Some(attributes) = attributes.filter(|a| !a.is_empty_object()) {
        doc.add_field_value(fields.attributes, attributes);
        for text in attributes.strings() {
            doc.add_text(fields.attribute_text, text);
        }
    }
    for flag in &event.flags {
        doc.add_text(fields.flags, flag.as_str());
    }
    doc.add_bytes(fields.event, stored);
    doc
}

/// The document of an event built in memory (tests, benchmarks, imports), stored as
/// `serde_json` writes it.
pub fn document_of(fields: &Fields, event: &LogEvent) -> TantivyDocument {
    let stored = serde_json::to_vec(event).unwrap_or_default();
    let Ok(read) = Event::parse(&stored) else {
        unreachable!("a serialized LogEvent reads back");
    };
    document(fields, &read, &stored)
}

pub fn date(ts: Timestamp) -> DateTime {
    DateTime::from_timestamp_nanos(ts.unix_nanos())
}
