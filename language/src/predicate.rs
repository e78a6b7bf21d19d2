//! The query evaluated against one `LogEvent` in memory, with the index's semantics:
//! text is split into words by the same analyzer the index uses.

use std::cmp::Ordering;
use std::ops::Bound;

use logpipe_common::event::{LogEvent, Timestamp};

use crate::analyzer::{MAX_WORD_BYTES, WordList, any_word, words};
use crate::ast::{Leaf, Op, Query, Scalar};
use crate::fields::{FieldRef, TimeField};
use crate::number::{Number, compare, number_of, parse_number};
use crate::parse::REGEX_SIZE_LIMIT;
use crate::view::{EventView, LeafValue};

/// A compiled query that tells whether an event matches.
#[derive(Debug, Clone)]
pub struct Predicate {
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    All,
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(FieldRef, Test),
}

#[derive(Debug, Clone)]
enum Test {
    /// Words at consecutive positions (relative offsets kept), or the exact value on
    /// keyword fields; on attributes also a number or a boolean.
    Words {
        words: Vec<(u32, String)>,
        exact: String,
        number: Option<Number>,
        boolean: Option<bool>,
    },
    Prefix(String),
    Regex(regex::Regex),
    Range(Bound<Scalar>, Bound<Scalar>),
    Exists,
}

impl Predicate {
    pub fn new(query: &Query) -> Predicate {
        Predicate {
            node: compile(query),
        }
    }

    pub fn matches(&self, event: &LogEvent) -> bool {
        let view = EventView::new(event);
        eval(&self.node, &view)
    }

    /// The same over a view shared by several predicates: each part of the event is
    /// tokenized or flattened once for all of them.
    pub fn matches_in(&self, view: &EventView<'_>) -> bool {
        eval(&self.node, view)
    }
}

fn compile(query: &Query) -> Node {
    match query {
        Query::All => Node::All,
        Query::And(children) => Node::And(children.iter().map(compile).collect()),
        Query::Or(children) => Node::Or(children.iter().map(compile).collect()),
        Query::Not(inner) => Node::Not(Box::new(compile(inner))),
        Query::Leaf(Leaf { field, op }) => {
            let test = match op {
                Op::Match(value) => Test::Words {
                    words: words(value),
                    exact: value.clone(),
                    number: parse_number(value),
                    boolean: value.parse::<bool>().ok(),
                },
                Op::Prefix(prefix) => Test::Prefix(prefix.clone()),
                Op::Regex(pattern) => {
                    match regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_SIZE_LIMIT)
                        .build()
                    {
                        Ok(regex) => Test::Regex(regex),
                        // Checked when parsing; a pattern that fails here matches nothing.
                        Err(_) => return Node::Not(Box::new(Node::All)),
                    }
                }
                Op::Range { lower, upper } => Test::Range(*lower, *upper),
                Op::Exists => Test::Exists,
            };
            Node::Leaf(field.clone(), test)
        }
    }
}

fn eval(node: &Node, view: &EventView<'_>) -> bool {
    match node {
        Node::All => true,
        Node::And(children) => children.iter().all(|child| eval(child, view)),
        Node::Or(children) => children.iter().any(|child| eval(child, view)),
        Node::Not(inner) => !eval(inner, view),
        Node::Leaf(field, test) => leaf(field, test, view),
    }
}

fn leaf(field: &FieldRef, test: &Test, view: &EventView<'_>) -> bool {
    match field {
        FieldRef::Default => {
            text_test(test, view.message_words())
                || view
                    .attribute_words()
                    .iter()
                    .any(|words| text_test(test, words))
        }
        FieldRef::Message => match test {
            // Tests of one word at a time need no positions.
            Test::Words { words, .. } if words.len() == 1 && words[0].0 == 0 => {
                view.any_message_word(|word| word == words[0].1)
            }
            Test::Prefix(prefix) => view.any_message_word(|word| word.starts_with(prefix.as_str())),
            Test::Regex(regex) => view.any_message_word(|word| regex.is_match(word)),
            _ => text_test(test, view.message_words()),
        },
        FieldRef::AttributeText => view
            .attribute_words()
            .iter()
            .any(|words| text_test(test, words)),
        FieldRef::Keyword(keyword) => view.keyword_any(*keyword, |value| keyword_test(test, value)),
        FieldRef::Label(map, key) => view
            .label(*map, key)
            .is_some_and(|value| keyword_test(test, value)),
        FieldRef::Time(time) => {
            let instant = match time {
                TimeField::Ts => view.ts(),
                TimeField::ObservedTs => view.observed_ts(),
            };
            match test {
                Test::Range(lower, upper) => in_range_time(instant, lower, upper),
                Test::Exists => true,
                _ => false,
            }
        }
        FieldRef::Attribute(path) if matches!(test, Test::Exists) => {
            view.leaves().iter().any(|(leaf_path, _)| {
                leaf_path
                    .strip_prefix(path.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
            })
        }
        FieldRef::Attribute(path) => view
            .leaves()
            .iter()
            .filter(|(leaf_path, _)| leaf_path == path)
            .any(|(_, value)| attribute_test(test, value)),
    }
}

fn text_test(test: &Test, tokens: &WordList) -> bool {
    match test {
        Test::Words { words, .. } => phrase(words, tokens),
        Test::Prefix(prefix) => tokens
            .iter()
            .any(|(_, word)| word.starts_with(prefix.as_str())),
        Test::Regex(regex) => tokens.iter().any(|(_, word)| regex.is_match(word)),
        Test::Exists => true,
        Test::Range(..) => false,
    }
}

/// Whether `text` split as the index splits it has the (lower-case) `word`, without
/// building its word list.
fn has_word(text: &str, word: &str) -> bool {
    let mut lower = String::new();
    text.split(|c: char| !c.is_alphanumeric()).any(|run| {
        if run.is_empty() || run.len() >= MAX_WORD_BYTES {
            return false;
        }
        if run.is_ascii() {
            return run.eq_ignore_ascii_case(word);
        }
        lower.clear();
        lower.extend(run.chars().flat_map(char::to_lowercase));
        lower == word
    })
}

/// Whether `query` words occur in `tokens` at the same relative positions.
fn phrase(query: &[(u32, String)], tokens: &WordList) -> bool {
    let Some((first_offset, first)) = query.first() else {
        return false;
    };
    tokens.iter().any(|(position, word)| {
        word == first
            && position >= *first_offset
            && query[1..].iter().all(|(offset, wanted)| {
                tokens.at(position - first_offset + offset) == Some(wanted.as_str())
            })
    })
}

fn keyword_test(test: &Test, value: &str) -> bool {
    match test {
        Test::Words { exact, .. } => value == exact,
        Test::Prefix(prefix) => value.starts_with(prefix.as_str()),
        Test::Regex(regex) => regex.is_match(value),
        Test::Exists => true,
        Test::Range(..) => false,
    }
}

fn attribute_test(test: &Test, value: &LeafValue<'_>) -> bool {
    match (test, value) {
        (Test::Exists, _) => true,
        (Test::Words { words: query, .. }, LeafValue::Text(text)) => match query.as_slice() {
            [(_, word)] => has_word(text, word),
            _ => phrase(query, &WordList::of(text)),
        },
        (
            Test::Words {
                number: Some(n), ..
            },
            LeafValue::Number(number),
        ) => number_of(number).is_some_and(|v| compare(v, *n) == Some(Ordering::Equal)),
        (
            Test::Words {
                boolean: Some(b), ..
            },
            LeafValue::Bool(value),
        ) => b == value,
        (Test::Prefix(prefix), LeafValue::Text(text)) => {
            any_word(text, |word| word.starts_with(prefix.as_str()))
        }
        (Test::Regex(regex), LeafValue::Text(text)) => any_word(text, |word| regex.is_match(word)),
        (Test::Range(lower, upper), LeafValue::Number(number)) => {
            number_of(number).is_some_and(|value| in_range_number(value, lower, upper))
        }
        _ => false,
    }
}

fn in_range_number(value: Number, lower: &Bound<Scalar>, upper: &Bound<Scalar>) -> bool {
    let above = match lower {
        Bound::Included(Scalar::Number(n)) => compare(value, *n).is_some_and(|o| o.is_ge()),
        Bound::Excluded(Scalar::Number(n)) => compare(value, *n).is_some_and(|o| o.is_gt()),
        Bound::Unbounded => true,
        _ => false,
    };
    let below = match upper {
        Bound::Included(Scalar::Number(n)) => compare(value, *n).is_some_and(|o| o.is_le()),
        Bound::Excluded(Scalar::Number(n)) => compare(value, *n).is_some_and(|o| o.is_lt()),
        Bound::Unbounded => true,
        _ => false,
    };
    above && below
}

fn in_range_time(value: Timestamp, lower: &Bound<Scalar>, upper: &Bound<Scalar>) -> bool {
    let above = match lower {
        Bound::Included(Scalar::Time(t)) => value >= *t,
        Bound::Excluded(Scalar::Time(t)) => value > *t,
        Bound::Unbounded => true,
        _ => false,
    };
    let below = match upper {
        Bound::Included(Scalar::Time(t)) => value <= *t,
        Bound::Excluded(Scalar::Time(t)) => value < *t,
        Bound::Unbounded => true,
        _ => false,
    };
    above && below
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_word_is_found_as_the_index_splits_and_lowercases() {
        let texts = [
            "GET /cart HTTP/1.1",
            "ÉCOLE école Straße STRASSE ΟΔΟΣ οδος",
            "a-b_c.d e",
            "x".repeat(41).as_str().to_owned().leak(),
            // 40 bytes that lower-case to 39: too long a word all the same.
            format!("{}ẞ", "x".repeat(37)).leak(),
            "İstanbul",
            "",
        ];
        for text in texts {
            let tokens = words(text);
            let mut candidates: Vec<String> = tokens.iter().map(|(_, w)| w.clone()).collect();
            candidates.extend(
                [
                    "get",
                    "cart",
                    "http",
                    "école",
                    "straße",
                    "οδοσ",
                    "c",
                    "d",
                    "zz",
                    &format!("{}ß", "x".repeat(37)),
                ]
                .map(String::from),
            );
            for word in candidates {
                assert_eq!(
                    has_word(text, &word),
                    tokens.iter().any(|(_, w)| *w == word),
                    "{text:?} {word:?}"
                );
            }
        }
    }

    /// A phrase is its words at consecutive positions, as the index records them: a word
    /// too long to index keeps its position between two others.
    #[test]
    fn a_phrase_is_its_words_at_consecutive_positions() {
        let long = "x".repeat(crate::analyzer::MAX_WORD_BYTES);
        let cases = [
            ("a b", "x a b y", true),
            ("a b", "b a", false),
            ("a b", &*format!("a {long} b"), false),
            ("a c", &*format!("a {long} b c"), false),
            ("b c", &*format!("a {long} b c"), true),
            ("a a a", "a a b a a a", true),
            ("a a a", "a a b a a", false),
            ("école straße", "ÉCOLE, STRASSE / École Straße", true),
            ("école strasse", "école, straße", false),
        ];
        for (wanted, text, expected) in cases {
            let query = words(wanted);
            assert_eq!(
                phrase(&query, &WordList::of(text)),
                expected,
                "{wanted:?} in {text:?}"
            );
        }
    }
}
