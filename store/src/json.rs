//! A JSON value read into one flat buffer that tantivy indexes directly: strings are
//! borrowed from the source text unless they had escapes, and there is no tree of owned
//! strings and maps to build and drop. Read as an event's `attributes`, it is parsed in
//! the same pass as the rest of the event.
//!
//! Values are read exactly as tantivy's `OwnedValue` reads them with serde_json
//! (non-negative integers as `U64`, negative ones as `I64`, the rest as `F64`; object
//! members in order, repeated keys kept), and serde_json's nesting limit applies.

use std::fmt;

use logpipe_common::event::AttributesObject;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf, Value};

/// The nodes of one value in pre-order: a container is followed by its descendants, an
/// object's members each by a key node and then the member's value.
#[derive(Debug, Clone, Default)]
pub struct JsonTree<'a> {
    nodes: Vec<Node<'a>>,
    /// The strings that had escapes, unescaped.
    unescaped: String,
}

#[derive(Debug, Clone, Copy)]
enum Node<'a> {
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(f64),
    Str(Text<'a>),
    Key(Text<'a>),
    /// `end` is the index after its last descendant.
    Array {
        end: u32,
    },
    Object {
        end: u32,
    },
}

/// A string of the source text, or one in `unescaped`.
#[derive(Debug, Clone, Copy)]
enum Text<'a> {
    Borrowed(&'a str),
    Unescaped { start: u32, len: u32 },
}

impl<'a> JsonTree<'a> {
    /// Reads `text`, one JSON value.
    pub fn parse(text: &'a str) -> Result<JsonTree<'a>, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn root(&self) -> JsonRef<'_> {
        JsonRef { tree: self, at: 0 }
    }

    fn push(&mut self, node: Node<'a>) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn end<E: de::Error>(&self) -> Result<u32, E> {
        u32::try_from(self.nodes.len()).map_err(|_| E::custom("JSON value too large"))
    }

    fn unescaped<E: de::Error>(&mut self, text: &str) -> Result<Text<'a>, E> {
        let too_large = || E::custom("JSON value too large");
        let start = u32::try_from(self.unescaped.len()).map_err(|_| too_large())?;
        let len = u32::try_from(text.len()).map_err(|_| too_large())?;
        self.unescaped.push_str(text);
        Ok(Text::Unescaped { start, len })
    }
}

impl AttributesObject for JsonTree<'_> {
    fn is_object(&self) -> bool {
        matches!(self.nodes.first(), Some(Node::Object { .. }))
    }
}

impl<'de> Deserialize<'de> for JsonTree<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut tree = JsonTree {
            nodes: Vec::with_capacity(32),
            unescaped: String::new(),
        };
        Build { tree: &mut tree }.deserialize(deserializer)?;
        Ok(tree)
    }
}

/// One value of a tree, as tantivy reads documents.
#[derive(Clone, Copy)]
pub struct JsonRef<'t> {
    tree: &'t JsonTree<'t>,
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

impl<'t> JsonRef<'t> {
    /// True for an object without members.
    pub fn is_empty_object(&self) -> bool {
        matches!(self.tree.nodes[self.at], Node::Object { end } if end as usize == self.at + 1)
    }

    /// Every string value under this one (not keys), in document order.
    pub fn strings(&self) -> impl Iterator<Item = &'t str> + 't {
        let tree = self.tree;
        tree.nodes[self.at..self.next()]
            .iter()
            .filter_map(move |node| match node {
                Node::Str(text) => Some(tree.resolve(*text)),
                _ => None,
            })
    }

    /// The index after this value and its descendants.
    fn next(&self) -> usize {
        match self.tree.nodes[self.at] {
            Node::Array { end } | Node::Object { end } => end as usize,
            _ => self.at + 1,
        }
    }

    fn at(&self, at: usize) -> JsonRef<'t> {
        JsonRef { at, ..*self }
    }
}

impl<'a> JsonTree<'a> {
    fn resolve<'t>(&'t self, text: Text<'a>) -> &'t str {
        match text {
            Text::Borrowed(text) => text,
            Text::Unescaped { start, len } => {
                let start = start as usize;
                self.unescaped
                    .get(start..start + len as usize)
                    .unwrap_or("")
            }
        }
    }
}

impl<'t> Value<'t> for JsonRef<'t> {
    type ArrayIter = Elements<'t>;
    type ObjectIter = Members<'t>;

    fn as_value(&self) -> ReferenceValue<'t, Self> {
        let leaf = match self.tree.nodes[self.at] {
            Node::Null | Node::Key(_) => ReferenceValueLeaf::Null,
            Node::Bool(b) => ReferenceValueLeaf::Bool(b),
            Node::U64(n) => ReferenceValueLeaf::U64(n),
            Node::I64(n) => ReferenceValueLeaf::I64(n),
            Node::F64(n) => ReferenceValueLeaf::F64(n),
            Node::Str(text) => ReferenceValueLeaf::Str(self.tree.resolve(text)),
            Node::Array { end } => {
                return ReferenceValue::Array(Elements {
                    next: self.at(self.at + 1),
                    end: end as usize,
                });
            }
            Node::Object { end } => {
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
pub struct Elements<'t> {
    next: JsonRef<'t>,
    end: usize,
}

impl<'t> Iterator for Elements<'t> {
    type Item = JsonRef<'t>;

    fn next(&mut self) -> Option<JsonRef<'t>> {
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
pub struct Members<'t> {
    next: JsonRef<'t>,
    end: usize,
}

impl<'t> Iterator for Members<'t> {
    type Item = (&'t str, JsonRef<'t>);

    fn next(&mut self) -> Option<(&'t str, JsonRef<'t>)> {
        if self.next.at >= self.end {
            return None;
        }
        let tree = self.next.tree;
        let key = match tree.nodes[self.next.at] {
            Node::Key(text) => tree.resolve(text),
            _ => "",
        };
        let value = self.next.at(self.next.at + 1);
        self.next = value.at(value.next());
        Some((key, value))
    }
}

/// Appends one value to the tree as serde_json reads it.
struct Build<'t, 'de> {
    tree: &'t mut JsonTree<'de>,
}

impl<'de> Build<'_, 'de> {
    fn again(&mut self) -> Build<'_, 'de> {
        Build {
            tree: &mut *self.tree,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Build<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_, 'de> {
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

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<(), E> {
        self.tree.push(Node::Str(Text::Borrowed(text)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        let text = self.tree.unescaped(text)?;
        self.tree.push(Node::Str(text));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let at = self.tree.push(Node::Array { end: 0 });
        while seq.next_element_seed(self.again())?.is_some() {}
        let end = self.tree.end()?;
        self.tree.nodes[at] = Node::Array { end };
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let at = self.tree.push(Node::Object { end: 0 });
        while map.next_key_seed(Key(self.again()))?.is_some() {
            map.next_value_seed(self.again())?;
        }
        let end = self.tree.end()?;
        self.tree.nodes[at] = Node::Object { end };
        Ok(())
    }
}

/// Appends an object member's key.
struct Key<'t, 'de>(Build<'t, 'de>);

impl<'de> DeserializeSeed<'de> for Key<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, 'de> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<(), E> {
        self.0.tree.push(Node::Key(Text::Borrowed(text)));
        Ok(())
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        let text = self.0.tree.unescaped(text)?;
        self.0.tree.push(Node::Key(text));
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
    fn same_as_owned_value(text: &str) {
        let expected = serde_json::from_str::<OwnedValue>(text);
        match JsonTree::parse(text) {
            Ok(tree) => {
                let value = tree.root();
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
            same_as_owned_value(text);
        }
    }

    #[test]
    fn nesting_deeper_than_serde_json_allows_is_refused() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(JsonTree::parse(&deep).is_err());
        assert!(serde_json::from_str::<OwnedValue>(&deep).is_err());
        let fine = format!("{}{}", "[".repeat(100), "]".repeat(100));
        same_as_owned_value(&fine);
    }

    #[test]
    fn reads_the_shared_audit_events_and_status_documents() {
        let data = shared_data();
        let mut read = 0;
        let nginx =
            std::fs::read_to_string(data.join("elastic-examples/nginxplus_json_logs.jsonl"))
                .unwrap();
        for line in nginx.lines().take(100) {
            same_as_owned_value(line);
            read += 1;
        }
        for entry in std::fs::read_dir(data.join("falco-k8s-audit")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                same_as_owned_value(line);
                read += 1;
            }
        }
        assert!(read > 140, "{read}");
    }

    #[test]
    fn events_read_with_the_tree_accept_and_refuse_what_raw_attributes_do() {
        let good = serde_json::to_value(logpipe_common::testkit::sample_event(
            1,
            logpipe_common::event::Timestamp::now(),
        ))
        .unwrap();
        let deep = serde_json::from_str::<serde_json::Value>(&format!(
            "{}{}",
            "[".repeat(120),
            "]".repeat(120)
        ))
        .unwrap();
        for attributes in [
            serde_json::json!({"a": {"b": [1, "x", null]}}),
            serde_json::json!({}),
            serde_json::json!([1, 2]),
            serde_json::json!("text"),
            serde_json::Value::Null,
            serde_json::json!({ "deep": deep }),
        ] {
            let mut event = good.clone();
            event["attributes"] = attributes;
            let text = event.to_string();
            let raw = logpipe_common::event::LogEventRef::from_bytes(text.as_bytes());
            let tree = crate::document::Event::parse(text.as_bytes());
            assert_eq!(raw.is_ok(), tree.is_ok(), "{text}");
            if let (Ok(raw), Ok(tree)) = (raw, tree) {
                let expected = raw
                    .attributes
                    .map(|raw| serde_json::from_str::<OwnedValue>(raw.get()).unwrap());
                let found = tree
                    .attributes
                    .as_ref()
                    .map(|t| OwnedValue::from(t.root().as_value()));
                assert_eq!(found, expected);
            }
        }
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
            same_as_owned_value(&text);
        }

        #[test]
        fn any_text_is_read_or_refused_as_owned_value_does(text in ".{0,64}") {
            same_as_owned_value(&text);
        }
    }
}
