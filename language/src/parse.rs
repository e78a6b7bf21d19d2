//! Text → `Query`: tantivy's grammar parses, then every field is resolved, every value
//! checked against its field and the tree simplified. Bounds on size and nesting are
//! checked before any recursive pass sees the text.

use std::ops::Bound;

use logpipe_common::event::Timestamp;
use tantivy_query_grammar::{
    Delimiter, Occur, UserInputAst, UserInputBound, UserInputLeaf, UserInputLiteral,
};

use crate::analyzer::words;
use crate::ast::{Leaf, Op, Query, Scalar};
use crate::error::QueryError;
use crate::fields::FieldRef;
use crate::number::parse_number;

/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Deepest nesting of parentheses accepted.
pub const MAX_DEPTH: usize = 64;
/// Longest regular expression accepted, in bytes.
pub const MAX_REGEX_BYTES: usize = 512;
/// Compiled-size limit of a regular expression.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Query {
    /// Parses `text`; an empty query matches every event.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        check_depth(text)?;
        if text.len() > MAX_QUERY_BYTES {
            return Err(QueryError::new(format!(
                "the query is {} bytes long; at most {MAX_QUERY_BYTES} are accepted",
                text.len()
            )));
        }
        let ast = match tantivy_query_grammar::parse_query(text) {
            Ok(ast) => ast,
            Err(_) => return Err(syntax_error(text)),
        };
        let query = convert(ast, text)?;
        Ok(query.simplify())
    }
}

/// Refuses a query nested deeper than `MAX_DEPTH` before any recursive pass sees it: the
/// grammar's parser, the conversion, the simplification and dropping the tree all recurse
/// once per level. Every construct that nests counts: a group (`(`, and the brackets of
/// a range or set) and each prefix operator (`NOT`, `-`, `+`, `!`) until its operand ends.
fn check_depth(text: &str) -> Result<(), QueryError> {
    // Per open group (the whole query first): prefix operators still waiting for their
    // operand.
    let mut pending: Vec<usize> = vec![0];
    let mut operators = 0usize;
    let mut chars = text.char_indices().enumerate().peekable();
    let mut term_start = true;
    while let Some((position, (byte, c))) = chars.next() {
        let depth_error = || QueryError {
            message: format!(
                "the query is nested more than {MAX_DEPTH} deep (groups and NOT, -, + each count)"
            ),
            position: Some(position),
        };
        match c {
            c if c.is_whitespace() => term_start = true,
            '(' | '[' | '{' => {
                pending.push(0);
                if pending.len() - 1 + operators > MAX_DEPTH {
                    return Err(depth_error());
                }
                term_start = true;
            }
            ')' | ']' | '}' => {
                if pending.len() > 1 {
                    operators -= pending.pop().unwrap_or(0);
                }
                // The group was the operand of the operators before it.
                let last = pending.len() - 1;
                operators -= std::mem::take(&mut pending[last]);
                term_start = false;
            }
            '-' | '+' | '!' if term_start => {
                let last = pending.len() - 1;
                pending[last] += 1;
                operators += 1;
                if pending.len() - 1 + operators > MAX_DEPTH {
                    return Err(depth_error());
                }
            }
            'N' if term_start
                && text[byte..].starts_with("NOT")
                && text[byte + 3..]
                    .chars()
                    .next()
                    .is_none_or(|next| next.is_whitespace() || next == '(') =>
            {
                chars.next();
                chars.next();
                let last = pending.len() - 1;
                pending[last] += 1;
                operators += 1;
                if pending.len() - 1 + operators > MAX_DEPTH {
                    return Err(depth_error());
                }
                term_start = true;
            }
            _ => {
                // An operand: a word, a phrase, `field:value`. The word's end is not waited
                // for: what follows it in the same term cannot nest without a group.
                if term_start {
                    let last = pending.len() - 1;
                    operators -= std::mem::take(&mut pending[last]);
                }
                term_start = false;
                if c == '\\' {
                    chars.next();
                } else if c == '"' || c == '\'' {
                    // A phrase: nothing inside it nests.
                    let mut escaped = false;
                    for (_, (_, inner)) in chars.by_ref() {
                        match inner {
                            _ if escaped => escaped = false,
                            '\\' => escaped = true,
                            inner if inner == c => break,
                            _ => {}
                        }
                    }
                } else if c == ':' {
                    // `field:(…)`, `field:-x`: the value is a term of its own.
                    term_start = true;
                }
            }
        }
    }
    Ok(())
}

/// Describes a syntax error with the lenient parser's position and message.
fn syntax_error(text: &str) -> QueryError {
    let (_, errors) = tantivy_query_grammar::parse_query_lenient(text);
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
    index_regex(pattern).map(|_| ())
}

/// `pattern` compiled by the automaton the index matches terms with (tantivy's
/// `RegexQuery`), or why it refuses it.
pub fn index_regex(pattern: &str) -> Result<tantivy_fst::Regex, QueryError> {
    tantivy_fst::Regex::new(pattern).map_err(|error| {
        QueryError::new(format!("invalid regular expression /{pattern}/: {error}"))
    })
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
            let words = words(&value);
            if words.len() != 1 || words[0].1.len() != value.chars().count() {
                return Err(QueryError::new(format!(
                    "a wildcard applies to one word; `{value}*` is not a single word"
                )));
            }
            Op::Prefix(words[0].1.clone())
        }
        (FieldRef::Attribute(path), Op::Prefix(value)) => {
            let words = words(&value);
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
