//! One container's log file as a container runtime writes it under kubelet: framed per
//! runtime (CRI or docker json-file, long lines split into 16 KiB partials), appended one
//! whole entry per write, and rotated by rename with the oldest rotated files deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use logpipe_common::Timestamp;

use super::workload::{Entry, Framing, Spec};

/// The runtimes' line limit: longer lines are written as partial lines of this size.
pub const RUNTIME_LINE_BYTES: usize = 16 * 1024;

/// A container's live log file and its rotated predecessors.
#[derive(Debug)]
pub struct ContainerLog {
    pub spec: Spec,
    dir: PathBuf,
    file: File,
    size: u64,
    rotate_bytes: u64,
    keep_rotated: usize,
    /// Rotated files still on disk, oldest first.
    rotated: Vec<PathBuf>,
    buffer: Vec<u8>,
    pub entries: u64,
    pub records: u64,
    pub bytes: u64,
    pub rotations: u64,
}

impl ContainerLog {
    /// Creates `<root>/<namespace>_<pod>_<uid>/<container>/0.log` (appending to one that
    /// exists, as a restarted runtime would).
    pub fn create(
        root: &Path,
        spec: Spec,
        rotate_bytes: u64,
        keep_rotated: usize,
    ) -> io::Result<Self> {
        let dir = root
            .join(format!("{}_{}_{}", spec.namespace, spec.pod, spec.pod_uid))
            .join(spec.container);
        fs::create_dir_all(&dir)?;
        let file = open_live(&dir)?;
        let size = file.metadata()?.len();
        Ok(ContainerLog {
            spec,
            dir,
            file,
            size,
            rotate_bytes,
            keep_rotated,
            rotated: Vec::new(),
            buffer: Vec::new(),
            entries: 0,
            records: 0,
            bytes: 0,
            rotations: 0,
        })
    }

    pub fn live_path(&self) -> PathBuf {
        self.dir.join("0.log")
    }

    /// Appends one entry in a single write, then rotates when the file is full.
    pub fn append(&mut self, entry: &Entry, now: Timestamp) -> io::Result<()> {
        self.buffer.clear();
        for line in &entry.lines {
            frame(
                &mut self.buffer,
                self.spec.framing,
                line,
                entry.stream.as_str(),
                now,
            );
        }
        self.file.write_all(&self.buffer)?;
        let written = self.buffer.len() as u64;
        self.size += written;
        self.bytes += written;
        self.entries += 1;
        self.records += entry.lines.len() as u64;
        if self.size >= self.rotate_bytes {
            self.rotate(now)?;
        }
        Ok(())
    }

    /// kubelet's rotation: rename `0.log` to `0.log.<time>`, start a new `0.log`, delete
    /// the oldest rotated files beyond the limit.
    fn rotate(&mut self, now: Timestamp) -> io::Result<()> {
        let stamp = now.to_string();
        // "2026-11-27T10:00:00.123…Z" → "20261127-100000"
        let compact: String = stamp[..19]
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        let base = compact.replace('T', "-");
        let mut target = self.dir.join(format!("0.log.{base}"));
        let mut n = 1;
        while target.exists() {
            target = self.dir.join(format!("0.log.{base}-{n}"));
            n += 1;
        }
        fs::rename(self.live_path(), &target)?;
        self.file = open_live(&self.dir)?;
        self.size = 0;
        self.rotations += 1;
        self.rotated.push(target);
        while self.rotated.len() > self.keep_rotated {
            let oldest = self.rotated.remove(0);
            fs::remove_file(oldest)?;
        }
        Ok(())
    }
}

fn open_live(dir: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("0.log"))
}

/// Writes one application line in the runtime's framing, split into partial lines of at
/// most [`RUNTIME_LINE_BYTES`].
fn frame(out: &mut Vec<u8>, framing: Framing, line: &str, stream: &str, now: Timestamp) {
    let chunks = chunks(line, RUNTIME_LINE_BYTES);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        match framing {
            Framing::Cri => {
                let tag = if i == last { 'F' } else { 'P' };
                out.extend_from_slice(format!("{now} {stream} {tag} ").as_bytes());
                out.extend_from_slice(chunk.as_bytes());
                out.push(b'\n');
            }
            Framing::DockerJson => {
                let log = if i == last {
                    format!("{chunk}\n")
                } else {
                    chunk.to_owned()
                };
                let record =
                    serde_json::json!({"log": log, "stream": stream, "time": now.to_string()});
                out.extend_from_slice(record.to_string().as_bytes());
                out.push(b'\n');
            }
        }
    }
}

/// Splits at char boundaries into pieces of at most `max` bytes; an empty line is one
/// empty piece.
fn chunks(line: &str, max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = line;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

#[cfg(test)]
mod tests {
    use super::super::workload::{Stream, WORKLOAD};
    use super::*;
    use logpipe_collector::format::Format;

    #[test]
    fn long_lines_become_partials_the_collector_parses() {
        let line = "x".repeat(RUNTIME_LINE_BYTES * 2 + 10);
        for framing in [Framing::Cri, Framing::DockerJson] {
            let mut out = Vec::new();
            frame(&mut out, framing, &line, "stdout", Timestamp::now());
            let lines: Vec<&[u8]> = out
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(lines.len(), 3, "{framing:?}");
            let format = Format::detect(lines[0]).unwrap();
            let mut joined = Vec::new();
            for (i, raw) in lines.iter().enumerate() {
                let fragment = format.parse(raw).unwrap();
                assert_eq!(fragment.partial, i < 2, "{framing:?} fragment {i}");
                joined.extend_from_slice(&fragment.content);
            }
            assert_eq!(joined, line.as_bytes());
        }
    }

    #[test]
    fn rotation_renames_and_keeps_a_bounded_number_of_files() {
        let root = tempfile::tempdir().unwrap();
        let mut log = ContainerLog::create(root.path(), WORKLOAD[0], 1000, 2).unwrap();
        let entry = Entry {
            stream: Stream::Stdout,
            lines: vec!["y".repeat(300)],
        };
        for i in 0..40 {
            log.append(
                &entry,
                Timestamp::from_unix_nanos(1_796_000_000_000_000_000 + i),
            )
            .unwrap();
        }
        let dir = log.live_path().parent().unwrap().to_path_buf();
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert!(log.rotations >= 10);
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"0.log".to_owned()));
        assert!(names.iter().all(|n| n.starts_with("0.log")));
    }
}
