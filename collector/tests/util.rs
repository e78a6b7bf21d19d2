//! Helpers shared by the integration tests: loading the shared test data and reading a
//! container log file the way the tailer does.

use std::collections::HashMap;
use std::path::PathBuf;

use logpipe_collector::FormatError;
use logpipe_collector::format::{Format, Reassembler, Record};
use logpipe_common::testkit::shared_data;
use serde_json::Value;

/// A record large enough for every vector.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

pub fn data_path(relative: &str) -> PathBuf {
    let path = shared_data().join(relative);
    assert!(path.exists(), "test data missing: {}", path.display());
    path
}

pub fn vectors() -> Value {
    let path = data_path("container-log-formats/container_log_format_vectors.json");
    let text = std::fs::read_to_string(&path).expect("read the vectors");
    serde_json::from_str(&text).expect("the vectors are JSON")
}

/// A string value of a vector: a literal, or `{"cycle": base, "length": n}` (the base
/// repeated and cut to n characters), or `{"concat": [...]}` of those.
pub fn expand(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(object) if object.contains_key("concat") => object["concat"]
            .as_array()
            .expect("concat is a list")
            .iter()
            .map(expand)
            .collect(),
        Value::Object(object) if object.contains_key("cycle") => {
            let base = object["cycle"].as_str().expect("cycle is a string");
            let length = object["length"].as_u64().expect("length is a number") as usize;
            base.chars().cycle().take(length).collect()
        }
        other => panic!("not a vector string: {other}"),
    }
}

pub fn hex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// The bytes of a vector's `line` or `line_hex`, without the physical line's `\n`.
pub fn line_bytes(vector: &Value) -> Vec<u8> {
    let mut bytes = match vector.get("line_hex") {
        Some(Value::String(text)) => hex(text),
        _ => expand(&vector["line"]).into_bytes(),
    };
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

/// What reading one line produced.
#[derive(Debug)]
pub enum Item {
    Record(Record),
    /// The line is not in its file's format: the tailer keeps it whole.
    Invalid {
        line: Vec<u8>,
        error: FormatError,
    },
}

impl Item {
    pub fn text(&self) -> String {
        match self {
            Item::Record(record) => String::from_utf8_lossy(&record.payload).into_owned(),
            Item::Invalid { line, .. } => String::from_utf8_lossy(line).into_owned(),
        }
    }
}

/// Reads lines as the tailer reads a file: each line is parsed in the file's format and
/// fed to the file's reassembler; `pending` holds what is still being joined.
#[derive(Debug)]
pub struct Reader {
    max_record_bytes: usize,
    /// Fixed by the first line, unless `per_line` is set.
    format: Option<Format>,
    per_line: bool,
    /// One reassembler per format: a file has one format, but Fluent Bit's mixed-file
    /// vector feeds both through one parser chain, each with its own buffers.
    reassemblers: HashMap<Format, Reassembler>,
    offset: u64,
}

impl Reader {
    pub fn new(max_record_bytes: usize) -> Self {
        Reader {
            max_record_bytes,
            format: None,
            per_line: false,
            reassemblers: HashMap::new(),
            offset: 0,
        }
    }

    /// Detects the format of every line instead of only the first.
    pub fn per_line(mut self) -> Self {
        self.per_line = true;
        self
    }

    /// Reads one line, given without its `\n`.
    pub fn line(&mut self, line: &[u8]) -> Option<Item> {
        let offset = self.offset;
        let end = offset + line.len() as u64 + 1;
        self.offset = end;
        let detected = Format::detect(line);
        let format = if self.per_line {
            detected.unwrap_or(Format::Cri)
        } else {
            *self.format.get_or_insert(detected.unwrap_or(Format::Cri))
        };
        match format.parse(line) {
            Ok(fragment) => self
                .reassemblers
                .entry(format)
                .or_insert_with(|| Reassembler::new(self.max_record_bytes))
                .push(fragment, offset, end)
                .map(Item::Record),
            Err(error) => Some(Item::Invalid {
                line: line.to_vec(),
                error,
            }),
        }
    }

    pub fn lines<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>) -> Vec<Item> {
        lines
            .into_iter()
            .filter_map(|line| self.line(line))
            .collect()
    }

    /// Reads a whole file's bytes; a last line without `\n` is still being written and
    /// is not read.
    pub fn file(&mut self, bytes: &[u8]) -> Vec<Item> {
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        lines.pop();
        self.lines(lines)
    }

    pub fn pending_offset(&self) -> Option<u64> {
        self.reassemblers
            .values()
            .filter_map(Reassembler::pending_offset)
            .min()
    }

    pub fn flush(&mut self) -> Vec<Record> {
        let mut records: Vec<Record> = self
            .reassemblers
            .values_mut()
            .flat_map(Reassembler::flush)
            .collect();
        records.sort_by_key(|record| record.offset);
        records
    }
}

pub fn texts(items: &[Item]) -> Vec<String> {
    items.iter().map(Item::text).collect()
}
