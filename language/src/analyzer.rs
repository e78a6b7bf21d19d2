//! How text becomes words, in one place: the index registers [`WordTokenizer`] as its
//! analyzer for `message`, `attribute_text` and string attributes, and the predicate,
//! the query translation and the alert router split text with [`words`]. A search and
//! an alert rule therefore see the same words.
//!
//! Words are runs of alphanumeric characters; words of [`MAX_WORD_BYTES`] bytes or more
//! are dropped (their position stays taken) and the rest lower-cased. These are the
//! tokens of tantivy's `default` analyzer, which earlier indexes were written with.

use std::str::CharIndices;

use tantivy_tokenizer_api::{Token, TokenStream, Tokenizer};

/// Words this long or longer (in UTF-8 bytes, before lower-casing) are not indexed.
pub const MAX_WORD_BYTES: usize = 40;

/// The words of `text` with their positions.
pub fn words(text: &str) -> Vec<(u32, String)> {
    let mut tokenizer = WordTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let token = stream.token();
        out.push((token.position as u32, token.text.clone()));
    }
    out
}

/// The words of one text with their positions, as [`words`] makes them, lower-cased into
/// one buffer instead of a string each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WordList {
    lower: String,
    /// Each word's position and its bytes in `lower`, in order of position.
    words: Vec<(u32, u32, u32)>,
}

impl WordList {
    pub fn of(text: &str) -> Self {
        let mut list = WordList::default();
        if text.is_ascii() {
            // For ASCII the words are the runs of letters and digits, at the same bytes
            // in the lower-cased text.
            list.lower = text.to_ascii_lowercase();
            let bytes = list.lower.as_bytes();
            let mut position = 0u32;
            let mut at = 0;
            while at < bytes.len() {
                if !bytes[at].is_ascii_alphanumeric() {
                    at += 1;
                    continue;
                }
                let start = at;
                while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
                    at += 1;
                }
                if at - start < MAX_WORD_BYTES {
                    list.words.push((position, start as u32, at as u32));
                }
                position += 1;
            }
            return list;
        }
        let mut tokenizer = WordTokenizer::default();
        let mut stream = tokenizer.token_stream(text);
        while stream.advance() {
            let token = stream.token();
            let start = list.lower.len() as u32;
            list.lower.push_str(&token.text);
            list.words
                .push((token.position as u32, start, list.lower.len() as u32));
        }
        list
    }

    /// Each word with its position, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &str)> + '_ {
        self.words
            .iter()
            .map(|&(position, start, end)| (position, &self.lower[start as usize..end as usize]))
    }

    /// The word at `position`, if one is.
    pub fn at(&self, position: u32) -> Option<&str> {
        let index = self
            .words
            .binary_search_by_key(&position, |&(position, ..)| position)
            .ok()?;
        let (_, start, end) = self.words[index];
        Some(&self.lower[start as usize..end as usize])
    }
}

/// Whether `test` holds for some word of `text` (the words of [`words`], in order),
/// without building the list.
pub fn any_word(text: &str, mut test: impl FnMut(&str) -> bool) -> bool {
    if text.is_ascii() {
        let mut found = false;
        for_each_ascii_word(text, 1, MAX_WORD_BYTES - 1, |word| {
            found = found || test(word);
            found
        });
        return found;
    }
    let mut tokenizer = WordTokenizer::default();
    let mut stream = tokenizer.token_stream(text);
    while stream.advance() {
        if test(&stream.token().text) {
            return true;
        }
    }
    false
}

/// Each word of ASCII `text` of `shortest..=longest` bytes, lower-cased in a buffer of
/// its own rather than allocated, until `each` says stop: the words of [`words`], which
/// for ASCII are runs of letters and digits.
pub fn for_each_ascii_word(
    text: &str,
    shortest: usize,
    longest: usize,
    mut each: impl FnMut(&str) -> bool,
) {
    let mut lower = [0u8; MAX_WORD_BYTES];
    for run in ascii_words(text) {
        if run.len() < shortest || run.len() > longest {
            continue;
        }
        let lower = &mut lower[..run.len()];
        lower.copy_from_slice(run);
        lower.make_ascii_lowercase();
        if let Ok(word) = std::str::from_utf8(lower)
            && each(word)
        {
            return;
        }
    }
}

/// The words of ASCII `text` as they stand in it, before lower-casing: its runs of
/// letters and digits shorter than [`MAX_WORD_BYTES`], in order.
pub fn ascii_words(text: &str) -> impl Iterator<Item = &[u8]> {
    debug_assert!(text.is_ascii());
    text.as_bytes()
        .split(|b| !b.is_ascii_alphanumeric())
        .filter(|run| !run.is_empty() && run.len() < MAX_WORD_BYTES)
}

/// The analyzer as a tantivy tokenizer.
#[derive(Debug, Clone, Default)]
pub struct WordTokenizer {
    token: Token,
}

/// The words of one text, in order.
#[derive(Debug)]
pub struct WordStream<'a> {
    text: &'a str,
    chars: CharIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.token.reset();
        WordStream {
            text,
            chars: text.char_indices(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        loop {
            self.token.text.clear();
            self.token.position = self.token.position.wrapping_add(1);
            let Some((start, _)) = self.chars.by_ref().find(|(_, c)| c.is_alphanumeric()) else {
                return false;
            };
            let end = self
                .chars
                .by_ref()
                .find(|(_, c)| !c.is_alphanumeric())
                .map_or(self.text.len(), |(offset, _)| offset);
            let word = &self.text[start..end];
            if word.len() >= MAX_WORD_BYTES {
                continue;
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            if word.is_ascii() {
                self.token.text.push_str(word);
                self.token.text.make_ascii_lowercase();
            } else {
                // Per character, without the final-sigma rule of `str::to_lowercase`.
                for c in word.chars() {
                    self.token.text.extend(c.to_lowercase());
                }
            }
            return true;
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_alphanumeric_runs_lower_cased_with_positions() {
        assert_eq!(
            words("GET /api/v1 answered 502, Ünïcode ΣΑΣ"),
            vec![
                (0, "get".to_owned()),
                (1, "api".to_owned()),
                (2, "v1".to_owned()),
                (3, "answered".to_owned()),
                (4, "502".to_owned()),
                (5, "ünïcode".to_owned()),
                (6, "σασ".to_owned()),
            ]
        );
    }

    #[test]
    fn any_word_sees_the_words_of_words() {
        let long = format!(
            "short {} {} end",
            "x".repeat(MAX_WORD_BYTES - 1),
            "y".repeat(MAX_WORD_BYTES)
        );
        for text in [
            "GET /api/v1 answered 502, Ünïcode ΣΑΣ",
            "",
            "--",
            "a b a",
            "GET /API/V1, 502!",
            &long,
        ] {
            let mut seen = Vec::new();
            assert!(!any_word(text, |word| {
                seen.push(word.to_owned());
                false
            }));
            let expected: Vec<String> = words(text).into_iter().map(|(_, w)| w).collect();
            assert_eq!(seen, expected);
        }
        assert!(any_word("x Y z", |word| word == "y"));
    }

    #[test]
    fn long_words_are_dropped_and_keep_their_position() {
        let long = "a".repeat(MAX_WORD_BYTES);
        let short = "b".repeat(MAX_WORD_BYTES - 1);
        assert_eq!(
            words(&format!("x {long} {short} y")),
            vec![(0, "x".to_owned()), (2, short), (3, "y".to_owned())]
        );
    }

    proptest::proptest! {
        #[test]
        fn a_word_list_holds_the_words_of_words(
            text in "([a-zA-Z0-9]{0,45}|[ .,/_\\-]{1,3}|[ÉéßΣσİ\u{1F600}]|x{38,42}){0,12}",
        ) {
            let list = WordList::of(&text);
            let expected = words(&text);
            let listed: Vec<(u32, String)> =
                list.iter().map(|(position, word)| (position, word.to_owned())).collect();
            proptest::prop_assert_eq!(&listed, &expected);
            let last = expected.last().map_or(0, |(position, _)| position + 2);
            for position in 0..last {
                let word = expected.iter().find(|(p, _)| *p == position).map(|(_, w)| w.as_str());
                proptest::prop_assert_eq!(list.at(position), word);
            }
        }
    }

    #[test]
    fn offsets_point_into_the_text() {
        let mut tokenizer = WordTokenizer::default();
        let text = "--Hello, wörld";
        let mut stream = tokenizer.token_stream(text);
        let mut spans = Vec::new();
        while stream.advance() {
            let token = stream.token();
            spans.push(&text[token.offset_from..token.offset_to]);
        }
        assert_eq!(spans, ["Hello", "wörld"]);
    }
}
