//! The search language's `Query` as a tantivy query over a day index (schema in
//! `schema.rs`), with the language's semantics: text is split into words by the same
//! analyzer, keyword fields match exactly.

use std::ops::Bound;

use logpipe_language::{
    FieldRef, Keyword, LabelMap, Leaf, Number, Op, Query, QueryError, Scalar, TimeField,
    index_regex, parse_number, words,
};
use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, EmptyQuery, ExistsQuery, Occur, PhraseQuery, Query as TantivyQuery,
    RangeQuery, RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::document::date;
use crate::schema::{ATTRIBUTES, Fields};

/// The tantivy query selecting the events `query` matches.
pub fn to_tantivy(query: &Query, fields: &Fields) -> Result<Box<dyn TantivyQuery>, QueryError> {
    Ok(match query {
        Query::All => Box::new(AllQuery),
        Query::And(children) => {
            let mut clauses = Vec::with_capacity(children.len());
            let mut positive = false;
            for child in children {
                match child {
                    Query::Not(inner) => {
                        clauses.push((Occur::MustNot, to_tantivy(inner, fields)?));
                    }
                    other => {
                        positive = true;
                        clauses.push((Occur::Must, to_tantivy(other, fields)?));
                    }
                }
            }
            if !positive {
                clauses.push((Occur::Must, Box::new(AllQuery)));
            }
            Box::new(BooleanQuery::new(clauses))
        }
        Query::Or(children) => Box::new(BooleanQuery::new(
            children
                .iter()
                .map(|child| Ok((Occur::Should, to_tantivy(child, fields)?)))
                .collect::<Result<Vec<_>, QueryError>>()?,
        )),
        Query::Not(inner) => Box::new(BooleanQuery::new(vec![
            (Occur::Must, Box::new(AllQuery) as Box<dyn TantivyQuery>),
            (Occur::MustNot, to_tantivy(inner, fields)?),
        ])),
        Query::Leaf(leaf) => leaf_query(leaf, fields)?,
    })
}

fn any(queries: Vec<Box<dyn TantivyQuery>>) -> Box<dyn TantivyQuery> {
    match queries.len() {
        0 => Box::new(EmptyQuery),
        1 => queries
            .into_iter()
            .next()
            .unwrap_or_else(|| Box::new(EmptyQuery)),
        _ => Box::new(BooleanQuery::new(
            queries.into_iter().map(|q| (Occur::Should, q)).collect(),
        )),
    }
}

fn leaf_query(leaf: &Leaf, fields: &Fields) -> Result<Box<dyn TantivyQuery>, QueryError> {
    let Leaf { field, op } = leaf;
    Ok(match field {
        FieldRef::Default => any(vec![
            text_query(fields.message, op)?,
            text_query(fields.attribute_text, op)?,
        ]),
        FieldRef::Message => text_query(fields.message, op)?,
        FieldRef::AttributeText => text_query(fields.attribute_text, op)?,
        FieldRef::Keyword(keyword) => match keyword_field(*keyword, fields) {
            Some(field) => keyword_query(field, *keyword, op)?,
            // A field an older index version lacks holds no value there.
            None => Box::new(EmptyQuery),
        },
        FieldRef::Time(time) => {
            let field = match time {
                TimeField::Ts => fields.ts,
                TimeField::ObservedTs => fields.observed_ts,
            };
            match op {
                Op::Range { lower, upper } => {
                    let term = |scalar: &Scalar| match scalar {
                        Scalar::Time(instant) => Term::from_field_date(field, date(*instant)),
                        Scalar::Number(_) => Term::from_field_date(field, tantivy::DateTime::MIN),
                    };
                    range(lower.as_ref().map(term), upper.as_ref().map(term))
                }
                Op::Exists => Box::new(AllQuery),
                _ => Box::new(EmptyQuery),
            }
        }
        FieldRef::Attribute(path) => attribute_query(fields.attributes, path, op)?,
        FieldRef::Label(map, key) => match label_field(*map, fields) {
            Some(field) => label_query(field, key, op)?,
            None => Box::new(EmptyQuery),
        },
    })
}

/// The index field of a map of strings; `None` in an index older than version 5.
pub(crate) fn label_field(map: LabelMap, fields: &Fields) -> Option<Field> {
    match map {
        LabelMap::Labels => fields.labels,
        LabelMap::Annotations => fields.annotations,
        LabelMap::NamespaceLabels => fields.namespace_labels,
    }
}

/// `key` as a JSON path of one segment: its dots are part of the key
/// (`app.kubernetes.io/name`).
pub(crate) fn label_path(key: &str) -> String {
    key.replace('.', "\\.")
}

/// The term prefix of `key` in a map of strings.
fn label_term(field: Field, key: &str) -> Term {
    Term::from_field_json_path(field, &label_path(key), false)
}

fn label_query(field: Field, key: &str, op: &Op) -> Result<Box<dyn TantivyQuery>, QueryError> {
    Ok(match op {
        Op::Match(value) => {
            let mut term = label_term(field, key);
            term.append_type_and_str(value);
            Box::new(TermQuery::new(term, IndexRecordOption::Basic))
        }
        Op::Prefix(prefix) => regex(
            &json_string_regex(
                &label_term(field, key),
                &format!("{}.*", regex::escape(prefix)),
            ),
            field,
        )?,
        Op::Regex(pattern) => regex(&json_string_regex(&label_term(field, key), pattern), field)?,
        Op::Exists => regex(&json_string_regex(&label_term(field, key), ".*"), field)?,
        Op::Range { .. } => Box::new(EmptyQuery),
    })
}

fn range(lower: Bound<Term>, upper: Bound<Term>) -> Box<dyn TantivyQuery> {
    if matches!((&lower, &upper), (Bound::Unbounded, Bound::Unbounded)) {
        return Box::new(AllQuery);
    }
    Box::new(RangeQuery::new(lower, upper))
}

fn keyword_field(keyword: Keyword, fields: &Fields) -> Option<Field> {
    Some(match keyword {
        Keyword::Id => fields.id,
        Keyword::Level => fields.level,
        Keyword::Stream => fields.stream,
        Keyword::Namespace => fields.namespace,
        Keyword::Pod => fields.pod,
        Keyword::PodUid => fields.pod_uid,
        Keyword::Container => fields.container,
        Keyword::Node => fields.node,
        Keyword::Workload => return fields.workload,
        Keyword::WorkloadKind => return fields.workload_kind,
        Keyword::SourceKind => fields.source_kind,
        Keyword::SourceName => fields.source_name,
        Keyword::SourcePath => fields.source_path,
        Keyword::SourceVia => return fields.source_via,
        Keyword::Flags => fields.flags,
    })
}

fn text_query(field: Field, op: &Op) -> Result<Box<dyn TantivyQuery>, QueryError> {
    Ok(match op {
        Op::Match(text) => words_query(words(text), |word| Term::from_field_text(field, word)),
        Op::Prefix(prefix) => regex(&format!("{}.*", regex::escape(prefix)), field)?,
        Op::Regex(pattern) => regex(pattern, field)?,
        Op::Exists => Box::new(AllQuery),
        Op::Range { .. } => Box::new(EmptyQuery),
    })
}

/// A term for one word, a phrase (keeping the words' relative positions) for several,
/// nothing for none.
fn words_query(words: Vec<(u32, String)>, term: impl Fn(&str) -> Term) -> Box<dyn TantivyQuery> {
    match words.len() {
        0 => Box::new(EmptyQuery),
        1 => Box::new(TermQuery::new(term(&words[0].1), IndexRecordOption::Basic)),
        _ => {
            let base = words[0].0;
            Box::new(PhraseQuery::new_with_offset(
                words
                    .iter()
                    .map(|(position, word)| ((position - base) as usize, term(word)))
                    .collect(),
            ))
        }
    }
}

fn regex(pattern: &str, field: Field) -> Result<Box<dyn TantivyQuery>, QueryError> {
    regex_query(pattern, field).map(|query| Box::new(query) as Box<dyn TantivyQuery>)
}

/// `pattern` compiled by the index's own automaton, which refuses some patterns the regex
/// crate takes (anchors, look-around).
fn regex_query(pattern: &str, field: Field) -> Result<RegexQuery, QueryError> {
    index_regex(pattern).map(|regex| RegexQuery::from_regex(regex, field))
}

fn keyword_query(
    field: Field,
    keyword: Keyword,
    op: &Op,
) -> Result<Box<dyn TantivyQuery>, QueryError> {
    Ok(match op {
        Op::Match(value) => Box::new(TermQuery::new(
            Term::from_field_text(field, value),
            IndexRecordOption::Basic,
        )),
        Op::Prefix(prefix) => regex(&format!("{}.*", regex::escape(prefix)), field)?,
        Op::Regex(pattern) => regex(pattern, field)?,
        Op::Exists => Box::new(ExistsQuery::new(keyword.name().to_string(), false)),
        Op::Range { .. } => Box::new(EmptyQuery),
    })
}

/// The term prefix of attribute `path`: the JSON path bytes and the end-of-path marker.
fn json_term(field: Field, path: &str) -> Term {
    Term::from_field_json_path(field, path, true)
}

/// A regex over a JSON field's terms that only matches string values under `term`, a
/// JSON path's term prefix.
fn json_string_regex(term: &Term, value_pattern: &str) -> String {
    let mut pattern = String::new();
    for byte in term.serialized_value_bytes() {
        let c = char::from(*byte);
        if byte.is_ascii_alphanumeric() {
            pattern.push(c);
        } else if *byte < 0x80 {
            pattern.push_str(&format!("\\x{byte:02x}"));
        } else {
            // Non-ASCII path bytes: match the UTF-8 text literally.
            pattern.push_str(&regex::escape(&String::from_utf8_lossy(&[*byte])));
        }
    }
    pattern.push('s');
    pattern.push_str(&format!("(?:{value_pattern})"));
    pattern
}

fn attribute_query(field: Field, path: &str, op: &Op) -> Result<Box<dyn TantivyQuery>, QueryError> {
    Ok(match op {
        Op::Match(text) => {
            let mut alternatives = vec![words_query(words(text), |word| {
                let mut term = json_term(field, path);
                term.append_type_and_str(word);
                term
            })];
            if let Some(number) = parse_number(text) {
                let mut term = json_term(field, path);
                append_number(&mut term, number);
                alternatives.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
            }
            if let Ok(boolean) = text.parse::<bool>() {
                let mut term = json_term(field, path);
                term.append_type_and_fast_value(boolean);
                alternatives.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
            }
            any(alternatives)
        }
        Op::Prefix(prefix) => {
            if path.bytes().any(|b| b >= 0x80) {
                return Err(QueryError::new(
                    "wildcards on attribute paths with non-ASCII names are not supported",
                ));
            }
            regex(
                &json_string_regex(
                    &json_term(field, path),
                    &format!("{}.*", regex::escape(prefix)),
                ),
                field,
            )?
        }
        Op::Regex(pattern) => {
            if path.bytes().any(|b| b >= 0x80) {
                return Err(QueryError::new(
                    "regular expressions on attribute paths with non-ASCII names are not supported",
                ));
            }
            regex(&json_string_regex(&json_term(field, path), pattern), field)?
        }
        Op::Exists => Box::new(ExistsQuery::new(format!("{}.{path}", ATTRIBUTES), true)),
        Op::Range { lower, upper } => {
            let term = |scalar: &Scalar| {
                let mut term = json_term(field, path);
                if let Scalar::Number(number) = scalar {
                    append_number(&mut term, *number);
                }
                term
            };
            range(lower.as_ref().map(term), upper.as_ref().map(term))
        }
    })
}

fn append_number(term: &mut Term, number: Number) {
    match number.normalize() {
        Number::I64(value) => term.append_type_and_fast_value(value),
        Number::U64(value) => term.append_type_and_fast_value(value),
        Number::F64(value) => term.append_type_and_fast_value(value),
    }
}

#[cfg(test)]
mod tests;
