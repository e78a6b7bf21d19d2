//! The redactor: the rules applied in turn to the text of an event, and the values of
//! attributes whose key names a secret masked whole. Events whose attributes are still
//! the application's JSON text are redacted in `raw`.

use std::borrow::Cow;

use anyhow::{Context, bail};
use logpipe_common::event::LogEvent;
use regex::RegexSet;
use serde_json::Value;

use super::builtin::DEFAULT_RULES;
use super::key_lines::KeyLines;
use super::key_name;
use super::mask::MASK;
use super::rule::{self, RedactRule};

/// Masking can reveal a new match (the digits a card number keeps, with the numbers
/// after it); the rules are applied again until nothing changes, at most this often.
const MAX_ROUNDS: usize = 8;

/// Applies redaction rules to events.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<RedactRule>,
    /// Finds in one pass which rules match a text, so that a text without secrets (most
    /// of them) is scanned once, not once per rule.
    prefilter: Option<RegexSet>,
    /// The values of attributes whose key names a secret (see `key_name`) are masked
    /// whole.
    secret_keys: bool,
}

impl Redactor {
    /// Applies `rules` in order, each to the result of the ones before.
    pub(crate) fn new(rules: Vec<RedactRule>) -> Self {
        // A set too large to compile only loses the shortcut.
        let prefilter = RegexSet::new(rules.iter().map(|rule| rule.pattern.as_str())).ok();
        Redactor {
            rules,
            prefilter,
            secret_keys: false,
        }
    }

    /// The default rules, and the string and number values of attributes whose key names
    /// a secret (`password`, `clientSecret`, `x-api-key`, ...) masked whole, at any
    /// depth: a structured `{"password": "hunter2"}` has no `password=` to match.
    pub fn with_defaults() -> Self {
        // The set first: compiling it takes the most memory for a moment, which compiling
        // the rules then reuses. In the other order the collector of the throughput bench
        // stayed 12 MiB larger (mimalloc keeps what the set's compilation freed).
        let prefilter = RegexSet::new(DEFAULT_RULES.iter().map(|&(_, pattern, _)| pattern)).ok();
        Redactor {
            rules: RedactRule::defaults(),
            prefilter,
            secret_keys: true,
        }
    }

    /// Adds `extra` rules after the existing ones.
    pub(crate) fn with_rules(self, extra: Vec<RedactRule>) -> Self {
        if extra.is_empty() {
            return self;
        }
        let mut rules = self.rules;
        rules.extend(extra);
        let mut redactor = Redactor::new(rules);
        redactor.secret_keys = self.secret_keys;
        redactor
    }

    pub fn rules(&self) -> &[RedactRule] {
        &self.rules
    }

    /// Reads a rules file: one rule per line, `name` then whitespace then a regular
    /// expression (the rest of the line); blank lines and lines starting with `#` are
    /// skipped. Errors name the line.
    pub(crate) fn parse_rules(text: &str) -> anyhow::Result<Vec<RedactRule>> {
        let mut rules: Vec<(usize, RedactRule)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rule =
                rule::parse_rule(line).with_context(|| format!("redaction rules line {number}"))?;
            if let Some((first, _)) = rules.iter().find(|(_, other)| other.name == rule.name) {
                bail!(
                    "redaction rules line {number}: rule {:?} is already defined on line {first}",
                    rule.name
                );
            }
            rules.push((number, rule));
        }
        Ok(rules.into_iter().map(|(_, rule)| rule).collect())
    }

    /// Masks secrets in `text`; returns the number of values masked.
    pub(crate) fn redact_text(&self, text: &mut String) -> usize {
        let (redacted, count) = self.redact_str(text);
        if let Cow::Owned(redacted) = redacted {
            *text = redacted;
        }
        count
    }

    /// Masks secrets in the message and in every string of the attributes, at any depth;
    /// returns the number of values masked.
    pub(crate) fn redact_event(&self, event: &mut LogEvent) -> usize {
        let mut count = self.redact_text(&mut event.message);
        for (key, value) in event.attributes.iter_mut() {
            count += self.redact_value(key, value);
        }
        count
    }

    /// `redact_wire` for the next record of a file, first masking the body of a private
    /// key the file logs a line per record (`key_lines`, the file's state).
    pub(crate) fn redact_record(
        &self,
        wire: &mut logpipe_common::event::WireEvent<'_>,
        key_lines: &mut KeyLines,
    ) -> usize {
        self.mask_key_lines(&mut wire.event.message, key_lines) + self.redact_wire(wire)
    }

    /// Masks `message` when it continues a private key block that records before it
    /// opened (see `KeyLines`), with the built-in rules; returns how many values were.
    pub(crate) fn mask_key_lines(&self, message: &mut String, key_lines: &mut KeyLines) -> usize {
        // The built-in rules are on exactly when secret-named keys are masked.
        if self.secret_keys {
            key_lines.mask(message)
        } else {
            0
        }
    }

    pub(super) fn is_secret_key(&self, key: &str) -> bool {
        self.secret_keys && key_name::names_a_secret(key)
    }

    pub(super) fn redact_value(&self, key: &str, value: &mut Value) -> usize {
        if self.is_secret_key(key) {
            let already_masked = match value {
                Value::String(text) => Some(text.is_empty() || text == MASK),
                Value::Number(_) => Some(false),
                _ => None,
            };
            if let Some(already_masked) = already_masked {
                return mask_value(value, already_masked);
            }
        }
        match value {
            Value::String(text) => self.redact_text(text),
            Value::Array(items) => items
                .iter_mut()
                .map(|item| self.redact_value(key, item))
                .sum(),
            Value::Object(object) => object
                .iter_mut()
                .map(|(key, item)| self.redact_value(key, item))
                .sum(),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
    }

    pub(super) fn redact_str<'t>(&self, text: &'t str) -> (Cow<'t, str>, usize) {
        let mut current = Cow::Borrowed(text);
        let mut count = 0;
        for _ in 0..MAX_ROUNDS {
            // Most texts hold no secret: one scan that stops at the first hit tells.
            if self
                .prefilter
                .as_ref()
                .is_some_and(|set| !set.is_match(&current))
            {
                break;
            }
            let matching: Vec<usize> = match &self.prefilter {
                Some(set) => set.matches(&current).into_iter().collect(),
                None => (0..self.rules.len()).collect(),
            };
            let mut round = 0;
            for index in matching {
                let (next, masked) = self.rules[index].apply(&current);
                if masked > 0 {
                    let next = next.into_owned();
                    current = Cow::Owned(next);
                    round += masked;
                }
            }
            if round == 0 {
                break;
            }
            count += round;
        }
        (current, count)
    }
}

fn mask_value(value: &mut Value, already_masked: bool) -> usize {
    if already_masked {
        return 0;
    }
    *value = Value::String(MASK.to_owned());
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::{defaults, origin, secretish};
    use logpipe_common::event::{EventId, Level, Timestamp};
    use proptest::prelude::*;
    use serde_json::json;

    fn event(message: &str, attributes: Value) -> LogEvent {
        LogEvent {
            v: 1,
            id: EventId::from_u128(1),
            ts: Timestamp::from_unix_nanos(1),
            observed_ts: Timestamp::from_unix_nanos(1),
            level: Level::Info,
            message: message.to_owned(),
            stream: None,
            k8s: origin().0,
            source: origin().1,
            attributes: attributes.as_object().unwrap().clone(),
            flags: Vec::new(),
        }
    }

    #[test]
    fn events_are_redacted_in_message_and_nested_attributes() {
        let mut event = event(
            "login password=hunter2",
            json!({
                "http": {
                    "headers": {"authorization": "Bearer abc.def"},
                    "query": ["a=1", "api_key=k1"],
                },
                "password": "hunter2",
                "db": {"dsn": "postgres://app@db", "DB_PASSWORD": 1234, "token": null},
                "order_id": "4111111111111112",
                "count": 3,
                "ok": true,
            }),
        );
        let count = Redactor::with_defaults().redact_event(&mut event);
        assert_eq!(event.message, "login password=***");
        assert_eq!(
            Value::Object(event.attributes.clone()),
            json!({
                "http": {
                    "headers": {"authorization": "***"},
                    "query": ["a=1", "api_key=***"],
                },
                "password": "***",
                "db": {"dsn": "postgres://app@db", "DB_PASSWORD": "***", "token": null},
                "order_id": "4111111111111112",
                "count": 3,
                "ok": true,
            })
        );
        assert_eq!(count, 5);
        assert_eq!(Redactor::with_defaults().redact_event(&mut event), 0);
    }

    #[test]
    fn rules_file() {
        let text = "\
# internal session ids
session_id   sid=(?P<secret>[0-9a-f]{8})

ssn\t\\b\\d{3}-\\d{2}-\\d{4}\\b
";
        let rules = Redactor::parse_rules(text).unwrap();
        let names: Vec<&str> = rules.iter().map(|rule| rule.name.as_str()).collect();
        assert_eq!(names, ["session_id", "ssn"]);
        let redactor = Redactor::new(rules);
        let mut text = "sid=deadbeef ssn 123-45-6789 password=x".to_owned();
        assert_eq!(redactor.redact_text(&mut text), 2);
        assert_eq!(text, "sid=*** ssn *** password=x");
    }

    #[test]
    fn rules_file_errors_name_the_line() {
        let cases = [
            ("ok a+\nbroken (unclosed", "redaction rules line 2"),
            ("only_a_name", "redaction rules line 1"),
            ("\n\nbad/name x", "redaction rules line 3"),
            ("empty a*", "redaction rules line 1"),
            ("a x\n#c\na y", "redaction rules line 3"),
        ];
        for (text, expected) in cases {
            let error = Redactor::parse_rules(text).unwrap_err();
            let message = format!("{error:#}");
            assert!(message.starts_with(expected), "{text:?}: {message}");
        }
        let error = Redactor::parse_rules("a x\na y").unwrap_err();
        assert!(format!("{error:#}").contains("already defined on line 1"));
        let error = Redactor::parse_rules("r (").unwrap_err();
        assert!(
            format!("{error:#}").contains("invalid regular expression"),
            "{error:#}"
        );
    }

    #[test]
    fn text_without_secrets_is_not_copied() {
        let redactor = Redactor::with_defaults();
        let (text, count) = redactor.redact_str("GET /healthz 200 in 3ms");
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!(count, 0);
    }

    proptest! {
        #[test]
        fn redacting_is_idempotent(text in secretish()) {
            let redactor = defaults();
            let mut once = text.clone();
            redactor.redact_text(&mut once);
            let mut twice = once.clone();
            let again = redactor.redact_text(&mut twice);
            prop_assert_eq!(&twice, &once);
            prop_assert_eq!(again, 0);
        }

        #[test]
        fn redacting_never_panics(text in any::<String>()) {
            let mut text = text;
            defaults().redact_text(&mut text);
        }
    }
}
