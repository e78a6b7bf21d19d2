//! Redaction of events whose attributes are still the application's JSON text: whether
//! redacting an attribute would change it is told from its text or from one walk over it
//! without building it, so that only the attributes holding a secret are parsed and
//! rewritten.

use std::fmt;

use logpipe_common::event::{Member, Text, WireEvent};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::mask::MASK;
use super::redactor::Redactor;

impl Redactor {
    /// `redact_event` for an event whose attributes are still the application's text: a
    /// raw attribute is parsed and rewritten only when something in it is masked.
    pub(crate) fn redact_wire(&self, wire: &mut WireEvent<'_>) -> usize {
        let mut count = self.redact_text(&mut wire.event.message);
        for (key, member) in wire.members.iter_mut() {
            match member {
                Member::Parsed(value) => count += self.redact_value(key.as_str(), value),
                Member::Raw(raw) => {
                    if changes(self, key.as_str(), raw.get()) {
                        let mut value = member.to_value();
                        count += self.redact_value(key.as_str(), &mut value);
                        *member = Member::Parsed(value);
                    }
                }
            }
        }
        count
    }
}

/// Whether `redactor` would change the raw JSON value `json` of the attribute `key`.
fn changes(redactor: &Redactor, key: &str, json: &str) -> bool {
    if is_clean(redactor, key, json) {
        return false;
    }
    let mut reader = serde_json::Deserializer::from_str(json);
    let check = Check { redactor, key };
    // The text was checked when the record was read; if it did not parse, the parsed path
    // decides.
    check.deserialize(&mut reader).unwrap_or(true)
}

/// Whether redaction certainly leaves a raw attribute as it is, told from its text
/// alone: with no escape in it, every string (key or value) is the text between two
/// quotes, and none of them names a secret or holds one. Numbers are not looked at,
/// as the walk does not look at them.
fn is_clean(redactor: &Redactor, key: &str, json: &str) -> bool {
    if redactor.is_secret_key(key) {
        return false;
    }
    let bytes = json.as_bytes();
    let mut open = None;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'\\' => return false,
            b'"' => match open.take() {
                None => open = Some(at),
                Some(start) => {
                    let text = &json[start + 1..at];
                    let is_key =
                        bytes[at + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':');
                    let changes = if is_key {
                        redactor.is_secret_key(text)
                    } else {
                        redactor.redact_str(text).1 > 0
                    };
                    if changes {
                        return false;
                    }
                }
            },
            _ => {}
        }
    }
    true
}

/// Whether `redact_value` would change a raw value under `key`, found without building it.
struct Check<'r, 'k> {
    redactor: &'r Redactor,
    key: &'k str,
}

impl<'de> DeserializeSeed<'de> for Check<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_, '_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<bool, E> {
        Ok(if self.redactor.is_secret_key(self.key) {
            !(text.is_empty() || text == MASK)
        } else {
            self.redactor.redact_str(text).1 > 0
        })
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(self.redactor.is_secret_key(self.key))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(self.redactor.is_secret_key(self.key))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(self.redactor.is_secret_key(self.key))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(item) = seq.next_element_seed(Check { ..self })? {
            found |= item;
        }
        Ok(found)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<Text<'de>>()? {
            found |= map.next_value_seed(Check {
                redactor: self.redactor,
                key: key.as_str(),
            })?;
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use crate::redact::testing::{self, secretish};

    /// Redacts `payload` as a wire event and as a parsed event; both must give the same
    /// event and count.
    fn redact_both_ways(payload: &str) {
        let [parsed, written] = testing::redact_both_ways(payload);
        assert_eq!(written, parsed, "{payload}");
    }

    #[test]
    fn a_wire_event_is_redacted_as_the_parsed_event() {
        let payload = json!({
            "msg": "login password=hunter2",
            "http": {"headers": {"authorization": "Bearer abc.def"}, "query": ["a=1", "api_key=k1"]},
            "password": "hunter2",
            "tokens": ["t1", "", "***", 5, null, {"inner": "Bearer x.y"}],
            "db": {"dsn": "postgres://app@db", "DB_PASSWORD": 1234, "token": null},
            "order_id": "4111111111111111",
            "plain": "password=hunter2 and AKIAIOSFODNN7EXAMPLE",
            "clean": {"a": [1, 2, {"b": "nothing to see"}]},
        });
        redact_both_ways(&payload.to_string());
        redact_both_ways(
            &serde_json::to_string_pretty(&payload)
                .unwrap()
                .replace('\n', " "),
        );
        redact_both_ways(r#"{"msg":"x","escaped":"pass\u0077ord=hunter2","k\u0065y":"v"}"#);
    }

    proptest! {
        #[test]
        fn wire_and_parsed_redaction_agree(
            message in secretish(),
            values in proptest::collection::vec(secretish(), 0..4),
            keys in proptest::collection::vec("(password|token|api_key|clientSecret|Set-Cookie|session_id|token_count|user|[a-z]{1,5})", 0..4),
        ) {
            let mut object = serde_json::Map::new();
            object.insert("msg".into(), json!(message));
            for (n, value) in values.iter().enumerate() {
                let key = keys.get(n).cloned().unwrap_or_else(|| format!("k{n}"));
                object.insert(key, json!({"nested": [value, {"deep": value}], "n": n}));
                object.insert(format!("flat{n}"), json!(value));
            }
            redact_both_ways(&Value::Object(object).to_string());
        }
    }
}
