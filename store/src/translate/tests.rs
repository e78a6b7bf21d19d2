//! The tantivy query and the in-memory predicate select the same events.

use std::collections::BTreeSet;

use logpipe_common::event::{EventId, Flag, Level, LogEvent, Timestamp};
use logpipe_common::testkit::event_with;
use logpipe_language::{Predicate, Query};
use proptest::prelude::*;
use serde_json::json;
use tantivy::collector::DocSetCollector;
use tantivy::schema::Value as _;
use tantivy::{Index, IndexReader, TantivyDocument};

use super::to_tantivy;
use crate::document::document_of;
use crate::schema::{self, Fields};

const WORDS: [&str; 8] = [
    "alpha", "beta", "gamma", "Delta", "pay", "payment", "x1", "502",
];
const NAMESPACES: [&str; 3] = ["shop", "shop-eu", "billing"];
const APPS: [&str; 3] = ["checkout", "cart", "pay.v2"];
const LEVELS: [Level; 4] = [Level::Debug, Level::Info, Level::Warn, Level::Error];

fn arb_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(WORDS.to_vec()).prop_map(str::to_string),
            Just("-".to_string()),
            Just("/".to_string()),
            Just("a".repeat(45)),
        ],
        0..6,
    )
    .prop_map(|words| words.join(" "))
}

fn arb_attribute_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        arb_text().prop_map(serde_json::Value::from),
        (-5i64..600).prop_map(serde_json::Value::from),
        (-5.0f64..600.0).prop_map(|f| serde_json::Value::from((f * 4.0).round() / 4.0)),
        any::<bool>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        proptest::collection::vec((0i64..10).prop_map(serde_json::Value::from), 0..3)
            .prop_map(serde_json::Value::from),
    ]
}

fn arb_event() -> impl Strategy<Value = LogEvent> {
    (
        arb_text(),
        proptest::option::of(proptest::sample::select(NAMESPACES.to_vec())),
        proptest::sample::select(LEVELS.to_vec()),
        proptest::option::of(arb_attribute_value()),
        proptest::option::of(arb_attribute_value()),
        proptest::option::of(arb_attribute_value()),
        0i64..5_000,
        any::<bool>(),
        proptest::option::of(proptest::sample::select(vec!["batch", "relay"])),
        proptest::option::of(proptest::sample::select(APPS.to_vec())),
    )
        .prop_map(
            |(message, namespace, level, status, note, nested, ts, flagged, via, app)| {
                let mut attributes = serde_json::Map::new();
                if let Some(status) = status {
                    attributes.insert("status".into(), status);
                }
                if let Some(note) = note {
                    attributes.insert("note".into(), note);
                }
                if let Some(nested) = nested {
                    attributes.insert("http".into(), json!({ "code": nested }));
                }
                let mut event = event_with(&message, serde_json::Value::Object(attributes));
                event.k8s.namespace = namespace.map(str::to_string);
                event.level = level;
                event.ts = Timestamp::from_unix_nanos(1_790_000_000_000_000_000 + ts * 1_000_000);
                if flagged {
                    event.flags.push(Flag::Truncated);
                }
                event.source.via = via.map(str::to_string);
                if let Some(app) = app {
                    event.k8s.labels.insert("app".into(), app.into());
                    event
                        .k8s
                        .labels
                        .insert("app.kubernetes.io/name".into(), format!("{app}-svc"));
                    event.k8s.workload = Some(app.into());
                    event.k8s.workload_kind = Some("Deployment".into());
                    event
                        .k8s
                        .annotations
                        .insert("owner".into(), "team-a".into());
                }
                if namespace == Some("shop") {
                    event
                        .k8s
                        .namespace_labels
                        .insert("team".into(), "payments".into());
                }
                event
            },
        )
}

fn arb_leaf() -> impl Strategy<Value = String> {
    let word = proptest::sample::select(WORDS.to_vec());
    let number = -5i64..600;
    prop_oneof![
        word.clone().prop_map(str::to_string),
        word.clone().prop_map(|w| format!("message:{w}")),
        (word.clone(), word.clone()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        word.clone().prop_map(|w| format!("attributes:{w}")),
        word.clone().prop_map(|w| format!("attributes.note:{w}")),
        word.clone()
            .prop_map(|w| format!("{}*", &w[..w.len().min(3)])),
        word.clone()
            .prop_map(|w| format!("attributes.note:{}*", &w[..w.len().min(2)])),
        proptest::sample::select(NAMESPACES.to_vec()).prop_map(|n| format!("k8s.namespace:{n}")),
        Just("k8s.namespace:shop*".to_string()),
        Just("k8s.namespace:*".to_string()),
        Just("k8s.namespace:/shop.*/".to_string()),
        Just("message:/pay.*/".to_string()),
        Just("attributes.note:/gam+a/".to_string()),
        proptest::sample::select(LEVELS.to_vec()).prop_map(|l| format!("level:{}", l.as_str())),
        number
            .clone()
            .prop_map(|n| format!("attributes.status:{n}")),
        number
            .clone()
            .prop_map(|n| format!("attributes.http.code:{n}")),
        (number.clone(), number.clone()).prop_map(|(a, b)| format!(
            "attributes.status:[{} TO {}}}",
            a.min(b),
            a.max(b)
        )),
        number
            .clone()
            .prop_map(|n| format!("attributes.status:>={n}")),
        (0.0f64..600.0).prop_map(|f| format!("attributes.status:<{:.2}", f)),
        Just("attributes.status:*".to_string()),
        Just("attributes.http:*".to_string()),
        Just("attributes.note:true".to_string()),
        Just("attributes.status:502".to_string()),
        Just("flags:truncated".to_string()),
        Just("source.via:batch".to_string()),
        Just("source.via:*".to_string()),
        proptest::sample::select(APPS.to_vec()).prop_map(|a| format!("k8s.labels.app:{a}")),
        proptest::sample::select(APPS.to_vec()).prop_map(|a| format!("k8s.workload:{a}")),
        Just("k8s.labels.app:*".to_string()),
        Just("k8s.labels.app:ca*".to_string()),
        Just("k8s.labels.app:/c.*t/".to_string()),
        Just("k8s.labels.app.kubernetes.io/name:cart-svc".to_string()),
        Just("k8s.labels.app.kubernetes.io/name:*".to_string()),
        Just("k8s.workload_kind:Deployment".to_string()),
        Just("k8s.annotations.owner:team-a".to_string()),
        Just("k8s.namespace_labels.team:payments".to_string()),
        Just("k8s.namespace_labels.team:*".to_string()),
        (0i64..5_000).prop_map(|ms| {
            let t = Timestamp::from_unix_nanos(1_790_000_000_000_000_000 + ms * 1_000_000);
            format!("ts:>={t}")
        }),
    ]
}

fn arb_query() -> impl Strategy<Value = String> {
    arb_leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" AND "))),
            proptest::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" OR "))),
            inner.clone().prop_map(|q| format!("NOT {q}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} -{b})")),
        ]
    })
}

struct TestIndex {
    reader: IndexReader,
    fields: Fields,
}

fn index(events: &[LogEvent]) -> TestIndex {
    let (schema, fields) = schema::build();
    let index = Index::create_in_ram(schema);
    let mut writer = index.writer_with_num_threads(1, 15_000_000).unwrap();
    for event in events {
        writer.add_document(document_of(&fields, event)).unwrap();
    }
    writer.commit().unwrap();
    TestIndex {
        reader: index.reader().unwrap(),
        fields,
    }
}

fn indexed_matches(index: &TestIndex, query: &Query) -> BTreeSet<String> {
    let searcher = index.reader.searcher();
    let tantivy_query = to_tantivy(query, &index.fields).unwrap();
    let docs = searcher.search(&*tantivy_query, &DocSetCollector).unwrap();
    docs.into_iter()
        .map(|address| {
            let doc: TantivyDocument = searcher.doc(address).unwrap();
            let bytes = doc
                .get_first(index.fields.event)
                .and_then(|v| v.as_bytes())
                .unwrap()
                .to_vec();
            let event: LogEvent = serde_json::from_slice(&bytes).unwrap();
            event.id.to_string()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_index_and_the_predicate_select_the_same_events(
        events in proptest::collection::vec(arb_event(), 1..40),
        queries in proptest::collection::vec(arb_query(), 1..8),
    ) {
        let events: Vec<LogEvent> = events
            .into_iter()
            .enumerate()
            .map(|(n, mut event)| {
                event.id = EventId::derive("node-1", "prop", n as u64);
                event
            })
            .collect();
        let index = index(&events);
        for text in &queries {
            let query = Query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let predicate = Predicate::new(&query);
            let in_memory: BTreeSet<String> = events
                .iter()
                .filter(|event| predicate.matches(event))
                .map(|event| event.id.to_string())
                .collect();
            let indexed = indexed_matches(&index, &query);
            prop_assert_eq!(&indexed, &in_memory, "query {} ({})", text, query);
            // The normalized form means the same.
            let again = Query::parse(&query.to_string()).unwrap();
            prop_assert_eq!(&again, &query);
        }
    }
}
