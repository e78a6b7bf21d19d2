//! Which rules an event concerns, found without trying each. Every rule's queries are read
//! for the terms they cannot match without: a keyword value (`k8s.namespace:shop`), a
//! word of the message or of an attribute (`message:timeout`, each word of a phrase), a
//! regular expression over message words or keyword values. All rules' terms go into
//! shared tables (hash maps over keyword values and words, each word table behind a bit
//! filter, a regex matching a few texts entered as those texts; the first bytes of the
//! literals message regexes start with, the words that begin like one tried against all
//! the regexes at once; one Aho-Corasick automaton of the words rules need in attributes,
//! run over the raw attributes' text when it is ASCII without escapes, the attributes
//! walked only to confirm what it finds), so each event is split into words once and
//! meets:
//!
//! - the rules listed under a term it has (each rule under the fewest, most selective
//!   terms that cover it, with another term it needs, checked first), and of those only
//!   the ones whose every required term it has;
//! - the rules with no term at all (pure negations, ranges), grouped by query so that
//!   each distinct query is evaluated once per event.
//!
//! A query made with `AND`, `OR` and `NOT` of terms whose lookup is exact (keyword and
//! label values, single words of the message or of an attribute path, regexes over
//! keyword values or over message words that start with literals or match a few texts)
//! is decided by the lookup: having the terms of one of its conjunctions and lacking
//! those it negates. Each other distinct query (numerator or denominator) among the rules
//! met is evaluated once per event. Exact: a rule the router passes over could not have
//! matched, and one it decides is decided as its query would be.

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{RegexSet, RegexSetBuilder};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use logpipe_common::event::LogEventRef;
use logpipe_language::analyzer::MAX_WORD_BYTES;
use logpipe_language::{
    AttributePaths, EventView, FieldRef, Keyword, LabelMap, Leaf, Op, Predicate, Query,
    REGEX_SIZE_LIMIT, ascii_words, for_each_ascii_word, parse_number, words,
};

use crate::rules::{Matcher, Rule, RuleKind};

/// Bytes a shared regex set may compile to (per place); beyond it the rules needing those
/// regexes are tried on every event instead.
const REGEX_SET_SIZE_LIMIT: usize = 256 << 20;

/// A term some event has or has not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Term {
    /// A keyword field's exact value.
    Keyword(Keyword, String),
    /// A keyword field's value matching a regex as a whole.
    KeywordRegex(Keyword, String),
    /// A word (split and lower-cased as the index does) at a place.
    Word(Place, String),
    /// A message word matching a regex as a whole.
    MessageRegex(String),
    /// A label's (or annotation's) exact value: map, key, value.
    Label(LabelMap, String, String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Place {
    Message,
    /// One attribute path's string values.
    Attribute(String),
    /// Any string attribute.
    AnyAttribute,
    /// The message or any string attribute (a word without a field).
    Anywhere,
}

impl Term {
    /// How many events a term is expected to let through, relative to the others: low
    /// for pods and words, high for fields of a few values such as `level`.
    fn breadth(&self) -> u32 {
        let value = |keyword: &Keyword| match keyword {
            Keyword::Level | Keyword::Stream | Keyword::SourceKind | Keyword::Flags => 50,
            Keyword::Namespace
            | Keyword::Node
            | Keyword::Container
            | Keyword::SourceName
            | Keyword::SourcePath
            | Keyword::SourceVia
            | Keyword::Workload
            | Keyword::WorkloadKind => 10,
            Keyword::Id | Keyword::Pod | Keyword::PodUid => 2,
        };
        match self {
            Term::Keyword(keyword, _) => value(keyword),
            // A value among the few texts the regex matches, or among any number.
            Term::KeywordRegex(keyword, pattern) => {
                let texts = finite_texts(pattern).map_or(FINITE_TEXTS, |texts| texts.len());
                (value(keyword) * texts.max(1) as u32).min(50)
            }
            Term::Word(Place::Message, _) => 3,
            // Looked for in the raw attributes' text first, then by walking them; and a
            // word of an attribute may be in every event (`GET`).
            Term::Word(..) => 12,
            Term::MessageRegex(_) => 8,
            Term::Label(..) => 10,
        }
    }

    /// Whether finding the term in an event walks its attributes: unless rules are listed
    /// under such a term, it is looked for only when a rule asks.
    fn in_attributes(&self) -> bool {
        matches!(self, Term::Word(place, _) if *place != Place::Message)
    }
}

/// What a query needs: every term of `all`, and at least one of `any` (`None`: no
/// set of terms is known to cover it).
#[derive(Debug, Clone, Default)]
struct Need {
    any: Option<Vec<Term>>,
    all: Vec<Term>,
}

impl Need {
    fn cost(any: &[Term]) -> u32 {
        any.iter().map(Term::breadth).sum()
    }
}

fn need(query: &Query) -> Need {
    match query {
        Query::Leaf(leaf) => match leaf_terms(leaf) {
            Some(terms) => Need {
                any: terms
                    .iter()
                    .min_by_key(|t| t.breadth())
                    .map(|t| vec![t.clone()]),
                all: terms,
            },
            None => Need::default(),
        },
        // Every term any conjunct requires is required; the cheapest cover of one
        // conjunct, or one required term alone, covers the whole.
        Query::And(children) => {
            let needs: Vec<Need> = children.iter().map(need).collect();
            let mut all: Vec<Term> = Vec::new();
            for term in needs.iter().flat_map(|n| n.all.iter()) {
                if !all.contains(term) {
                    all.push(term.clone());
                }
            }
            let any = needs
                .into_iter()
                .filter_map(|n| n.any)
                .chain(all.iter().map(|t| vec![t.clone()]))
                .min_by_key(|any| Need::cost(any));
            Need { any, all }
        }
        // Covered when every alternative is; requires what all alternatives require.
        Query::Or(children) => {
            let needs: Vec<Need> = children.iter().map(need).collect();
            let any = needs
                .iter()
                .map(|n| n.any.clone())
                .collect::<Option<Vec<_>>>()
                .map(|covers| dedup(covers.into_iter().flatten()));
            let all = match needs.split_first() {
                Some((first, rest)) => first
                    .all
                    .iter()
                    .filter(|t| rest.iter().all(|n| n.all.contains(t)))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            Need { any, all }
        }
        Query::Not(_) | Query::All => Need::default(),
    }
}

/// The terms a leaf cannot match without, all of them; `None` when it has none the
/// router can look up.
fn leaf_terms(leaf: &Leaf) -> Option<Vec<Term>> {
    match (&leaf.field, &leaf.op) {
        (FieldRef::Keyword(keyword), Op::Match(value)) => {
            Some(vec![Term::Keyword(*keyword, value.clone())])
        }
        (FieldRef::Keyword(keyword), Op::Regex(pattern)) => {
            Some(vec![Term::KeywordRegex(*keyword, pattern.clone())])
        }
        (FieldRef::Message, Op::Regex(pattern)) => Some(vec![Term::MessageRegex(pattern.clone())]),
        (FieldRef::Label(map, key), Op::Match(value)) => {
            Some(vec![Term::Label(*map, key.clone(), value.clone())])
        }
        (field, Op::Match(text)) => {
            let place = match field {
                FieldRef::Message => Place::Message,
                FieldRef::Default => Place::Anywhere,
                FieldRef::AttributeText => Place::AnyAttribute,
                // A number or a boolean also matches attributes of that type, which have
                // no words.
                FieldRef::Attribute(path)
                    if parse_number(text).is_none() && text.parse::<bool>().is_err() =>
                {
                    Place::Attribute(path.clone())
                }
                _ => return None,
            };
            let terms = dedup(
                words(text)
                    .into_iter()
                    .map(|(_, word)| Term::Word(place.clone(), word)),
            );
            // No word at all: the query matches nothing; left to the predicate.
            (!terms.is_empty()).then_some(terms)
        }
        _ => None,
    }
}

fn dedup(terms: impl IntoIterator<Item = Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::new();
    for term in terms {
        if !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

/// A query as the terms it is exactly: any of some conjunctions, each of terms wanted
/// present or absent.
type Exact = Vec<Vec<(Term, bool)>>;

/// At most how many conjunctions a query is taken apart into.
const EXACT_CONJUNCTIONS: usize = 16;

/// The terms a query is exactly (`Exact`), when it is made with `AND`, `OR` and `NOT` of
/// keyword values, label values, single words of the message or of an attribute path,
/// regexes over keyword values and regexes over message words that start with literals
/// or match a few texts, whose lookup is exact: having the ones one conjunction wants and
/// lacking the others is matching.
fn exact_terms(query: &Query) -> Option<Exact> {
    let term = |term: Term| Some(vec![vec![(term, true)]]);
    match query {
        Query::Leaf(Leaf {
            field: FieldRef::Keyword(keyword),
            op: Op::Match(value),
        }) => term(Term::Keyword(*keyword, value.clone())),
        Query::Leaf(Leaf {
            field: FieldRef::Label(map, key),
            op: Op::Match(value),
        }) => term(Term::Label(*map, key.clone(), value.clone())),
        // Each value tried against all the regexes at once, or looked up as one of the
        // few texts the regex matches.
        Query::Leaf(Leaf {
            field: FieldRef::Keyword(keyword),
            op: Op::Regex(pattern),
        }) => term(Term::KeywordRegex(*keyword, pattern.clone())),
        // Found by trying each word starting with one of the literals (`find_terms`), or
        // looked up as one of the few texts the regex matches.
        Query::Leaf(Leaf {
            field: FieldRef::Message,
            op: Op::Regex(pattern),
        }) if prefixes(pattern).is_some() || finite_texts(pattern).is_some() => {
            term(Term::MessageRegex(pattern.clone()))
        }
        Query::Leaf(Leaf {
            field: FieldRef::Message,
            op: Op::Match(text),
        }) => match words(text).as_slice() {
            // A word after a dropped long one must not be the message's first.
            [(0, word)] => term(Term::Word(Place::Message, word.clone())),
            _ => None,
        },
        // One word of a string at the path (its position does not matter there); a number
        // or a boolean also matches attributes of that type, which have no words.
        Query::Leaf(Leaf {
            field: FieldRef::Attribute(path),
            op: Op::Match(text),
        }) if parse_number(text).is_none() && text.parse::<bool>().is_err() => {
            match words(text).as_slice() {
                [(_, word)] => term(Term::Word(Place::Attribute(path.clone()), word.clone())),
                _ => None,
            }
        }
        // Not any of some terms: lacking each of them.
        Query::Not(inner) => exact_terms(inner)?
            .into_iter()
            .map(|conjunction| match conjunction.as_slice() {
                [(term, present)] => Some((term.clone(), !present)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|conjunction| vec![conjunction]),
        Query::Or(children) => {
            let mut any: Exact = Vec::new();
            for child in children {
                any.extend(exact_terms(child)?);
            }
            (any.len() <= EXACT_CONJUNCTIONS).then_some(any)
        }
        // Each conjunction of one child with each of the next.
        Query::And(children) => {
            let mut any: Exact = vec![Vec::new()];
            for child in children {
                let child = exact_terms(child)?;
                if any.len() * child.len() > EXACT_CONJUNCTIONS {
                    return None;
                }
                any = any
                    .iter()
                    .flat_map(|left| {
                        child.iter().map(move |right| {
                            let mut both = left.clone();
                            for literal in right {
                                if !both.contains(literal) {
                                    both.push(literal.clone());
                                }
                            }
                            both
                        })
                    })
                    .collect();
            }
            Some(any)
        }
        _ => None,
    }
}

/// In a list of exact terms, the bit of a term wanted absent, and what stands between
/// two conjunctions.
const ABSENT: u32 = 1 << 31;
const OR: u32 = u32::MAX;

/// A rule as the router holds it.
#[derive(Debug, Clone)]
struct Route {
    /// Terms the event must all have (ids).
    all: Box<[u32]>,
    /// The query's id among the distinct queries, and the denominator's.
    query: u32,
    denominator: Option<u32>,
    /// The terms the query, or the denominator, is exactly (`Exact`: conjunctions between
    /// `OR`s, `ABSENT` set on the terms wanted absent, which come last in theirs): decided
    /// by the lookup, never evaluated.
    query_terms: Option<Box<[u32]>>,
    denominator_terms: Option<Box<[u32]>>,
}

/// How the literals that words matching a message regex start with begin: their first
/// byte when that is all of one, else their first two. A word (ASCII letters and digits)
/// that begins no such way starts with none of them.
#[derive(Debug)]
struct Prefixes {
    singles: [u64; 4],
    pairs: Vec<u64>,
}

impl Prefixes {
    fn new(literals: &HashSet<Vec<u8>>) -> Prefixes {
        let mut prefixes = Prefixes {
            singles: [0; 4],
            pairs: vec![0; (1 << 16) / 64],
        };
        for literal in literals {
            match literal[..] {
                [only] => prefixes.singles[usize::from(only) / 64] |= 1 << (only % 64),
                [first, second, ..] => {
                    let pair = usize::from(first) << 8 | usize::from(second);
                    prefixes.pairs[pair / 64] |= 1 << (pair % 64);
                }
                [] => {}
            }
        }
        prefixes
    }

    /// Whether one of the literals may start `run`, a word as it stands in the text
    /// (setting a letter's or a digit's 0x20 bit lower-cases it as ASCII).
    fn may_start(&self, run: &[u8]) -> bool {
        let first = run[0] | 0x20;
        if self.singles[usize::from(first) / 64] >> (first % 64) & 1 != 0 {
            return true;
        }
        run.get(1).is_some_and(|&second| {
            let pair = usize::from(first) << 8 | usize::from(second | 0x20);
            self.pairs[pair / 64] >> (pair % 64) & 1 != 0
        })
    }
}

/// A route as `route` reads it: its terms side by side in `Router::route_terms` (those
/// of `all`, then the query's exact terms, then the denominator's), one read for all.
#[derive(Debug, Clone, Copy)]
struct Packed {
    start: u32,
    all: u32,
    /// How many exact terms the query and the denominator have; `ABSENT` for none.
    query_terms: u32,
    denominator_terms: u32,
    query: u32,
    denominator: u32,
}

impl Packed {
    const ABSENT: u32 = u32::MAX;

    fn pack(route: &Route, terms: &mut Vec<u32>) -> Packed {
        let start = terms.len() as u32;
        terms.extend_from_slice(&route.all);
        let mut exact = |part: &Option<Box<[u32]>>| match part {
            Some(part) => {
                terms.extend_from_slice(part);
                part.len() as u32
            }
            None => Self::ABSENT,
        };
        Packed {
            start,
            all: route.all.len() as u32,
            query_terms: exact(&route.query_terms),
            denominator_terms: exact(&route.denominator_terms),
            query: route.query,
            denominator: route.denominator.unwrap_or(Self::ABSENT),
        }
    }

    /// Its `all`, the query's exact terms and the denominator's, out of `terms`.
    fn terms<'a>(&self, terms: &'a [u32]) -> (&'a [u32], Option<&'a [u32]>, Option<&'a [u32]>) {
        let (all, mut rest) = terms[self.start as usize..].split_at(self.all as usize);
        let mut part = |len: u32| {
            (len != Self::ABSENT).then(|| {
                let (part, after) = rest.split_at(len as usize);
                rest = after;
                part
            })
        };
        let query = part(self.query_terms);
        let denominator = part(self.denominator_terms);
        (all, query, denominator)
    }
}

/// A rule's query or a denominator, evaluated once per event for every rule sharing it.
#[derive(Debug, Clone)]
enum Check {
    Matcher(Matcher),
    Predicate(Predicate),
}

impl Check {
    fn matches_in(&self, view: &EventView<'_>) -> bool {
        match self {
            Check::Matcher(matcher) => matcher.matches_in(view),
            Check::Predicate(predicate) => predicate.matches_in(view),
        }
    }
}

/// Words at one place, to the ids of the terms they are, with a bit set for the hash of
/// each: most words of an event are no term, and are passed over on reading that bit.
/// The words are lower case, as every word the analyzer makes; an ASCII word of an event
/// is looked up as it stands in the text, its hash and the comparison blind to ASCII case.
#[derive(Debug, Default)]
struct Words {
    /// By hash (`Words::hash`), the words of that hash and the ids of the terms each is.
    terms: HashMap<u64, Vec<WordTerms>>,
    filter: Vec<u64>,
}

/// A word and the ids of the terms it is.
type WordTerms = (Box<str>, Vec<u32>);

/// Bits of a word table's filter.
const WORD_FILTER_BITS: usize = 1 << 16;

impl Words {
    fn add(&mut self, word: &str, id: u32) {
        let hash = Self::hash(word.as_bytes());
        let same = self.terms.entry(hash).or_default();
        match same.iter_mut().find(|(known, _)| **known == *word) {
            Some((_, ids)) => ids.push(id),
            None => same.push((word.into(), vec![id])),
        }
        if self.filter.is_empty() {
            self.filter = vec![0; WORD_FILTER_BITS / 64];
        }
        let bit = Self::bit(hash);
        self.filter[bit / 64] |= 1 << (bit % 64);
    }

    /// A word's hash, eight bytes at a time, each with bit 5 set: that lower-cases ASCII
    /// letters and leaves digits as they are, so an ASCII word hashes alike in any case.
    fn hash(word: &[u8]) -> u64 {
        const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut hash = word.len() as u64;
        for chunk in word.chunks(8) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            let eight = u64::from_le_bytes(bytes) | u64::from_le_bytes([0x20; 8]);
            hash = (hash.rotate_left(5) ^ eight).wrapping_mul(SEED);
        }
        hash
    }

    /// The filter's bit for a hash: its best-mixed (top) bits.
    fn bit(hash: u64) -> usize {
        (hash >> (64 - WORD_FILTER_BITS.trailing_zeros())) as usize
    }

    /// Whether the filter lets a word with `bit` through.
    fn may_have(&self, bit: usize) -> bool {
        self.filter
            .get(bit / 64)
            .is_some_and(|bits| bits & (1 << (bit % 64)) != 0)
    }

    /// The ids of the terms `word` is, ASCII case aside: an ASCII word as it stands in a
    /// text, or any word lower-cased.
    fn find(&self, word: &[u8]) -> Option<&[u32]> {
        let hash = Self::hash(word);
        if !self.may_have(Self::bit(hash)) {
            return None;
        }
        self.terms
            .get(&hash)?
            .iter()
            .find(|(known, _)| known.as_bytes().eq_ignore_ascii_case(word))
            .map(|(_, ids)| ids.as_slice())
    }

    fn words(&self) -> impl Iterator<Item = &str> {
        self.terms
            .values()
            .flat_map(|same| same.iter().map(|(word, _)| &**word))
    }

    fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// A rule that an event matched: its query (`hit`), a ratio's denominator (`total`), or
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    pub rule: usize,
    pub hit: bool,
    pub total: bool,
}

/// The rules' terms and queries, compiled once per rule set.
#[derive(Debug, Default)]
pub struct Router {
    terms: usize,
    /// While the router is built: by term id, the rules listed under it.
    listed: Vec<Vec<Listed>>,
    /// Then all of them side by side, and by term id where its rules start (and end, at the
    /// next term's start).
    listed_rules: Vec<Listed>,
    listed_at: Vec<u32>,
    /// Rules under no term.
    always: Vec<u32>,
    /// While the router is built: by rule, its route.
    routes: Vec<Route>,
    /// By rule, its route packed, and the routes' terms.
    packed: Vec<Packed>,
    route_terms: Vec<u32>,
    checks: Vec<Check>,
    /// By keyword field, its values some rule needs (or some regex of a few texts matches).
    keywords: Vec<(Keyword, HashMap<String, Vec<u32>>)>,
    /// By map and key, the values some rule needs.
    labels: Vec<(LabelMap, String, HashMap<String, u32>)>,
    keyword_regexes: Vec<(Keyword, RegexSet, Vec<u32>)>,
    /// Words of the message (its own terms and those of words anywhere).
    message_words: Words,
    message_regexes: Option<(RegexSet, Vec<u32>)>,
    /// For ASCII messages: how the literals that words matching a regex start with begin.
    message_prefixes: Option<Prefixes>,
    /// For lower-cased ASCII messages: the regexes without such literals, between non-word
    /// characters.
    message_regexes_anywhere: Option<(RegexSet, Vec<u32>)>,
    attribute_words: Vec<(String, Words)>,
    /// Words of any string attribute (and of words anywhere).
    any_attribute_words: Words,
    /// By term id, whether it is found in attributes.
    attribute_terms: Vec<bool>,
    /// Rules are listed under terms found in attributes: those are looked for in every
    /// event.
    attributes_listed: bool,
    /// The words of the terms found in attributes, each to those terms: what the raw
    /// attributes' text holds of them is looked for in one pass.
    attribute_automaton: Option<(AhoCorasick, Vec<Vec<u32>>)>,
    /// Every attribute path some rule looks at; `None` when one looks at them all.
    paths: Option<AttributePaths>,
    /// The lengths in bytes of the shortest and the longest word looked up.
    word_lengths: (usize, usize),
}

/// A rule listed under a term, with another term it needs.
#[derive(Debug, Clone, Copy)]
struct Listed {
    rule: u32,
    guard: Guard,
}

/// A term id, the top bit set when the term is found in attributes; `NONE` for no term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Guard(u32);

impl Guard {
    const NONE: Guard = Guard(u32::MAX);
    const IN_ATTRIBUTES: u32 = 1 << 31;

    fn new(term: u32, in_attributes: bool) -> Guard {
        debug_assert!(term < Self::IN_ATTRIBUTES - 1);
        Guard(
            term | if in_attributes {
                Self::IN_ATTRIBUTES
            } else {
                0
            },
        )
    }

    /// The term's id and whether it is found in attributes.
    fn term(self) -> Option<(usize, bool)> {
        (self != Self::NONE).then_some((
            (self.0 & !Self::IN_ATTRIBUTES) as usize,
            self.0 & Self::IN_ATTRIBUTES != 0,
        ))
    }
}

/// What the router keeps between events: which terms, rules and queries it met on the
/// current one, by the number of that event.
#[derive(Debug, Default)]
pub struct Scratch {
    event: u32,
    terms: Vec<u32>,
    present: Vec<u32>,
    rules: Vec<u32>,
    met: Vec<u32>,
    checked: Vec<u32>,
    results: Vec<bool>,
    /// The message lower-cased, for the regexes' pass.
    lower: String,
    /// The terms in attributes were looked for.
    attributes_read: bool,
    /// The raw attributes lower-cased, when they are ASCII without escapes (`raw_usable`),
    /// and whether they were read for this event.
    raw: String,
    raw_read: bool,
    raw_usable: bool,
    /// By term, the event whose raw attributes hold the term's word; those terms, listed.
    in_raw: Vec<u32>,
    in_raw_listed: Vec<u32>,
}

/// What the router did for one event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effort {
    /// Rules whose required terms the event had, so their query was consulted.
    pub rules_checked: usize,
    /// Distinct queries evaluated.
    pub queries_evaluated: usize,
}

impl Router {
    pub fn new(rules: &[&Rule]) -> Self {
        let mut router = Router {
            paths: rules
                .iter()
                .map(|rule| rule.attribute_paths())
                .collect::<Option<Vec<_>>>()
                .map(|paths| AttributePaths::new(paths.into_iter().flatten())),
            ..Router::default()
        };
        let mut ids: HashMap<Term, u32> = HashMap::default();
        let mut checks: HashMap<String, u32> = HashMap::default();
        let mut intern = |term: &Term| -> u32 {
            let next = ids.len() as u32;
            *ids.entry(term.clone()).or_insert(next)
        };
        let mut listed: Vec<(u32, u32)> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let (query, check) = match &rule.predicate {
                Matcher::Query(_) => (
                    Some(format!("{:?}", rule.query)),
                    Check::Matcher(rule.predicate.clone()),
                ),
                // A detection is its rule's own.
                Matcher::Sigma(_) => (None, Check::Matcher(rule.predicate.clone())),
            };
            let mut literals =
                |query: &Query| {
                    let mut packed = Vec::new();
                    for (i, mut conjunction) in exact_terms(query)?.into_iter().enumerate() {
                        if i > 0 {
                            packed.push(OR);
                        }
                        // Those wanted present first: most rules fail on one of them.
                        conjunction.sort_by_key(|(_, present)| !present);
                        packed.extend(conjunction.iter().map(|(term, present)| {
                            intern(term) | if *present { 0 } else { ABSENT }
                        }));
                    }
                    Some(packed.into_boxed_slice())
                };
            let query_terms = match &rule.predicate {
                Matcher::Query(_) => literals(&rule.query),
                Matcher::Sigma(_) => None,
            };
            let query = router.check_id(&mut checks, query, check);
            let denominator = match (&rule.kind, &rule.denominator) {
                (RuleKind::Ratio { denominator, .. }, Some(predicate)) => Some(router.check_id(
                    &mut checks,
                    Some(format!("{denominator:?}")),
                    Check::Predicate(predicate.clone()),
                )),
                _ => None,
            };
            let denominator_terms = match &rule.kind {
                RuleKind::Ratio { denominator, .. } => literals(denominator),
                _ => None,
            };
            let mut needed = need(&rule.query);
            if let RuleKind::Ratio { denominator, .. } = &rule.kind {
                // Met when either query matches.
                let other = need(denominator);
                needed = Need {
                    any: needed
                        .any
                        .zip(other.any)
                        .map(|(a, b)| dedup(a.into_iter().chain(b))),
                    all: needed
                        .all
                        .into_iter()
                        .filter(|t| other.all.contains(t))
                        .collect(),
                };
            }
            match &needed.any {
                Some(any) => {
                    for term in any {
                        listed.push((intern(term), index as u32));
                    }
                }
                None => router.always.push(index as u32),
            }
            router.routes.push(Route {
                // Terms in attributes last: looked for only when the rest are there.
                all: needed
                    .all
                    .iter()
                    .filter(|t| !t.in_attributes())
                    .chain(needed.all.iter().filter(|t| t.in_attributes()))
                    .map(&mut intern)
                    .collect(),
                query,
                denominator,
                query_terms,
                denominator_terms,
            });
        }
        router.terms = ids.len();
        router.listed = vec![Vec::new(); ids.len()];
        for (term, rule) in listed {
            router.listed[term as usize].push(Listed {
                rule,
                guard: Guard::NONE,
            });
        }
        router.tables(ids);
        router.guard();
        for route in std::mem::take(&mut router.routes) {
            let packed = Packed::pack(&route, &mut router.route_terms);
            router.packed.push(packed);
        }
        for listed in std::mem::take(&mut router.listed) {
            router.listed_at.push(router.listed_rules.len() as u32);
            router.listed_rules.extend(listed);
        }
        router.listed_at.push(router.listed_rules.len() as u32);
        router
    }

    /// The rules listed under `term`.
    fn listed(&self, term: u32) -> &[Listed] {
        let term = term as usize;
        &self.listed_rules[self.listed_at[term] as usize..self.listed_at[term + 1] as usize]
    }

    /// Gives each rule listed under a term another term it needs, if it has one: found
    /// missing, the rule is passed over without its route being read.
    fn guard(&mut self) {
        for (term, listed) in self.listed.iter_mut().enumerate() {
            for entry in listed {
                let all = &self.routes[entry.rule as usize].all;
                // Terms in attributes come last in `all`: one found by the lookup first.
                if let Some(&other) = all.iter().find(|&&t| t != term as u32) {
                    entry.guard = Guard::new(other, self.attribute_terms[other as usize]);
                }
            }
        }
    }

    fn check_id(
        &mut self,
        ids: &mut HashMap<String, u32>,
        key: Option<String>,
        check: Check,
    ) -> u32 {
        let next = self.checks.len() as u32;
        if let Some(key) = key {
            if let Some(&id) = ids.get(&key) {
                return id;
            }
            ids.insert(key, next);
        }
        self.checks.push(check);
        next
    }

    /// The lookup tables of every term.
    fn tables(&mut self, ids: HashMap<Term, u32>) {
        let mut keywords: HashMap<Keyword, HashMap<String, Vec<u32>>> = HashMap::default();
        let mut labels: HashMap<(LabelMap, String), HashMap<String, u32>> = HashMap::default();
        let mut keyword_regexes: HashMap<Keyword, Vec<(String, u32)>> = HashMap::default();
        let mut message_regexes: Vec<(String, u32)> = Vec::new();
        let mut attribute_words: HashMap<String, Words> = HashMap::default();
        let mut ids: Vec<(Term, u32)> = ids.into_iter().collect();
        ids.sort_by_key(|(_, id)| *id);
        self.attribute_terms = ids.iter().map(|(term, _)| term.in_attributes()).collect();
        let mut words: HashMap<&str, Vec<u32>> = HashMap::default();
        for (term, id) in &ids {
            if let Term::Word(place, word) = term
                && *place != Place::Message
            {
                words.entry(word.as_str()).or_default().push(*id);
            }
        }
        if !words.is_empty() {
            let (words, terms): (Vec<&str>, Vec<Vec<u32>>) = words.into_iter().unzip();
            // Built or not, the attributes are walked where a rule asks; without it,
            // walked for every event a rule asks about.
            self.attribute_automaton = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&words)
                .ok()
                .map(|automaton| (automaton, terms));
        }
        self.attributes_listed = ids
            .iter()
            .any(|(term, id)| term.in_attributes() && !self.listed[*id as usize].is_empty());
        for (term, id) in ids {
            match term {
                Term::Keyword(keyword, value) => {
                    keywords
                        .entry(keyword)
                        .or_default()
                        .entry(value)
                        .or_default()
                        .push(id);
                }

                Term::Label(map, key, value) => {
                    labels.entry((map, key)).or_default().insert(value, id);
                }
                // A regex matching a few texts is a lookup of each.
                Term::KeywordRegex(keyword, pattern) => match finite_texts(&pattern) {
                    Some(texts) => {
                        let values = keywords.entry(keyword).or_default();
                        for text in texts {
                            values.entry(text).or_default().push(id);
                        }
                    }
                    None => keyword_regexes
                        .entry(keyword)
                        .or_default()
                        .push((pattern, id)),
                },
                Term::MessageRegex(pattern) => match finite_texts(&pattern) {
                    // Only a text that is a word, as the analyzer makes them (lower case,
                    // letters and digits), can match one.
                    Some(texts) => {
                        for text in texts.iter().filter(|text| is_word(text)) {
                            self.message_words.add(text, id);
                        }
                    }
                    None => message_regexes.push((pattern, id)),
                },
                Term::Word(place, word) => {
                    let tables: Vec<&mut Words> = match place {
                        Place::Message => vec![&mut self.message_words],
                        Place::Attribute(path) => vec![attribute_words.entry(path).or_default()],
                        Place::AnyAttribute => vec![&mut self.any_attribute_words],
                        Place::Anywhere => {
                            vec![&mut self.message_words, &mut self.any_attribute_words]
                        }
                    };
                    for table in tables {
                        table.add(&word, id);
                    }
                }
            }
        }
        self.keywords = keywords.into_iter().collect();
        self.labels = labels
            .into_iter()
            .map(|((map, key), values)| (map, key, values))
            .collect();
        self.attribute_words = attribute_words.into_iter().collect();
        for (keyword, patterns) in keyword_regexes {
            match regex_set(&patterns) {
                Some((set, ids)) => self.keyword_regexes.push((keyword, set, ids)),
                None => self.unlist(patterns.iter().map(|(_, id)| *id)),
            }
        }
        if !message_regexes.is_empty() && !self.message_regex_tables(&message_regexes) {
            self.unlist(message_regexes.iter().map(|(_, id)| *id));
        }
        let lengths = || {
            self.message_words
                .words()
                .chain(self.any_attribute_words.words())
                .chain(self.attribute_words.iter().flat_map(|(_, w)| w.words()))
                .map(str::len)
        };
        self.word_lengths = (
            lengths().min().unwrap_or(1).max(1),
            lengths().max().unwrap_or(0),
        );
    }

    /// The tables of the regexes over message words: all of them anchored, for words one
    /// by one; for ASCII messages, how the literals words they match start with begin
    /// and, for regexes without such literals, themselves between non-word characters in
    /// the lower-cased message (one set). False when they do not compile together.
    fn message_regex_tables(&mut self, patterns: &[(String, u32)]) -> bool {
        let Some(anchored) = regex_set(patterns) else {
            return false;
        };
        let mut literals: HashSet<Vec<u8>> = HashSet::default();
        let mut rest: Vec<(String, u32)> = Vec::new();
        for (pattern, id) in patterns {
            match prefixes(pattern) {
                Some(found) => literals.extend(found),
                None => rest.push((format!("(?:^|[^a-z0-9])(?:{pattern})(?:[^a-z0-9]|$)"), *id)),
            }
        }
        if !literals.is_empty() {
            self.message_prefixes = Some(Prefixes::new(&literals));
        }
        if !rest.is_empty() {
            let Some(set) = regex_set_of(&rest) else {
                return false;
            };
            self.message_regexes_anywhere = Some(set);
        }
        self.message_regexes = Some(anchored);
        true
    }

    /// Terms that cannot be looked up after all (their regexes do not fit one set): their
    /// rules are tried on every event and the terms never required.
    fn unlist(&mut self, terms: impl Iterator<Item = u32>) {
        let terms: Vec<u32> = terms.collect();
        for &term in &terms {
            let listed = std::mem::take(&mut self.listed[term as usize]);
            self.always
                .extend(listed.into_iter().map(|entry| entry.rule));
        }
        self.always.sort_unstable();
        self.always.dedup();
        for route in &mut self.routes {
            // Their queries are evaluated instead.
            for exact in [&mut route.query_terms, &mut route.denominator_terms] {
                if exact.as_ref().is_some_and(|exact| {
                    exact
                        .iter()
                        .any(|&t| t != OR && terms.contains(&(t & !ABSENT)))
                }) {
                    *exact = None;
                }
            }
            if route.all.iter().any(|t| terms.contains(t)) {
                route.all = route
                    .all
                    .iter()
                    .copied()
                    .filter(|t| !terms.contains(t))
                    .collect();
            }
        }
    }

    /// How many rules are under no term, tried on every event.
    pub fn unrouted(&self) -> usize {
        self.always.len()
    }

    /// How many distinct queries the rules have.
    pub fn distinct_queries(&self) -> usize {
        self.checks.len()
    }

    /// The view of an event read in place that the rules need: raw attributes walked only
    /// where some rule looks.
    pub fn view<'a>(&'a self, event: &'a LogEventRef<'a>) -> EventView<'a> {
        match &self.paths {
            Some(paths) => EventView::borrowed_for(event, paths),
            None => EventView::borrowed(event),
        }
    }

    /// The rules `view` matches, ascending, into `out`.
    pub fn route(
        &self,
        view: &EventView<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<Routed>,
    ) -> Effort {
        out.clear();
        scratch.begin(self);
        self.find_terms(view, scratch);
        if self.attributes_listed {
            self.read_raw_attributes(view, scratch);
            if !scratch.raw_usable {
                self.find_attribute_terms(view, scratch);
            }
        }
        scratch.rules.clear();
        for index in 0..scratch.present.len() {
            let term = scratch.present[index];
            self.meet(self.listed(term), view, scratch);
        }
        // Rules under the words the raw attributes hold: the attributes are walked only
        // if one of them asks.
        if self.attributes_listed && scratch.raw_usable {
            for index in 0..scratch.in_raw_listed.len() {
                let term = scratch.in_raw_listed[index];
                self.meet(self.listed(term), view, scratch);
            }
        }
        scratch.meet(&self.always);
        let mut effort = Effort::default();
        for index in 0..scratch.rules.len() {
            let rule = scratch.rules[index] as usize;
            let route = self.packed[rule];
            let (all, query_terms, denominator_terms) = route.terms(&self.route_terms);
            // Terms in attributes found in their raw text are taken as there: what follows
            // decides, the query or the terms it is exactly.
            let may_have_all = all.iter().all(|&term| {
                let term = term as usize;
                self.may_have(term, self.attribute_terms[term], view, scratch)
            });
            if !may_have_all {
                continue;
            }
            effort.rules_checked += 1;
            let hit = match query_terms {
                Some(terms) => self.has_all(terms, view, scratch),
                None => self.check(route.query, view, scratch, &mut effort),
            };
            let total = match denominator_terms {
                Some(terms) => self.has_all(terms, view, scratch),
                None if route.denominator != Packed::ABSENT => {
                    self.check(route.denominator, view, scratch, &mut effort)
                }
                None => false,
            };
            if hit || total {
                out.push(Routed { rule, hit, total });
            }
        }
        out.sort_unstable_by_key(|routed| routed.rule);
        effort
    }

    /// Lists the rules of `listed` among those the event meets, each once, but for those
    /// whose guard term it surely lacks.
    fn meet(&self, listed: &[Listed], view: &EventView<'_>, scratch: &mut Scratch) {
        for entry in listed {
            let rule = entry.rule as usize;
            if scratch.met[rule] == scratch.event {
                continue;
            }
            scratch.met[rule] = scratch.event;
            let guarded = entry.guard.term().is_none_or(|(term, in_attributes)| {
                self.may_have(term, in_attributes, view, scratch)
            });
            if guarded {
                scratch.rules.push(entry.rule);
            }
        }
    }

    /// Whether the event may have `term`: surely not when the lookup did not find it, or
    /// for a term in attributes, when the raw attributes lack its word.
    fn may_have(
        &self,
        term: usize,
        in_attributes: bool,
        view: &EventView<'_>,
        scratch: &mut Scratch,
    ) -> bool {
        if scratch.terms[term] == scratch.event {
            return true;
        }
        if !in_attributes {
            return false;
        }
        self.read_raw_attributes(view, scratch);
        !scratch.raw_usable || scratch.in_raw[term] == scratch.event
    }

    /// Whether the event has, for one of the conjunctions of `terms` (between `OR`s),
    /// every term wanted present and none of those wanted absent (`ABSENT`); terms found
    /// in attributes are looked for the first time one is asked about.
    fn has_all(&self, terms: &[u32], view: &EventView<'_>, scratch: &mut Scratch) -> bool {
        terms.split(|&term| term == OR).any(|conjunction| {
            conjunction
                .iter()
                .all(|&term| self.has(term & !ABSENT, view, scratch) == (term & ABSENT == 0))
        })
    }

    /// Whether the event has `term`, exactly: the attributes are walked for a term found
    /// there that their raw text may hold.
    fn has(&self, term: u32, view: &EventView<'_>, scratch: &mut Scratch) -> bool {
        let term = term as usize;
        if scratch.terms[term] == scratch.event {
            return true;
        }
        if !self.attribute_terms[term]
            || scratch.attributes_read
            || !self.may_have(term, true, view, scratch)
        {
            return false;
        }
        self.find_attribute_terms(view, scratch);
        scratch.terms[term] == scratch.event
    }

    /// Reads the event's raw attributes once: raw attributes that are ASCII and have no
    /// escapes hold each word of their strings as it is written, so lower-cased they hold
    /// the word of every term in attributes the event has (and maybe more: the walk of
    /// the attributes decides). A term whose word they lack is surely not there.
    fn read_raw_attributes(&self, view: &EventView<'_>, scratch: &mut Scratch) {
        if scratch.raw_read {
            return;
        }
        scratch.raw_read = true;
        scratch.raw.clear();
        scratch.in_raw_listed.clear();
        scratch.raw_usable = false;
        let Some((automaton, terms)) = &self.attribute_automaton else {
            return;
        };
        match view.raw_attributes() {
            Some(raw) if raw.is_ascii() && !raw.contains('\\') => {
                scratch.raw.push_str(raw);
                scratch.raw.make_ascii_lowercase();
                scratch.raw_usable = true;
            }
            _ => return,
        }
        let Scratch {
            event,
            raw,
            in_raw,
            in_raw_listed,
            ..
        } = scratch;
        for found in automaton.find_overlapping_iter(raw.as_str()) {
            for &term in &terms[found.pattern().as_usize()] {
                if in_raw[term as usize] != *event {
                    in_raw[term as usize] = *event;
                    if !self.listed(term).is_empty() {
                        in_raw_listed.push(term);
                    }
                }
            }
        }
    }

    fn check(
        &self,
        id: u32,
        view: &EventView<'_>,
        scratch: &mut Scratch,
        effort: &mut Effort,
    ) -> bool {
        let at = id as usize;
        if scratch.checked[at] != scratch.event {
            scratch.checked[at] = scratch.event;
            scratch.results[at] = self.checks[at].matches_in(view);
            effort.queries_evaluated += 1;
        }
        scratch.results[at]
    }

    /// Marks every term the event has.
    fn find_terms(&self, view: &EventView<'_>, scratch: &mut Scratch) {
        let event = scratch.event;
        let Scratch {
            terms,
            present,
            lower,
            ..
        } = scratch;
        let mut mark = |id: u32| mark_term(terms, present, event, id);
        for (keyword, values) in &self.keywords {
            view.keyword_any(*keyword, |value| {
                if let Some(ids) = values.get(value) {
                    ids.iter().for_each(|&id| mark(id));
                }
                false
            });
        }
        for (map, key, values) in &self.labels {
            if let Some(&id) = view.label(*map, key).and_then(|value| values.get(value)) {
                mark(id);
            }
        }
        for (keyword, set, ids) in &self.keyword_regexes {
            view.keyword_any(*keyword, |value| {
                set.matches(value).iter().for_each(|i| mark(ids[i]));
                false
            });
        }
        let message = view.message();
        let regex_words = self
            .message_regexes
            .as_ref()
            .zip(self.message_prefixes.as_ref())
            .filter(|_| message.is_ascii());
        match regex_words {
            // One pass over the words for the word table and the regexes.
            Some(((set, ids), prefixes)) => {
                let (table, (shortest, longest)) = (&self.message_words, self.word_lengths);
                let mut lower = [0u8; MAX_WORD_BYTES];
                for run in ascii_words(message) {
                    if (shortest..=longest).contains(&run.len())
                        && let Some(terms) = table.find(run)
                    {
                        terms.iter().for_each(|&id| mark(id));
                    }
                    // A word matching a regex whole starts with one of its literals: each
                    // word that may is lower-cased and tried whole against all the regexes
                    // at once, which decides.
                    if prefixes.may_start(run) {
                        let lower = &mut lower[..run.len()];
                        lower.copy_from_slice(run);
                        lower.make_ascii_lowercase();
                        if let Ok(word) = std::str::from_utf8(lower)
                            && set.is_match(word)
                        {
                            set.matches(word).iter().for_each(|i| mark(ids[i]));
                        }
                    }
                }
            }
            None if !self.message_words.is_empty() => {
                self.words_of(message, &self.message_words, &mut mark);
            }
            None => {}
        }
        if let Some((set, ids)) = &self.message_regexes {
            if message.is_ascii() {
                // The regexes without such literals, between non-word characters of the
                // lower-cased message (which the query then decides).
                if let Some((anywhere, ids)) = &self.message_regexes_anywhere {
                    lower.clear();
                    lower.push_str(message);
                    lower.make_ascii_lowercase();
                    if anywhere.is_match(lower) {
                        anywhere.matches(lower).iter().for_each(|i| mark(ids[i]));
                    }
                }
            } else {
                for_each_word(message, 0, usize::MAX, |word| {
                    if set.is_match(word) {
                        set.matches(word).iter().for_each(|i| mark(ids[i]));
                    }
                });
            }
        }
    }

    /// Marks every term the event has in its attributes.
    fn find_attribute_terms(&self, view: &EventView<'_>, scratch: &mut Scratch) {
        let event = scratch.event;
        scratch.attributes_read = true;
        let Scratch { terms, present, .. } = scratch;
        let mut mark = |id: u32| mark_term(terms, present, event, id);
        for (path, table) in &self.attribute_words {
            view.attribute_texts(path, |text| self.words_of(text, table, &mut mark));
        }
        if !self.any_attribute_words.is_empty() {
            view.any_attribute_text(|text| {
                self.words_of(text, &self.any_attribute_words, &mut mark);
                false
            });
        }
    }

    /// Looks up each word of `text` in `table`.
    fn words_of(&self, text: &str, table: &Words, mark: &mut impl FnMut(u32)) {
        let (shortest, longest) = self.word_lengths;
        if text.is_ascii() {
            // Each word looked up as it stands, never copied out.
            for run in ascii_words(text) {
                if (shortest..=longest).contains(&run.len())
                    && let Some(ids) = table.find(run)
                {
                    ids.iter().for_each(|&id| mark(id));
                }
            }
            return;
        }
        for_each_word(text, shortest, longest, |word| {
            if let Some(ids) = table.find(word.as_bytes()) {
                ids.iter().for_each(|&id| mark(id));
            }
        });
    }
}

/// Whether `text` is a word as the analyzer makes them: one run of letters and digits,
/// lower case, shorter than `MAX_WORD_BYTES`.
fn is_word(text: &str) -> bool {
    matches!(words(text).as_slice(), [(0, word)] if word == text)
}

/// Marks term `id` as one `event` has, listing it once.
fn mark_term(terms: &mut [u32], present: &mut Vec<u32>, event: u32, id: u32) {
    if terms[id as usize] != event {
        terms[id as usize] = event;
        present.push(id);
    }
}

/// Each word of `text` split and lower-cased as the index does, among those of
/// `shortest..=longest` bytes, without allocating each when the text is ASCII.
fn for_each_word(text: &str, shortest: usize, longest: usize, mut each: impl FnMut(&str)) {
    if text.is_ascii() {
        for_each_ascii_word(text, shortest, longest, |word| {
            each(word);
            false
        });
        return;
    }
    for (_, word) in words(text) {
        if (shortest..=longest).contains(&word.len()) {
            each(&word);
        }
    }
}

impl Scratch {
    /// Lists `rules` among those the event meets, each once.
    fn meet(&mut self, rules: &[u32]) {
        for &rule in rules {
            if self.met[rule as usize] != self.event {
                self.met[rule as usize] = self.event;
                self.rules.push(rule);
            }
        }
    }

    /// Starts an event: a new number, the tables sized for `router`.
    fn begin(&mut self, router: &Router) {
        let fits = self.terms.len() == router.terms
            && self.met.len() == router.packed.len()
            && self.checked.len() == router.checks.len()
            && self.in_raw.len() == router.terms;
        self.event = self.event.wrapping_add(1);
        if !fits || self.event == 0 {
            self.event = 1;
            self.terms = vec![0; router.terms];
            self.in_raw = vec![0; router.terms];
            self.met = vec![0; router.packed.len()];
            self.checked = vec![0; router.checks.len()];
            self.results = vec![false; router.checks.len()];
        }
        self.present.clear();
        self.attributes_read = false;
        self.raw_read = false;
    }
}

/// One set of whole-value regexes, with the term id of each; `None` when they do not
/// compile together within the size limit.
fn regex_set(patterns: &[(String, u32)]) -> Option<(RegexSet, Vec<u32>)> {
    let anchored: Vec<(String, u32)> = patterns
        .iter()
        .map(|(p, id)| (format!("^(?:{p})$"), *id))
        .collect();
    regex_set_of(&anchored)
}

fn regex_set_of(patterns: &[(String, u32)]) -> Option<(RegexSet, Vec<u32>)> {
    let set = RegexSetBuilder::new(patterns.iter().map(|(p, _)| p))
        .size_limit(REGEX_SET_SIZE_LIMIT.max(REGEX_SIZE_LIMIT))
        .dfa_size_limit(REGEX_SET_SIZE_LIMIT)
        .build()
        .ok()?;
    Some((set, patterns.iter().map(|(_, id)| *id).collect()))
}

/// At most how many texts a regex may match to be looked up as those texts, and how long
/// each may be.
const FINITE_TEXTS: usize = 256;
const FINITE_TEXT_BYTES: usize = 1_024;

/// Every text the regex `pattern` matches, when they are few (`FINITE_TEXTS`, each of
/// `FINITE_TEXT_BYTES` at most) and it asserts nothing about what surrounds them (no
/// `^`, `$` or `\b` inside): matching it whole is then being one of them. `None`
/// otherwise.
fn finite_texts(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let mut texts = language(&hir)?;
    texts.sort_unstable();
    texts.dedup();
    texts
        .into_iter()
        .map(|t| String::from_utf8(t).ok())
        .collect()
}

/// The texts `hir` matches, within the bounds of `finite_texts`.
fn language(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let within = |texts: Vec<Vec<u8>>| (texts.len() <= FINITE_TEXTS).then_some(texts);
    match hir.kind() {
        HirKind::Empty => Some(vec![Vec::new()]),
        HirKind::Literal(literal) => Some(vec![literal.0.to_vec()]),
        HirKind::Class(Class::Unicode(class)) => {
            let mut chars = class.ranges().iter().flat_map(|r| r.start()..=r.end());
            let texts = chars
                .by_ref()
                .take(FINITE_TEXTS + 1)
                .map(|c| c.to_string().into_bytes());
            within(texts.collect())
        }
        HirKind::Class(Class::Bytes(class)) => {
            let bytes = class.ranges().iter().flat_map(|r| r.start()..=r.end());
            within(bytes.take(FINITE_TEXTS + 1).map(|b| vec![b]).collect())
        }
        HirKind::Look(_) => None,
        HirKind::Capture(capture) => language(&capture.sub),
        HirKind::Concat(parts) => parts.iter().try_fold(vec![Vec::new()], |texts, part| {
            then(&texts, &language(part)?)
        }),
        HirKind::Alternation(branches) => {
            let mut texts = Vec::new();
            for branch in branches {
                texts.extend(language(branch)?);
                if texts.len() > FINITE_TEXTS {
                    return None;
                }
            }
            Some(texts)
        }
        HirKind::Repetition(repetition) => {
            let max = repetition.max?;
            let once = language(&repetition.sub)?;
            let (mut texts, mut times) = (Vec::new(), vec![Vec::new()]);
            for count in 0..=max {
                if count >= repetition.min {
                    texts.extend(times.iter().cloned());
                    if texts.len() > FINITE_TEXTS {
                        return None;
                    }
                }
                if count < max {
                    times = then(&times, &once)?;
                    if times.is_empty() {
                        break;
                    }
                }
            }
            Some(texts)
        }
    }
}

/// Each of `heads` followed by each of `tails`, within the bounds of `finite_texts`.
fn then(heads: &[Vec<u8>], tails: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if heads.len() * tails.len() > FINITE_TEXTS {
        return None;
    }
    let mut texts = Vec::with_capacity(heads.len() * tails.len());
    for head in heads {
        for tail in tails {
            if head.len() + tail.len() > FINITE_TEXT_BYTES {
                return None;
            }
            texts.push([head.as_slice(), tail].concat());
        }
    }
    Some(texts)
}

/// The literals that every text a regex matches starts with; `None` when they are not a
/// finite set of non-empty literals.
fn prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
    let literals = seq.literals()?;
    if literals.is_empty() || literals.iter().any(|l| l.as_bytes().is_empty()) {
        return None;
    }
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

#[cfg(test)]
mod tests;
