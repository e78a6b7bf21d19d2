//! Redaction rules: a pattern and how to mask what it matches, and the lines of a rules
//! file. The built-in rules are in `builtin`.

use std::borrow::Cow;

use anyhow::{Context, bail};
use regex::{Captures, Regex};

use super::basic::is_basic_credential;
use super::builtin::DEFAULT_RULES;
use super::card::mask_cards;
use super::keyed::{mask_keyed, xml_element_names_a_secret};
use super::mask::MASK;
use super::mask::Mask;

/// Capture groups whose name starts with this are the secret part of a match.
const SECRET_GROUP_PREFIX: &str = "secret";

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

    /// Values of secret-named keys, vendor tokens, credentials in URLs and headers, JWTs,
    /// private keys and payment card numbers (see `builtin`).
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
        if self.mask == Mask::KeyedSecret {
            return mask_keyed(&self.pattern, text);
        }
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
                Mask::BasicCredentials => secret_groups
                    .iter()
                    .filter_map(|&index| caps.get(index))
                    .all(|group| is_basic_credential(group.as_str()))
                    .then(|| mask_groups(caps, &secret_groups).map(|masked| (masked, 1)))
                    .flatten(),
                Mask::XmlElement => xml_element_names_a_secret(caps)
                    .then(|| mask_groups(caps, &secret_groups).map(|masked| (masked, 1)))
                    .flatten(),
                Mask::PaymentCard => mask_cards(&caps[0]),
                Mask::KeyedSecret => unreachable!("keyed values are masked by `mask_keyed`"),
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
