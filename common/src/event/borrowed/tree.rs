//! The attributes' JSON checked in one pass as `LogEvent` reads it: serde_json's grammar,
//! and what serde_json refuses only on building the tree, which passing over a raw value
//! does not catch (nesting past its limit, a lone surrogate escaped, a number beyond
//! `f64`).

/// How deep `LogEvent`'s attributes may nest, the object itself one level: serde_json
/// reads 127 levels, the event's own object the first.
const ATTRIBUTES_NESTING: usize = 126;

const NOT_JSON: &str = "the attributes are not JSON";
const TOO_DEEP: &str = "attributes nested deeper than 126 levels";
const LONE_SURROGATE: &str = "a lone surrogate escaped in the attributes";
const OUT_OF_RANGE: &str = "a number in the attributes out of range";

/// The length of the JSON value `text` starts with, when serde_json reads it into a tree
/// as `LogEvent`'s attributes; what is wrong with it otherwise.
pub(super) fn tree_len(text: &str) -> Result<usize, &'static str> {
    let mut check = Check { text, at: 0 };
    check.value(1)?;
    Ok(check.at)
}

/// How many bytes of `bytes` precede the first quote, backslash or control character,
/// eight at a time: a byte below 0x20, or equal to `"` or `\\` after an exclusive or, borrows
/// into its top bit, and the lowest byte flagged is the first such byte (a borrow only
/// reaches bytes above one already flagged).
pub(super) fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const TOPS: u64 = ONES << 7;
    let flagged = |word: u64| {
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        (word.wrapping_sub(ONES * 0x20) & !word
            | quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash)
            & TOPS
    };
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = flagged(word);
        if found != 0 {
            return at + found.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    at + chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - at)
}

type Checked = Result<(), &'static str>;

struct Check<'a> {
    text: &'a str,
    at: usize,
}

impl Check<'_> {
    fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Checked {
        if self.peek() != Some(byte) {
            return Err(NOT_JSON);
        }
        self.at += 1;
        Ok(())
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// A value `depth` levels deep, were it an object or an array.
    fn value(&mut self, depth: usize) -> Checked {
        match self.peek() {
            Some(b'{') => self.nested(depth, b'}', |check| {
                check.string()?;
                check.space();
                check.eat(b':')?;
                check.space();
                check.value(depth + 1)
            }),
            Some(b'[') => self.nested(depth, b']', |check| check.value(depth + 1)),
            Some(b'"') => self.string(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(NOT_JSON),
        }
    }

    /// An object or an array: its members, each read by `member`, up to `close`.
    fn nested(
        &mut self,
        depth: usize,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Checked,
    ) -> Checked {
        if depth > ATTRIBUTES_NESTING {
            return Err(TOO_DEEP);
        }
        self.at += 1;
        self.space();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            member(self)?;
            self.space();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.space();
                }
                Some(byte) if byte == close => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(NOT_JSON),
            }
        }
    }

    fn literal(&mut self, word: &str) -> Checked {
        if !self.text[self.at..].starts_with(word) {
            return Err(NOT_JSON);
        }
        self.at += word.len();
        Ok(())
    }

    fn string(&mut self) -> Checked {
        self.eat(b'"')?;
        loop {
            self.at += plain_len(&self.bytes()[self.at..]);
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => self.escape()?,
                // A control character, or the end.
                _ => return Err(NOT_JSON),
            }
        }
    }

    /// An escape, at its backslash: a surrogate only as the first of a pair.
    fn escape(&mut self) -> Checked {
        match self.bytes().get(self.at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.at += 2;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.unit(self.at + 2)?;
                self.at += 6;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes().get(self.at..self.at + 2) != Some(b"\\u") {
                            return Err(LONE_SURROGATE);
                        }
                        if !(0xDC00..=0xDFFF).contains(&self.unit(self.at + 2)?) {
                            return Err(LONE_SURROGATE);
                        }
                        self.at += 6;
                        Ok(())
                    }
                    0xDC00..=0xDFFF => Err(LONE_SURROGATE),
                    _ => Ok(()),
                }
            }
            _ => Err(NOT_JSON),
        }
    }

    /// The UTF-16 unit of the four hex digits at `at`.
    fn unit(&self, at: usize) -> Result<u16, &'static str> {
        let digits = self.bytes().get(at..at + 4).ok_or(NOT_JSON)?;
        digits.iter().try_fold(0u16, |unit, &digit| {
            let value = char::from(digit).to_digit(16).ok_or(NOT_JSON)?;
            Ok(unit << 4 | value as u16)
        })
    }

    fn digits(&mut self) -> usize {
        let count = self.bytes()[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += count;
        count
    }

    /// A number: JSON's form and, but for short integers (which always fit), a value
    /// serde_json reads alone, as it would in the tree.
    fn number(&mut self) -> Checked {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let first = self.peek();
        let digits = self.digits();
        if digits == 0 || (digits > 1 && first == Some(b'0')) {
            return Err(NOT_JSON);
        }
        let mut short = digits <= 18;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(NOT_JSON);
            }
            short = false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(NOT_JSON);
            }
            short = false;
        }
        if !short && serde_json::from_str::<serde_json::Value>(&self.text[start..self.at]).is_err()
        {
            return Err(OUT_OF_RANGE);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::event::{LogEvent, LogEventRef, Timestamp};
    use crate::testkit::sample_event;

    fn naive_plain_len(bytes: &[u8]) -> usize {
        bytes
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(bytes.len())
    }

    /// Whether `LogEvent`, the one-pass reader and serde_json reading in place take an
    /// event whose attributes are `attributes`.
    fn taken(attributes: &str) -> [bool; 3] {
        let text = serde_json::to_string(&sample_event(1, Timestamp::now())).unwrap();
        let at = text.find("\"attributes\":").unwrap() + "\"attributes\":".len();
        let end = at + tree_len(&text[at..]).unwrap();
        let case = format!("{}{attributes}{}", &text[..at], &text[end..]);
        [
            serde_json::from_str::<LogEvent>(&case).is_ok(),
            LogEventRef::from_bytes(case.as_bytes()).is_ok(),
            serde_json::from_str::<LogEventRef<'_>>(&case).is_ok(),
        ]
    }

    /// JSON values of every kind, in spaced and unspaced forms, with numbers and escapes
    /// at the edges of what serde_json reads into a tree.
    fn value() -> impl Strategy<Value = String> {
        let leaf = proptest::sample::select(vec![
            "0",
            "-0",
            "12",
            "1.5",
            "-2.5e-3",
            "1e400",
            "-1E+400",
            "1e-400",
            "0e999999",
            "123456789012345678",
            "12345678901234567890",
            "-9223372036854775809",
            "true",
            "false",
            "null",
            "\"\"",
            "\"a b\"",
            "\"\\ud83d\\ude00\"",
            "\"\\ud800\"",
            "\"\\uDC00x\"",
            "\"\\u00E9\\n\\/\\\"\"",
            "\"é\"",
        ])
        .prop_map(String::from);
        let space = proptest::sample::select(vec!["", "", "", " ", "\n\t", "\r"]);
        leaf.prop_recursive(4, 32, 4, move |inner| {
            prop_oneof![
                (
                    proptest::collection::vec(inner.clone(), 0..4),
                    space.clone()
                )
                    .prop_map(|(items, s)| format!("[{s}{}{s}]", items.join(&format!("{s},"))),),
                (
                    proptest::collection::vec(
                        (
                            proptest::sample::select(vec!["\"k\"", "\"\"", "\"\\ud800\""]),
                            inner
                        ),
                        0..4
                    ),
                    space.clone()
                )
                    .prop_map(|(members, s)| {
                        let members: Vec<String> =
                            members.iter().map(|(k, v)| format!("{k}{s}:{v}")).collect();
                        format!("{{{s}{}}}", members.join(","))
                    }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn finds_the_first_quote_backslash_or_control_byte(
            bytes in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(vec![b'"', b'\\', 0, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xff]),
                    proptest::num::u8::ANY,
                ],
                0..40,
            ),
        ) {
            prop_assert_eq!(plain_len(&bytes), naive_plain_len(&bytes));
        }

        /// Any attributes, written well or edited: the event is taken by both readers in
        /// place exactly when `LogEvent` takes it.
        #[test]
        fn attributes_are_taken_exactly_when_log_event_takes_them(
            value in value(),
            edits in proptest::collection::vec(
                (proptest::num::usize::ANY, 0u8..4, proptest::sample::select(
                    "\"\\{}[],: 0.e-+Eu9d8a\u{1}é".chars().collect::<Vec<char>>(),
                )),
                0..3,
            ),
        ) {
            let mut chars: Vec<char> = format!("{{\"a\":{value}}}").chars().collect();
            for (at, edit, char) in edits {
                let at = at % chars.len();
                match edit {
                    0 => chars[at] = char,
                    1 => chars.insert(at, char),
                    2 => {
                        chars.remove(at);
                    }
                    _ => {}
                }
            }
            let attributes: String = chars.into_iter().collect();
            let [log_event, one_pass, serde] = taken(&attributes);
            prop_assert_eq!(one_pass, log_event, "{}", attributes);
            prop_assert_eq!(serde, log_event, "{}", attributes);
        }
    }
}
