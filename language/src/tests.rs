use logpipe_common::testkit::{event_with, shared_data};
use serde_json::json;

use crate::{Predicate, Query, QueryError};

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

    // Every construct that nests counts, not only parentheses.
    for hostile in [
        format!("{}a", "NOT ".repeat(1_800)),
        format!("{}a", "-".repeat(7_000)),
        format!("{}a", "+".repeat(7_000)),
        format!("{}a", "!".repeat(7_000)),
        format!("{}a{}", "NOT (".repeat(40), ")".repeat(40)),
        format!("{}a{}", "-(".repeat(40), ")".repeat(40)),
        format!("k8s.pod:{}a{}", "(".repeat(70), ")".repeat(70)),
    ] {
        let e = error(&hostile);
        assert!(e.message.contains("nested more than 64"), "{e:?}");
    }
    assert_eq!(normalized(&format!("{}a", "NOT ".repeat(60))), "a");
    assert_eq!(
        normalized(&format!("{}a{}", "-(".repeat(31), ")".repeat(31))),
        "NOT a"
    );
    // Operators whose operand has ended no longer count.
    assert!(Query::parse(&"NOT a ".repeat(500)).is_ok());
    assert!(Query::parse(&"-(a) ".repeat(500)).is_ok());
    let long_or = (0..1_500)
        .map(|n| format!("w{n}"))
        .collect::<Vec<_>>()
        .join(" OR ");
    assert!(Query::parse(&long_or).is_ok());

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
    let path = shared_data().join("tantivy-query-syntax/query_grammar_cases.json");
    let text = std::fs::read_to_string(&path).expect("../shared/data beside the checkout");
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let query = case["query"].as_str().unwrap();
        let valid = case["valid"].as_bool().unwrap();
        if valid {
            let ast = tantivy_query_grammar::parse_query(query)
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

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// Any arrangement of the constructs that nest is parsed or refused, never a crash.
    #[test]
    fn hostile_shapes_are_parsed_or_refused(
        parts in proptest::collection::vec(
            proptest::sample::select(vec![
                "NOT ", "-", "+", "!", "(", ")", "[", "]", "a ", "OR ", "AND ", "\"x y\" ",
                "k8s.pod:", "attributes.n:[1 TO 5] ", "\\", "NOT(", "*",
            ]),
            0..4_000,
        ),
    ) {
        let text: String = parts.concat();
        let _ = Query::parse(&text);
    }
}
