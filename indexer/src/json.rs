//! A JSON value read into one flat buffer that tantivy indexes directly: strings point
//! into the source text unless they had escapes, and the buffer is reused from event to
//! event, so reading an event's attributes allocates nothing once it has warmed up.
//!
//! Values are read exactly as tantivy's `OwnedValue` reads them with serde_json
//! (non-negative integers as `U64`, negative ones as `I64`, the rest as `F64`; object
//! members in order, repeated keys kept), and serde_json's nesting limit applies.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf, Value};

/// The nodes of one value in pre-order: a container is followed by its descendants, an
/// object's members each by a `Key` node and then the member's value.
#[derive(Debug, Default)]
pub struct JsonTree {
    nodes: Vec<Node>,
    /// The strings that had escapes, unescaped.
    unescaped: String,
}

#[derive(Debug, Clone, Copy)]
enum Node {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Span),
    Key(Span),
    /// `end` is the index after its last descendant.
    Array {
        end: u32,
    },
    Object {
        len: u32,
        end: u32,
    },
}

/// A string in the source text, or in `unescaped` when `unescaped` is set.
#[derive(Debug, Clone, Copy)]
struct Span {
    unescaped: bool,
    start: u32,
    len: u32,
}

impl JsonTree {
    pub fn new() -> Self {
        JsonTree::default()
    }

    /// Reads `text` (one JSON value) into the tree, replacing what it held.
    pub fn parse<'a>(&'a mut self, text: &'a str) -> Result<JsonRef<'a>, serde_json::Error> {
        self.nodes.clear();
        self.unescaped.clear();
        if u32::try_from(text.len()).is_err() {
            return Err(de::Error::custom("JSON text longer than 4 GiB"));
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        Build {
            tree: self,
            base: text.as_ptr() as usize,
            len: text.len(),
        }
        .deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(JsonRef {
            tree: self,
            text,
            at: 0,
        })
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn end(&self) -> u32 {
        // `parse` refuses texts whose node count could exceed u32: every node takes at
        // least one byte of text.
        self.nodes.len() as u32
    }

    fn unescaped(&mut self, text: &str) -> Span {
        let start = self.unescaped.len() as u32;
        self.unescaped.push_str(text);
        Span {
            unescaped: true,
            start,
            len: text.len() as u32,
        }
    }
}

/// One value of a parsed tree, as tantivy reads documents.
#[derive(Clone, Copy)]
pub struct JsonRef<'a> {
    tree: &'a JsonTree,
    text: &'a str,
    at: usize,
}

impl fmt::Debug for JsonRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}",
            tantivy::schema::OwnedValue::from(self.as_value())
        )
    }
}

impl<'a> JsonRef<'a> {
    /// True for an object without members.
    pub fn is_empty_object(&self) -> bool {
        matches!(self.tree.nodes[self.at], Node::Object { len: 0, .. })
    }

    /// Every string value under this one (not keys), in document order.
    pub fn strings(&self) -> impl Iterator<Item = &'a str> + 'a {
        let (tree, text) = (self.tree, self.text);
        tree.nodes[self.at..self.next()]
            .iter()
            .filter_map(move |node| match node {
                Node::Str(span) => Some(resolve(tree, text, *span)),
                _ => None,
            })
    }

    /// The index after this value and its descendants.
    fn next(&self) -> usize {
        match self.tree.nodes[self.at] {
            Node::Array { end } | Node::Object { end, .. } => end as usize,
            _ => self.at + 1,
        }
    }

    fn at(&self, at: usize) -> JsonRef<'a> {
        JsonRef { at, ..*self }
    }
}

fn resolve<'a>(tree: &'a JsonTree, text: &'a str, span: Span) -> &'a str {
    let source = if span.unescaped {
        tree.unescaped.as_str()
    } else {
        text
    };
    let start = span.start as usize;
    source.get(start..start + span.len as usize).unwrap_or("")
}

impl<'a> Value<'a> for JsonRef<'a> {
    type ArrayIter = Elements<'a>;
    type ObjectIter = Members<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        let leaf = match self.tree.nodes[self.at] {
            Node::Null | Node::Key(_) => ReferenceValueLeaf::Null,
            Node::Bool(b) => ReferenceValueLeaf::Bool(b),
            Node::U64(n) => ReferenceValueLeaf::U64(n),
            Node::I64(n) => ReferenceValueLeaf::I64(n),
            Node::F64(n) => ReferenceValueLeaf::F64(n),
            Node::Str(span) => ReferenceValueLeaf::Str(resolve(self.tree, self.text, span)),
            Node::Array { end } => {
                return ReferenceValue::Array(Elements {
                    next: self.at(self.at + 1),
                    end: end as usize,
                });
            }
            Node::Object { end, .. } => {
                return ReferenceValue::Object(Members {
                    next: self.at(self.at + 1),
                    end: end as usize,
                });
            }
        };
        ReferenceValue::Leaf(leaf)
    }
}

/// The elements of an array.
#[derive(Debug)]
pub struct Elements<'a> {
    next: JsonRef<'a>,
    end: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = JsonRef<'a>;

    fn next(&mut self) -> Option<JsonRef<'a>> {
        if self.next.at >= self.end {
            return None;
        }
        let element = self.next;
        self.next = element.at(element.next());
        Some(element)
    }
}

/// The members of an object.
#[derive(Debug)]
pub struct Members<'a> {
    next: JsonRef<'a>,
    end: usize,
}

impl<'a> Iterator for Members<'a> {
    type Item = (&'a str, JsonRef<'a>);

    fn next(&mut self) -> Option<(&'a str, JsonRef<'a>)> {
        if self.next.at >= self.end {
            return None;
        }
        let key = match self.next.tree.nodes[self.next.at] {
            Node::Key(span) => resolve(self.next.tree, self.next.text, span),
            _ => "",
        };
        let value = self.next.at(self.next.at + 1);
        self.next = value.at(value.next());
        Some((key, value))
    }
}

/// Appends one value to the tree as serde_json reads it.
struct Build<'t> {
    tree: &'t mut JsonTree,
    /// Where the source text starts in memory and its length: a borrowed string is kept
    /// as its position in the text.
    base: usize,
    len: usize,
}

impl Build<'_> {
    fn span(&mut self, text: &str) -> Span {
        let at = (text.as_ptr() as usize).wrapping_sub(self.base);
        if at <= self.len && text.len() <= self.len - at {
            Span {
                unescaped: false,
                start: at as u32,
                len: text.len() as u32,
            }
        } else {
            self.tree.unescaped(text)
        }
    }

    fn again(&mut self) -> Build<'_> {
        Build {
            tree: &mut *self.tree,
            base: self.base,
            len: self.len,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.tree.push(Node::Null);
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.tree.push(Node::Bool(b));
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.tree.push(Node::U64(n));
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.tree.push(Node::I64(n));
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<(), E> {
        self.tree.push(Node::F64(n));
        Ok(())
    }

    fn visit_borrowed_str<E: de::Error>(mut self, text: &'de str) -> Result<(), E> {
        let span = self.span(text);
        self.tree.push(Node::Str(span));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        let span = self.tree.unescaped(text);
        self.tree.push(Node::Str(span));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let at = self.tree.push(Node::Array { end: 0 });
        while seq.next_element_seed(self.again())?.is_some() {}
        let end = self.tree.end();
        self.tree.nodes[at] = Node::Array { end };
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let at = self.tree.push(Node::Object { len: 0, end: 0 });
        let mut len = 0;
        while map.next_key_seed(Key(self.again()))?.is_some() {
            map.next_value_seed(self.again())?;
            len += 1;
        }
        let end = self.tree.end();
        self.tree.nodes[at] = Node::Object { len, end };
        Ok(())
    }
}

/// Appends an object member's key.
struct Key<'t>(Build<'t>);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(mut self, text: &'de str) -> Result<(), E> {
        let span = self.0.span(text);
        self.0.tree.push(Node::Key(span));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        let span = self.0.tree.unescaped(text);
        self.0.tree.push(Node::Key(span));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logpipe_common::testkit::shared_data;
    use proptest::prelude::*;
    use tantivy::schema::OwnedValue;

    /// The tree reads `text` as tantivy's own `OwnedValue` does.
    fn same_as_owned_value(tree: &mut JsonTree, text: &str) {
        let expected = serde_json::from_str::<OwnedValue>(text);
        match tree.parse(text) {
            Ok(value) => {
                let expected = expected.unwrap_or_else(|e| panic!("{e}: {text}"));
                assert_eq!(OwnedValue::from(value.as_value()), expected, "{text}");
                let mut strings = Vec::new();
                collect_strings(&expected, &mut strings);
                assert_eq!(value.strings().collect::<Vec<_>>(), strings, "{text}");
            }
            Err(error) => assert!(expected.is_err(), "{error}: {text}"),
        }
    }

    fn collect_strings<'v>(value: &'v OwnedValue, out: &mut Vec<&'v str>) {
        match value {
            OwnedValue::Str(text) => out.push(text),
            OwnedValue::Array(values) => values.iter().for_each(|v| collect_strings(v, out)),
            OwnedValue::Object(pairs) => pairs.iter().for_each(|(_, v)| collect_strings(v, out)),
            _ => {}
        }
    }

    #[test]
    fn reads_values_as_owned_value_does() {
        let mut tree = JsonTree::new();
        for text in [
            "{}",
            "[]",
            "null",
            r#"{"a":{"b":[1,-2,3.5,1e300,18446744073709551615,-9223372036854775808]}}"#,
            r#"{"k":"v","k":"again","":"","e\"sc":"a\u00e9\n\"b","nested":[[],{},[{}]]}"#,
            r#" { "spaced" : [ true , false , null ] } "#,
            r#"{"emoji":"\ud83d\ude00 ok","after":{"x":[{"y":"z"}]},"last":0}"#,
            "\"just a string\"",
            "12345678901234567890123",
            "{\"unterminated\":",
            "{\"a\":1} trailing",
            "[1,2,]",
            "{\"a\" 1}",
        ] {
            same_as_owned_value(&mut tree, text);
        }
    }

    #[test]
    fn nesting_deeper_than_serde_json_allows_is_refused() {
        let mut tree = JsonTree::new();
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(tree.parse(&deep).is_err());
        assert!(serde_json::from_str::<OwnedValue>(&deep).is_err());
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        same_as_owned_value(&mut tree, &fine);
    }

    #[test]
    fn reads_the_shared_audit_events_and_status_documents() {
        let data = shared_data();
        let mut tree = JsonTree::new();
        let mut read = 0;
        let nginx =
            std::fs::read_to_string(data.join("elastic-examples/nginxplus_json_logs.jsonl"))
                .unwrap();
        for line in nginx.lines().take(100) {
            same_as_owned_value(&mut tree, line);
            read += 1;
        }
        for entry in std::fs::read_dir(data.join("falco-k8s-audit")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                same_as_owned_value(&mut tree, line);
                read += 1;
            }
        }
        assert!(read > 140, "{read}");
    }

    fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            any::<String>().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::from),
                proptest::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|pairs| serde_json::Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_reads_as_owned_value_does(value in json(), pretty in any::<bool>()) {
            let text = if pretty {
                serde_json::to_string_pretty(&value).unwrap()
            } else {
                value.to_string()
            };
            same_as_owned_value(&mut JsonTree::new(), &text);
        }

        #[test]
        fn any_text_is_read_or_refused_as_owned_value_does(text in ".{0,64}") {
            same_as_owned_value(&mut JsonTree::new(), &text);
        }
    }
}
