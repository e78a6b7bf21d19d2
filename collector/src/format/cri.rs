//! The CRI text log format (`<time> <stream> <tags> <content>`), read the way kubelet's
//! `parseCRILog` reads it, on bytes, because the content need not be UTF-8.

use std::borrow::Cow;

use logpipe_common::event::{Stream, Timestamp};

use super::Fragment;
use crate::error::FormatError;

const DELIMITER: u8 = b' ';
const TAG_DELIMITER: u8 = b':';
const TAG_PARTIAL: &[u8] = b"P";

/// Parses one line, given without its trailing `\n`. Only the first tag is read; `P`
/// marks a partial line and any other value a full one, as in kubelet, so that tags
/// added by newer runtimes are tolerated.
pub(super) fn parse(line: &[u8]) -> Result<Fragment<'_>, FormatError> {
    let (ts, rest) = split_word(line).ok_or(FormatError::TimestampNotFound)?;
    let runtime_ts = parse_timestamp(ts)?;

    let (stream, rest) = split_word(rest).ok_or(FormatError::StreamNotFound)?;
    let stream = match stream {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return Err(FormatError::UnexpectedStream),
    };

    let (tags, content) = split_word(rest).ok_or(FormatError::TagNotFound)?;
    let first_tag = tags.split(|&b| b == TAG_DELIMITER).next().unwrap_or(tags);

    Ok(Fragment {
        runtime_ts,
        stream,
        partial: first_tag == TAG_PARTIAL,
        content: Cow::Borrowed(content),
    })
}

/// Reads a CRI timestamp: RFC 3339 with any fraction length and any offset.
pub(super) fn parse_timestamp(word: &[u8]) -> Result<Timestamp, FormatError> {
    // `Timestamp::parse_rfc3339` trims whitespace; a CRI timestamp has none.
    if !word.first().is_some_and(u8::is_ascii_digit) {
        return Err(FormatError::InvalidTimestamp);
    }
    std::str::from_utf8(word)
        .ok()
        .and_then(Timestamp::parse_rfc3339)
        .ok_or(FormatError::InvalidTimestamp)
}

/// The bytes before the first space and the bytes after it; `None` without a space.
fn split_word(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|&b| b == DELIMITER)?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(line: &[u8]) -> Fragment<'_> {
        parse(line).unwrap_or_else(|error| panic!("{line:?}: {error}"))
    }

    #[test]
    fn full_and_partial_lines() {
        let fragment = parse_ok(b"2016-10-20T18:39:20.57606443Z stdout F cri stdout test log");
        assert_eq!(
            fragment.runtime_ts.to_string(),
            "2016-10-20T18:39:20.576064430Z"
        );
        assert_eq!(fragment.stream, Stream::Stdout);
        assert!(!fragment.partial);
        assert_eq!(&*fragment.content, b"cri stdout test log");
        assert!(matches!(fragment.content, Cow::Borrowed(_)));

        let fragment = parse_ok(b"2016-10-20T18:39:20.57606443Z stderr P:TAG1:TAG2 a b  c ");
        assert_eq!(fragment.stream, Stream::Stderr);
        assert!(fragment.partial);
        assert_eq!(&*fragment.content, b"a b  c ");
    }

    #[test]
    fn offsets_are_normalized_to_utc() {
        let fragment = parse_ok(b"2022-10-29T16:10:22.592603036-05:00 stdout P 0");
        assert_eq!(
            fragment.runtime_ts.to_string(),
            "2022-10-29T21:10:22.592603036Z"
        );
    }

    #[test]
    fn empty_content_needs_the_space_after_the_tag() {
        let fragment = parse_ok(b"2022-10-29T16:10:22.592603036-05:00 stdout F ");
        assert!(fragment.content.is_empty());
        assert!(!fragment.partial);
        assert_eq!(
            parse(b"2022-10-29T16:10:22.592603036-05:00 stdout F"),
            Err(FormatError::TagNotFound)
        );
    }

    #[test]
    fn unknown_first_tags_read_as_full() {
        for tags in [&b"X"[..], b"", b"F:P", b"p"] {
            let mut line = b"2016-10-20T18:39:20Z stdout ".to_vec();
            line.extend_from_slice(tags);
            line.extend_from_slice(b" text");
            assert!(!parse_ok(&line).partial, "{tags:?}");
        }
    }

    #[test]
    fn content_is_bytes() {
        let fragment = parse_ok(b"2021-08-05T17:35:26.640507539Z stdout P caf\xc3 \xff\r");
        assert_eq!(&*fragment.content, b"caf\xc3 \xff\r");
    }

    #[test]
    fn errors_say_what_is_missing() {
        let cases: [(&[u8], FormatError); 9] = [
            (b"", FormatError::TimestampNotFound),
            (b"2016-10-20T18:39:20Z", FormatError::TimestampNotFound),
            (
                b"unsupported log format test log",
                FormatError::InvalidTimestamp,
            ),
            (b"2016-10-20 stdout F x", FormatError::InvalidTimestamp),
            (
                b" 2016-10-20T18:39:20Z stdout F x",
                FormatError::InvalidTimestamp,
            ),
            (b"2016-10-20T18:39:20Z stdout", FormatError::StreamNotFound),
            (
                b"2016-10-20T18:39:20Z stdin F x",
                FormatError::UnexpectedStream,
            ),
            (
                b"2016-10-20T18:39:20Z STDOUT F x",
                FormatError::UnexpectedStream,
            ),
            (b"2016-10-20T18:39:20Z stderr", FormatError::StreamNotFound),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line), Err(expected), "{line:?}");
        }
        assert_eq!(
            parse(b"2016-10-20T18:39:20Z stdout P")
                .unwrap_err()
                .to_string(),
            "log tag is not found"
        );
    }
}
