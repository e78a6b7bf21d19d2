//! Durable read positions: one entry per file identity, written atomically (temporary
//! file, fsync, rename, directory fsync) so a crash leaves either the old or the new
//! checkpoints, never a torn file.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::discovery::Origin;

const FILE_NAME: &str = "checkpoints.json";
const FORMAT_VERSION: u32 = 1;

/// Where reading of one file stands: everything before `offset` was delivered to Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// Where the file was last seen (it may have been rotated since).
    pub path: PathBuf,
    pub offset: u64,
    /// Hash of the bytes just before `offset` (see `identity::tail_hash`).
    pub tail_hash: u64,
    /// The file's size when last seen, to report bytes lost if it disappears.
    pub size_seen: u64,
    /// Whose file it is, for the gap event if it disappears.
    #[serde(default)]
    pub origin: Option<Origin>,
}

#[derive(Debug, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    entries: BTreeMap<String, Checkpoint>,
}

#[derive(Debug)]
pub struct CheckpointStore {
    path: PathBuf,
    entries: BTreeMap<String, Checkpoint>,
    /// When the store was last written before this process started; `None` on a first
    /// start.
    previous_write: Option<SystemTime>,
    dirty: bool,
}

impl CheckpointStore {
    /// Opens (creating) the store in `dir`. A corrupt file is moved aside and reading
    /// starts over: records are then sent again with the same ids, never lost.
    pub fn open(dir: &Path) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let (entries, previous_write) = match fs::read(&path) {
            Ok(bytes) => {
                let modified = fs::metadata(&path)?.modified().ok();
                match serde_json::from_slice::<OnDisk>(&bytes) {
                    Ok(on_disk) if on_disk.version == FORMAT_VERSION => (on_disk.entries, modified),
                    Ok(on_disk) => {
                        return Err(io::Error::other(format!(
                            "{} has checkpoint format {}, expected {FORMAT_VERSION}",
                            path.display(),
                            on_disk.version
                        )));
                    }
                    Err(error) => {
                        let aside = path.with_extension("json.corrupt");
                        warn!(path = %path.display(), aside = %aside.display(), %error, "corrupt checkpoint file moved aside, reading starts over");
                        fs::rename(&path, &aside)?;
                        (BTreeMap::new(), modified)
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => (BTreeMap::new(), None),
            Err(error) => return Err(error),
        };
        Ok(CheckpointStore {
            path,
            entries,
            previous_write,
            dirty: false,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn previous_write(&self) -> Option<SystemTime> {
        self.previous_write
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Checkpoint> {
        self.entries.get(key)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&String, &Checkpoint)> {
        self.entries.iter()
    }

    pub(crate) fn set(&mut self, key: &str, checkpoint: Checkpoint) {
        if self.entries.get(key) != Some(&checkpoint) {
            self.entries.insert(key.to_owned(), checkpoint);
            self.dirty = true;
        }
    }

    pub(crate) fn remove(&mut self, key: &str) {
        if self.entries.remove(key).is_some() {
            self.dirty = true;
        }
    }

    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes the store durably if it changed.
    pub(crate) fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.write()?;
        self.dirty = false;
        Ok(())
    }

    /// Writes the store durably whether or not it changed (proves it is writable).
    pub(crate) fn write(&self) -> io::Result<()> {
        let on_disk = OnDisk {
            version: FORMAT_VERSION,
            entries: self.entries.clone(),
        };
        let bytes = serde_json::to_vec(&on_disk).map_err(io::Error::other)?;
        logpipe_common::durable::write_atomically(&self.path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(offset: u64) -> Checkpoint {
        Checkpoint {
            path: "/var/log/pods/a_b_c/d/0.log".into(),
            offset,
            tail_hash: 7,
            size_seen: offset,
            origin: Some(Origin::Host {
                name: "kube-audit".into(),
            }),
        }
    }

    #[test]
    fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = CheckpointStore::open(dir.path()).unwrap();
        assert!(store.previous_write().is_none());
        store.set("1:2:3", checkpoint(10));
        store.set("1:2:4", checkpoint(20));
        store.remove("1:2:4");
        store.save().unwrap();
        assert!(!store.is_dirty());
        let reopened = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(reopened.get("1:2:3"), Some(&checkpoint(10)));
        assert_eq!(reopened.get("1:2:4"), None);
        assert!(reopened.previous_write().is_some());
    }

    #[test]
    fn corrupt_file_is_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"{\"version\":1,\"entr").unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.entries().count(), 0);
        assert!(dir.path().join("checkpoints.json.corrupt").exists());
    }
}
