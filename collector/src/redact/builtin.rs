//! The built-in redaction rules: values after keys that name a secret, and the shapes of
//! secrets found wherever they appear (bearer tokens, AWS access key ids, payment card
//! numbers).
//!
//! Masks keep what says what the secret was: `Bearer ***`, `AKIA***`. Word boundaries are
//! ASCII ones (`(?-u:\b)`), which keep the regex crate's fast engines on any text.

use super::keyed;
use super::rule::Mask;

/// The rules in the order they apply, each to the result of the ones before. Keyed
/// values come first, so that `token=AKIA...` becomes `token=***` rather than
/// `token=AKIA***`.
pub(super) const DEFAULT_RULES: [(&str, &str, Mask); 4] = [
    ("secret_value", keyed::PATTERN, Mask::KeyedSecret),
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
    (
        "payment_card",
        // Runs of at least 13 ASCII digits, in groups separated by one space or dash; the
        // card numbers among their groups are found by `mask_cards`.
        r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,}(?-u:\b)",
        Mask::PaymentCard,
    ),
];

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
