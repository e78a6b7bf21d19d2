//! File identity: device and inode plus a fingerprint of the file's first line, so a
//! reused inode or a copy-truncated file is told apart from the file read before, and
//! rotation by rename is followed.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

/// The fingerprint covers the first line, or this many bytes when the first line is
/// longer. A file with less than a line and fewer bytes is not identified yet.
pub(crate) const FINGERPRINT_MAX_BYTES: usize = 1024;
/// Bytes before a checkpoint's offset that are hashed to check, on restart, that the file
/// still holds what was read.
pub(crate) const TAIL_CHECK_BYTES: u64 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct FileId {
    pub dev: u64,
    pub ino: u64,
    pub fingerprint: u64,
}

impl FileId {
    /// Identifies an open file; `None` while it has neither a complete first line nor
    /// [`FINGERPRINT_MAX_BYTES`] bytes.
    pub fn of(file: &File) -> io::Result<Option<FileId>> {
        let metadata = file.metadata()?;
        let mut head = vec![0; FINGERPRINT_MAX_BYTES];
        let read = read_full_at(file, &mut head, 0)?;
        head.truncate(read);
        let first_line = match memchr::memchr(b'\n', &head) {
            Some(end) => &head[..=end],
            None if read == FINGERPRINT_MAX_BYTES => &head[..],
            None => return Ok(None),
        };
        Ok(Some(FileId {
            dev: metadata.dev(),
            ino: metadata.ino(),
            fingerprint: xxh3_64(first_line),
        }))
    }

    /// The text form: checkpoint key and the identity part of event ids.
    pub fn key(&self) -> String {
        format!("{}:{}:{:016x}", self.dev, self.ino, self.fingerprint)
    }

    /// Whether `dev`/`ino` name the same inode (the fingerprint decides the rest).
    pub fn same_inode(&self, dev: u64, ino: u64) -> bool {
        self.dev == dev && self.ino == ino
    }
}

/// Hash of the (up to) [`TAIL_CHECK_BYTES`] bytes before `offset`.
pub(crate) fn tail_hash(file: &File, offset: u64) -> io::Result<u64> {
    let start = offset.saturating_sub(TAIL_CHECK_BYTES);
    let mut buffer = vec![0; (offset - start) as usize];
    let read = read_full_at(file, &mut buffer, start)?;
    if read < buffer.len() {
        // The file is shorter than the offset: nothing before it can match.
        return Ok(u64::MAX);
    }
    Ok(xxh3_64(&buffer))
}

fn read_full_at(file: &File, buffer: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read_at(&mut buffer[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn identity_needs_a_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        let mut file = File::create(&path).unwrap();
        file.write_all(b"partial").unwrap();
        let reader = File::open(&path).unwrap();
        assert_eq!(FileId::of(&reader).unwrap(), None);
        file.write_all(b" line\nsecond\n").unwrap();
        let id = FileId::of(&reader).unwrap().unwrap();
        file.write_all(b"third\n").unwrap();
        assert_eq!(
            FileId::of(&reader).unwrap(),
            Some(id),
            "growth keeps the identity"
        );
    }

    #[test]
    fn truncate_and_rewrite_changes_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, b"2026-11-27T05:00:00Z stdout F first\n").unwrap();
        let before = FileId::of(&File::open(&path).unwrap()).unwrap().unwrap();
        std::fs::write(&path, b"2026-11-27T05:00:01Z stdout F other\n").unwrap();
        let after = FileId::of(&File::open(&path).unwrap()).unwrap().unwrap();
        assert!(after.same_inode(before.dev, before.ino));
        assert_ne!(after, before);
        assert_ne!(after.key(), before.key());
    }

    #[test]
    fn tail_hash_checks_the_bytes_before_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, b"abc\ndef\n").unwrap();
        let file = File::open(&path).unwrap();
        let hash = tail_hash(&file, 8).unwrap();
        assert_eq!(hash, tail_hash(&file, 8).unwrap());
        assert_ne!(hash, tail_hash(&file, 4).unwrap());
        assert_eq!(tail_hash(&file, 100).unwrap(), u64::MAX);
        std::fs::write(&path, b"abc\nxyz\n").unwrap();
        assert_ne!(hash, tail_hash(&File::open(&path).unwrap(), 8).unwrap());
    }
}
