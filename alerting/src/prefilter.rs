//! Which rules can match an event, found without evaluating each: a rule whose query
//! requires a keyword value (`k8s.namespace:shop AND …`) or a word of the message
//! (`message:timeout AND …`) is indexed under it, and an event only meets the rules
//! indexed under its own values and words, plus the rules with no such requirement.
//! Exact: a skipped rule's query could not have matched.

use rustc_hash::FxHashMap as HashMap;

use logpipe_common::event::LogEventRef;
use logpipe_language::{AttributePaths, EventView, FieldRef, Keyword, Leaf, Op, Query, words};

use crate::rules::{Rule, RuleKind};

/// What a query cannot match without.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Requirement {
    Keyword(Keyword, String),
    Word(String),
}

#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    by_keyword: HashMap<Keyword, HashMap<String, Vec<usize>>>,
    by_word: HashMap<String, Vec<usize>>,
    always: Vec<usize>,
    /// Every attribute path some rule looks at; `None` when one looks at them all.
    paths: Option<AttributePaths>,
    /// The lengths in bytes of the shortest and the longest word in `by_word`.
    word_lengths: (usize, usize),
}

impl Prefilter {
    pub fn new(rules: &[&Rule]) -> Self {
        let mut prefilter = Prefilter {
            paths: rules
                .iter()
                .map(|rule| rule.attribute_paths())
                .collect::<Option<Vec<_>>>()
                .map(|paths| AttributePaths::new(paths.into_iter().flatten())),
            ..Prefilter::default()
        };
        for (index, rule) in rules.iter().enumerate() {
            let requirement = match &rule.kind {
                // Both queries of a ratio count: only what both require is required.
                RuleKind::Ratio { denominator, .. } => {
                    let numerator = requirement(&rule.query);
                    numerator.filter(|r| requirement(denominator).as_ref() == Some(r))
                }
                _ => requirement(&rule.query),
            };
            match requirement {
                Some(Requirement::Keyword(keyword, value)) => prefilter
                    .by_keyword
                    .entry(keyword)
                    .or_default()
                    .entry(value)
                    .or_default()
                    .push(index),
                Some(Requirement::Word(word)) => {
                    prefilter.by_word.entry(word).or_default().push(index)
                }
                None => prefilter.always.push(index),
            }
        }
        prefilter.word_lengths = (
            prefilter
                .by_word
                .keys()
                .map(String::len)
                .min()
                .unwrap_or(0)
                .max(1),
            prefilter
                .by_word
                .keys()
                .map(String::len)
                .max()
                .unwrap_or(0)
                .min(40),
        );
        prefilter
    }

    /// The view of an event read in place that the rules need: raw attributes walked only
    /// where some rule looks.
    pub fn view<'a>(&'a self, event: &'a LogEventRef<'a>) -> EventView<'a> {
        match &self.paths {
            Some(paths) => EventView::borrowed_for(event, paths),
            None => EventView::borrowed(event),
        }
    }

    /// The same as [`Prefilter::candidates_into`], into a new vector.
    #[cfg(test)]
    pub(crate) fn candidates(&self, view: &EventView<'_>) -> Vec<usize> {
        let mut found = Vec::new();
        self.candidates_into(view, &mut found);
        found
    }

    /// The rules indexed under the message's words, the words split and lowercased as the
    /// index does, without allocating each.
    fn words_into(&self, message: &str, found: &mut Vec<usize>) {
        let (shortest, longest) = self.word_lengths;
        let mut lookup = |word: &str| {
            if let Some(rules) = self.by_word.get(word) {
                found.extend(rules);
            }
        };
        if message.is_ascii() {
            let mut buffer = [0u8; 40];
            for run in message.as_bytes().split(|b| !b.is_ascii_alphanumeric()) {
                if run.len() < shortest || run.len() > longest {
                    continue;
                }
                let lower = &mut buffer[..run.len()];
                lower.copy_from_slice(run);
                lower.make_ascii_lowercase();
                if let Ok(word) = std::str::from_utf8(lower) {
                    lookup(word);
                }
            }
            return;
        }
        let mut word = String::new();
        for run in message.split(|c: char| !c.is_alphanumeric()) {
            if run.is_empty() || run.len() > 40 {
                continue;
            }
            word.clear();
            word.extend(run.chars().flat_map(char::to_lowercase));
            lookup(&word);
        }
    }

    /// Indexes of the rules that may match, ascending, into a buffer kept between events.
    pub fn candidates_into(&self, view: &EventView<'_>, found: &mut Vec<usize>) {
        found.clear();
        found.extend_from_slice(&self.always);
        for (keyword, by_value) in &self.by_keyword {
            view.keyword_any(*keyword, |value| {
                if let Some(rules) = by_value.get(value) {
                    found.extend(rules);
                }
                false
            });
        }
        if !self.by_word.is_empty() {
            self.words_into(view.message(), found);
        }
        if found.len() > 1 {
            found.sort_unstable();
            found.dedup();
        }
    }
}

fn requirement(query: &Query) -> Option<Requirement> {
    match query {
        Query::Leaf(Leaf {
            field: FieldRef::Keyword(keyword),
            op: Op::Match(value),
        }) if *keyword != Keyword::Flags => Some(Requirement::Keyword(*keyword, value.clone())),
        Query::Leaf(Leaf {
            field: FieldRef::Message,
            op: Op::Match(text),
        }) => words(text)
            .into_iter()
            .next()
            .map(|(_, word)| Requirement::Word(word)),
        // Any requirement of a conjunct is one of the whole; keyword values are cheaper
        // to look up than words.
        Query::And(children) => {
            let found: Vec<Requirement> = children.iter().filter_map(requirement).collect();
            found
                .iter()
                .find(|r| matches!(r, Requirement::Keyword(..)))
                .or(found.first())
                .cloned()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use logpipe_common::Timestamp;
    use logpipe_common::testkit::sample_event;

    use super::*;
    use crate::rules::parse_rule;

    fn rule(query: &str) -> Rule {
        parse_rule(
            &format!("name: r\ntype: match\nquery: '{query}'\nnotify: [x]\n"),
            Path::new("r.yaml"),
        )
        .unwrap()
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
        let prefilter = Prefilter::new(&refs);
        assert!(prefilter.paths.is_some());
        for n in 0..64 {
            let event = sample_event(n, Timestamp::now());
            let text = serde_json::to_string(&event).unwrap();
            let read: LogEventRef<'_> = serde_json::from_str(&text).unwrap();
            let (full, some) = (EventView::new(&event), prefilter.view(&read));
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
        assert!(Prefilter::new(&[&rules[0], &words]).paths.is_none());
    }

    #[test]
    fn words_are_found_whatever_their_case_and_script() {
        let queries = [
            "message:timeout",
            "message:école",
            "message:straße",
            "message:e2e",
        ];
        let rules: Vec<Rule> = queries.iter().map(|q| rule(q)).collect();
        let refs: Vec<&Rule> = rules.iter().collect();
        let prefilter = Prefilter::new(&refs);
        for message in [
            "TIMEOUT after 3 s",
            "a-Timeout_b",
            "timeouts",
            "ÉCOLE fermée",
            "STRASSE Straße",
            "E2E: ok",
            "",
            "école",
        ] {
            let mut event = sample_event(1, Timestamp::now());
            event.message = message.into();
            let view = EventView::new(&event);
            let candidates = prefilter.candidates(&view);
            for (index, rule) in rules.iter().enumerate() {
                assert_eq!(
                    candidates.contains(&index),
                    rule.predicate.matches(&event),
                    "{message:?} {}",
                    queries[index]
                );
            }
        }
    }

    #[test]
    fn only_rules_that_can_match_are_candidates_and_none_is_missed() {
        let queries = [
            "k8s.namespace:shop AND level:error",
            "k8s.namespace:payments",
            "message:answered AND attributes.http.status:502",
            "message:timeout",
            "level:error OR level:fatal",
            "NOT k8s.namespace:shop",
            "attributes.http.status:[500 TO *]",
        ];
        let rules: Vec<Rule> = queries.iter().map(|q| rule(q)).collect();
        let refs: Vec<&Rule> = rules.iter().collect();
        let prefilter = Prefilter::new(&refs);
        assert_eq!(prefilter.always, [4, 5, 6]);
        for n in 0..64 {
            let event = sample_event(n, Timestamp::now());
            let view = EventView::new(&event);
            let candidates = prefilter.candidates(&view);
            for (index, rule) in rules.iter().enumerate() {
                if rule.predicate.matches(&event) {
                    assert!(
                        candidates.contains(&index),
                        "event {n} rule {}",
                        queries[index]
                    );
                }
            }
            let namespace = event.k8s.namespace.as_deref().unwrap();
            assert_eq!(candidates.contains(&0), namespace == "shop");
            assert_eq!(candidates.contains(&1), namespace == "payments");
            assert!(
                candidates.contains(&2),
                "every sample message says answered"
            );
            assert!(!candidates.contains(&3));
        }
    }
}
