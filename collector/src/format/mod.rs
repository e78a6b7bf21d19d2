//! Kubernetes container log files: reading one physical line of the CRI text format or
//! of Docker's json-file format into a [`Fragment`], and joining the partial fragments
//! that runtimes write for long lines back into whole records.
//!
//! Semantics shared by both formats, which differ from some upstream readers on purpose:
//! - a line is given without its trailing `\n`, and the content of a full line never ends
//!   with the line's `\n` (kubelet keeps it for CRI `F` lines; we strip it, as Vector does);
//! - a line that is not in the format is an error: the caller keeps it whole as its own
//!   record, and it does not end a record that is being joined.

mod cri;
mod docker;
mod reassemble;

use std::borrow::Cow;

use logpipe_common::event::{Stream, Timestamp};

pub use crate::error::FormatError;
pub use reassemble::{Reassembler, Record};

/// The format of a container log file, fixed for the file's life by its runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `<RFC 3339 time> <stdout|stderr> <P|F>[:tag...] <content>`, written by containerd
    /// and CRI-O.
    Cri,
    /// One `{"log": ..., "stream": ..., "time": ...}` object per line, written by
    /// Docker's json-file logging driver (dockershim, cri-dockerd).
    DockerJson,
}

/// One physical line, parsed. The content borrows from the line when the format needs
/// no unescaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// When the runtime read the bytes from the container.
    pub runtime_ts: Timestamp,
    pub stream: Stream,
    /// The runtime split a longer line here; the record goes on in the next fragment of
    /// the same stream.
    pub partial: bool,
    /// What the container wrote, without the format's framing and without the line end.
    pub content: Cow<'a, [u8]>,
}

impl Fragment<'_> {
    /// The fragment with its content copied out of the line, to keep it past the line.
    pub(crate) fn into_owned(self) -> Fragment<'static> {
        Fragment {
            runtime_ts: self.runtime_ts,
            stream: self.stream,
            partial: self.partial,
            content: Cow::Owned(self.content.into_owned()),
        }
    }
}

impl Format {
    /// The format of a file from its first line: docker json-file lines are JSON objects,
    /// CRI lines start with an RFC 3339 timestamp. `None` when it is neither.
    pub fn detect(first_line: &[u8]) -> Option<Format> {
        if first_line.first() == Some(&b'{') {
            return Some(Format::DockerJson);
        }
        let first_word = first_line.split(|&b| b == b' ').next()?;
        cri::parse_timestamp(first_word).ok().map(|_| Format::Cri)
    }

    /// Parses one line, given without its trailing `\n`.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Fragment<'a>, FormatError> {
        match self {
            Format::Cri => cri::parse(line),
            Format::DockerJson => docker::parse(line),
        }
    }

    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Format::Cri => "cri",
            Format::DockerJson => "docker-json",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn detects_each_format_from_its_first_line() {
        let cri = b"2016-10-06T00:17:09.669794202Z stdout F hello";
        assert_eq!(Format::detect(cri), Some(Format::Cri));
        let offset = b"2022-10-29T16:10:22.592603036-05:00 stdout P 0";
        assert_eq!(Format::detect(offset), Some(Format::Cri));
        let docker = br#"{"log":"hi\n","stream":"stdout","time":"2019-04-01T17:58:33.598656444Z"}"#;
        assert_eq!(Format::detect(docker), Some(Format::DockerJson));
        for neither in [
            &b""[..],
            b"unsupported log format test log",
            b"2016-10-06 stdout F x",
            b" {\"log\":\"x\"}",
            b"\xff\xfe",
        ] {
            assert_eq!(Format::detect(neither), None, "{neither:?}");
        }
    }

    #[test]
    fn parse_dispatches_on_the_format() {
        let line = b"2016-10-06T00:17:09.669794202Z stderr P part";
        let fragment = Format::Cri.parse(line).unwrap();
        assert_eq!(fragment.stream, Stream::Stderr);
        assert!(fragment.partial);
        assert!(Format::DockerJson.parse(line).is_err());
        assert_eq!(Format::DockerJson.to_string(), "docker-json");
    }

    proptest! {
        #[test]
        fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Format::detect(&line);
            let _ = Format::Cri.parse(&line);
            let _ = Format::DockerJson.parse(&line);
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            ts in "[0-9TZ:.+-]{0,40}",
            stream in "(stdout|stderr|std|)",
            tag in "[PF:A-Z]{0,6}",
            content in any::<Vec<u8>>(),
        ) {
            let mut line = format!("{ts} {stream} {tag} ").into_bytes();
            line.extend_from_slice(&content);
            let _ = Format::detect(&line);
            let _ = Format::Cri.parse(&line);
            let json = format!(r#"{{"log":"{tag}","stream":"{stream}","time":"{ts}"}}"#);
            let _ = Format::DockerJson.parse(json.as_bytes());
        }
    }
}
