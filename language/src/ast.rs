//! The parsed query: a tree of conjunctions, disjunctions and negations over conditions on
//! one field each.

use std::ops::Bound;

use logpipe_common::event::Timestamp;

use crate::fields::FieldRef;
use crate::number::Number;

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
    Number(Number),
    Time(Timestamp),
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

    /// Every event matching both.
    pub fn and(self, other: Query) -> Query {
        Query::And(vec![self, other]).simplify()
    }

    /// Flattens nested `And`/`Or`, drops `All` from conjunctions.
    pub(crate) fn simplify(self) -> Query {
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
