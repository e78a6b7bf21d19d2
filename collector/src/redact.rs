//! Masking secrets (tokens, keys, passwords, payment card numbers) in events before they
//! leave the node: once in Kafka and the index, a leaked secret is copied everywhere.
//!
//! A mask keeps what says what the secret was and hides its value: `password=***`,
//! `Bearer ***`, `AKIA***`, and a card number keeps its last four digits and its
//! separators, `****-****-****-1234`. Redacting twice changes nothing more.

use std::borrow::Cow;
use std::fmt;

use anyhow::{Context, bail};
use logpipe_common::event::{LogEvent, Member, Text, WireEvent};
use regex::{Captures, Regex, RegexSet};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// What a secret value is replaced with.
pub const MASK: &str = "***";

/// Card numbers are written in groups of four (Amex: 4-6-5; 19 digits: 4-4-4-4-3).
const MIN_CARD_GROUP_DIGITS: usize = 3;

/// Masking can reveal a new match (the digits a card number keeps, with the numbers
/// after it); the rules are applied again until nothing changes, at most this often.
const MAX_ROUNDS: usize = 8;

/// Capture groups whose name starts with this are the secret part of a match.
const SECRET_GROUP_PREFIX: &str = "secret";

/// Keys whose values are secrets, as a key name ends: `password`, `DB_PASSWORD`,
/// `client_secret`, `x-api-key`, `aws_secret_access_key`; not `token_count` or
/// `max_tokens`. A macro, to be spliced into patterns with `concat!`.
macro_rules! secret_key_names {
    () => {
        r"(?:[a-z0-9_.-]*[_.-])?(?:password|passwd|secret|secret[_-]?(?:access[_-]?)?key|token|api[_-]?key|private[_-]?key)"
    };
}

const DEFAULT_RULES: [(&str, &str, Mask); 4] = [
    (
        "bearer_token",
        r"(?i)(?-u:\b)bearer\s+(?P<secret>[A-Za-z0-9\-._~+/]+=*)",
        Mask::Secret,
    ),
    (
        "aws_access_key_id",
        r"(?-u:\b)(?:AKIA|ASIA)(?P<secret>[A-Z0-9]{16})(?-u:\b)",
        Mask::Secret,
    ),
    // `key=value`, `key: value`, `"key":"value"`, `'value'`, and JSON escaped inside a
    // string (`\"key\":\"value\"`). A bare value ends at whitespace, a quote, `,;&`.
    (
        "secret_value",
        concat!(
            r"(?i)(?-u:\b)",
            secret_key_names!(),
            r#"\\?"?\s*[=:]\s*"#,
            r#"(?:"(?P<secret_quoted>(?:[^"\\]|\\.)*)""#,
            r#"|\\"(?P<secret_escaped>(?:[^"\\]|\\[^"])*)\\""#,
            r"|'(?P<secret_single>[^']*)'",
            r#"|["']?(?P<secret>[^\s"'\\,;&]+))"#,
        ),
        Mask::Secret,
    ),
    (
        "payment_card",
        // Runs of at least 13 ASCII digits, in groups separated by one space or dash; the
        // card numbers among their groups are found by `mask_cards`. Word boundaries
        // are ASCII ones, which keep the fast matching engines on any text.
        r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,}(?-u:\b)",
        Mask::PaymentCard,
    ),
];

/// How a rule masks what its pattern matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// The capture groups named `secret...` become `***`; the whole match does when the
    /// pattern has no such group.
    Secret,
    /// Payment card numbers: 13–19 digits, alone or in groups of at least three separated
    /// by a space or a dash, that pass the Luhn check and start with 2–6 (the card
    /// networks' first digits; epoch times in seconds, milliseconds and nanoseconds
    /// start with 1). Every digit but the last four becomes `*`; separators stay. The
    /// pattern matches digit runs, and the card numbers are looked for inside them.
    PaymentCard,
}

#[derive(Debug, Clone)]
pub struct RedactRule {
    /// Names the rule in the rules file and in errors.
    pub name: String,
    pub pattern: Regex,
    pub mask: Mask,
}

impl RedactRule {
    /// A rule masking the `secret...` groups of `pattern`, or its whole match.
    pub fn new(name: impl Into<String>, pattern: &str) -> Result<Self, regex::Error> {
        Ok(RedactRule {
            name: name.into(),
            pattern: Regex::new(pattern)?,
            mask: Mask::Secret,
        })
    }

    /// Bearer tokens, AWS access key ids, password/secret/token/api_key values, and
    /// payment card numbers.
    pub fn defaults() -> Vec<RedactRule> {
        DEFAULT_RULES
            .iter()
            .map(|&(name, pattern, mask)| RedactRule {
                name: name.to_owned(),
                pattern: Regex::new(pattern).expect("default redaction patterns compile"),
                mask,
            })
            .collect()
    }

    /// The text with this rule's matches masked, and how many were.
    fn apply<'t>(&self, text: &'t str) -> (Cow<'t, str>, usize) {
        let secret_groups: Vec<usize> = self
            .pattern
            .capture_names()
            .enumerate()
            .filter(|(_, name)| name.is_some_and(|name| name.starts_with(SECRET_GROUP_PREFIX)))
            .map(|(index, _)| index)
            .collect();
        let mut count = 0;
        let replaced = self.pattern.replace_all(text, |caps: &Captures<'_>| {
            let masked = match self.mask {
                Mask::Secret => mask_groups(caps, &secret_groups).map(|masked| (masked, 1)),
                Mask::PaymentCard => mask_cards(&caps[0]),
            };
            match masked {
                Some((masked, values)) => {
                    count += values;
                    masked
                }
                None => caps[0].to_owned(),
            }
        });
        if count == 0 {
            return (Cow::Borrowed(text), 0);
        }
        (replaced, count)
    }
}

/// The match with its secret groups (or itself) masked; `None` when there is nothing
/// left to mask: empty values and values already masked.
fn mask_groups(caps: &Captures<'_>, secret_groups: &[usize]) -> Option<String> {
    let whole = caps.get(0).expect("group 0 is the match");
    if secret_groups.is_empty() {
        return (whole.as_str() != MASK && !whole.is_empty()).then(|| MASK.to_owned());
    }
    let mut groups: Vec<_> = secret_groups
        .iter()
        .filter_map(|&index| caps.get(index))
        .filter(|group| !group.is_empty() && group.as_str() != MASK)
        .collect();
    if groups.is_empty() {
        return None;
    }
    groups.sort_by_key(|group| group.start());
    let mut masked = String::with_capacity(whole.len());
    let mut at = whole.start();
    for group in groups {
        if group.start() < at {
            continue;
        }
        masked.push_str(&whole.as_str()[at - whole.start()..group.start() - whole.start()]);
        masked.push_str(MASK);
        at = group.end();
    }
    masked.push_str(&whole.as_str()[at - whole.start()..]);
    Some(masked)
}

/// The run of digit groups with the card numbers in it masked, and how many there were;
/// `None` when it holds none.
/// Windows of consecutive groups are tried from the left, longest first, so that a card
/// number written after other numbers (`qty 2 4111 1111 1111 1111`) is still found, and
/// a 19-digit one is masked whole.
fn mask_cards(run: &str) -> Option<(String, usize)> {
    let groups: Vec<(usize, usize)> = run
        .split([' ', '-'])
        .scan(0, |start, group| {
            let range = (*start, *start + group.len());
            *start += group.len() + 1;
            Some(range)
        })
        .collect();
    let mut masked = run.as_bytes().to_vec();
    let mut found = 0;
    let mut first = 0;
    while first < groups.len() {
        let mut digits = Vec::new();
        let mut card = None;
        for (last, &(start, end)) in groups.iter().enumerate().skip(first) {
            if end - start < MIN_CARD_GROUP_DIGITS {
                break;
            }
            digits.extend(run.as_bytes()[start..end].iter().map(|b| b - b'0'));
            if digits.len() > 19 {
                break;
            }
            if digits.len() >= 13 && (2..=6).contains(&digits[0]) && luhn_valid(&digits) {
                card = Some((last, digits.len()));
            }
        }
        let Some((last, card_digits)) = card else {
            first += 1;
            continue;
        };
        let mut to_mask = card_digits - 4;
        for byte in &mut masked[groups[first].0..groups[last].1] {
            if to_mask > 0 && byte.is_ascii_digit() {
                *byte = b'*';
                to_mask -= 1;
            }
        }
        found += 1;
        first = last + 1;
    }
    let masked = String::from_utf8(masked).expect("digits were replaced by ASCII");
    (found > 0).then_some((masked, found))
}

/// The Luhn check digit test that every payment card number passes.
fn luhn_valid(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &digit)| {
            let digit = u32::from(digit);
            if i % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Applies redaction rules to events.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<RedactRule>,
    /// Finds in one pass which rules match a text, so that a text without secrets (most
    /// of them) is scanned once, not once per rule.
    prefilter: Option<RegexSet>,
    /// Attribute keys whose values are masked whole.
    secret_keys: Option<Regex>,
    /// `secret_keys` is the default pattern, for which a cheap suffix test rules out
    /// most keys first.
    default_secret_keys: bool,
}

impl Redactor {
    /// Applies `rules` in order, each to the result of the ones before.
    pub fn new(rules: Vec<RedactRule>) -> Self {
        // A set too large to compile only loses the shortcut.
        let prefilter = RegexSet::new(rules.iter().map(|rule| rule.pattern.as_str())).ok();
        Redactor {
            rules,
            prefilter,
            secret_keys: None,
            default_secret_keys: false,
        }
    }

    /// The default rules, and the values of attributes whose key names a secret
    /// (`password`, `client_secret`, `api_key`, ...) masked whole.
    pub fn with_defaults() -> Self {
        let keys = Regex::new(concat!("(?i)^", secret_key_names!(), "$"))
            .expect("the key pattern compiles");
        let mut redactor = Redactor::new(RedactRule::defaults()).with_secret_keys(keys);
        redactor.default_secret_keys = true;
        redactor
    }

    /// Masks whole the string and number values of attributes whose key matches `keys`,
    /// at any depth: a structured `{"password": "hunter2"}` has no `password=` to match.
    pub fn with_secret_keys(mut self, keys: Regex) -> Self {
        self.secret_keys = Some(keys);
        self.default_secret_keys = false;
        self
    }

    /// Adds `extra` rules after the existing ones.
    pub fn with_rules(self, extra: Vec<RedactRule>) -> Self {
        let mut rules = self.rules;
        rules.extend(extra);
        let mut redactor = Redactor::new(rules);
        redactor.secret_keys = self.secret_keys;
        redactor.default_secret_keys = self.default_secret_keys;
        redactor
    }

    pub fn rules(&self) -> &[RedactRule] {
        &self.rules
    }

    /// Reads a rules file: one rule per line, `name` then whitespace then a regular
    /// expression (the rest of the line); blank lines and lines starting with `#` are
    /// skipped. Errors name the line.
    pub fn parse_rules(text: &str) -> anyhow::Result<Vec<RedactRule>> {
        let mut rules: Vec<(usize, RedactRule)> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let number = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let rule =
                parse_rule(line).with_context(|| format!("redaction rules line {number}"))?;
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
    pub fn redact_text(&self, text: &mut String) -> usize {
        let (redacted, count) = self.redact_str(text);
        if let Cow::Owned(redacted) = redacted {
            *text = redacted;
        }
        count
    }

    /// Masks secrets in the message and in every string of the attributes, at any depth;
    /// returns the number of values masked.
    pub fn redact_event(&self, event: &mut LogEvent) -> usize {
        let mut count = self.redact_text(&mut event.message);
        for (key, value) in event.attributes.iter_mut() {
            count += self.redact_value(key, value);
        }
        count
    }

    /// The same for an event whose attributes are still the application's text: a raw
    /// attribute is parsed and rewritten only when something in it is masked.
    pub fn redact_wire(&self, wire: &mut WireEvent<'_>) -> usize {
        let mut count = self.redact_text(&mut wire.event.message);
        for (key, member) in wire.members.iter_mut() {
            match member {
                Member::Parsed(value) => count += self.redact_value(key.as_str(), value),
                Member::Raw(raw) if self.raw_is_clean(key.as_str(), raw.get()) => {}
                Member::Raw(raw) => {
                    let mut reader = serde_json::Deserializer::from_str(raw.get());
                    let check = Check {
                        redactor: self,
                        key: key.as_str(),
                    };
                    // The text was checked when the record was read; if it did not parse,
                    // the parsed path decides.
                    if check.deserialize(&mut reader).unwrap_or(true) {
                        let mut value = member.to_value();
                        count += self.redact_value(key.as_str(), &mut value);
                        *member = Member::Parsed(value);
                    }
                }
            }
        }
        count
    }

    /// Whether redaction certainly leaves a raw attribute as it is, told from its text
    /// alone: with no escape in it, every string (key or value) is the text between two
    /// quotes, and none of them names a secret or holds one. Numbers are not looked at,
    /// as the walk does not look at them.
    fn raw_is_clean(&self, key: &str, json: &str) -> bool {
        if self.is_secret_key(key) {
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
                        let is_key = bytes[at + 1..].iter().find(|b| !b.is_ascii_whitespace())
                            == Some(&b':');
                        let changes = if is_key {
                            self.is_secret_key(text)
                        } else {
                            self.redact_str(text).1 > 0
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

    fn is_secret_key(&self, key: &str) -> bool {
        self.secret_keys.as_ref().is_some_and(|keys| {
            (!self.default_secret_keys || may_name_a_secret(key)) && keys.is_match(key)
        })
    }

    fn redact_value(&self, key: &str, value: &mut Value) -> usize {
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

    fn redact_str<'t>(&self, text: &'t str) -> (Cow<'t, str>, usize) {
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

/// A cheap necessary condition for the default secret-key pattern (every name it
/// matches ends in one of these words), so most keys skip the regular expression.
fn may_name_a_secret(key: &str) -> bool {
    const ENDINGS: [&str; 5] = ["password", "passwd", "secret", "key", "token"];
    let bytes = key.as_bytes();
    // Their last letters first: most keys end otherwise.
    if !bytes
        .last()
        .is_some_and(|b| matches!(b.to_ascii_lowercase(), b'd' | b't' | b'y' | b'n'))
    {
        return false;
    }
    ENDINGS.iter().any(|ending| {
        bytes.len() >= ending.len()
            && bytes[bytes.len() - ending.len()..].eq_ignore_ascii_case(ending.as_bytes())
    })
}

fn mask_value(value: &mut Value, already_masked: bool) -> usize {
    if already_masked {
        return 0;
    }
    *value = Value::String(MASK.to_owned());
    1
}

fn parse_rule(line: &str) -> anyhow::Result<RedactRule> {
    let Some((name, pattern)) = line.split_once(char::is_whitespace) else {
        bail!("expected a rule name, whitespace and a regular expression");
    };
    let pattern = pattern.trim();
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        bail!("rule name {name:?}: expected letters, digits, `_`, `-` or `.`");
    }
    let rule = RedactRule::new(name, pattern)
        .with_context(|| format!("rule {name:?}: invalid regular expression"))?;
    if rule.pattern.is_match("") {
        bail!("rule {name:?}: the pattern matches the empty string");
    }
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;
    use logpipe_common::event::{EventId, K8s, Level, Source, SourceKind, Timestamp};
    use proptest::prelude::*;
    use serde_json::json;

    fn redact(text: &str) -> (String, usize) {
        let mut text = text.to_owned();
        let count = Redactor::with_defaults().redact_text(&mut text);
        (text, count)
    }

    fn assert_redacts(cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let (output, count) = redact(input);
            assert_eq!(output, *expected, "{input}");
            assert!(count >= 1, "{input}");
        }
    }

    fn assert_keeps(inputs: &[&str]) {
        for input in inputs {
            assert_eq!(redact(input), (input.to_string(), 0), "{input}");
        }
    }

    #[test]
    fn bearer_tokens() {
        assert_redacts(&[
            (
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x",
                "Authorization: Bearer ***",
            ),
            ("calling with bearer xyz", "calling with bearer ***"),
            ("BEARER abc/+def== done", "BEARER *** done"),
        ]);
        assert_keeps(&["Bearer: ", "the bearer\n", "bearer ***"]);
        // Prose is masked too: a false positive costs a word, a false negative a token.
        assert_eq!(redact("no bearer here").0, "no bearer ***");
    }

    #[test]
    fn aws_access_key_ids() {
        assert_redacts(&[
            ("key=AKIAIOSFODNN7EXAMPLE;", "key=AKIA***;"),
            (
                "temporary ASIAY34FZKBOKMUTVV7A used",
                "temporary ASIA*** used",
            ),
        ]);
        assert_keeps(&[
            "AKIAIOSFODNN7EXAMPL",
            "AKIAIOSFODNN7EXAMPLE1",
            "akiaiosfodnn7example",
            "XAKIAIOSFODNN7EXAMPLE",
        ]);
    }

    #[test]
    fn secret_values_in_every_form() {
        assert_redacts(&[
            (
                "login user=bob password=hunter2 ok",
                "login user=bob password=*** ok",
            ),
            ("passwd=s3cr3t&next=1", "passwd=***&next=1"),
            ("secret: topsecret", "secret: ***"),
            ("token = abc123", "token = ***"),
            ("api_key=k-123, retry", "api_key=***, retry"),
            ("DB_PASSWORD=x", "DB_PASSWORD=***"),
            (
                "client_secret=x access_token=y",
                "client_secret=*** access_token=***",
            ),
            ("X-Api-Key: 0123", "X-Api-Key: ***"),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG",
                "AWS_SECRET_ACCESS_KEY=***",
            ),
            (
                r#"{"user":"bob","password":"correct horse"}"#,
                r#"{"user":"bob","password":"***"}"#,
            ),
            (
                r#"{"password" : "a \"quoted\" pass"}"#,
                r#"{"password" : "***"}"#,
            ),
            (
                r#"body={\"token\":\"abc def\"}"#,
                r#"body={\"token\":\"***\"}"#,
            ),
            ("password='single quoted'", "password='***'"),
            ("password=\"unterminated", "password=\"***"),
        ]);
        assert_keeps(&[
            "password=",
            "password reset requested",
            "token_count=5 max_tokens=100",
            "tokens=5",
            "secretary=bob",
            r#"{"password":""}"#,
        ]);
    }

    #[test]
    fn card_numbers_pass_the_luhn_check() {
        assert_redacts(&[
            ("paid with 4111111111111111.", "paid with ************1111."),
            ("card 4111 1111 1111 1111 ok", "card **** **** **** 1111 ok"),
            ("card 5500-0000-0000-0004", "card ****-****-****-0004"),
            ("amex 378282246310005", "amex ***********0005"),
            ("visa13 4222222222222", "visa13 *********2222"),
            ("qty 2 4111 1111 1111 1111", "qty 2 **** **** **** 1111"),
            (
                "4111 1111 1111 1111 5500 0000 0000 0004",
                "**** **** **** 1111 **** **** **** 0004",
            ),
            ("6011 0009 9013 9424 123", "**** **** **** 9424 123"),
            ("6011 0009 9013 9424 124", "**** **** **** ***4 124"),
            (
                "19 digits 6011000990139424124",
                "19 digits ***************4124",
            ),
            // Erring on the side of masking: a card number inside a longer dashed code.
            (
                "ref 4111-1111-1111-1111-1111",
                "ref ****-****-****-1111-1111",
            ),
        ]);
        assert_keeps(&[
            // 16 digits failing the Luhn check: an order id.
            "order 4111111111111112 shipped",
            "order 1234567812345678 shipped",
            // Luhn-valid, but epoch times in ms and ns start with 1.
            "ts=1700000000004 1764219600123456786",
            // Longer runs are not card numbers.
            "id 41111111111111110000",
            "x4111111111111111 4111111111111111y",
            "12 digits 411111111111",
            // Groups of fewer than three digits are not how cards are written.
            "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
            "٤١١١١١١١١١١١١١١١",
        ]);
    }

    #[test]
    fn each_card_in_a_run_counts() {
        assert_eq!(redact("4111111111111111-5500000000000004").1, 2);
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn_valid(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
    }

    fn event(message: &str, attributes: Value) -> LogEvent {
        LogEvent {
            v: 1,
            id: EventId::from_u128(1),
            ts: Timestamp::from_unix_nanos(1),
            observed_ts: Timestamp::from_unix_nanos(1),
            level: Level::Info,
            message: message.to_owned(),
            stream: None,
            k8s: K8s {
                node: "node-1".into(),
                ..K8s::default()
            },
            source: Source {
                kind: SourceKind::File,
                name: None,
                path: None,
                offset: None,
            },
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
                    "headers": {"authorization": "Bearer ***"},
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

    /// Text built from pieces of secrets and of their masks, to reach the rules' edges.
    fn secretish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("password".to_owned()),
            Just("token".to_owned()),
            Just("Bearer".to_owned()),
            Just("AKIA".to_owned()),
            Just("4111".to_owned()),
            Just("1111".to_owned()),
            Just("0004".to_owned()),
            Just(MASK.to_owned()),
            Just("=".to_owned()),
            Just(":".to_owned()),
            Just("\"".to_owned()),
            Just("\\".to_owned()),
            Just("'".to_owned()),
            Just(" ".to_owned()),
            Just("-".to_owned()),
            "[A-Z0-9]{1,16}",
            "[a-z_]{1,6}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    /// Redacts `payload` as a wire event and as a parsed event; both must give the same
    /// event and count.
    fn redact_both_ways(payload: &str) {
        let raw = || logpipe_common::RawRecord {
            payload: payload.as_bytes(),
            runtime_ts: None,
            observed_ts: Timestamp::from_unix_nanos(1),
            stream: None,
            k8s: K8s {
                node: "node-1".into(),
                ..K8s::default()
            },
            source: Source {
                kind: SourceKind::File,
                name: None,
                path: None,
                offset: None,
            },
            identity: "i",
            offset: 0,
            truncated: false,
        };
        let redactor = Redactor::with_defaults();
        let mut parsed = LogEvent::from_raw(raw());
        let parsed_count = redactor.redact_event(&mut parsed);
        let mut wire = WireEvent::from_raw(raw());
        let wire_count = redactor.redact_wire(&mut wire);
        let mut bytes = Vec::new();
        wire.write_json(&mut bytes);
        let written: LogEvent = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(written, parsed, "{payload}");
        assert_eq!(wire_count, parsed_count, "{payload}");
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
            keys in proptest::collection::vec("(password|token|api_key|user|[a-z]{1,5})", 0..4),
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

        #[test]
        fn redacting_is_idempotent(text in secretish()) {
            let redactor = Redactor::with_defaults();
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
            Redactor::with_defaults().redact_text(&mut text);
        }
    }
}
