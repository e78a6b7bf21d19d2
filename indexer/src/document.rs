//! `LogEvent` → tantivy document, per the schema in `schema.rs`.

use logpipe_common::event::{LogEvent, Timestamp};
use tantivy::schema::OwnedValue;
use tantivy::{DateTime, TantivyDocument};

use crate::schema::Fields;

/// Builds the document of `event` with its `attributes` (as decoded for the index);
/// `stored` is the JSON kept for returning the hit.
pub fn document(
    fields: &Fields,
    event: &LogEvent,
    attributes: &OwnedValue,
    stored: &[u8],
) -> TantivyDocument {
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
            doc.add_text(field, value);
        }
    }
    doc.add_text(fields.node, &k8s.node);
    doc.add_text(fields.source_kind, event.source.kind.as_str());
    doc.add_text(fields.message, &event.message);
    if matches!(attributes, OwnedValue::Object(pairs) if !pairs.is_empty()) {
        doc.add_field_value(fields.attributes, attributes);
        add_strings(&mut doc, fields.attribute_text, attributes);
    }
    for flag in &event.flags {
        doc.add_text(fields.flags, flag.as_str());
    }
    doc.add_bytes(fields.event, stored);
    doc
}

/// Adds every string under `value` as one value of `field`.
fn add_strings(doc: &mut TantivyDocument, field: tantivy::schema::Field, value: &OwnedValue) {
    match value {
        OwnedValue::Str(text) => doc.add_text(field, text),
        OwnedValue::Array(values) => {
            for value in values {
                add_strings(doc, field, value);
            }
        }
        OwnedValue::Object(pairs) => {
            for (_, value) in pairs {
                add_strings(doc, field, value);
            }
        }
        _ => {}
    }
}

pub fn date(ts: Timestamp) -> DateTime {
    DateTime::from_timestamp_nanos(ts.unix_nanos())
}
