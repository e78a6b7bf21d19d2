//! logpipe's search language: Lucene-style syntax (tantivy's grammar) parsed into one AST
//! with three uses — a tantivy query (built by `logpipe-store`), an in-memory predicate
//! over one event (`Predicate`, which the alert engine evaluates rules with) and a
//! normalized string form (`Display`). No index files and no HTTP here.
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
//!
//! # Layout
//! - `ast`: the parsed query (`Query`, `Leaf`, `Op`, `Scalar`) and its simplification.
//! - `parse`: text → `Query` over tantivy's grammar, with the bounds on size, nesting and
//!   regular expressions.
//! - `fields`: the field names of the event contract and what a query may name.
//! - `analyzer`: how text becomes words; the index and the predicate both call it.
//! - `number`: numbers as the index compares them.
//! - `view`: `EventView`, one event's fields read lazily from its JSON or a `LogEvent`.
//! - `predicate`: `Predicate`, a query evaluated against one event in memory.
//! - `scope`: the namespaces a caller may see, as a query.
//! - `display`: the normalized text of a query.
//! - `error`: `QueryError`, with the position it refers to.

pub mod analyzer;
mod ast;
mod display;
mod error;
pub mod fields;
pub mod number;
mod parse;
mod predicate;
pub mod scope;
mod view;

pub use analyzer::{WordList, WordTokenizer, ascii_words, for_each_ascii_word, words};
pub use ast::{Leaf, Op, Query, Scalar};
pub use error::QueryError;
pub use fields::{FieldRef, Keyword, LabelMap, TimeField};
pub use number::{Number, parse_number};
pub use parse::{MAX_DEPTH, MAX_QUERY_BYTES, MAX_REGEX_BYTES, REGEX_SIZE_LIMIT, index_regex};
pub use predicate::Predicate;
pub use scope::Scope;
pub use view::{AttributePaths, EventView};

#[cfg(test)]
mod tests;
