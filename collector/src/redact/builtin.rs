//! The built-in redaction rules: values after keys that name a secret, and the shapes of
//! secrets found wherever they appear (tokens with a vendor's prefix, JWTs, credentials
//! in URLs, private key blocks, payment card numbers).
//!
//! Masks keep what says what the secret was: a vendor's prefix (`ghp_***`, `xoxb-***`),
//! a URL's scheme, user and host (`postgres://app:***@db`), the lines around a private
//! key. Word boundaries are ASCII ones (`(?-u:\b)`), which keep the regex crate's fast
//! engines on any text.

use super::keyed;
use super::mask::Mask;

/// The rules in the order they apply, each to the result of the ones before. Keyed
/// values come early, so that `token=ghp_...` becomes `token=***` rather than
/// `token=ghp_***`; after URL passwords only, so that the key of
/// `https://x-access-token:ghs_...@github.com` does not take the host with the
/// password. Azure storage keys (`AccountKey=`, `SharedAccessKey=`) and AWS secret access
/// keys have no shape of their own and are keyed values.
pub(super) const DEFAULT_RULES: [(&str, &str, Mask); 19] = [
    // `scheme://user:password@host` for any scheme: postgres, mysql, mongodb+srv, redis,
    // amqp, https. The password runs to the last `@` before the host.
    (
        "url_password",
        concat!(
            r"(?i-u:(?-u:\b)[a-z][a-z0-9+._-]*)://",
            r#"[^\s:/?#@"'\\<>]*:(?P<secret>[^\s/?#"'\\<>]+)@"#,
        ),
        Mask::Secret,
    ),
    ("secret_value", keyed::PATTERN, Mask::KeyedSecret),
    ("xml_secret_element", keyed::XML_PATTERN, Mask::XmlElement),
    // A token is whole: not the key of `token_type=bearer expires_in=3600`.
    (
        "bearer_token",
        concat!(
            r"(?i)(?-u:\b)bearer\s+(?P<secret>[A-Za-z0-9\-._~+/]+=*)",
            r"(?:[^A-Za-z0-9\-._~+/=]|\z)",
        ),
        Mask::Secret,
    ),
    (
        "basic_credentials",
        r"(?i-u:(?-u:\b)basic)[ \t]+(?P<secret>[A-Za-z0-9+/]{4,}={0,2})",
        Mask::BasicCredentials,
    ),
    // The body of a PEM block, with its line breaks, real or escaped in a JSON string
    // (`\n`); to the end of the text when the block was cut.
    (
        "private_key_block",
        concat!(
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----(?P<secret>(?s:.)*?)",
            r"(?:-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        ),
        Mask::Secret,
    ),
    // Three base64url segments, the first a JSON header: `{"` is `eyJ`.
    (
        "jwt",
        r"(?-u:\b)eyJ(?P<secret>[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)",
        Mask::Secret,
    ),
    (
        "github_token",
        r"(?-u:\b)(?:gh[pousr]_|github_pat_)(?P<secret>[A-Za-z0-9_]{20,})",
        Mask::Secret,
    ),
    (
        "gitlab_token",
        r"(?-u:\b)glpat-(?P<secret>[A-Za-z0-9_-]{20,})",
        Mask::Secret,
    ),
    (
        "slack_token",
        r"(?-u:\b)(?:xox[abposr]|xapp)-(?P<secret>[A-Za-z0-9-]{10,})",
        Mask::Secret,
    ),
    // Whoever has the URL can post.
    (
        "webhook_url",
        concat!(
            r"(?-u:\b)(?:hooks\.slack\.com/(?:services|workflows|triggers)/",
            r"(?P<secret>[A-Za-z0-9/_-]+)",
            r"|discord(?:app)?\.com/api/webhooks/(?P<secret_discord>[0-9]+/[A-Za-z0-9_-]+))",
        ),
        Mask::Secret,
    ),
    (
        "stripe_key",
        r"(?-u:\b)(?:(?:sk|rk)_(?:live|test)|whsec)_(?P<secret>[A-Za-z0-9]{10,})",
        Mask::Secret,
    ),
    (
        "npm_token",
        r"(?-u:\b)npm_(?P<secret>[A-Za-z0-9]{30,})",
        Mask::Secret,
    ),
    (
        "google_api_key",
        r"(?-u:\b)(?:AIza(?P<secret>[0-9A-Za-z_-]{35})|ya29\.(?P<secret_oauth>[0-9A-Za-z_-]{20,}))",
        Mask::Secret,
    ),
    (
        "sendgrid_key",
        r"(?-u:\b)SG\.(?P<secret>[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})",
        Mask::Secret,
    ),
    (
        "ai_api_key",
        r"(?-u:\b)sk-(?:ant|proj|svcacct|admin)-(?P<secret>[A-Za-z0-9_-]{20,})",
        Mask::Secret,
    ),
    // The signature of an Azure shared access signature URL: base64 of an HMAC, escaped.
    (
        "azure_sas_signature",
        r"(?-u:\b)sig=(?P<secret>[A-Za-z0-9%+/=_-]{20,})",
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
        assert_keeps(&[
            "Bearer: ",
            "the bearer\n",
            "bearer ***",
            "token_type=bearer expires_in=3600",
        ]);
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
    fn shapes_keep_what_says_what_the_secret_was() {
        assert_redacts(&[
            (
                "redis://:pw@cache:6379 and amqp://u:p@ss@mq/",
                "redis://:***@cache:6379 and amqp://u:***@mq/",
            ),
            ("id eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "id eyJ***"),
            ("ghp_aBcD1234eFgH5678iJkL9012mNoP3456qRsT.", "ghp_***."),
            ("xoxb-1234567890-abcdef", "xoxb-***"),
            ("sk_live_0123456789abcdef", "sk_live_***"),
            ("AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIza***"),
            ("&sig=abcdefghijklmnopqrstu%3D&x=1", "&sig=***&x=1"),
        ]);
        assert_keeps(&[
            "https://user@example.com:8443/x",
            "http://[::1]:8080/",
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0",
            "sig2=mSyNHHES5COiDpakgbFJ2w",
            "ghp_short",
            "basic usage",
        ]);
    }

    #[test]
    fn private_keys_across_line_breaks_real_and_escaped() {
        assert_redacts(&[
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabc=\n-----END RSA PRIVATE KEY-----\nnext",
                "-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----\nnext",
            ),
            (
                r"k=-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
                r"k=-----BEGIN PRIVATE KEY-----***-----END PRIVATE KEY-----\n",
            ),
            (
                "cut -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE",
                "cut -----BEGIN EC PRIVATE KEY-----***",
            ),
        ]);
        assert_keeps(&["-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"]);
    }

    #[test]
    fn basic_credentials_are_told_from_prose() {
        assert_redacts(&[(
            "sent Basic dXNlcjpwYXNz upstream",
            "sent Basic *** upstream",
        )]);
        assert_keeps(&["Basic authentication failed", "basic dXNlcg== only a user"]);
    }
}
