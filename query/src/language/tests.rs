use std::collections::BTreeSet;
use std::path::PathBuf;

use logpipe_common::event::{
    EventId, Flag, K8s, Level, LogEvent, Source, SourceKind, Stream, Timestamp,
};
use logpipe_indexer::document::document_of;
use logpipe_indexer::schema::{self, Fields};
use proptest::prelude::*;
use serde_json::json;
use tantivy::collector::DocSetCollector;
use tantivy::schema::Value as _;
use tantivy::{Index, IndexReader, TantivyDocument};

use super::*;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data")
}

fn normalized(text: &str) -> String {
    Query::parse(text).unwrap().to_string()
}

fn error(text: &str) -> QueryError {
    Query::parse(text).unwrap_err()
}

#[test]
fn words_without_fields_must_all_match() {
    assert_eq!(normalized("payment failed"), "payment AND failed");
    assert_eq!(normalized("payment OR refund"), "payment OR refund");
    assert_eq!(normalized("a AND b OR c"), "(a AND b) OR c");
    assert_eq!(normalized("-level:debug"), "NOT level:debug");
    assert_eq!(normalized("NOT level:debug"), "NOT level:debug");
    assert_eq!(normalized(""), "*");
    assert_eq!(normalized("*"), "*");
    assert_eq!(normalized("   "), "*");
}

#[test]
fn fields_resolve_to_the_schema() {
    assert_eq!(
        normalized("k8s.namespace:shop AND level:ERROR"),
        "k8s.namespace:shop AND level:error"
    );
    assert_eq!(
        normalized("attributes.http.status:502"),
        "attributes.http.status:502"
    );
    assert_eq!(
        normalized("attributes.latency_ms:[500 TO *]"),
        "attributes.latency_ms:[500 TO *]"
    );
    assert_eq!(
        normalized("attributes.latency_ms:>=500"),
        "attributes.latency_ms:[500 TO *]"
    );
    assert_eq!(
        normalized("attributes.ratio:{0.5 TO 1]"),
        "attributes.ratio:{0.5 TO 1]"
    );
    assert_eq!(
        normalized("ts:[2026-11-27T00:00:00Z TO 2026-11-28T00:00:00+01:00}"),
        "ts:[2026-11-27T00:00:00.000000000Z TO 2026-11-27T23:00:00.000000000Z}"
    );
    assert_eq!(normalized("k8s.pod:api-*"), "k8s.pod:\"api-\"*");
    assert_eq!(normalized("k8s.pod:*"), "k8s.pod:*");
    assert_eq!(
        normalized("message:\"payment failed\""),
        "message:\"payment failed\""
    );
    assert_eq!(normalized("paym*"), "paym*");
    assert_eq!(
        normalized("k8s.node:/node-[0-9]+/"),
        "k8s.node:/node-[0-9]+/"
    );
    assert_eq!(
        normalized("level: IN [error fatal]"),
        "level:error OR level:fatal"
    );
}

#[test]
fn the_normalized_form_parses_to_the_same_query() {
    for text in [
        "payment failed",
        "k8s.namespace:shop AND (level:error OR level:fatal) -k8s.pod:canary",
        "\"quoted \\\"inner\\\" text\" OR message:'single quoted'",
        "attributes.http.path:\"/pay\" AND attributes.http.status:[500 TO 599}",
        "NOT (a OR b) AND c",
        "source.path:\"/var/log/pods/a b/0.log\"",
        "k8s.pod:\"with space\"*",
        "k8s.node:/a\\/b/",
        "ts:>2026-11-27T00:00:00Z",
        "attributes.enabled:true",
        "attributes.x:-3 OR attributes.y:1e3",
    ] {
        let query = Query::parse(text).unwrap();
        let again = Query::parse(&query.to_string())
            .unwrap_or_else(|e| panic!("{text} → {query} does not parse: {e}"));
        assert_eq!(query, again, "{text} → {query}");
    }
}

#[test]
fn errors_give_the_position_and_what_was_expected() {
    let e = error("level:");
    assert_eq!(e.position, Some(6), "{e:?}");
    assert!(e.message.contains("expected word"), "{e:?}");

    let e = error("k8s.namespace:shop AND stauts:200");
    assert!(e.message.contains("unknown field `stauts`"), "{e:?}");
    assert_eq!(e.position, Some(23));

    let e = error("k8s.namspace:shop");
    assert!(e.message.contains("did you mean k8s.namespace?"), "{e:?}");

    let e = error("message:[1 TO 5]");
    assert!(e.message.contains("ranges work on ts"), "{e:?}");
    assert_eq!(e.position, Some(0));

    let e = error("attributes.user:[a TO z]");
    assert!(e.message.contains("must be numbers"), "{e:?}");

    let e = error("ts:yesterday");
    assert!(e.message.contains("RFC 3339"), "{e:?}");

    let e = error("\"a b\"~2");
    assert!(e.message.contains("slop"), "{e:?}");

    let e = error("k8s.pod:/(unclosed/");
    assert!(e.message.contains("invalid regular expression"), "{e:?}");

    let e = error("message:\"two words\"*");
    assert!(e.message.contains("one word"), "{e:?}");
}

#[test]
fn hostile_queries_are_refused_quickly() {
    let nested = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = error(&nested);
    assert!(e.message.contains("nested more than 64"), "{e:?}");
    assert_eq!(e.position, Some(64));

    let huge = "a ".repeat(600_000);
    assert!(error(&huge).message.contains("at most 16384"));

    let e = error(&format!("k8s.pod:/{}/", "a?".repeat(300)));
    assert!(e.message.contains("at most 512"), "{e:?}");

    let e = error("k8s.pod:/(a{1000}){1000}/");
    assert!(e.message.contains("invalid regular expression"), "{e:?}");

    // Anchors are valid for the regex crate but not for the index's automaton.
    let e = error("k8s.pod:/a$/");
    assert!(
        e.message.contains("invalid regular expression /a$/"),
        "{e:?}"
    );

    // Deep but allowed nesting parses.
    let deep = format!("{}level:error{}", "(".repeat(60), ")".repeat(60));
    assert_eq!(normalized(&deep), "level:error");
}

/// The cases from tantivy's own grammar tests: the valid ones parse to the expected
/// syntax tree with the grammar this crate uses, and then either become a query or are
/// refused for a reason of our schema (never as a syntax error); the invalid ones are
/// refused with a position.
#[test]
fn tantivy_grammar_cases() {
    let path = data_dir().join("tantivy-query-syntax/query_grammar_cases.json");
    let text = std::fs::read_to_string(&path).expect("../shared/data beside the checkout");
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let query = case["query"].as_str().unwrap();
        let valid = case["valid"].as_bool().unwrap();
        if valid {
            let ast = tantivy::query_grammar::parse_query(query)
                .unwrap_or_else(|_| panic!("{query:?} is valid"));
            assert_eq!(
                format!("{ast:?}"),
                case["expected_ast"].as_str().unwrap(),
                "{query:?}"
            );
            if let Err(error) = Query::parse(query) {
                assert!(
                    !error.message.starts_with("syntax error"),
                    "{query:?}: {error:?}"
                );
            }
        } else {
            let error = Query::parse(query).expect_err(query);
            assert!(error.position.is_some(), "{query:?}: {error:?}");
        }
        checked += 1;
    }
    assert!(checked >= 170, "{checked} cases");
}

/// The parser cases that apply to a schema like ours (tokenized text, exact strings,
/// JSON), checked as predicates: `title` and `text` are read as `message`.
#[test]
fn tantivy_parser_cases_that_apply() {
    let event = event_with(
        "Hello World of barack obama",
        json!({"title": "a b c", "count": 5}),
    );
    let matches = |q: &str| Predicate::new(&Query::parse(q).unwrap()).matches(&event);
    assert!(matches("message:\"hello world\""));
    assert!(matches("message:HELLO"));
    assert!(matches("message:barack AND message:obama"));
    assert!(!matches("message:\"world hello\""));
    assert!(matches("attributes.title:\"b c\""));
    assert!(matches("attributes.count:5"));
    assert!(matches("attributes.count:[5 TO 5]"));
    assert!(!matches("attributes.count:{5 TO 6]"));
    assert!(matches("attributes.count:5.0"));
    assert!(matches("hello AND b"));
}

fn event_with(message: &str, attributes: serde_json::Value) -> LogEvent {
    let serde_json::Value::Object(attributes) = attributes else {
        panic!("an object");
    };
    LogEvent {
        v: 1,
        id: EventId::derive("node-1", "test", 0),
        ts: Timestamp::from_unix_nanos(1_790_000_000_000_000_000),
        observed_ts: Timestamp::from_unix_nanos(1_790_000_000_000_000_000),
        level: Level::Info,
        message: message.to_string(),
        stream: Some(Stream::Stdout),
        k8s: K8s {
            namespace: Some("shop".into()),
            pod: Some("api-1".into()),
            pod_uid: None,
            container: Some("api".into()),
            node: "node-1".into(),
        },
        source: Source {
            kind: SourceKind::File,
            name: None,
            path: Some("/var/log/pods/x/0.log".into()),
            offset: Some(0),
        },
        attributes,
        flags: Vec::new(),
    }
}

// ---- the tantivy query and the predicate select the same events ----

const WORDS: [&str; 8] = [
    "alpha", "beta", "gamma", "Delta", "pay", "payment", "x1", "502",
];
const NAMESPACES: [&str; 3] = ["shop", "shop-eu", "billing"];
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
    )
        .prop_map(
            |(message, namespace, level, status, note, nested, ts, flagged)| {
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
