//! The tantivy schema of a day index, built in one place and versioned: the indexer
//! writes and the query service reads through this module only. Field names are the
//! search language's (`logpipe_language::fields`).

use logpipe_language::WordTokenizer;
use tantivy::Index;
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, JsonObjectOptions,
    STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};

/// Bumped whenever a field, its options or the index format change; an index written
/// under another version is refused instead of being read wrong. Version 3: the term
/// dictionaries are sstables (tantivy's `quickwit` feature) instead of FSTs. Version 4:
/// `source.via`, the push ingest token that sent the event. Version 5: the pod metadata
/// from the API server (`k8s.workload`, `k8s.workload_kind`, `k8s.labels`,
/// `k8s.annotations`, `k8s.namespace_labels`).
pub const SCHEMA_VERSION: u32 = 5;

/// Versions whose indexes are read (and appended to) as they are: each older version
/// lacks only fields added since (version 3 `source.via`, versions 3 and 4 the pod
/// metadata), which a query then matches on none of its events.
pub const READABLE_SCHEMA_VERSIONS: [u32; 3] = [3, 4, SCHEMA_VERSION];

pub use logpipe_language::fields::{
    ANNOTATIONS, LABELS, NAMESPACE_LABELS, WORKLOAD, WORKLOAD_KIND,
};
pub use logpipe_language::fields::{
    ATTRIBUTE_TEXT, ATTRIBUTES, CONTAINER, FLAGS, ID, LEVEL, MESSAGE, NAMESPACE, NODE, OBSERVED_TS,
    POD, POD_UID, SOURCE_KIND, SOURCE_NAME, SOURCE_PATH, SOURCE_VIA, STREAM, TS,
};
/// The event exactly as it was taken from Kafka (or as repaired), so a hit returns it.
pub const EVENT: &str = "event";

/// Exact-match fields that facets and filters read from fast columns.
pub const KEYWORD_FIELDS: [&str; 13] = [
    LEVEL,
    STREAM,
    NAMESPACE,
    POD,
    POD_UID,
    CONTAINER,
    NODE,
    WORKLOAD,
    WORKLOAD_KIND,
    SOURCE_KIND,
    SOURCE_NAME,
    SOURCE_VIA,
    FLAGS,
];

/// The name full-text fields give their analyzer: tantivy's built-in `default`, whose
/// words `logpipe_language::analyzer` makes the same way, so the name (and every index
/// written under it) stays.
pub const ANALYZER: &str = "default";

/// Makes `index` split text with the search language's analyzer.
pub fn register_analyzer(index: &Index) {
    index.tokenizers().register(
        ANALYZER,
        tantivy::tokenizer::TextAnalyzer::from(WordTokenizer::default()),
    );
}

/// Handles to every field of the schema.
#[derive(Debug, Clone)]
pub struct Fields {
    pub id: Field,
    pub ts: Field,
    pub observed_ts: Field,
    pub level: Field,
    pub stream: Field,
    pub namespace: Field,
    pub pod: Field,
    pub pod_uid: Field,
    pub container: Field,
    pub node: Field,
    /// The pod metadata from the API server; absent from indexes before version 5.
    pub workload: Option<Field>,
    pub workload_kind: Option<Field>,
    /// Maps of strings, one JSON path per key, each value one exact term.
    pub labels: Option<Field>,
    pub annotations: Option<Field>,
    pub namespace_labels: Option<Field>,
    pub source_kind: Field,
    pub source_name: Field,
    pub source_path: Field,
    /// Absent from indexes of version 3.
    pub source_via: Option<Field>,
    pub message: Field,
    pub attributes: Field,
    pub attribute_text: Field,
    pub flags: Field,
    pub event: Field,
}

/// The schema of every day index, with handles to its fields.
pub fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let keyword = || STRING | FAST;
    let date = DateOptions::from(INDEXED)
        .set_fast()
        .set_precision(DateTimePrecision::Nanoseconds);
    // Keys stay whole (`app.kubernetes.io/name` is one key, not a path) and each value
    // is one term, as keywords are.
    let string_map = || {
        JsonObjectOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("raw")
                    .set_index_option(IndexRecordOption::Basic),
            )
            .set_fast("raw")
    };
    let full_text = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let fields = Fields {
        id: builder.add_text_field(ID, STRING | FAST),
        ts: builder.add_date_field(TS, date.clone()),
        observed_ts: builder.add_date_field(OBSERVED_TS, date),
        level: builder.add_text_field(LEVEL, keyword()),
        stream: builder.add_text_field(STREAM, keyword()),
        namespace: builder.add_text_field(NAMESPACE, keyword()),
        pod: builder.add_text_field(POD, keyword()),
        pod_uid: builder.add_text_field(POD_UID, keyword()),
        container: builder.add_text_field(CONTAINER, keyword()),
        node: builder.add_text_field(NODE, keyword()),
        workload: Some(builder.add_text_field(WORKLOAD, keyword())),
        workload_kind: Some(builder.add_text_field(WORKLOAD_KIND, keyword())),
        labels: Some(builder.add_json_field(LABELS, string_map())),
        annotations: Some(builder.add_json_field(ANNOTATIONS, string_map())),
        namespace_labels: Some(builder.add_json_field(NAMESPACE_LABELS, string_map())),
        source_kind: builder.add_text_field(SOURCE_KIND, keyword()),
        source_name: builder.add_text_field(SOURCE_NAME, keyword()),
        source_path: builder.add_text_field(SOURCE_PATH, STRING),
        source_via: Some(builder.add_text_field(SOURCE_VIA, keyword())),
        message: builder.add_text_field(
            MESSAGE,
            TextOptions::default()
                .set_indexing_options(full_text.clone())
                .set_stored(),
        ),
        attributes: builder.add_json_field(
            ATTRIBUTES,
            JsonObjectOptions::default()
                .set_indexing_options(full_text.clone())
                .set_fast("raw")
                .set_expand_dots_enabled(),
        ),
        attribute_text: builder.add_text_field(
            ATTRIBUTE_TEXT,
            TextOptions::default().set_indexing_options(full_text),
        ),
        flags: builder.add_text_field(FLAGS, keyword()),
        event: builder.add_bytes_field(EVENT, STORED),
    };
    (builder.build(), fields)
}

impl Fields {
    /// Field handles of an index opened from disk, checked against this version's names.
    pub fn from_schema(schema: &Schema) -> tantivy::Result<Self> {
        let field = |name: &str| schema.get_field(name);
        Ok(Fields {
            id: field(ID)?,
            ts: field(TS)?,
            observed_ts: field(OBSERVED_TS)?,
            level: field(LEVEL)?,
            stream: field(STREAM)?,
            namespace: field(NAMESPACE)?,
            pod: field(POD)?,
            pod_uid: field(POD_UID)?,
            container: field(CONTAINER)?,
            node: field(NODE)?,
            workload: field(WORKLOAD).ok(),
            workload_kind: field(WORKLOAD_KIND).ok(),
            labels: field(LABELS).ok(),
            annotations: field(ANNOTATIONS).ok(),
            namespace_labels: field(NAMESPACE_LABELS).ok(),
            source_kind: field(SOURCE_KIND)?,
            source_name: field(SOURCE_NAME)?,
            source_path: field(SOURCE_PATH)?,
            source_via: field(SOURCE_VIA).ok(),
            message: field(MESSAGE)?,
            attributes: field(ATTRIBUTES)?,
            attribute_text: field(ATTRIBUTE_TEXT)?,
            flags: field(FLAGS)?,
            event: field(EVENT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_round_trips_through_its_json_form() {
        let (schema, _) = build();
        let json = serde_json::to_string(&schema).unwrap();
        let reread: Schema = serde_json::from_str(&json).unwrap();
        assert_eq!(reread, schema);
        Fields::from_schema(&reread).unwrap();
    }

    #[test]
    fn nested_k8s_names_are_plain_fields() {
        let (schema, fields) = build();
        let (field, path) = schema.find_field("k8s.namespace").unwrap();
        assert_eq!(field, fields.namespace);
        assert_eq!(path, "");
        let (field, path) = schema.find_field("attributes.http.status").unwrap();
        assert_eq!(field, fields.attributes);
        assert_eq!(path, "http.status");
    }

    /// Every token `analyzer` makes of `text`: position, offsets and text.
    fn tokens(
        mut analyzer: tantivy::tokenizer::TextAnalyzer,
        text: &str,
    ) -> Vec<(usize, usize, usize, String)> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while let Some(token) = stream.next() {
            out.push((
                token.position,
                token.offset_from,
                token.offset_to,
                token.text.clone(),
            ));
        }
        out
    }

    fn tantivy_default_words(text: &str) -> Vec<(usize, usize, usize, String)> {
        let manager = tantivy::tokenizer::TokenizerManager::default();
        tokens(manager.get(ANALYZER).unwrap(), text)
    }

    fn registered_words(text: &str) -> Vec<(usize, usize, usize, String)> {
        let (schema, _) = build();
        let index = Index::create_in_ram(schema);
        register_analyzer(&index);
        tokens(index.tokenizers().get(ANALYZER).unwrap(), text)
    }

    #[test]
    fn the_analyzer_makes_the_words_of_tantivys_default_one() {
        let long = "x".repeat(39) + " " + &"y".repeat(40) + " ΣΑΣ İstanbul ǅ";
        for text in ["", "GET /pay answered 502", "a-b_c.d", long.as_str()] {
            assert_eq!(
                registered_words(text),
                tantivy_default_words(text),
                "{text:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn the_analyzer_agrees_with_tantivys_default_on_any_text(text in "\\PC{0,80}") {
            proptest::prop_assert_eq!(registered_words(&text), tantivy_default_words(&text));
        }
    }
}
