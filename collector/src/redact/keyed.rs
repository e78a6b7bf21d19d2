//! Secrets in text after a key that names one: `password=...`, `clientSecret: ...`,
//! `"api_key":"..."`, `\"token\":\"...\"`, `Authorization: Basic ...`, `Cookie: ...`.
//!
//! The pattern finds keys that end in the last word of a secret word (`key` for `apiKey`,
//! `AccountKey` and `monkey` alike), so that texts without such a key skip this rule in
//! the redactor's one prefilter scan; whether the key names a secret is then decided by
//! `key_name`, the same test as for attribute keys.

use std::borrow::Cow;

use regex::{Captures, Regex};

use super::key_name;
use super::mask::MASK;

/// The end of a key that may name a secret: the last word of a secret word, maybe a
/// qualifier and digits (`key_name` decides).
macro_rules! secret_key_end {
    () => {
        concat!(
            r"(?:passw(?:or)?d|pwd|pass(?:phrase|code)?|secret|token|jwt|key|credentials?|creds",
            r"|auth(?:orization)?|cookies?|session|sess(?:ion)?[_. -]?id|signature)",
            r"(?:[_. -]?(?:value|base|hash|b64|base64|hex|plain(?:text)?|raw|encrypted|encoded|header|pem))?",
            r"(?:[_. -]?[0-9]+)?",
        )
    };
}

/// An XML element whose name (maybe with a namespace prefix) ends like a secret-named
/// key, holding text or CDATA: `<password>...</password>`, `<ns:ClientSecret a="1">`.
/// The regex cannot require the closing name to be the opening one; `xml_element_names_a_secret`
/// does, before anything is masked.
pub(super) const XML_PATTERN: &str = concat!(
    r"<(?P<key>(?i-u:[a-z0-9_.:-]*",
    secret_key_end!(),
    r"))(?:[ \t][^<>]*)?>",
    r"(?:<!\[CDATA\[(?P<secret_cdata>(?s:.)*?)\]\]>|(?P<secret>[^<>]+))",
    r"</(?P<close>[A-Za-z0-9_.:-]+)[ \t]*>",
);

/// Whether a match of `XML_PATTERN` is one element whose name names a secret.
pub(super) fn xml_element_names_a_secret(caps: &Captures<'_>) -> bool {
    let (Some(key), Some(close)) = (caps.name("key"), caps.name("close")) else {
        return false;
    };
    let name = key.as_str();
    let local = name.rsplit(':').next().unwrap_or(name);
    name == close.as_str() && key_name::names_a_secret(local)
}

/// A key (words of letters, digits, `_`, `.`, `-` and spaces) ending in the last word of a
/// secret word, maybe a qualifier and digits; its closing quote; `=`, `:`, `:=` or `=>`;
/// then the value: double-quoted, escaped-quoted inside a JSON string (`\"...\"`),
/// single-quoted, or bare up to whitespace, a quote, `\`, `,`, `;` or `&`. A bare value
/// may follow an HTTP authentication scheme, which stays. Bare values do not start with
/// `{` or `[`: an object under a secret key is masked member by member.
pub(super) const PATTERN: &str = concat!(
    r"(?P<key>(?i-u:[a-z0-9_. -]*",
    secret_key_end!(),
    r"))",
    r#"(?P<quote>\\?["'])?[ \t]*(?::=|=>|[:=])[ \t]*"#,
    r#"(?:"(?P<secret_quoted>(?:[^"\\]|\\.)*)""#,
    r#"|\\"(?P<secret_escaped>(?:[^"\\]|\\[^"])*)\\""#,
    r"|'(?P<secret_single>[^']*)'",
    r"|(?i-u:(?:basic|bearer|token|negotiate|ntlm|apikey|sso-key|aws4-hmac-sha256)[ \t]+)?",
    r#"(?P<open>["'])?(?P<secret>[^\s"'\\,;&{\[][^\s"'\\,;&]*))"#,
);

/// Values that are a JSON literal, not a secret: `"session": null`, `auth=false`.
const LITERALS: [&str; 3] = ["true", "false", "null"];

/// Whether a value was masked already, whole or by a rule before this one (the password
/// of `https://x-access-token:***@github.com`).
fn is_masked(value: &str) -> bool {
    value.starts_with(MASK)
}

/// The text with the values of secret-named keys masked, and how many were.
pub(super) fn mask_keyed<'t>(pattern: &Regex, text: &'t str) -> (Cow<'t, str>, usize) {
    let mut masked = String::new();
    let mut copied = 0;
    let mut count = 0;
    let mut at = 0;
    while let Some(caps) = pattern.captures_at(text, at) {
        let key = caps.name("key").expect("the pattern has a key");
        // `<auth:Login>` is an element's namespace prefix, not a key (see `XML_PATTERN`).
        let tag_name = text[..key.start()].ends_with('<') || text[..key.start()].ends_with("</");
        if tag_name || !key_name::names_a_secret(key.as_str()) {
            // A value may hold a key of its own: `compass="password=x"`.
            at = key.end();
            continue;
        }
        at = caps.get(0).expect("group 0 is the match").end();
        let Some(value) = value(&caps, text) else {
            continue;
        };
        masked.push_str(&text[copied..value.start]);
        if value.json_bare {
            masked.push('"');
            masked.push_str(MASK);
            masked.push('"');
        } else {
            masked.push_str(MASK);
        }
        copied = value.end;
        at = value.end;
        count += 1;
    }
    if count == 0 {
        return (Cow::Borrowed(text), 0);
    }
    masked.push_str(&text[copied..]);
    (Cow::Owned(masked), count)
}

/// Where the value to mask is in the text.
struct Value {
    start: usize,
    end: usize,
    /// A bare value after a quoted key: a JSON number or word, which becomes a string.
    json_bare: bool,
}

/// The value of a match, `None` when there is nothing to mask: an empty value, one
/// masked already, a JSON literal.
fn value(caps: &Captures<'_>, text: &str) -> Option<Value> {
    if let Some(quoted) = ["secret_quoted", "secret_escaped", "secret_single"]
        .iter()
        .find_map(|name| caps.name(name))
    {
        return (!quoted.is_empty() && !is_masked(quoted.as_str())).then_some(Value {
            start: quoted.start(),
            end: quoted.end(),
            json_bare: false,
        });
    }
    let bare = caps.name("secret")?;
    let json_bare = caps.name("open").is_none()
        && caps
            .name("quote")
            .is_some_and(|quote| quote.as_str() == "\"");
    let end = if json_bare {
        // `"pin": 1234}`: the value ends with the object.
        bare.start() + bare.as_str().find(['}', ']']).unwrap_or(bare.len())
    } else if key_name::names_a_cookie(&caps["key"]) {
        // A cookie header's value is all its cookies: `Cookie: a=1; b=2`.
        let line = &text[bare.start()..];
        let line = &line[..line.find(['\r', '\n', '"', '\\']).unwrap_or(line.len())];
        bare.start() + line.trim_end().len()
    } else {
        bare.end()
    };
    let value = &text[bare.start()..end];
    (!value.is_empty() && !is_masked(value) && !LITERALS.contains(&value)).then_some(Value {
        start: bare.start(),
        end,
        json_bare,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::testing::{assert_keeps, assert_redacts};

    #[test]
    fn every_secret_word_is_found_by_the_pattern() {
        let pattern = Regex::new(PATTERN).unwrap();
        for word in key_name::secret_words() {
            for key in [word.to_owned(), format!("db_{word}"), format!("x-{word}-2")] {
                let text = format!("{key}=abc");
                assert_eq!(mask_keyed(&pattern, &text).1, 1, "{text}");
            }
        }
    }

    #[test]
    fn keys_in_every_form() {
        assert_redacts(&[
            ("clientSecret=abc def", "clientSecret=*** def"),
            ("dbPassword: abc", "dbPassword: ***"),
            ("accessToken=abc&x=1", "accessToken=***&x=1"),
            ("userPassword=abc", "userPassword=***"),
            ("Client Secret: abc", "Client Secret: ***"),
            ("opts password := \"abc\"", "opts password := \"***\""),
            ("{:password => 'abc'}", "{:password => '***'}"),
            (r#"{"pwd":1234,"n":1}"#, r#"{"pwd":"***","n":1}"#),
            (r#"{"sessionId": 42}"#, r#"{"sessionId": "***"}"#),
            (
                "Authorization: Basic dXNlcjpwYXNz",
                "Authorization: Basic ***",
            ),
            ("X-Api-Key: abc", "X-Api-Key: ***"),
            (
                "Cookie: session=abc; theme=dark\nnext line",
                "Cookie: ***\nnext line",
            ),
            ("set-cookie: id=abc; Path=/; HttpOnly ", "set-cookie: *** "),
            ("compass=\"password=abc\"", "compass=\"password=***\""),
        ]);
        assert_keeps(&[
            "token_count=5 tokens=7 max_tokens=100",
            "password_policy=strict",
            "password policy: strict",
            "author=bob authority=ca",
            "secretary=bob",
            "bypass=1 compass=north",
            r#"{"session": null, "auth": false, "credentials": {"user": "bob"}}"#,
            "key=abc cache_key=abc",
            "password:\n  next",
        ]);
    }

    #[test]
    fn xml_elements_named_like_secrets() {
        assert_redacts(&[
            ("<password>hunter2</password>", "<password>***</password>"),
            (
                "<user><name>bob</name><userPassword>correct horse</userPassword></user>",
                "<user><name>bob</name><userPassword>***</userPassword></user>",
            ),
            (
                r#"<ns2:ClientSecret xmlns:ns2="urn:x">abc</ns2:ClientSecret>"#,
                r#"<ns2:ClientSecret xmlns:ns2="urn:x">***</ns2:ClientSecret>"#,
            ),
            (
                "<api_key><![CDATA[a<b>c]]></api_key>",
                "<api_key><![CDATA[***]]></api_key>",
            ),
        ]);
        assert_keeps(&[
            "<passwordPolicy>strict</passwordPolicy>",
            "<token_count>5</token_count>",
            "<password></password>",
            "<password>a</username>",
            "<monkey>banana</monkey>",
            "<auth:Login><auth:User>bob</auth:User></auth:Login>",
        ]);
    }
}
