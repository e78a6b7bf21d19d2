use std::path::Path;

use logpipe_common::Timestamp;
use logpipe_common::event::{Flag, LogEvent};
use logpipe_common::testkit::sample_event;
use serde_json::json;

use super::*;
use crate::rules::parse_rule;

fn rule(query: &str) -> Rule {
    parse_rule(
        &format!("name: r\ntype: match\nquery: '{query}'\nnotify: [x]\n"),
        Path::new("r.yaml"),
    )
    .unwrap()
}

fn ratio(query: &str, denominator: &str) -> Rule {
    parse_rule(
        &format!(
            "name: r\ntype: ratio\nquery: '{query}'\ndenominator: '{denominator}'\nthreshold: 0.5\nwindow: 1m\nnotify: [x]\n"
        ),
        Path::new("r.yaml"),
    )
    .unwrap()
}

/// What each rule makes of `event`, rule by rule, without the router.
fn by_hand(rules: &[Rule], event: &LogEvent) -> Vec<Routed> {
    let view = EventView::new(event);
    rules
        .iter()
        .enumerate()
        .filter_map(|(rule, r)| {
            let hit = r.predicate.matches_in(&view);
            let total = r.denominator.as_ref().is_some_and(|d| d.matches_in(&view));
            (hit || total).then_some(Routed { rule, hit, total })
        })
        .collect()
}

fn routed(router: &Router, scratch: &mut Scratch, event: &LogEvent) -> (Vec<Routed>, Effort) {
    let mut out = Vec::new();
    let effort = router.route(&EventView::new(event), scratch, &mut out);
    (out, effort)
}

/// Events with messages and attributes of every kind the rules below look at.
fn events() -> Vec<LogEvent> {
    let messages = [
        "TIMEOUT after 3 s",
        "a-Timeout_b connection refused",
        "refused connection",
        "timeouts",
        "ÉCOLE fermée",
        "STRASSE Straße",
        "E2E: ok err42x",
        "",
        "école",
        "Err7 in checkout-7f9c",
        "x",
        "a b then a-b",
        "then axb",
        "err4x err42x timeouts Timeout",
        "err4000000000000000000000000000000000000000000000x err4x",
    ];
    let attributes = [
        json!({}),
        json!({"http": {"method": "GET", "status": 502}, "user": "Alice Smith"}),
        json!({"http": {"method": "post", "status": "502"}, "tags": ["Blue", "green"]}),
        json!({"http.method": "GET", "note": "connection refused by peer"}),
        json!({"user": ["bob", 7, true], "ok": true, "http": {"status": 200}}),
        json!({"note": "Timeout école", "deep": {"er": {"x": "refused"}}}),
        // A word only lower-casing makes ASCII (the Kelvin sign), and one the raw text
        // will hold only escaped.
        json!({"unit": "\u{212A}ELVIN", "note": "Peer \"hidden\" it"}),
    ];
    let mut events = Vec::new();
    for n in 0..(messages.len() * attributes.len()) as u64 {
        let mut event = sample_event(n, Timestamp::now());
        if n % 3 != 0 {
            event.message = messages[n as usize % messages.len()].into();
        }
        if n % 4 != 0 {
            let serde_json::Value::Object(map) = attributes[n as usize % attributes.len()].clone()
            else {
                unreachable!("an object literal")
            };
            event.attributes = map;
        }
        if n % 5 == 0 {
            event.flags = vec![Flag::Truncated];
        }
        if n % 2 == 0 {
            let app = if n % 7 == 0 { "cart" } else { "checkout" };
            event.k8s.labels.insert("app".into(), app.into());
            event.k8s.workload = Some(app.into());
            event.k8s.workload_kind = Some("Deployment".into());
        }
        events.push(event);
    }
    events
}

const QUERIES: &[&str] = &[
    "k8s.namespace:shop AND level:error",
    "k8s.namespace:payments",
    "message:answered AND attributes.http.status:502",
    "message:timeout",
    "message:\"connection refused\"",
    "message:\"refused connection\" AND NOT level:error",
    "timeout",
    "refused",
    "attributes:timeout",
    "attributes.user:alice",
    "attributes.user:bob",
    "attributes.user:7",
    "attributes.ok:true",
    "attributes.http.method:GET",
    "attributes.http.method:get AND k8s.pod:\"shop-api-1\"",
    "attributes.tags:blue",
    "attributes.note:\"connection refused\"",
    "attributes.unit:kelvin AND k8s.container:api",
    "attributes.note:hidden AND k8s.container:api",
    "message:/err[0-9]+x?/",
    "message:/err[0-9]+x?/ AND k8s.namespace:shop",
    "k8s.pod:/shop-api-[0-4]/",
    "k8s.pod:/shop-api-[0-4]/ OR message:école",
    "level:error OR level:fatal",
    "(message:timeout AND level:info) OR (message:refused AND k8s.namespace:shop)",
    "message:timeout OR NOT k8s.namespace:shop",
    "NOT k8s.namespace:shop",
    "attributes.http.status:[500 TO *]",
    "attributes.http.status:[500 TO *]",
    "message:straße",
    "message:e2e",
    "message:école AND message:fermée",
    "flags:truncated",
    "message:/.*/",
    "message:/a.b/",
    "message:/[a-z]+x/",
    "message:\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa timeout\"",
    "message:/(err|e)[0-9]+/",
    "message:/err4[0-9]*x/",
    "message:/err4[0-9]+x/ AND k8s.namespace:shop",
    "message:/timeouts?/",
    // Literals of one byte, a literal no word can start (a word is letters and digits),
    // and a regex matching the empty text (which is no word).
    "message:/x[0-9]*/",
    "message:/[0-9]+s?/ AND k8s.namespace:shop",
    "message:/-b/",
    "message:/-b/ OR message:/a*/",
    "message:/timeout/ OR message:/e2e/",
    "message:/ch[e]ck.*/ AND k8s.namespace:shop",
    // Regexes matching a few texts, looked up as those: a case-insensitive one, one
    // with texts beginning alike, non-ASCII ones, one matching the empty text too, keyword
    // values.
    "message:/(?i)TIMEOUT/",
    "message:/err4(2|20)?x/ AND k8s.namespace:shop",
    "message:/(é|e)cole/",
    "message:/stra(ß|ss)e/",
    "message:/(timeouts)?/",
    // Upper case: no word (they are lower-cased) matches these.
    "message:/TIMEOUT/",
    "message:/Err4(2|20)?x/",
    "k8s.namespace:/shop|payments/",
    "k8s.namespace:/sho[pq]/ AND level:error",
    "message:\"!!!\"",
    "k8s.container:api AND message:answ*",
    "k8s.labels.app:checkout AND level:error",
    "k8s.workload:checkout",
    "k8s.labels.app:cart OR k8s.workload_kind:StatefulSet",
    "k8s.labels.app:checkout AND k8s.namespace:shop",
    "k8s.labels.app:checkout AND NOT level:error",
    // Decided by the lookup, matching nothing (the others are `EXACT`'s).
    "message:timeout AND NOT message:timeout",
    // 32 conjunctions: too many to take apart, evaluated.
    "(level:error OR level:info) AND (message:timeout OR message:refused) AND (k8s.namespace:shop OR k8s.namespace:payments) AND (attributes.user:alice OR attributes.user:bob) AND (message:x OR message:e2e)",
    "*",
];

/// Queries the lookup decides: every rule's and denominator's (`OR`s of `AND`s of terms
/// wanted present or absent), each matching some of the events and missing others.
const EXACT: &[&str] = &[
    "k8s.namespace:shop AND level:error",
    "message:timeout AND NOT level:info",
    "NOT level:error",
    "NOT NOT k8s.namespace:shop",
    "attributes.http.method:GET",
    "attributes.http.method:get AND NOT message:timeout",
    "attributes.note:refused AND NOT attributes.user:alice",
    "attributes.user:smith AND NOT attributes.user:bob",
    "NOT attributes.unit:kelvin",
    "NOT attributes.note:hidden AND k8s.container:api",
    "message:/err[0-9]+x?/ AND NOT message:err42x",
    "attributes.deep.er.x:refused AND NOT k8s.labels.app:cart",
    "k8s.labels.app:checkout AND NOT level:error",
    "k8s.pod:/shop-api-[0-4]/",
    "k8s.namespace:/sho[pq]/ AND level:error",
    "k8s.namespace:/s.*p/ AND NOT level:error",
    "message:/(é|e)cole/ AND NOT message:fermée",
    "message:/(timeouts)?/",
    "level:error OR level:fatal",
    "k8s.labels.app:cart OR k8s.workload_kind:StatefulSet",
    "(message:timeout AND level:info) OR (message:refused AND k8s.namespace:shop)",
    "message:timeout OR NOT k8s.namespace:shop",
    "NOT (message:timeout OR message:refused)",
    "(message:timeout OR message:refused) AND (level:error OR attributes.user:alice)",
    "NOT (attributes.user:bob OR k8s.namespace:shop) AND message:/err[0-9]+x?/",
];

#[test]
fn every_rule_the_router_passes_over_could_not_have_matched() {
    let mut rules: Vec<Rule> = QUERIES.iter().chain(EXACT).map(|q| rule(q)).collect();
    rules.push(ratio(
        "k8s.namespace:shop AND level:error",
        "k8s.namespace:shop",
    ));
    rules.push(ratio("message:timeout", "message:refused"));
    rules.push(ratio("message:timeout", "NOT level:error"));
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    let mut scratch = Scratch::default();
    let mut matched = 0;
    for event in events() {
        let (out, effort) = routed(&router, &mut scratch, &event);
        assert_eq!(out, by_hand(&rules, &event), "{event:?}");
        assert!(effort.rules_checked <= rules.len());
        // The same through a view of the event read in place, with only the
        // attributes the rules look at walked.
        // A producer may escape any character.
        let text = serde_json::to_string(&event)
            .unwrap()
            .replace("hidden", "hi\\u0064den");
        let read: LogEventRef<'_> = serde_json::from_str(&text).unwrap();
        let mut again = Vec::new();
        router.route(&router.view(&read), &mut scratch, &mut again);
        assert_eq!(again, out, "{event:?}");
        matched += out.len();
    }
    assert!(matched > 100, "the events exercise the rules: {matched}");
}

#[test]
fn conjunctions_of_terms_present_and_absent_are_decided_by_the_lookup() {
    let mut rules: Vec<Rule> = EXACT.iter().map(|q| rule(q)).collect();
    rules.push(ratio("message:timeout", "NOT level:error"));
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    let mut scratch = Scratch::default();
    let mut matched = vec![0; rules.len()];
    for event in events() {
        let (out, effort) = routed(&router, &mut scratch, &event);
        assert_eq!(out, by_hand(&rules, &event), "{event:?}");
        assert_eq!(effort.queries_evaluated, 0, "{event:?}");
        for routed in &out {
            matched[routed.rule] += 1;
        }
    }
    // Each query matches some event and misses another.
    let events = events().len();
    for (query, count) in EXACT.iter().zip(&matched) {
        assert!((1..events).contains(count), "{query}: {count} of {events}");
    }
}

#[test]
fn rules_are_listed_under_the_terms_they_need() {
    let rules: Vec<Rule> = QUERIES.iter().map(|q| rule(q)).collect();
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    let always: Vec<&str> = router.always.iter().map(|&r| QUERIES[r as usize]).collect();
    assert_eq!(
        always,
        [
            "attributes.user:7",
            "attributes.ok:true",
            "message:timeout OR NOT k8s.namespace:shop",
            "NOT k8s.namespace:shop",
            "attributes.http.status:[500 TO *]",
            "attributes.http.status:[500 TO *]",
            "message:\"!!!\"",
            "*",
        ]
    );
    // The two identical range queries are one check.
    assert_eq!(router.checks.len(), QUERIES.len() - 1);
}

#[test]
fn thousands_of_rules_check_only_those_whose_terms_the_event_has() {
    let rules: Vec<Rule> = (0..5_000)
        .map(|i| {
            rule(&format!(
                "k8s.namespace:ns-{} AND message:code{i} AND level:error",
                i % 100
            ))
        })
        .chain((0..5_000).map(|i| rule(&format!("message:/code{i}[a-c]/"))))
        .collect();
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    assert!(router.always.is_empty());
    let mut scratch = Scratch::default();
    for n in [7u64, 1_234, 4_999] {
        let mut event = sample_event(n, Timestamp::now());
        event.k8s.namespace = Some(format!("ns-{}", n % 100));
        event.message = format!("failed with code{n} and code{n}b");
        for level in [
            logpipe_common::event::Level::Info,
            logpipe_common::event::Level::Error,
        ] {
            event.level = level;
            let (out, effort) = routed(&router, &mut scratch, &event);
            assert_eq!(out, by_hand(&rules, &event));
            let error = level == logpipe_common::event::Level::Error;
            // The keyword rule of this code when the level is right, and the regex
            // rule of this code.
            assert_eq!(
                effort.rules_checked,
                1 + usize::from(error),
                "{n} {level:?}"
            );
            assert_eq!(out.len(), 1 + usize::from(error));
        }
    }
}

#[test]
fn a_scratch_follows_the_router_it_is_used_with() {
    let first: Vec<Rule> = ["message:timeout", "k8s.namespace:shop"]
        .iter()
        .map(|q| rule(q))
        .collect();
    let second: Vec<Rule> = [
        "NOT message:timeout",
        "k8s.namespace:shop",
        "level:error",
        "x",
    ]
    .iter()
    .map(|q| rule(q))
    .collect();
    let mut scratch = Scratch::default();
    for rules in [&first, &second, &first] {
        let refs: Vec<&Rule> = rules.iter().collect();
        let router = Router::new(&refs);
        for event in events().iter().take(12) {
            assert_eq!(
                routed(&router, &mut scratch, event).0,
                by_hand(rules, event)
            );
        }
    }
}

#[test]
fn the_view_for_the_rules_answers_them_as_the_parsed_event_does() {
    let texts = [
        "name: a\ntype: new_value\nquery: 'attributes.http.method:GET'\nfield: attributes.http.path\nnotify: [x]\n",
        "name: b\ntype: threshold\nquery: 'attributes.http.status:[500 TO *]'\nthreshold: 2\nwindow: 1m\ngroup_by: [attributes.user_id, k8s.pod]\nnotify: [x]\n",
        "name: c\ntype: match\nquery: 'attributes.http:* AND NOT attributes.missing:*'\nnotify: [x]\n",
    ];
    let rules: Vec<Rule> = texts
        .iter()
        .map(|t| parse_rule(t, Path::new("r.yaml")).unwrap())
        .collect();
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    assert!(router.paths.is_some());
    for n in 0..64 {
        let event = sample_event(n, Timestamp::now());
        let text = serde_json::to_string(&event).unwrap();
        let read: LogEventRef<'_> = serde_json::from_str(&text).unwrap();
        let (full, some) = (EventView::new(&event), router.view(&read));
        for rule in &rules {
            assert_eq!(
                rule.predicate.matches_in(&full),
                rule.predicate.matches_in(&some)
            );
            assert_eq!(rule.group_of(&full), rule.group_of(&some));
        }
    }
    let words = parse_rule(
        "name: d\ntype: match\nquery: 'timeout'\nnotify: [x]\n",
        Path::new("r.yaml"),
    )
    .unwrap();
    assert!(Router::new(&[&rules[0], &words]).paths.is_none());
}

#[test]
fn a_word_the_raw_attributes_lack_is_passed_over_and_one_they_hold_in_any_form_is_found() {
    // Rules listed under the words of the attributes (looked for in their raw text on
    // every event), and rules listed under a pod (the attributes looked into only when
    // the pod is there, and not at all when the raw text lacks the word).
    for (scope, listed) in [("level:info", true), ("k8s.pod:\"payments-api-1\"", false)] {
        let rules: Vec<Rule> = [
            "attributes.unit:kelvin",
            "attributes.note:hidden",
            "attributes.http.path:cart",
            "attributes.http.path:admin",
        ]
        .map(|query| rule(&format!("{query} AND {scope}")))
        .to_vec();
        let refs: Vec<&Rule> = rules.iter().collect();
        let router = Router::new(&refs);
        assert_eq!(router.attributes_listed, listed);
        let mut scratch = Scratch::default();
        let mut matched = 0;
        for (attributes, hidden) in [
            // Lower-cased, the Kelvin sign is an ASCII `k`.
            (json!({"unit": "\u{212A}ELVIN"}), false),
            (json!({"note": "Peer hidden it"}), false),
            // The producer escaped a letter of the word.
            (json!({"note": "Peer hidden it"}), true),
            (json!({"http": {"path": "/Cart"}, "note": "adm in"}), false),
            (json!({}), false),
        ] {
            let mut event = sample_event(1, Timestamp::now());
            event.attributes = attributes.as_object().unwrap().clone();
            let mut text = serde_json::to_string(&event).unwrap();
            if hidden {
                text = text.replace("hidden", "hi\\u0064den");
            }
            let read: LogEventRef<'_> = serde_json::from_str(&text).unwrap();
            let mut out = Vec::new();
            router.route(&router.view(&read), &mut scratch, &mut out);
            assert_eq!(out, by_hand(&rules, &event), "{text}");
            matched += out.len();
        }
        assert_eq!(matched, 4, "{scope}");
    }
}

#[test]
fn a_regex_of_a_few_texts_is_those_texts() {
    // Every text of up to four characters of these.
    let alphabet = ['a', 'b', 'c', '1', 'A', 'é'];
    let mut texts = vec![String::new()];
    let mut last = texts.clone();
    for _ in 0..4 {
        last = last
            .iter()
            .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
            .collect();
        texts.extend(last.iter().cloned());
    }
    let finite = [
        "abc",
        "a(b|bc)?",
        "(a|ab)(c|bca)",
        "a{2,3}",
        "[abc]1",
        "(?i)ab",
        "(é|e)[a-c]",
        "()",
        "a?b?",
        "(?:ab){0,2}",
        "[^\\x00-\\x{10FFFF}]",
        "[0-9]1",
    ];
    for pattern in finite {
        let found = finite_texts(pattern).unwrap_or_else(|| panic!("{pattern}"));
        let regex = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
        for text in &texts {
            assert_eq!(
                found.contains(text),
                regex.is_match(text),
                "{pattern} {text:?}"
            );
        }
        for text in &found {
            assert!(regex.is_match(text), "{pattern} {text:?}");
        }
    }
    // Too many texts, or any number of them, or an assertion about what is around.
    for pattern in [
        "[a-z]{3}",
        "a*",
        "a+b",
        ".",
        "[^a]",
        "\\ba",
        "a$",
        "^a",
        "(?i)timeouterror",
        "a{2000}",
        "(a{1000}){2}",
    ] {
        assert_eq!(finite_texts(pattern), None, "{pattern}");
    }
    assert_eq!(
        finite_texts("code7(ms|s)?").unwrap(),
        ["code7", "code7ms", "code7s"]
    );
}

/// Words are lower case: a regex matching only texts with upper-case letters matches
/// none, however a message spells them.
#[test]
fn a_regex_of_upper_case_texts_matches_no_word() {
    let rules: Vec<Rule> = ["message:/Err4(2|20)?x/", "message:/TIMEOUT/"]
        .iter()
        .map(|q| rule(q))
        .collect();
    let refs: Vec<&Rule> = rules.iter().collect();
    let router = Router::new(&refs);
    let mut scratch = Scratch::default();
    for event in events() {
        assert_eq!(routed(&router, &mut scratch, &event).0, [], "{event:?}");
        assert_eq!(by_hand(&rules, &event), [], "{event:?}");
    }
}
