//! The normalized text of a query: parsing it gives the same query back.

use std::fmt;
use std::ops::Bound;

use crate::ast::{Leaf, Op, Query, Scalar};
use crate::fields::FieldRef;
use crate::number::Number;

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
            Scalar::Number(Number::I64(value)) => write!(f, "{value}"),
            Scalar::Number(Number::U64(value)) => write!(f, "{value}"),
            Scalar::Number(Number::F64(value)) => write!(f, "{value:?}"),
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
