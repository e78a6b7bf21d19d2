//! Joining the partial fragments a runtime writes for one long line back into the
//! record the container wrote, per stream, within a size limit, and keeping the file
//! offsets a checkpoint needs.

use std::borrow::Cow;

use logpipe_common::event::{Stream, Timestamp};

use super::Fragment;
use crate::bounded::BoundedPayload;

/// One record as the container wrote it, with where it lies in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The joined content, without the line end; at most the reassembler's limit.
    pub payload: Vec<u8>,
    /// The runtime's time for the first fragment.
    pub runtime_ts: Timestamp,
    pub stream: Stream,
    /// Byte offset of the first fragment's line in the file: with the file's identity, it
    /// names the record (and fixes its event id).
    pub offset: u64,
    /// Byte offset just past the last fragment's line: where reading resumes once the
    /// record is delivered.
    pub end: u64,
    /// The record was longer than the limit: `payload` is its beginning.
    pub truncated: bool,
}

/// Joins partial fragments into records, separately for stdout and stderr, whose
/// fragments may interleave in one file. Memory stays within `max_record_bytes` per
/// stream: past the limit, fragments are read and dropped until the record's last one.
#[derive(Debug)]
pub struct Reassembler {
    max_record_bytes: usize,
    stdout: Option<Pending>,
    stderr: Option<Pending>,
}

/// A record whose last fragment has not been read yet.
#[derive(Debug)]
struct Pending {
    payload: BoundedPayload,
    runtime_ts: Timestamp,
    stream: Stream,
    offset: u64,
    end: u64,
}

impl Pending {
    fn into_record(self) -> Record {
        Record {
            truncated: self.payload.is_truncated(),
            payload: self.payload.into_vec(),
            runtime_ts: self.runtime_ts,
            stream: self.stream,
            offset: self.offset,
            end: self.end,
        }
    }
}

impl Reassembler {
    pub fn new(max_record_bytes: usize) -> Self {
        Reassembler {
            max_record_bytes,
            stdout: None,
            stderr: None,
        }
    }

    /// Takes the fragment read from the line at `line_offset`, which ends (past its
    /// `\n`) at `line_end`; returns the record it completes, if any.
    pub fn push(
        &mut self,
        fragment: Fragment<'_>,
        line_offset: u64,
        line_end: u64,
    ) -> Option<Record> {
        let max_record_bytes = self.max_record_bytes;
        let slot = match fragment.stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let pending = slot.get_or_insert_with(|| Pending {
            payload: BoundedPayload::new(max_record_bytes),
            runtime_ts: fragment.runtime_ts,
            stream: fragment.stream,
            offset: line_offset,
            end: line_end,
        });
        match fragment.content {
            // Content unescaped into a buffer of its own becomes the payload uncopied.
            Cow::Owned(bytes) if pending.payload.is_empty() => {
                pending.payload = BoundedPayload::from_vec(bytes, max_record_bytes);
            }
            content => pending.payload.push(&content),
        }
        pending.end = line_end;
        if fragment.partial {
            return None;
        }
        slot.take().map(Pending::into_record)
    }

    /// The offset of the earliest record still being joined: a checkpoint must not pass
    /// it, or a restart would lose the fragments read so far.
    pub fn pending_offset(&self) -> Option<u64> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .map(|pending| pending.offset)
            .min()
    }

    /// Emits the records still being joined, in file order, as they are: when the file
    /// was rotated away and fully read, or the last fragment is overdue.
    pub fn flush(&mut self) -> Vec<Record> {
        let mut records: Vec<Record> = [self.stdout.take(), self.stderr.take()]
            .into_iter()
            .flatten()
            .map(Pending::into_record)
            .collect();
        records.sort_by_key(|record| record.offset);
        records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Format;
    use proptest::prelude::*;

    const TS: &str = "2016-10-06T00:17:09.669794202Z";

    /// Feeds CRI lines as a file would hold them, each ending in `\n`.
    fn feed(reassembler: &mut Reassembler, lines: &[&str]) -> Vec<Record> {
        let mut offset = 0;
        let mut records = Vec::new();
        for line in lines {
            let end = offset + line.len() as u64 + 1;
            let fragment = Format::Cri.parse(line.as_bytes()).unwrap();
            records.extend(reassembler.push(fragment, offset, end));
            offset = end;
        }
        records
    }

    fn payloads(records: &[Record]) -> Vec<&str> {
        records
            .iter()
            .map(|record| std::str::from_utf8(&record.payload).unwrap())
            .collect()
    }

    #[test]
    fn a_full_line_is_a_record() {
        let mut reassembler = Reassembler::new(100);
        let records = feed(&mut reassembler, &[&format!("{TS} stdout F hello")]);
        assert_eq!(
            records,
            [Record {
                payload: b"hello".to_vec(),
                runtime_ts: Timestamp::parse_rfc3339(TS).unwrap(),
                stream: Stream::Stdout,
                offset: 0,
                end: 46,
                truncated: false,
            }]
        );
        assert_eq!(reassembler.pending_offset(), None);
    }

    #[test]
    fn streams_are_joined_separately() {
        let mut reassembler = Reassembler::new(100);
        let lines = [
            "2016-10-06T00:00:01Z stdout P out-1 ",
            "2016-10-06T00:00:02Z stderr P err-1 ",
            "2016-10-06T00:00:03Z stdout P out-2 ",
            "2016-10-06T00:00:04Z stderr F err-2",
            "2016-10-06T00:00:05Z stdout F out-3",
        ];
        let records = feed(&mut reassembler, &lines);
        assert_eq!(payloads(&records), ["err-1 err-2", "out-1 out-2 out-3"]);
        let ends: Vec<u64> = lines
            .iter()
            .scan(0, |end, line| {
                *end += line.len() as u64 + 1;
                Some(*end)
            })
            .collect();
        assert_eq!((records[0].offset, records[0].end), (ends[0], ends[3]));
        assert_eq!((records[1].offset, records[1].end), (0, ends[4]));
        assert_eq!(
            records[0].runtime_ts.to_string(),
            "2016-10-06T00:00:02.000000000Z"
        );
        assert_eq!(records[1].stream, Stream::Stdout);
    }

    #[test]
    fn pending_offset_is_the_earliest_unfinished_record() {
        let mut reassembler = Reassembler::new(100);
        assert_eq!(reassembler.pending_offset(), None);
        let fragment = |line: &'static str| Format::Cri.parse(line.as_bytes()).unwrap();
        assert!(
            reassembler
                .push(fragment("2016-10-06T00:00:01Z stderr P a"), 10, 20)
                .is_none()
        );
        assert!(
            reassembler
                .push(fragment("2016-10-06T00:00:01Z stdout P b"), 20, 30)
                .is_none()
        );
        assert_eq!(reassembler.pending_offset(), Some(10));
        assert!(
            reassembler
                .push(fragment("2016-10-06T00:00:01Z stderr F c"), 30, 40)
                .is_some()
        );
        assert_eq!(reassembler.pending_offset(), Some(20));
        assert!(
            reassembler
                .push(fragment("2016-10-06T00:00:01Z stdout F d"), 40, 50)
                .is_some()
        );
        assert_eq!(reassembler.pending_offset(), None);
    }

    #[test]
    fn flush_emits_unfinished_records_in_file_order() {
        let mut reassembler = Reassembler::new(100);
        let records = feed(
            &mut reassembler,
            &[
                "2016-10-06T00:00:01Z stderr P first ",
                "2016-10-06T00:00:02Z stdout P second ",
                "2016-10-06T00:00:03Z stderr P more",
            ],
        );
        assert!(records.is_empty());
        let flushed = reassembler.flush();
        assert_eq!(payloads(&flushed), ["first more", "second "]);
        assert!(flushed.iter().all(|record| !record.truncated));
        assert_eq!(reassembler.pending_offset(), None);
        assert!(reassembler.flush().is_empty());
    }

    #[test]
    fn an_oversized_record_keeps_its_beginning_and_consumes_the_rest() {
        let mut reassembler = Reassembler::new(8);
        let lines = [
            "2016-10-06T00:00:01Z stdout P 12345",
            "2016-10-06T00:00:02Z stdout P 6789",
            "2016-10-06T00:00:03Z stdout P abcdef",
            "2016-10-06T00:00:04Z stdout F ghi",
            "2016-10-06T00:00:05Z stdout F next",
        ];
        let records = feed(&mut reassembler, &lines);
        assert_eq!(payloads(&records), ["12345678", "next"]);
        assert!(records[0].truncated);
        assert!(!records[1].truncated);
        assert_eq!(records[0].end, records[1].offset);
        // One full line over the limit.
        let records = feed(
            &mut reassembler,
            &["2016-10-06T00:00:01Z stderr F 123456789"],
        );
        assert_eq!(payloads(&records), ["12345678"]);
        assert!(records[0].truncated);
    }

    #[test]
    fn truncation_does_not_split_a_character_across_fragments() {
        let mut reassembler = Reassembler::new(4);
        let euro = "€".as_bytes();
        let mut line = b"2016-10-06T00:00:01Z stdout P ab".to_vec();
        line.extend_from_slice(&euro[..1]);
        let fragment = Format::Cri.parse(&line).unwrap();
        assert!(reassembler.push(fragment, 0, 10).is_none());
        let mut line = b"2016-10-06T00:00:01Z stdout F ".to_vec();
        line.extend_from_slice(&euro[1..]);
        let fragment = Format::Cri.parse(&line).unwrap();
        let record = reassembler.push(fragment, 10, 20).unwrap();
        assert_eq!(record.payload, b"ab");
        assert!(record.truncated);
    }

    #[test]
    fn exactly_the_limit_is_not_truncated() {
        let mut reassembler = Reassembler::new(6);
        let records = feed(
            &mut reassembler,
            &[
                "2016-10-06T00:00:01Z stdout P abc",
                "2016-10-06T00:00:02Z stdout P def",
                "2016-10-06T00:00:03Z stdout F ",
            ],
        );
        assert_eq!(payloads(&records), ["abcdef"]);
        assert!(!records[0].truncated);
    }

    #[test]
    fn docker_content_that_was_unescaped_is_kept() {
        let mut reassembler = Reassembler::new(100);
        let line = br#"{"log":"tab\there\n","stream":"stdout","time":"2019-04-01T17:58:33Z"}"#;
        let fragment = Format::DockerJson.parse(line).unwrap();
        let record = reassembler
            .push(fragment, 0, line.len() as u64 + 1)
            .unwrap();
        assert_eq!(record.payload, b"tab\there");
        let line =
            br#"{"log":"\u00e9\u00e9\u00e9\n","stream":"stdout","time":"2019-04-01T17:58:33Z"}"#;
        let record = Reassembler::new(5)
            .push(Format::DockerJson.parse(line).unwrap(), 0, 1)
            .unwrap();
        assert_eq!(record.payload, "éé".as_bytes());
        assert!(record.truncated);
    }

    /// Splits `content` at the given points into CRI lines: `P` fragments, then an `F`.
    fn cri_lines(content: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|cut| cut % (content.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.push(content.len());
        let mut start = 0;
        let mut lines = Vec::new();
        for (i, &cut) in cuts.iter().enumerate() {
            let tag = if i + 1 == cuts.len() { "F" } else { "P" };
            let mut line = format!("2016-10-06T00:17:09.669794202Z stdout {tag} ").into_bytes();
            line.extend_from_slice(&content[start..cut]);
            lines.push(line);
            start = cut;
        }
        lines
    }

    fn join(lines: &[Vec<u8>], format: Format, max_record_bytes: usize) -> Vec<Record> {
        let mut reassembler = Reassembler::new(max_record_bytes);
        let mut offset = 0;
        let mut records = Vec::new();
        for line in lines {
            let end = offset + line.len() as u64 + 1;
            records.extend(reassembler.push(format.parse(line).unwrap(), offset, end));
            offset = end;
        }
        assert_eq!(reassembler.pending_offset(), None);
        records
    }

    proptest! {
        #[test]
        fn split_cri_lines_join_back(
            content in proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..300),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            let lines = cri_lines(&content, &cuts);
            let records = join(&lines, Format::Cri, 1 << 20);
            prop_assert_eq!(records.len(), 1);
            let total: u64 = lines.iter().map(|line| line.len() as u64 + 1).sum();
            prop_assert_eq!((records[0].offset, records[0].end), (0, total));
            prop_assert_eq!(&records[0].payload, &content);
            prop_assert!(!records[0].truncated);
        }

        #[test]
        fn split_docker_lines_join_back(
            content in "[^\n]{0,100}".prop_filter("a final CR is a line end", |c| !c.ends_with('\r')),
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            // Moby splits on bytes; these cuts fall on characters so that every piece is
            // a JSON string (moby would write U+FFFD for a split character).
            let boundaries: Vec<usize> = (0..=content.len()).filter(|&i| content.is_char_boundary(i)).collect();
            let mut cuts: Vec<usize> = cuts.iter().map(|cut| boundaries[cut % boundaries.len()]).collect();
            cuts.sort_unstable();
            cuts.push(content.len());
            let mut start = 0;
            let mut lines = Vec::new();
            for (i, &cut) in cuts.iter().enumerate() {
                let mut log = content[start..cut].to_owned();
                if i + 1 == cuts.len() {
                    log.push('\n');
                }
                let json = serde_json::json!({"log": log, "stream": "stderr", "time": "2019-04-01T17:58:33Z"});
                lines.push(json.to_string().into_bytes());
                start = cut;
            }
            let records = join(&lines, Format::DockerJson, 1 << 20);
            prop_assert_eq!(records.len(), 1);
            prop_assert_eq!(&records[0].payload, content.as_bytes());
            prop_assert_eq!(records[0].stream, Stream::Stderr);
        }

        #[test]
        fn oversized_records_keep_a_bounded_prefix(
            content in "[^\n]{0,200}",
            cuts in proptest::collection::vec(any::<usize>(), 0..8),
            max in 0usize..120,
        ) {
            let lines = cri_lines(content.as_bytes(), &cuts);
            let records = join(&lines, Format::Cri, max);
            prop_assert_eq!(records.len(), 1);
            let record = &records[0];
            prop_assert!(record.payload.len() <= max);
            prop_assert!(content.as_bytes().starts_with(&record.payload));
            prop_assert_eq!(record.truncated, content.len() > max);
            // The cut falls on a character, at most one character short of the limit.
            prop_assert!(std::str::from_utf8(&record.payload).is_ok());
            if record.truncated {
                prop_assert!(record.payload.len() + 4 > max);
            }
        }

        #[test]
        fn any_fragments_never_panic(
            fragments in proptest::collection::vec(
                (any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..64)),
                0..40,
            ),
            max in 0usize..100,
        ) {
            let mut reassembler = Reassembler::new(max);
            for (offset, (stderr, partial, content)) in (0u64..).zip(fragments) {
                let fragment = Fragment {
                    runtime_ts: Timestamp::from_unix_nanos(1),
                    stream: if stderr { Stream::Stderr } else { Stream::Stdout },
                    partial,
                    content: content.into(),
                };
                if let Some(record) = reassembler.push(fragment, offset, offset + 1) {
                    prop_assert!(record.payload.len() <= max);
                    prop_assert!(record.offset <= offset);
                }
            }
            for record in reassembler.flush() {
                prop_assert!(record.payload.len() <= max);
            }
        }
    }
}
