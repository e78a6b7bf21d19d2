//! The search language: Lucene-style syntax (tantivy's grammar) parsed into one AST with
//! three uses — a tantivy query (`to_tantivy`), an in-memory predicate over a `LogEvent`
//! (`Predicate`, which the alert engine evaluates rules with) and a normalized string
//! form (`Display`).
//!
//! Semantics, the same in the index and in memory:
//! - words separated by spaces must all match (`AND` is the default operator);
//! - a word without a field matches `message` or any string attribute;
//! - `message`, `attribute_text` and string attributes are tokenized like the index
//!   (split on non-alphanumerics, lowercased); several words are a phrase;
//! - keyword fields (`level`, `k8s.*`, `source.*`, `flags`, `id`, `stream`) match exactly;
//! - `attributes.<path>` matches strings by words, numbers and booleans by value, and
//!   numeric ranges;
//! - `ts` and `observed_ts` take RFC 3339 values and ranges;
//! - `field:*` matches when the field has a value; `*` (or an empty query) matches all.

mod fields;
mod predicate;
mod translate;
mod view;

use std::fmt;
use std::ops::Bound;

use logpipe_common::event::Timestamp;
use tantivy::columnar::NumericalValue;
use tantivy::query_grammar::{
    Delimiter, Occur, UserInputAst, UserInputBound, UserInputLeaf, UserInputLiteral,
};

pub use fields::{FieldRef, Keyword, TimeField};
pub use predicate::{Predicate, words};
pub use translate::to_tantivy;
pub use view::{AttributePaths, EventView};

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest regular expression accepted, in bytes.
pub const MAX_REGEX_BYTES: usize = 512;
/// Compiled-size limit of a regular expression.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Every event.
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    Leaf(Leaf),
}

/// A condition on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub field: FieldRef,
    pub op: Op,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Words (a phrase when the text has several) on text fields; the exact value on
    /// keyword fields; words, a number or a boolean on an attribute.
    Match(String),
    /// Words starting with this text (text fields), or values starting with it (keyword
    /// fields).
    Prefix(String),
    /// A regular expression that a whole word (text fields) or value (keyword fields)
    /// matches.
    Regex(String),
    Range {
        lower: Bound<Scalar>,
        upper: Bound<Scalar>,
    },
    /// The field has a value.
    Exists,
}

/// A bound of a range: a number on attributes, an instant on time fields.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Number(NumericalValue),
    Time(Timestamp),
}

/// Why a query was refused, with the character position it refers to when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
    /// Character offset into the query.
    pub position: Option<usize>,
}

impl QueryError {
    fn new(message: impl Into<String>) -> Self {
        QueryError {
            message: message.into(),
            position: None,
        }
    }

    fn at(mut self, position: Option<usize>) -> Self {
        self.position = self.position.or(position);
        self
    }
}

impl Query {
    /// Every field the query names.
    pub fn fields(&self) -> Vec<&FieldRef> {
        match self {
            Query::All => Vec::new(),
            Query::And(children) | Query::Or(children) => {
                children.iter().flat_map(Query::fields).collect()
            }
            Query::Not(inner) => inner.fields(),
            Query::Leaf(leaf) => vec![&leaf.field],
        }
    }

    /// Parses `text`; an empty query matches every event.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        check_depth(text)?;
        if text.len() > MAX_QUERY_BYTES {
            return Err(QueryError::new(format!(
                "the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted",
                text.len()
            )));
        }
        let ast = match tantivy::query_grammar::parse_query(text) {
            Ok(ast) => ast,
            Err(_) => return Err(syntax_error(text)),
        };
        let query = convert(ast, text)?;
        Ok(query.simplify())
    }

    /// Every event matching both.
    pub fn and(self, other: Query) -> Query {
        Query::And(vec![self, other]).simplify()
    }

    /// Flattens nested `And`/`Or`, drops `All` from conjunctions.
    fn simplify(self) -> Query {
        match self {
            Query::And(children) => {
                let mut flat = Vec::new();
                for child in children.into_iter().map(Query::simplify) {
                    match child {
                        Query::All => {}
                        Query::And(inner) => flat.extend(inner),
                        other => flat.push(other),
                    }
                }
                dedup(&mut flat);
                match flat.len() {
                    0 => Query::All,
                    1 => flat.pop().unwrap_or(Query::All),
                    _ => Query::And(flat),
                }
            }
            Query::Or(children) => {
                let mut flat = Vec::new();
                for child in children.into_iter().map(Query::simplify) {
                    match child {
                        Query::All => return Query::All,
                        Query::Or(inner) => flat.extend(inner),
                        other => flat.push(other),
                    }
                }
                dedup(&mut flat);
                match flat.len() {
                    0 => Query::All,
                    1 => flat.pop().unwrap_or(Query::All),
                    _ => Query::Or(flat),
                }
            }
            Query::Not(inner) => match inner.simplify() {
                Query::Not(again) => *again,
                other => Query::Not(Box::new(other)),
            },
            leaf => leaf,
        }
    }
}

/// Drops repeated conditions (the grammar does the same within one clause list).
fn dedup(queries: &mut Vec<Query>) {
    let mut kept: Vec<Query> = Vec::with_capacity(queries.len());
    for query in queries.drain(..) {
        if !kept.contains(&query) {
            kept.push(query);
        }
    }
    *queries = kept;
}

/// Refuses parentheses nested deeper than `MAX_DEPTH` before the recursive parser sees
/// them.
fn check_depth(text: &str) -> Result<(), QueryError> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (position, c) in text.chars().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match (c, quote) {
            ('\\', _) => escaped = true,
            ('"' | '\'', None) => quote = Some(c),
            (c, Some(open)) if c == open => quote = None,
            (_, Some(_)) => {}
            ('(' | '[' | '{', None) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(QueryError {
                        message: format!("parentheses are nested more than {MAX_DEPTH} deep"),
                        position: Some(position),
                    });
                }
            }
            (')' | ']' | '}', None) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Describes a syntax error with the lenient parser's position and message.
fn syntax_error(text: &str) -> QueryError {
    let (_, errors) = tantivy::query_grammar::parse_query_lenient(text);
    match errors.first() {
        Some(error) => {
            let position = char_position(text, error.pos);
            QueryError {
                message: format!("syntax error at position {position}: {}", error.message),
                position: Some(position),
            }
        }
        None => QueryError::new("syntax error"),
    }
}

fn char_position(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    let mut boundary = byte;
    while !text.is_char_boundary(boundary) {
        boundary -= 1;
    }
    text[..boundary].chars().count()
}

/// Where `field:` first appears in the query, for errors about a field.
fn field_position(text: &str, field: &str) -> Option<usize> {
    text.find(&format!("{field}:"))
        .or_else(|| text.find(field))
        .map(|byte| char_position(text, byte))
}

fn convert(ast: UserInputAst, text: &str) -> Result<Query, QueryError> {
    match ast {
        UserInputAst::Clause(clauses) => {
            if clauses.is_empty() {
                return Ok(Query::All);
            }
            let mut must = Vec::new();
            let mut should = Vec::new();
            let mut must_not = Vec::new();
            for (occur, child) in clauses {
                let child = convert(child, text)?;
                match occur {
                    None | Some(Occur::Must) => must.push(child),
                    Some(Occur::Should) => should.push(child),
                    Some(Occur::MustNot) => must_not.push(Query::Not(Box::new(child))),
                }
            }
            // Results are ordered by time, not score: optional clauses next to required
            // ones change nothing, so they are dropped.
            let mut all = must;
            if all.is_empty() && !should.is_empty() {
                all.push(Query::Or(should));
            }
            all.extend(must_not);
            Ok(Query::And(all))
        }
        UserInputAst::Boost(inner, _) => convert(*inner, text),
        UserInputAst::Leaf(leaf) => convert_leaf(*leaf, text),
    }
}

fn convert_leaf(leaf: UserInputLeaf, text: &str) -> Result<Query, QueryError> {
    match leaf {
        UserInputLeaf::All => Ok(Query::All),
        UserInputLeaf::Literal(literal) => literal_query(literal, text),
        UserInputLeaf::Exists { field } => {
            let field_ref = resolve(&field, text)?;
            leaf_query(field_ref, Op::Exists).map_err(|e| e.at(field_position(text, &field)))
        }
        UserInputLeaf::Set { field, elements } => {
            let field_ref = resolve_opt(field.as_deref(), text)?;
            let alternatives = elements
                .into_iter()
                .map(|element| {
                    leaf_query(field_ref.clone(), Op::Match(element))
                        .map_err(|e| e.at(field.as_deref().and_then(|f| field_position(text, f))))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Query::Or(alternatives))
        }
        UserInputLeaf::Regex { field, pattern } => {
            let field_ref = resolve_opt(field.as_deref(), text)?;
            check_regex(&pattern)
                .and_then(|()| leaf_query(field_ref, Op::Regex(pattern)))
                .map_err(|e| e.at(field.as_deref().and_then(|f| field_position(text, f))))
        }
        UserInputLeaf::Range {
            field,
            lower,
            upper,
        } => {
            let Some(name) = field else {
                return Err(QueryError::new(
                    "a range needs a field, e.g. attributes.latency_ms:[500 TO *]",
                ));
            };
            let field_ref = resolve(&name, text)?;
            range_query(field_ref, lower, upper).map_err(|e| e.at(field_position(text, &name)))
        }
    }
}

fn literal_query(literal: UserInputLiteral, text: &str) -> Result<Query, QueryError> {
    let UserInputLiteral {
        field_name,
        phrase,
        delimiter,
        slop,
        prefix,
    } = literal;
    let position = || field_name.as_deref().and_then(|f| field_position(text, f));
    if slop > 0 {
        return Err(QueryError::new(format!(
            "phrase slop (~{slop}) is not supported; search the exact phrase"
        ))
        .at(position()));
    }
    let field_ref = resolve_opt(field_name.as_deref(), text)?;
    // `api-*`: the grammar keeps the star in words it does not read as a prefix.
    let (phrase, prefix) = match phrase.strip_suffix('*') {
        Some(stem) if !prefix && delimiter == Delimiter::None && !stem.ends_with('\\') => {
            (stem.to_string(), true)
        }
        _ => (phrase, prefix),
    };
    if prefix {
        if delimiter == Delimiter::None && phrase.is_empty() {
            return leaf_query(field_ref, Op::Exists).map_err(|e| e.at(position()));
        }
        return leaf_query(field_ref, Op::Prefix(phrase)).map_err(|e| e.at(position()));
    }
    leaf_query(field_ref, Op::Match(phrase)).map_err(|e| e.at(position()))
}

fn resolve(name: &str, text: &str) -> Result<FieldRef, QueryError> {
    FieldRef::resolve(name).map_err(|e| e.at(field_position(text, name)))
}

fn resolve_opt(name: Option<&str>, text: &str) -> Result<FieldRef, QueryError> {
    match name {
        Some(name) => resolve(name, text),
        None => Ok(FieldRef::Default),
    }
}

fn check_regex(pattern: &str) -> Result<(), QueryError> {
    if pattern.len() > MAX_REGEX_BYTES {
        return Err(QueryError::new(format!(
            "the regular expression is {} bytes long; at most {MAX_REGEX_BYTES} are accepted",
            pattern.len()
        )));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| {
            QueryError::new(format!("invalid regular expression /{pattern}/: {error}"))
        })?;
    // Patterns the index's automaton refuses are refused at parse time, whatever indexes the
    // time range holds, so a query is valid or not regardless of the data.
    translate::regex_query(pattern, tantivy::schema::Field::from_field_id(0)).map(|_| ())
}

/// Checks that `op` applies to `field` and normalizes its value.
fn leaf_query(field: FieldRef, op: Op) -> Result<Query, QueryError> {
    let op = match (&field, op) {
        (FieldRef::Time(_), Op::Match(value)) => {
            let instant = parse_time(&value)?;
            Op::Range {
                lower: Bound::Included(instant),
                upper: Bound::Included(instant),
            }
        }
        (FieldRef::Time(_), Op::Exists) => return Ok(Query::All),
        (FieldRef::Time(time), Op::Prefix(_) | Op::Regex(_)) => {
            return Err(QueryError::new(format!(
                "{} takes an RFC 3339 time or a range such as {}:[2026-11-27T00:00:00Z TO *]",
                time.name(),
                time.name()
            )));
        }
        (FieldRef::Keyword(keyword), Op::Match(value)) => Op::Match(keyword.normalize(value)),
        (FieldRef::Keyword(keyword), Op::Prefix(value)) => Op::Prefix(keyword.normalize(value)),
        (FieldRef::Keyword(keyword), Op::Exists) if !keyword.is_fast() => {
            return Err(QueryError::new(format!(
                "{}:* is not supported; {} is set on every event that has a source path",
                keyword.name(),
                keyword.name()
            )));
        }
        (FieldRef::Default | FieldRef::Message | FieldRef::AttributeText, Op::Exists) => {
            return Ok(Query::All);
        }
        (FieldRef::Default | FieldRef::Message | FieldRef::AttributeText, Op::Prefix(value)) => {
            let words = predicate::words(&value);
            if words.len() != 1 || words[0].1.len() != value.chars().count() {
                return Err(QueryError::new(format!(
                    "a wildcard applies to one word; `{value}*` is not a single word"
                )));
            }
            Op::Prefix(words[0].1.clone())
        }
        (FieldRef::Attribute(path), Op::Prefix(value)) => {
            let words = predicate::words(&value);
            if words.len() != 1 || words[0].1.len() != value.chars().count() {
                return Err(QueryError::new(format!(
                    "a wildcard applies to one word; `attributes.{path}:{value}*` is not a single word"
                )));
            }
            Op::Prefix(words[0].1.clone())
        }
        (_, op @ Op::Range { .. }) => op,
        (_, op) => op,
    };
    Ok(Query::Leaf(Leaf { field, op }))
}

/// Reads one bound of a range.
type BoundParser = dyn Fn(&str) -> Result<Scalar, QueryError>;

fn range_query(
    field: FieldRef,
    lower: UserInputBound,
    upper: UserInputBound,
) -> Result<Query, QueryError> {
    let parse: Box<BoundParser> = match &field {
        FieldRef::Time(_) => Box::new(parse_time),
        FieldRef::Attribute(path) => {
            let path = path.clone();
            Box::new(move |text| {
                parse_number(text).map(Scalar::Number).ok_or_else(|| {
                    QueryError::new(format!(
                        "range bounds on attributes.{path} must be numbers; got `{text}`"
                    ))
                })
            })
        }
        other => {
            return Err(QueryError::new(format!(
                "ranges work on ts, observed_ts and numeric attributes (attributes.<path>), not on {}",
                other.name()
            )));
        }
    };
    let bound = |bound: UserInputBound| -> Result<Bound<Scalar>, QueryError> {
        Ok(match bound {
            UserInputBound::Inclusive(text) => Bound::Included(parse(&text)?),
            UserInputBound::Exclusive(text) => Bound::Excluded(parse(&text)?),
            UserInputBound::Unbounded => Bound::Unbounded,
        })
    };
    let lower = bound(lower)?;
    let upper = bound(upper)?;
    if let (FieldRef::Attribute(path), Bound::Unbounded, Bound::Unbounded) =
        (&field, &lower, &upper)
    {
        return Err(QueryError::new(format!(
            "a range on attributes.{path} needs at least one bound; attributes.{path}:* matches any value"
        )));
    }
    Ok(Query::Leaf(Leaf {
        field,
        op: Op::Range { lower, upper },
    }))
}

fn parse_time(text: &str) -> Result<Scalar, QueryError> {
    Timestamp::parse_rfc3339(text)
        .map(Scalar::Time)
        .ok_or_else(|| {
            QueryError::new(format!(
                "`{text}` is not an RFC 3339 time such as 2026-11-27T05:00:00Z"
            ))
        })
}

/// A number as the index stores it: integers as i64 (u64 above), others as f64.
pub fn parse_number(text: &str) -> Option<NumericalValue> {
    let value = text.parse::<NumericalValue>().ok()?;
    match value.normalize() {
        NumericalValue::F64(float) if !float.is_finite() => None,
        value => Some(value),
    }
}

impl fmt::Display for Query {
    /// The normalized form: parsing it gives the same query back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::All => f.write_str("*"),
            Query::And(children) => {
                join(f, children, " AND ", |child| matches!(child, Query::Or(_)))
            }
            Query::Or(children) => {
                join(f, children, " OR ", |child| matches!(child, Query::And(_)))
            }
            Query::Not(inner) => {
                if matches!(**inner, Query::And(_) | Query::Or(_)) {
                    write!(f, "NOT ({inner})")
                } else {
                    write!(f, "NOT {inner}")
                }
            }
            Query::Leaf(leaf) => leaf.fmt(f),
        }
    }
}

fn join(
    f: &mut fmt::Formatter<'_>,
    children: &[Query],
    separator: &str,
    needs_parens: impl Fn(&Query) -> bool,
) -> fmt::Result {
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if needs_parens(child) {
            write!(f, "({child})")?;
        } else {
            write!(f, "{child}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field != FieldRef::Default {
            write!(f, "{}:", escape_field(&self.field.name()))?;
        }
        match &self.op {
            Op::Match(value) => f.write_str(&quote_value(value)),
            Op::Prefix(value) => {
                if is_bare_word(value) {
                    write!(f, "{value}*")
                } else {
                    write!(f, "{}*", quoted(value))
                }
            }
            Op::Regex(pattern) => write!(f, "/{}/", pattern.replace('/', "\\/")),
            Op::Exists => f.write_str("*"),
            Op::Range { lower, upper } => {
                match lower {
                    Bound::Included(value) => write!(f, "[{value}")?,
                    Bound::Excluded(value) => write!(f, "{{{value}")?,
                    Bound::Unbounded => f.write_str("[*")?,
                }
                f.write_str(" TO ")?;
                match upper {
                    Bound::Included(value) => write!(f, "{value}]"),
                    Bound::Excluded(value) => write!(f, "{value}}}"),
                    Bound::Unbounded => f.write_str("*]"),
                }
            }
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Number(NumericalValue::I64(value)) => write!(f, "{value}"),
            Scalar::Number(NumericalValue::U64(value)) => write!(f, "{value}"),
            Scalar::Number(NumericalValue::F64(value)) => write!(f, "{value:?}"),
            Scalar::Time(instant) => write!(f, "{instant}"),
        }
    }
}

fn is_bare_word(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@'))
        && !matches!(value, "AND" | "OR" | "NOT" | "TO" | "IN")
}

fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn quote_value(value: &str) -> String {
    if is_bare_word(value) {
        value.to_string()
    } else {
        quoted(value)
    }
}

fn escape_field(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(
            c,
            '+' | '^'
                | '`'
                | ':'
                | '{'
                | '}'
                | '"'
                | '\''
                | '['
                | ']'
                | '('
                | ')'
                | '!'
                | '\\'
                | '*'
                | ' '
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
