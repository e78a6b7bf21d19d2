//! Joining the records of one multi-line message (a Java stack trace, a Python
//! traceback) into one event, so that a search hit shows the whole message rather than
//! its first line.
//!
//! A record that matches the start pattern begins an event; the records after it that
//! do not are its continuation lines. Joining never drops a byte that fits: an event that
//! would grow past the limit is emitted as it is, flagged truncated, and the rest of its
//! lines pass through one by one until the next start.

use std::time::{Duration, Instant};

use logpipe_common::event::{Stream, Timestamp};
use regex::bytes::Regex;

use crate::bounded::BoundedPayload;
use crate::format::Record;

/// How records are grouped into events.
#[derive(Debug, Clone)]
pub struct MultilineConfig {
    /// Matches the first record of an event, e.g. `^\d{4}-\d{2}-\d{2}` for applications
    /// that start every message with a date. Matched against the record's bytes.
    pub start_pattern: Regex,
    /// An event is not joined past this many bytes.
    pub max_bytes: usize,
    /// An event is complete when no record has been added to it for this long.
    pub flush_timeout: Duration,
}

/// Joins records into events, separately for stdout and stderr: an application's stack
/// traces on stderr are often interleaved with its stdout lines.
#[derive(Debug)]
pub(crate) struct MultilineJoiner {
    config: MultilineConfig,
    stdout: Option<Pending>,
    stderr: Option<Pending>,
}

/// An event that may still get continuation lines.
#[derive(Debug)]
struct Pending {
    payload: BoundedPayload,
    runtime_ts: Timestamp,
    stream: Stream,
    offset: u64,
    end: u64,
    /// A record joined into it had been cut, or a continuation line did not fit.
    truncated: bool,
    last_at: Instant,
}

impl Pending {
    fn start(record: Record, max_bytes: usize, now: Instant) -> Self {
        let payload = BoundedPayload::from_vec(record.payload, max_bytes);
        Pending {
            truncated: record.truncated || payload.is_truncated(),
            payload,
            runtime_ts: record.runtime_ts,
            stream: record.stream,
            offset: record.offset,
            end: record.end,
            last_at: now,
        }
    }

    fn fits(&self, record: &Record, max_bytes: usize) -> bool {
        self.payload.len() + 1 + record.payload.len() <= max_bytes
    }

    fn append(&mut self, record: Record, now: Instant) {
        self.payload.push(b"\n");
        self.payload.push(&record.payload);
        self.truncated |= record.truncated;
        self.end = record.end;
        self.last_at = now;
    }

    fn is_due(&self, now: Instant, timeout: Duration) -> bool {
        now.saturating_duration_since(self.last_at) >= timeout
    }

    fn into_record(self) -> Record {
        Record {
            truncated: self.truncated || self.payload.is_truncated(),
            payload: self.payload.into_vec(),
            runtime_ts: self.runtime_ts,
            stream: self.stream,
            offset: self.offset,
            end: self.end,
        }
    }
}

impl MultilineJoiner {
    pub fn new(config: MultilineConfig) -> Self {
        MultilineJoiner {
            config,
            stdout: None,
            stderr: None,
        }
    }

    /// Takes the next record of the file, read at `now`; returns the events it completes,
    /// in file order: events whose flush timeout had passed, the event this record ends
    /// by starting a new one, or the record itself when it continues no event.
    pub fn push(&mut self, record: Record, now: Instant) -> Vec<Record> {
        let mut done = self.flush_due(now);
        let max_bytes = self.config.max_bytes;
        let starts = self.config.start_pattern.is_match(&record.payload);
        let slot = match record.stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        if starts {
            done.extend(slot.take().map(Pending::into_record));
            *slot = Some(Pending::start(record, max_bytes, now));
        } else if let Some(pending) = slot.as_mut().filter(|p| p.fits(&record, max_bytes)) {
            pending.append(record, now);
        } else {
            if let Some(mut full) = slot.take().map(Pending::into_record) {
                // The event is full: it ends here, and its later lines pass through alone.
                full.truncated = true;
                done.push(full);
            }
            done.push(Pending::start(record, max_bytes, now).into_record());
        }
        done.sort_by_key(|record| record.offset);
        done
    }

    /// The events to which no record was added for the flush timeout, in file order.
    pub fn flush_due(&mut self, now: Instant) -> Vec<Record> {
        let timeout = self.config.flush_timeout;
        let mut due: Vec<Record> = [&mut self.stdout, &mut self.stderr]
            .into_iter()
            .filter(|slot| slot.as_ref().is_some_and(|p| p.is_due(now, timeout)))
            .filter_map(|slot| slot.take().map(Pending::into_record))
            .collect();
        due.sort_by_key(|record| record.offset);
        due
    }

    /// Every event still open, in file order: when the file is closed.
    pub fn flush(&mut self) -> Vec<Record> {
        let mut records: Vec<Record> = [self.stdout.take(), self.stderr.take()]
            .into_iter()
            .flatten()
            .map(Pending::into_record)
            .collect();
        records.sort_by_key(|record| record.offset);
        records
    }

    /// When the earliest open event becomes due, to set a timer for [`Self::flush_due`].
    pub fn next_deadline(&self) -> Option<Instant> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .map(|pending| pending.last_at + self.config.flush_timeout)
            .min()
    }

    /// The offset of the earliest open event: a checkpoint must not pass it.
    pub fn pending_offset(&self) -> Option<u64> {
        [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .map(|pending| pending.offset)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TIMEOUT: Duration = Duration::from_millis(500);

    const JAVA: &str = "\
2024-03-05 10:15:42.123 ERROR 1 --- [nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() for servlet [dispatcherServlet] threw exception
java.lang.NullPointerException: Cannot invoke \"com.example.shop.Cart.getItems()\" because \"cart\" is null
\tat com.example.shop.CheckoutService.total(CheckoutService.java:42)
\tat com.example.shop.CheckoutController.checkout(CheckoutController.java:27)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)
Caused by: java.lang.IllegalStateException: session expired
\tat com.example.shop.SessionStore.load(SessionStore.java:88)
\t... 4 more
2024-03-05 10:15:42.456  INFO 1 --- [nio-8080-exec-4] c.e.shop.CheckoutController              : checkout started";

    const PYTHON: &str = "\
2024-03-05 10:15:43,001 ERROR [worker] job 7 failed
Traceback (most recent call last):
  File \"/app/worker.py\", line 31, in run
    result = handler(payload)
  File \"/app/handlers.py\", line 12, in handle
    return int(payload[\"count\"])
ValueError: invalid literal for int() with base 10: 'abc'
2024-03-05 10:15:44,002 INFO [worker] job 8 started";

    fn config(max_bytes: usize) -> MultilineConfig {
        MultilineConfig {
            start_pattern: Regex::new(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}").unwrap(),
            max_bytes,
            flush_timeout: TIMEOUT,
        }
    }

    /// The lines of `text` as records of one stream, laid out as in a file.
    fn records(text: &str, stream: Stream) -> Vec<Record> {
        let mut offset = 0;
        text.lines()
            .enumerate()
            .map(|(i, line)| {
                let end = offset + line.len() as u64 + 1;
                let record = Record {
                    payload: line.as_bytes().to_vec(),
                    runtime_ts: Timestamp::from_unix_nanos(1_000 + i as i64),
                    stream,
                    offset,
                    end,
                    truncated: false,
                };
                offset = end;
                record
            })
            .collect()
    }

    fn texts(records: &[Record]) -> Vec<&str> {
        records
            .iter()
            .map(|record| std::str::from_utf8(&record.payload).unwrap())
            .collect()
    }

    fn join_all(text: &str, max_bytes: usize) -> Vec<Record> {
        let mut joiner = MultilineJoiner::new(config(max_bytes));
        let now = Instant::now();
        let mut events = Vec::new();
        for record in records(text, Stream::Stderr) {
            events.extend(joiner.push(record, now));
        }
        events.extend(joiner.flush());
        events
    }

    #[test]
    fn a_java_stack_trace_is_one_event() {
        let events = join_all(JAVA, 64 * 1024);
        let lines: Vec<&str> = JAVA.lines().collect();
        assert_eq!(texts(&events), [lines[..9].join("\n"), lines[9].to_owned()]);
        let input = records(JAVA, Stream::Stderr);
        assert_eq!(events[0].offset, 0);
        assert_eq!(events[0].end, input[8].end);
        assert_eq!(events[0].runtime_ts, input[0].runtime_ts);
        assert_eq!(events[0].stream, Stream::Stderr);
        assert_eq!(events[1].offset, input[9].offset);
        assert!(events.iter().all(|event| !event.truncated));
    }

    #[test]
    fn a_python_traceback_is_one_event() {
        let events = join_all(PYTHON, 64 * 1024);
        let lines: Vec<&str> = PYTHON.lines().collect();
        assert_eq!(texts(&events), [lines[..7].join("\n"), lines[7].to_owned()]);
        assert!(
            texts(&events)[0]
                .ends_with("ValueError: invalid literal for int() with base 10: 'abc'")
        );
    }

    #[test]
    fn lines_before_the_first_start_pass_through_alone() {
        let text = "\tat a.B.c(B.java:1)\n\t... 3 more\n2024-03-05 10:15:42 INFO ok\n";
        let events = join_all(text, 1024);
        assert_eq!(
            texts(&events),
            [
                "\tat a.B.c(B.java:1)",
                "\t... 3 more",
                "2024-03-05 10:15:42 INFO ok"
            ]
        );
    }

    #[test]
    fn streams_are_joined_separately() {
        let mut joiner = MultilineJoiner::new(config(1024));
        let now = Instant::now();
        let mut stderr = records(PYTHON, Stream::Stderr).into_iter();
        let mut stdout = records("2024-03-05 10:15:43,500 INFO [web] GET /\n", Stream::Stdout);
        stdout[0].offset = 10_000;
        let mut events = Vec::new();
        for record in stderr.by_ref().take(3) {
            events.extend(joiner.push(record, now));
        }
        events.extend(joiner.push(stdout.remove(0), now));
        for record in stderr {
            events.extend(joiner.push(record, now));
        }
        events.extend(joiner.flush());
        let lines: Vec<&str> = PYTHON.lines().collect();
        assert_eq!(
            texts(&events),
            [
                lines[..7].join("\n").as_str(),
                lines[7],
                "2024-03-05 10:15:43,500 INFO [web] GET /"
            ]
        );
    }

    #[test]
    fn an_event_is_flushed_after_the_timeout() {
        let mut joiner = MultilineJoiner::new(config(1024));
        let start = Instant::now();
        let mut input = records(JAVA, Stream::Stdout).into_iter();
        assert!(joiner.push(input.next().unwrap(), start).is_empty());
        assert!(
            joiner
                .push(input.next().unwrap(), start + TIMEOUT / 2)
                .is_empty()
        );
        assert_eq!(joiner.next_deadline(), Some(start + TIMEOUT / 2 + TIMEOUT));
        assert_eq!(joiner.pending_offset(), Some(0));
        // The timeout counts from the last record added.
        assert!(joiner.flush_due(start + TIMEOUT).is_empty());
        let due = joiner.flush_due(start + TIMEOUT / 2 + TIMEOUT);
        assert_eq!(
            texts(&due),
            [JAVA.lines().take(2).collect::<Vec<_>>().join("\n")]
        );
        assert_eq!(joiner.pending_offset(), None);
        assert_eq!(joiner.next_deadline(), None);
        assert!(joiner.flush_due(start + 10 * TIMEOUT).is_empty());
        // A continuation line after the event was flushed passes through alone.
        let late = joiner.push(input.next().unwrap(), start + 2 * TIMEOUT);
        assert_eq!(texts(&late), [JAVA.lines().nth(2).unwrap()]);
    }

    #[test]
    fn push_flushes_an_overdue_event_before_taking_the_record() {
        let mut joiner = MultilineJoiner::new(config(1024));
        let start = Instant::now();
        let mut input = records(PYTHON, Stream::Stdout).into_iter();
        joiner.push(input.next().unwrap(), start);
        let events = joiner.push(input.next().unwrap(), start + TIMEOUT);
        assert_eq!(
            texts(&events),
            [
                PYTHON.lines().next().unwrap(),
                "Traceback (most recent call last):"
            ]
        );
    }

    #[test]
    fn a_full_event_is_emitted_and_nothing_is_dropped() {
        let lines: Vec<&str> = JAVA.lines().collect();
        // Room for the first three lines only.
        let max_bytes = lines[..3].join("\n").len() + 5;
        let events = join_all(JAVA, max_bytes);
        let texts = texts(&events);
        assert_eq!(texts[0], lines[..3].join("\n"));
        assert!(events[0].truncated);
        assert_eq!(texts[1..], lines[3..]);
        assert!(events[1..].iter().all(|event| !event.truncated));
        assert!(events.iter().all(|event| event.payload.len() <= max_bytes));
        let input = records(JAVA, Stream::Stderr);
        assert_eq!(events[0].end, input[2].end);
        assert_eq!(events[1].offset, input[3].offset);
    }

    #[test]
    fn a_record_over_the_limit_is_cut() {
        let events = join_all("2024-03-05 10:15:42 ERROR ééééé\n", 30);
        assert_eq!(texts(&events), ["2024-03-05 10:15:42 ERROR éé"]);
        assert!(events[0].truncated);
    }

    #[test]
    fn a_truncated_part_marks_the_event() {
        let mut joiner = MultilineJoiner::new(config(1024));
        let now = Instant::now();
        let mut input = records(PYTHON, Stream::Stdout);
        input[2].truncated = true;
        let mut events = Vec::new();
        for record in input {
            events.extend(joiner.push(record, now));
        }
        events.extend(joiner.flush());
        assert_eq!(events.len(), 2);
        assert!(events[0].truncated);
        assert!(!events[1].truncated);
    }

    proptest! {
        // Lines are at most 57 bytes, so none is cut on its own.
        #[test]
        fn joining_keeps_every_line_in_order(
            lines in proptest::collection::vec("(2024-01-01 00:00 |\t|)[a-z é]{0,20}", 0..40),
            max_bytes in 60usize..200,
        ) {
            let text = lines.iter().map(|line| format!("{line}\n")).collect::<String>();
            let events = join_all(&text, max_bytes);
            let joined: Vec<String> = events
                .iter()
                .flat_map(|event| {
                    let text = String::from_utf8(event.payload.clone()).unwrap();
                    text.split('\n').map(str::to_owned).collect::<Vec<_>>()
                })
                .collect();
            prop_assert_eq!(joined, lines);
            prop_assert!(events.iter().all(|event| event.payload.len() <= max_bytes));
            prop_assert!(events.windows(2).all(|pair| pair[0].end == pair[1].offset));
        }
    }
}
