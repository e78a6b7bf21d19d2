//! Private keys logged a line per record. A record that opens a PEM private key block
//! (`-----BEGIN ... PRIVATE KEY-----`) without closing it has the block's start masked by
//! the `private_key_block` rule; the records after it that carry the key's body, base64
//! lines and the legacy `Proc-Type:`/`DEK-Info:` headers, are masked whole, up to the
//! record holding `-----END ... PRIVATE KEY-----`. A record of any other shape ends the
//! block unmasked: it is not key material. One state per source of records (a file).

use std::sync::LazyLock;

use regex::Regex;

use super::mask::MASK;

/// Records masked after an opening one at most: an 8192-bit RSA key is about 100 lines
/// of PEM, an encrypted one a few more.
const MAX_LINES: u32 = 200;

static BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----").expect("the pattern compiles")
});
static END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----").expect("the pattern compiles")
});

/// Whether the records that follow belong to an open private key block.
#[derive(Debug, Default, Clone)]
pub(crate) struct KeyLines {
    /// Records that may still be masked; 0 when no block is open.
    open_for: u32,
}

impl KeyLines {
    /// Masks `message` when it continues a block an earlier record opened; returns how
    /// many values were masked (0 or 1). Called on the record as read, before the rules.
    pub(crate) fn mask(&mut self, message: &mut String) -> usize {
        if self.open_for > 0 {
            self.open_for -= 1;
            if let Some(end) = END.find(message) {
                self.open_for = 0;
                let before = &message[..end.start()];
                if before.trim().is_empty() || !is_key_material(before) {
                    return 0;
                }
                message.replace_range(..end.start(), MASK);
                return 1;
            }
            let line = message.trim();
            if line.is_empty() {
                return 0;
            }
            if !is_key_material(line) {
                self.open_for = 0;
                return 0;
            }
            *message = MASK.to_owned();
            return 1;
        }
        if let Some(begin) = BEGIN.find_iter(message).last()
            && !END.is_match(&message[begin.end()..])
        {
            self.open_for = MAX_LINES;
        }
        0
    }
}

/// A line of a PEM body: base64, or an RFC 1421 header of an encrypted key.
fn is_key_material(line: &str) -> bool {
    let line = line.trim();
    let base64 = line
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    base64 || line.starts_with("Proc-Type:") || line.starts_with("DEK-Info:")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key as an application that logs it line by line writes it.
    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,3F17F5316E2BAC89

MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu
KUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm
o3qGy0t6z09AIJtH+5OeRV1be+N4cDYJKffGzDa88vQENZiRm0GRq6a+HPGQMd2k
TQIhAKMSvzIBnni7ot/OSie2TmJLY4SwTQAevXysE2RbFDYdAiEBCUEaRQnMnbp7
-----END RSA PRIVATE KEY-----";

    fn logged(lines: &[&str]) -> Vec<String> {
        let mut state = KeyLines::default();
        lines
            .iter()
            .map(|line| {
                let mut message = line.to_string();
                state.mask(&mut message);
                message
            })
            .collect()
    }

    #[test]
    fn the_lines_after_an_opening_record_are_masked_up_to_the_closing_one() {
        let mut lines: Vec<&str> = KEY.lines().collect();
        lines.push("server started on :8443");
        let out = logged(&lines);
        // The opening record is the block rule's; the body and headers are masked here.
        assert_eq!(out[0], lines[0]);
        for (n, line) in out[1..lines.len() - 2].iter().enumerate() {
            let original = lines[n + 1];
            let expected = if original.is_empty() { "" } else { MASK };
            assert_eq!(line, expected, "line {}", n + 1);
        }
        assert_eq!(out[lines.len() - 2], "-----END RSA PRIVATE KEY-----");
        assert_eq!(out[lines.len() - 1], "server started on :8443");
    }

    #[test]
    fn a_record_of_another_shape_ends_the_block_unmasked() {
        let out = logged(&[
            "loading key -----BEGIN PRIVATE KEY-----",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
            "error: key file truncated, using defaults",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
        ]);
        assert_eq!(out[1], MASK);
        assert_eq!(out[2], "error: key file truncated, using defaults");
        assert_eq!(
            out[3],
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
        );
    }

    #[test]
    fn a_block_closed_in_its_own_record_opens_nothing() {
        let out = logged(&[
            "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----",
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
        ]);
        assert_eq!(
            out[1],
            "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
        );
    }

    #[test]
    fn a_block_never_closed_stops_after_its_bound() {
        let body = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2";
        let mut lines = vec!["-----BEGIN EC PRIVATE KEY-----"];
        lines.extend(std::iter::repeat_n(body, MAX_LINES as usize + 5));
        let out = logged(&lines);
        assert!(out[1..=MAX_LINES as usize].iter().all(|line| line == MASK));
        assert_eq!(out[MAX_LINES as usize + 1], body);
    }
}
