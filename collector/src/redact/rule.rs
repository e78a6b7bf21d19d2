//! Redaction rules: a pattern and how to mask what it matches, the built-in rules, the
//! key names whose values are secrets, and the lines of a rules file.

use std::borrow::Cow;

use anyhow::{Context, bail};
use regex::{Captures, Regex};

use super::card::mask_cards;

/// What a secret value is replaced with.
pub(super) const MASK: &str = "***";

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
    pub(crate) fn new(name: impl Into<String>, pattern: &str) -> Result<Self, regex::Error> {
        Ok(RedactRule {
            name: name.into(),
            pattern: Regex::new(pattern)?,
            mask: Mask::Secret,
        })
    }

    /// Bearer tokens, AWS access key ids, password/secret/token/api_key values, and
    /// payment card numbers.
    pub(crate) fn defaults() -> Vec<RedactRule> {
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
    pub(super) fn apply<'t>(&self, text: &'t str) -> (Cow<'t, str>, usize) {
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

/// The attribute keys whose values the default redactor masks whole.
pub(super) fn default_secret_keys() -> Regex {
    Regex::new(concat!("(?i)^", secret_key_names!(), "$")).expect("the key pattern compiles")
}

/// A cheap necessary condition for the default secret-key pattern (every name it
/// matches ends in one of these words), so most keys skip the regular expression.
pub(super) fn may_name_a_secret(key: &str) -> bool {
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

/// One line of a rules file: a name of letters, digits, `_`, `-` or `.`, whitespace,
/// then a regular expression that does not match the empty string.
pub(super) fn parse_rule(line: &str) -> anyhow::Result<RedactRule> {
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
    use crate::redact::testing::{assert_keeps, assert_redacts, redact};

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
}
