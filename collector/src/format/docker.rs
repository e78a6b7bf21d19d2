//! Docker's json-file log format: one `{"log", "stream", "time"}` object per line, as
//! moby's json-file driver writes it for containers run by dockershim or cri-dockerd.
//!
//! Moby appends `\n` to every message except a non-final piece of a line it split (its
//! copier cuts lines at 16 KiB), so a `log` without a trailing `\n` is partial. Vector
//! instead calls a record partial only when its `log` is exactly 16 KiB; we follow the
//! writer, as Fluent Bit's docker parser does.

use std::borrow::Cow;

use logpipe_common::event::{Stream, Timestamp};
use serde::Deserialize;

use super::Fragment;
use crate::error::FormatError;

/// The fields read; `attrs` and anything else are ignored. Strings borrow from the line
/// unless they hold escapes.
#[derive(Deserialize)]
struct JsonLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
}

/// Parses one line, given without its trailing `\n`.
pub(super) fn parse(line: &[u8]) -> Result<Fragment<'_>, FormatError> {
    match serde_json::from_slice::<JsonLine<'_>>(line) {
        Ok(json) => fragment(json),
        Err(error) => {
            // Go's encoding/json never writes raw control characters inside a string,
            // but other writers do (Fluent Bit's own tests have a raw newline). Such a
            // line is read as if they had been escaped.
            let escaped = escape_raw_controls(line).ok_or_else(|| not_docker(&error))?;
            let json =
                serde_json::from_slice::<JsonLine<'_>>(&escaped).map_err(|_| not_docker(&error))?;
            fragment(json).map(Fragment::into_owned)
        }
    }
}

fn not_docker(error: &serde_json::Error) -> FormatError {
    FormatError::NotDockerJson(error.to_string())
}

fn fragment(json: JsonLine<'_>) -> Result<Fragment<'_>, FormatError> {
    let stream = match &*json.stream {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return Err(FormatError::UnexpectedStream),
    };
    let runtime_ts = Timestamp::parse_rfc3339(&json.time).ok_or(FormatError::InvalidTimestamp)?;
    let (content, partial) = strip_line_end(json.log);
    Ok(Fragment {
        runtime_ts,
        stream,
        partial,
        content,
    })
}

/// The content without its `\n` (or `\r\n`), and whether there was none.
fn strip_line_end(log: Cow<'_, str>) -> (Cow<'_, [u8]>, bool) {
    let Some(without_lf) = log.strip_suffix('\n') else {
        return (cow_bytes(log), true);
    };
    let keep = without_lf.strip_suffix('\r').unwrap_or(without_lf).len();
    let content = match log {
        Cow::Borrowed(text) => Cow::Borrowed(&text.as_bytes()[..keep]),
        Cow::Owned(text) => {
            let mut bytes = text.into_bytes();
            bytes.truncate(keep);
            Cow::Owned(bytes)
        }
    };
    (content, false)
}

fn cow_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    }
}

/// The line with every raw control character inside a JSON string written as a `\u`
/// escape; `None` when there is none to escape.
fn escape_raw_controls(line: &[u8]) -> Option<Vec<u8>> {
    if !line.iter().any(|&b| b < 0x20) {
        return None;
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    for &byte in line {
        if in_string && byte < 0x20 {
            out.extend_from_slice(format!("\\u{byte:04x}").as_bytes());
            escaped = false;
            continue;
        }
        out.push(byte);
        if escaped {
            escaped = false;
        } else if in_string && byte == b'\\' {
            escaped = true;
        } else if byte == b'"' {
            in_string = !in_string;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(line: &str) -> Fragment<'_> {
        parse(line.as_bytes()).unwrap_or_else(|error| panic!("{line}: {error}"))
    }

    #[test]
    fn full_line_loses_its_line_end() {
        let fragment = parse_ok(
            r#"{"log":"Fluent Bit is logging\n","stream":"stdout","time":"2019-04-01T17:58:33.598656444Z"}"#,
        );
        assert_eq!(&*fragment.content, b"Fluent Bit is logging");
        assert!(!fragment.partial);
        assert_eq!(fragment.stream, Stream::Stdout);
        assert_eq!(
            fragment.runtime_ts.to_string(),
            "2019-04-01T17:58:33.598656444Z"
        );
        let fragment =
            parse_ok(r#"{"log":"dos\r\n","stream":"stderr","time":"2019-04-01T17:58:33Z"}"#);
        assert_eq!(&*fragment.content, b"dos");
        let fragment = parse_ok(r#"{"log":"\n","stream":"stderr","time":"2019-04-01T17:58:33Z"}"#);
        assert!(fragment.content.is_empty());
        assert!(!fragment.partial);
    }

    #[test]
    fn without_a_line_end_the_line_is_partial() {
        let fragment =
            parse_ok(r#"{"log":"half a li","stream":"stdout","time":"2019-04-01T17:58:33Z"}"#);
        assert!(fragment.partial);
        assert_eq!(&*fragment.content, b"half a li");
        let fragment =
            parse_ok(r#"{"log":"cr only\r","stream":"stdout","time":"2019-04-01T17:58:33Z"}"#);
        assert!(fragment.partial);
        assert_eq!(&*fragment.content, b"cr only\r");
    }

    #[test]
    fn content_borrows_unless_unescaped() {
        let fragment =
            parse_ok(r#"{"log":"plain","stream":"stdout","time":"2019-04-01T17:58:33Z"}"#);
        assert!(matches!(fragment.content, Cow::Borrowed(b"plain")));
        // Every full line ends in an escaped `\n`, so its content is unescaped.
        let fragment = parse_ok(
            r#"{"log":"\"q\" \u0026 \ud83d\ude80\n","stream":"stdout","time":"2019-04-01T17:58:33Z"}"#,
        );
        assert!(matches!(fragment.content, Cow::Owned(_)));
        assert_eq!(&*fragment.content, "\"q\" & 🚀".as_bytes());
    }

    #[test]
    fn attrs_and_unknown_fields_are_ignored() {
        let fragment = parse_ok(
            r#"{"log":"x\n","stream":"stdout","attrs":{"tag":"a/b"},"extra":[1],"time":"2019-04-01T17:58:33+02:00"}"#,
        );
        assert_eq!(&*fragment.content, b"x");
        assert_eq!(
            fragment.runtime_ts.to_string(),
            "2019-04-01T15:58:33.000000000Z"
        );
    }

    #[test]
    fn raw_control_characters_in_strings_are_tolerated() {
        let fragment = parse_ok(
            "{\"log\": \"a\tb\\\"\x01\n\", \"stream\": \"stdout\", \"time\": \"2021-02-01T16:45:03.01233z\"}",
        );
        assert_eq!(&*fragment.content, b"a\tb\"\x01");
        assert!(!fragment.partial);
        // Outside strings they are JSON whitespace (tab, CR) or an error.
        let fragment = parse_ok(
            "{\"log\":\"x\\n\",\t\"stream\":\"stdout\",\"time\":\"2021-02-01T16:45:03Z\"}\r",
        );
        assert_eq!(&*fragment.content, b"x");
        assert!(
            parse(
                b"{\"log\":\"x\\n\",\x01\"stream\":\"stdout\",\"time\":\"2021-02-01T16:45:03Z\"}"
            )
            .is_err()
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = parse(br#"{"log":"x\n","stream":"stdout"}"#).unwrap_err();
        assert!(matches!(error, FormatError::NotDockerJson(_)));
        assert!(
            error
                .to_string()
                .starts_with("not a docker json-file record: missing field `time`"),
            "{error}"
        );
        assert_eq!(
            parse(br#"{"log":"x\n","stream":"stdin","time":"2019-04-01T17:58:33Z"}"#),
            Err(FormatError::UnexpectedStream)
        );
        assert_eq!(
            parse(br#"{"log":"x\n","stream":"stdout","time":"yesterday"}"#),
            Err(FormatError::InvalidTimestamp)
        );
        // Raw invalid UTF-8 cannot be in a file moby wrote (it writes U+FFFD instead).
        assert!(
            parse(b"{\"log\":\"\xff\\n\",\"stream\":\"stdout\",\"time\":\"2019-04-01T17:58:33Z\"}")
                .is_err()
        );
    }
}
