//! One tailed file: reading from an offset, splitting lines, parsing the container log
//! format, joining partial lines, and tracking which records Kafka has acknowledged so
//! the checkpoint never passes an undelivered one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Instant;

use logpipe_common::{Stream, Timestamp};

use crate::discovery::Origin;
use crate::format::{Format, Reassembler, Record};
use crate::identity::{FileId, tail_hash};
use crate::multiline::{MultilineConfig, MultilineJoiner};
use crate::redact::KeyLines;
use crate::telemetry;

/// Bytes a physical line may take beyond the record limit (the runtime's prefix, JSON
/// escaping) before the rest of it is skipped.
const LINE_FRAMING_SLACK: usize = 64 * 1024;

/// A record ready to become an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Output {
    pub payload: Vec<u8>,
    pub runtime_ts: Option<Timestamp>,
    pub stream: Option<Stream>,
    /// Byte offset of the record's first line.
    pub offset: u64,
    /// Just past its last line.
    pub end: u64,
    pub truncated: bool,
    /// The line did not match the file's container log format and is kept whole.
    pub unparsed: bool,
}

impl Output {
    /// A line taken as it is (a host file's line, or one that is not in its file's
    /// container log format), cut at the record limit.
    fn whole_line(
        line: &[u8],
        offset: u64,
        end: u64,
        overflow: bool,
        max_line_bytes: usize,
        unparsed: bool,
    ) -> Self {
        Output {
            payload: line[..line.len().min(max_line_bytes)].to_vec(),
            runtime_ts: None,
            stream: None,
            offset,
            end,
            truncated: overflow || line.len() > max_line_bytes,
            unparsed,
        }
    }

    fn from_record(record: Record) -> Self {
        Output {
            payload: record.payload,
            runtime_ts: Some(record.runtime_ts),
            stream: Some(record.stream),
            offset: record.offset,
            end: record.end,
            truncated: record.truncated,
            unparsed: false,
        }
    }
}

/// What one read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadResult {
    /// Bytes read (0 at the end of the file).
    Read(usize),
    /// The file is shorter than what was read: it was truncated (copy-truncate).
    Truncated { size: u64 },
}

#[derive(Debug)]
pub(crate) struct TrackedFile {
    pub slot: u64,
    pub id: FileId,
    pub key: String,
    pub path: PathBuf,
    pub origin: Origin,
    file: File,
    read_offset: u64,
    /// Where the line being read (not yet complete) starts.
    line_start: u64,
    line_buf: Vec<u8>,
    /// The current line passed the limit; the rest of it is skipped.
    line_overflow: bool,
    format: Option<Format>,
    reassembler: Reassembler,
    /// Joins stack traces when a multi-line rule names the container.
    multiline: Option<MultilineJoiner>,
    /// Whether the records being read continue a private key logged a line per record.
    pub key_lines: KeyLines,
    truncated_fragment: bool,
    next_seq: u64,
    /// Records sent and not yet acknowledged: sequence number → offset of the record.
    unacked: BTreeMap<u64, u64>,
    /// When the file stopped being discoverable (rotated away or deleted).
    pub gone_since: Option<Instant>,
    /// Copy-truncate was detected: no more reading, released once acknowledged.
    pub truncated: bool,
    pub size_seen: u64,
}

impl TrackedFile {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        slot: u64,
        path: PathBuf,
        file: File,
        id: FileId,
        origin: Origin,
        start: u64,
        max_record_bytes: usize,
        multiline: Option<MultilineConfig>,
    ) -> Self {
        let size_seen = file.metadata().map(|m| m.len()).unwrap_or(start);
        TrackedFile {
            slot,
            key: id.key(),
            id,
            path,
            origin,
            file,
            read_offset: start,
            line_start: start,
            line_buf: Vec::new(),
            line_overflow: false,
            format: None,
            reassembler: Reassembler::new(max_record_bytes),
            multiline: multiline.map(MultilineJoiner::new),
            key_lines: KeyLines::default(),
            truncated_fragment: false,
            next_seq: 0,
            unacked: BTreeMap::new(),
            gone_since: None,
            truncated: false,
            size_seen,
        }
    }

    /// Reads up to `buffer.len()` bytes and appends the complete records to `out`.
    pub fn read(
        &mut self,
        buffer: &mut [u8],
        max_line_bytes: usize,
        out: &mut Vec<Output>,
    ) -> io::Result<ReadResult> {
        let read = loop {
            match self.file.read_at(buffer, self.read_offset) {
                Ok(read) => break read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        };
        if read == 0 {
            let size = self.file.metadata()?.len();
            if size < self.read_offset {
                // `size_seen` keeps the size before truncation, to count what was lost.
                return Ok(ReadResult::Truncated { size });
            }
            self.size_seen = size;
            return Ok(ReadResult::Read(0));
        }
        let chunk = &buffer[..read];
        let chunk_start = self.read_offset;
        let max_physical = max_line_bytes.saturating_add(LINE_FRAMING_SLACK);
        let mut lines = 0;
        let mut position = 0;
        while position < chunk.len() {
            match memchr::memchr(b'\n', &chunk[position..]) {
                Some(relative) => {
                    let newline = position + relative;
                    let end = chunk_start + newline as u64 + 1;
                    let segment = &chunk[position..newline];
                    let overflow = self.line_overflow;
                    if self.line_buf.is_empty() {
                        let too_long = segment.len() > max_physical;
                        let segment = &segment[..segment.len().min(max_physical)];
                        self.handle_line(segment, end, overflow || too_long, max_line_bytes, out);
                    } else {
                        self.append_capped(segment, max_physical);
                        let line = std::mem::take(&mut self.line_buf);
                        self.handle_line(&line, end, self.line_overflow, max_line_bytes, out);
                        self.line_buf = line;
                        self.line_buf.clear();
                    }
                    self.line_overflow = false;
                    self.line_start = end;
                    lines += 1;
                    position = newline + 1;
                }
                None => {
                    self.append_capped(&chunk[position..], max_physical);
                    position = chunk.len();
                }
            }
        }
        self.read_offset += read as u64;
        self.size_seen = self.size_seen.max(self.read_offset);
        telemetry::read(lines, read as u64);
        Ok(ReadResult::Read(read))
    }

    fn append_capped(&mut self, bytes: &[u8], max_physical: usize) {
        let room = max_physical.saturating_sub(self.line_buf.len());
        if bytes.len() > room {
            self.line_overflow = true;
        }
        self.line_buf
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn handle_line(
        &mut self,
        line: &[u8],
        end: u64,
        overflow: bool,
        max_line_bytes: usize,
        out: &mut Vec<Output>,
    ) {
        let start = self.line_start;
        if !self.origin.is_container_log() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            out.push(Output::whole_line(
                line,
                start,
                end,
                overflow,
                max_line_bytes,
                false,
            ));
            return;
        }
        if self.format.is_none() {
            self.format = Format::detect(line);
        }
        let parsed = self.format.as_ref().map(|format| format.parse(line));
        match parsed {
            Some(Ok(fragment)) => {
                self.truncated_fragment |= overflow;
                if let Some(mut record) = self.reassembler.push(fragment, start, end) {
                    record.truncated |= std::mem::take(&mut self.truncated_fragment);
                    self.emit(record, out);
                }
            }
            _ => {
                telemetry::parse_error();
                out.push(Output::whole_line(
                    line,
                    start,
                    end,
                    overflow,
                    max_line_bytes,
                    true,
                ));
            }
        }
    }

    /// Emits what is still pending: partial records being joined and an unterminated
    /// last line. Used when a file will not be written again (rotated and drained).
    pub fn drain_pending(&mut self, max_line_bytes: usize, out: &mut Vec<Output>) {
        if !self.line_buf.is_empty() {
            let line = std::mem::take(&mut self.line_buf);
            let end = self.read_offset;
            self.handle_line(&line, end, self.line_overflow, max_line_bytes, out);
            self.line_start = end;
        }
        for record in self.reassembler.flush() {
            self.emit(record, out);
        }
        if let Some(joiner) = &mut self.multiline {
            out.extend(joiner.flush().into_iter().map(Output::from_record));
        }
    }

    /// Passes a complete record on, through the multi-line joiner when there is one.
    fn emit(&mut self, record: Record, out: &mut Vec<Output>) {
        match &mut self.multiline {
            Some(joiner) => out.extend(
                joiner
                    .push(record, Instant::now())
                    .into_iter()
                    .map(Output::from_record),
            ),
            None => out.push(Output::from_record(record)),
        }
    }

    /// Emits multi-line events that waited longer than their flush timeout.
    pub fn flush_due_multiline(&mut self, now: Instant, out: &mut Vec<Output>) {
        if let Some(joiner) = &mut self.multiline
            && joiner
                .next_deadline()
                .is_some_and(|deadline| deadline <= now)
        {
            out.extend(joiner.flush_due(now).into_iter().map(Output::from_record));
        }
    }

    /// Registers a sent record; returns its sequence number.
    pub fn register(&mut self, offset: u64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.unacked.insert(seq, offset);
        seq
    }

    pub fn acknowledge(&mut self, seq: u64) {
        self.unacked.remove(&seq);
    }

    pub fn unacknowledged(&self) -> usize {
        self.unacked.len()
    }

    /// Everything before this offset was delivered: no unacknowledged record, record being
    /// joined or line being read starts before it.
    pub fn committed_offset(&self) -> u64 {
        let mut offset = self.line_start;
        if let Some(pending) = self.reassembler.pending_offset() {
            offset = offset.min(pending);
        }
        if let Some(pending) = self
            .multiline
            .as_ref()
            .and_then(MultilineJoiner::pending_offset)
        {
            offset = offset.min(pending);
        }
        if let Some(unacked) = self.unacked.values().min() {
            offset = offset.min(*unacked);
        }
        offset
    }

    pub fn tail_hash(&self, offset: u64) -> io::Result<u64> {
        tail_hash(&self.file, offset)
    }

    pub fn read_offset(&self) -> u64 {
        self.read_offset
    }

    /// Bytes in the file not read yet.
    pub fn behind(&self) -> u64 {
        self.size_seen.saturating_sub(self.read_offset)
    }

    pub fn has_pending(&self) -> bool {
        !self.line_buf.is_empty()
            || self.reassembler.pending_offset().is_some()
            || self
                .multiline
                .as_ref()
                .is_some_and(|joiner| joiner.pending_offset().is_some())
    }
}
