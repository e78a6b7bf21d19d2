//! Whether a key names a secret: an attribute key, or the key of a `key=value` in text.
//!
//! Keys are compared after normalization: case and separators (`_`, `-`, `.`, space, any
//! other sign) are ignored and camelCase is split into words, so `clientSecret`,
//! `client_secret`, `CLIENT-SECRET` and `clientsecret` are one key. A key names a secret when its last word
//! is a secret word (`DB_PASSWORD`, `accessToken`, `x-api-key`), possibly followed by one
//! word saying how the secret is written (`password_hash`, `tokenValue`). Only the end of
//! the key counts, as in English compounds the last word says what a thing is: a
//! `token_count` is a count, a `password_policy` a policy, a `secretName` the name of a
//! Kubernetes secret and an `access_key_id` an identifier.

/// A secret word, and whether it must start a word of the key. Long words count inside
/// a word too (`dbpassword`, `accesstoken`); short ones would also end ordinary words
/// (`bypass`, `oauth`, `possession`) and count only as words of their own.
struct Term {
    word: &'static str,
    own_word: bool,
}

const fn term(word: &'static str) -> Term {
    Term {
        word,
        own_word: false,
    }
}

const fn own_word(word: &'static str) -> Term {
    Term {
        word,
        own_word: true,
    }
}

/// The secret words, normalized. `signature` is here for the signatures of presigned URLs
/// (`X-Amz-Signature=`), which grant access until they expire; the `sig=` of an Azure SAS
/// URL is a value rule, as Google's search links carry a `sig2=` that grants nothing.
/// Not here, though they sound like it: `key` alone (a Kafka, cache or sort key), `tokens`
/// (a count in language-model logs), `author`, `authority`, `authentication` (a method or
/// an outcome), `secretary`, `public_key`, `sid` and the `*_id` of keys and clients.
/// Masked though not secrets: the working directory of environment dumps (`PWD=/app`) and
/// the counts of tests that `pass`; a false positive costs a value, a false negative a
/// credential.
const TERMS: [Term; 37] = [
    term("password"),
    term("passwd"),
    term("pwd"),
    own_word("pass"),
    term("passphrase"),
    term("passcode"),
    term("secret"),
    term("token"),
    own_word("jwt"),
    term("apikey"),
    term("accesskey"),
    term("secretkey"),
    term("privatekey"),
    term("accountkey"),
    term("signingkey"),
    term("encryptionkey"),
    term("masterkey"),
    term("sharedkey"),
    term("hmackey"),
    term("authkey"),
    term("sessionkey"),
    term("clientkey"),
    term("appkey"),
    term("licensekey"),
    term("subscriptionkey"),
    term("credential"),
    term("credentials"),
    own_word("creds"),
    own_word("auth"),
    term("authorization"),
    term("cookie"),
    term("cookies"),
    own_word("session"),
    term("sessionid"),
    term("sessid"),
    term("sessiontoken"),
    term("signature"),
];

/// Words that may follow a secret word and say how the secret is written or carried.
const QUALIFIERS: [&str; 13] = [
    "value",
    "base",
    "hash",
    "b64",
    "base64",
    "hex",
    "plain",
    "plaintext",
    "raw",
    "encrypted",
    "encoded",
    "header",
    "pem",
];

/// How much of the end of a normalized key is looked at: the longest secret word with
/// the longest qualifier.
const TAIL_BYTES: usize = 32;

/// The last three letters of every secret word and qualifier, packed as by `pack`: a key
/// names a secret only when its normalized form ends in one of them (or in a digit).
const ENDINGS: [u32; TERMS.len() + QUALIFIERS.len()] = endings();

/// Whether the value of `key` is a secret.
pub(super) fn names_a_secret(key: &str) -> bool {
    // Most keys are told apart by their last three letters, without normalizing them.
    let Some(ending) = last_three(key) else {
        return false;
    };
    if ending.iter().all(u8::is_ascii_alphabetic) && !ENDINGS.contains(&pack(ending)) {
        return false;
    }
    let tail = Tail::of(key);
    // What follows the secret word: a qualifier, or digits and maybe a qualifier before
    // them (`password2`, `api_key_hash_1`).
    let qualifier_at = |skip: usize| {
        QUALIFIERS
            .iter()
            .find(|qualifier| tail.ends_with_word_at(skip, qualifier))
            .map(|qualifier| skip + qualifier.len())
    };
    let digits = tail.trailing_digits();
    let after = qualifier_at(0)
        .or_else(|| qualifier_at(digits))
        .unwrap_or(digits);
    TERMS.iter().any(|term| {
        if term.own_word {
            tail.ends_with_word_at(after, term.word)
        } else {
            tail.ends_with_at(after, term.word)
        }
    })
}

/// The last three letters and digits of `key`, lowercase.
fn last_three(key: &str) -> Option<[u8; 3]> {
    let mut ending = [0; 3];
    let mut found = 0;
    for &byte in key.as_bytes().iter().rev() {
        if byte.is_ascii_alphanumeric() {
            found += 1;
            ending[3 - found] = byte.to_ascii_lowercase();
            if found == 3 {
                return Some(ending);
            }
        }
    }
    None
}

const fn pack(bytes: [u8; 3]) -> u32 {
    (bytes[0] as u32) << 16 | (bytes[1] as u32) << 8 | bytes[2] as u32
}

const fn word_ending(word: &str) -> u32 {
    let bytes = word.as_bytes();
    let len = bytes.len();
    pack([bytes[len - 3], bytes[len - 2], bytes[len - 1]])
}

const fn endings() -> [u32; TERMS.len() + QUALIFIERS.len()] {
    let mut endings = [0; TERMS.len() + QUALIFIERS.len()];
    let mut at = 0;
    while at < TERMS.len() {
        endings[at] = word_ending(TERMS[at].word);
        at += 1;
    }
    while at < endings.len() {
        endings[at] = word_ending(QUALIFIERS[at - TERMS.len()]);
        at += 1;
    }
    endings
}

/// Whether `key` names a cookie header, whose value is all its cookies.
pub(super) fn names_a_cookie(key: &str) -> bool {
    let tail = Tail::of(key);
    tail.ends_with_at(0, "cookie") || tail.ends_with_at(0, "cookies")
}

/// The secret words, for the tests of the patterns that find keys in text.
#[cfg(test)]
pub(super) fn secret_words() -> impl Iterator<Item = &'static str> {
    TERMS.iter().map(|term| term.word)
}

/// The end of a normalized key, last byte first, and where its words start.
struct Tail {
    reversed: [u8; TAIL_BYTES],
    len: usize,
    /// Bit `i` is set when `reversed[i]` is the first letter of a word.
    word_starts: u32,
}

impl Tail {
    fn of(key: &str) -> Tail {
        let mut tail = Tail {
            reversed: [0; TAIL_BYTES],
            len: 0,
            word_starts: 0,
        };
        let bytes = key.as_bytes();
        let mut at = bytes.len();
        while at > 0 && tail.len < TAIL_BYTES {
            at -= 1;
            let byte = bytes[at];
            if !byte.is_ascii_alphanumeric() {
                tail.start_word();
                continue;
            }
            tail.reversed[tail.len] = byte.to_ascii_lowercase();
            tail.len += 1;
            let before = at.checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(at + 1).copied();
            if is_camel_boundary(before, byte, after) {
                tail.start_word();
            }
        }
        if at == 0 {
            tail.start_word();
        }
        tail
    }

    fn trailing_digits(&self) -> usize {
        self.reversed[..self.len]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    /// Marks the byte last added as the start of a word.
    fn start_word(&mut self) {
        if self.len > 0 {
            self.word_starts |= 1 << (self.len - 1);
        }
    }

    /// Whether the normalized key, without its last `skip` bytes, ends with `word`.
    fn ends_with_at(&self, skip: usize, word: &str) -> bool {
        let word = word.as_bytes();
        skip + word.len() <= self.len
            && word
                .iter()
                .rev()
                .zip(&self.reversed[skip..])
                .all(|(a, b)| a == b)
    }

    /// `ends_with_at`, where `word` also starts a word of the key and the skipped bytes
    /// (if any) start another.
    fn ends_with_word_at(&self, skip: usize, word: &str) -> bool {
        self.ends_with_at(skip, word) && self.word_starts & (1 << (skip + word.len() - 1)) != 0
    }
}

/// Whether a word starts at `byte` within a camelCase key: `dbPassword`, `oauth2Token`,
/// `APIKey` (a run of capitals ends before the capital that starts a lowercase word).
fn is_camel_boundary(before: Option<u8>, byte: u8, after: Option<u8>) -> bool {
    let Some(before) = before else {
        return false;
    };
    byte.is_ascii_uppercase()
        && (before.is_ascii_lowercase()
            || before.is_ascii_digit()
            || (before.is_ascii_uppercase() && after.is_some_and(|b| b.is_ascii_lowercase())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_in_every_spelling() {
        for key in [
            "password",
            "PASSWORD",
            "DB_PASSWORD",
            "dbPassword",
            "dbpassword",
            "userPassword",
            "user.password",
            "user password",
            "x-db-passwd",
            "pwd",
            "db_pass",
            "DB_PASS",
            "passphrase",
            "secret",
            "clientSecret",
            "client_secret",
            "CLIENT-SECRET",
            "clientsecret",
            "token",
            "accessToken",
            "access_token",
            "refresh-token",
            "X-Auth-Token",
            "x-amz-security-token",
            "_authToken",
            "oauth2Token",
            "id_token",
            "api_key",
            "apiKey",
            "APIKey",
            "apikey",
            "x-api-key",
            "X-API-KEY",
            "aws_secret_access_key",
            "AWS_SECRET_ACCESS_KEY",
            "SecretAccessKey",
            "secretKey",
            "private_key",
            "privateKey",
            "AccountKey",
            "SharedAccessKey",
            "Ocp-Apim-Subscription-Key",
            "credentials",
            "googleCredentials",
            "creds",
            "auth",
            "basic_auth",
            "authorization",
            "Proxy-Authorization",
            "cookie",
            "Set-Cookie",
            "setcookie",
            "session",
            "session_id",
            "sessionId",
            "JSESSIONID",
            "PHPSESSID",
            "password_hash",
            "passwordHash",
            "tokenValue",
            "auth_header",
            "private_key_pem",
            "SECRET_KEY_BASE",
            "jwt",
            "X-Amz-Signature",
            "password2",
            "DB_PASSWORD_1",
            "api_key_hash_2",
            "password_b64",
        ] {
            assert!(names_a_secret(key), "{key}");
        }
    }

    #[test]
    fn keys_that_only_sound_like_secrets() {
        for key in [
            "",
            "_",
            "user",
            "token_count",
            "tokenCount",
            "tokens",
            "tokens_used",
            "max_tokens",
            "prompt_tokens",
            "token_type",
            "tokenizer",
            "password_policy",
            "passwordPolicy",
            "password_reset_requested",
            "password_file",
            "author",
            "authority",
            "authentication",
            "authorization.k8s.io/decision",
            "authorization.k8s.io/reason",
            "oauth",
            "secretary",
            "secretName",
            "secret_name",
            "secretKeyRef",
            "secrets",
            "imagePullSecrets",
            "bypass",
            "compass",
            "pass_rate",
            "possession",
            "session_count",
            "sessions",
            "key",
            "cache_key",
            "partitionKey",
            "public_key",
            "publicKey",
            "private_key_id",
            "access_key_id",
            "AWS_ACCESS_KEY_ID",
            "AccessKeyId",
            "client_id",
            "keyboard",
            "monkey",
            "signature_algorithm",
            "signatureVersion",
            "design",
            "dsn",
            "sig",
            "sig2",
            "v2",
            "msg",
            "trace_id",
            "latency_ms",
        ] {
            assert!(!names_a_secret(key), "{key}");
        }
    }

    #[test]
    fn long_keys_are_judged_by_their_end() {
        let long = format!("{}_password", "x".repeat(200));
        assert!(names_a_secret(&long));
        assert!(!names_a_secret(&format!(
            "{long}_policy_{}",
            "y".repeat(40)
        )));
        assert!(names_a_secret("é_password"));
        assert!(!names_a_secret("pässword"));
    }
}
