//! The on-disk layout of the store, which the indexer writes and the query service reads:
//!
//! ```text
//! <LOGPIPE_DATA_DIR>/index/
//!   positions.json        next Kafka offset per partition covered by every day index
//!   ledger.jsonl          every commit round's events per partition, hash-chained (`ledger`)
//!   digests/              signed digests of the ledger (`digest`)
//!   2026-11-27/           one tantivy index per UTC day of `ts`
//!     logpipe.json        {"schema_version": 3}
//!     meta.json           tantivy's; its commit payload holds the offsets (see `CommitPayload`)
//!     *.idx, *.pos, ...   segments
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use logpipe_common::event::Timestamp;
use serde::{Deserialize, Serialize};
use tantivy::Index;
use tantivy::directory::MmapDirectory;

use crate::error::StoreError;
use crate::schema::{self, Fields, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION};

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;
pub(crate) const VERSION_FILE: &str = "logpipe.json";
const POSITIONS_FILE: &str = "positions.json";

/// A UTC calendar day: the unit of partitioning and of retention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    pub fn of(ts: Timestamp) -> Self {
        Day(ts.unix_nanos().div_euclid(NANOS_PER_DAY))
    }

    pub fn today() -> Self {
        Day::of(Timestamp::now())
    }

    /// Days since 1970-01-01.
    pub const fn from_epoch_days(days: i64) -> Self {
        Day(days)
    }

    pub const fn epoch_days(self) -> i64 {
        self.0
    }

    /// The first instant of the day.
    pub fn start(self) -> Timestamp {
        Timestamp::from_unix_nanos(self.0.saturating_mul(NANOS_PER_DAY))
    }

    /// The first instant of the next day.
    pub fn end(self) -> Timestamp {
        Timestamp::from_unix_nanos((self.0 + 1).saturating_mul(NANOS_PER_DAY))
    }

    pub fn minus(self, days: i64) -> Self {
        Day(self.0 - days)
    }

    fn date(self) -> Option<time::Date> {
        let julian = i32::try_from(self.0 + 2_440_588).ok()?;
        time::Date::from_julian_day(julian).ok()
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("`{text}` is not a day (YYYY-MM-DD)")))
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.date() {
            Some(date) => write!(
                f,
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
            None => write!(f, "day{}", self.0),
        }
    }
}

impl FromStr for Day {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = time::Date::parse(text, &format).map_err(|_| ())?;
        Ok(Day(i64::from(date.to_julian_day()) - 2_440_588))
    }
}

/// Stored with every commit of a day index: the next offset per partition of `topic`
/// whose events routed to this day are all in the index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitPayload {
    pub topic: String,
    pub offsets: BTreeMap<i32, i64>,
}

impl CommitPayload {
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// The next offset per partition below which every event is in its day index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Positions {
    pub topic: String,
    pub offsets: BTreeMap<i32, i64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct VersionFile {
    schema_version: u32,
}

/// Where the day indexes live.
#[derive(Debug, Clone)]
pub struct IndexLayout {
    root: PathBuf,
}

impl IndexLayout {
    /// The layout under `LOGPIPE_DATA_DIR`.
    pub fn under(data_dir: &Path) -> Self {
        IndexLayout {
            root: data_dir.join("index"),
        }
    }

    /// The layout whose root is `root` itself (the index directory).
    pub fn at(root: &Path) -> Self {
        IndexLayout {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn day_dir(&self, day: Day) -> PathBuf {
        self.root.join(day.to_string())
    }

    /// Every day with an index, oldest first.
    pub fn days(&self) -> io::Result<Vec<Day>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let mut days = Vec::new();
        for entry in entries {
            let entry = entry?;
            if let Some(day) = entry.file_name().to_str().and_then(|n| n.parse().ok())
                && entry.path().join(VERSION_FILE).exists()
            {
                days.push(day);
            }
        }
        days.sort();
        Ok(days)
    }

    /// Opens the index of `day` for reading; fails when it was written under a schema
    /// version this one cannot read.
    pub fn open(&self, day: Day) -> Result<(Index, Fields), StoreError> {
        let dir = self.day_dir(day);
        let version: VersionFile = fs::read(dir.join(VERSION_FILE))
            .map_err(|error| StoreError::io(&dir, error))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|error| StoreError::Corrupt {
                    path: dir.join(VERSION_FILE),
                    reason: error.to_string(),
                })
            })?;
        if !READABLE_SCHEMA_VERSIONS.contains(&version.schema_version) {
            return Err(StoreError::SchemaVersion {
                path: dir,
                found: version.schema_version,
                expected: SCHEMA_VERSION,
            });
        }
        let directory = MmapDirectory::open(&dir).map_err(|error| StoreError::Corrupt {
            path: dir.clone(),
            reason: error.to_string(),
        })?;
        let index = Index::open(directory).map_err(|error| StoreError::tantivy(&dir, error))?;
        schema::register_analyzer(&index);
        let fields = Fields::from_schema(&index.schema())
            .map_err(|error| StoreError::tantivy(&dir, error))?;
        Ok((index, fields))
    }

    /// Opens the index of `day`, creating it when missing.
    pub fn open_or_create(&self, day: Day) -> Result<(Index, Fields), StoreError> {
        let dir = self.day_dir(day);
        if dir.join(VERSION_FILE).exists() {
            return self.open(day);
        }
        self.create(day, schema::build().0, SCHEMA_VERSION)
    }

    /// Creates the index of `day` with `schema`, recorded as of `version`.
    pub(crate) fn create(
        &self,
        day: Day,
        schema: tantivy::schema::Schema,
        version: u32,
    ) -> Result<(Index, Fields), StoreError> {
        let dir = self.day_dir(day);
        fs::create_dir_all(&dir).map_err(|error| StoreError::io(&dir, error))?;
        let directory = MmapDirectory::open(&dir).map_err(|error| StoreError::Corrupt {
            path: dir.clone(),
            reason: error.to_string(),
        })?;
        Index::open_or_create(directory, schema)
            .map_err(|error| StoreError::tantivy(&dir, error))?;
        let version = serde_json::to_vec(&VersionFile {
            schema_version: version,
        })
        .unwrap_or_default();
        write_atomically(&dir.join(VERSION_FILE), &version)?;
        self.open(day)
    }

    /// Bytes on disk of `day`'s index.
    pub fn day_bytes(&self, day: Day) -> u64 {
        dir_bytes(&self.day_dir(day))
    }

    pub fn positions(&self) -> Result<Option<Positions>, StoreError> {
        let path = self.root.join(POSITIONS_FILE);
        match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|error| StoreError::Corrupt {
                        path,
                        reason: error.to_string(),
                    })
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::io(&path, error)),
        }
    }

    pub fn save_positions(&self, positions: &Positions) -> Result<(), StoreError> {
        fs::create_dir_all(&self.root).map_err(|error| StoreError::io(&self.root, error))?;
        let bytes = serde_json::to_vec(positions).unwrap_or_default();
        write_atomically(&self.root.join(POSITIONS_FILE), &bytes)
    }

    /// Deletes `day`'s index from disk.
    pub fn remove(&self, day: Day) -> Result<(), StoreError> {
        let dir = self.day_dir(day);
        // The version file goes first: a crash halfway leaves a directory no one opens.
        match fs::remove_file(dir.join(VERSION_FILE)) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(StoreError::io(&dir, error)),
        }
        fs::remove_dir_all(&dir).map_err(|error| StoreError::io(&dir, error))
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    logpipe_common::durable::write_atomically(path, bytes)
        .map_err(|error| StoreError::io(path, error))
}

fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|entry| entry.metadata().ok())
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_print_and_parse_as_calendar_dates() {
        let ts = Timestamp::parse_rfc3339("2026-11-27T23:59:59.999999999Z").unwrap();
        let day = Day::of(ts);
        assert_eq!(day.to_string(), "2026-11-27");
        assert_eq!("2026-11-27".parse::<Day>(), Ok(day));
        assert_eq!(
            Day::of(day.end()),
            Day::from_epoch_days(day.epoch_days() + 1)
        );
        assert_eq!(Day::of(day.start()), day);
        let before_epoch = Timestamp::parse_rfc3339("1969-12-31T23:00:00Z").unwrap();
        assert_eq!(Day::of(before_epoch).to_string(), "1969-12-31");
        assert!("2026-13-01".parse::<Day>().is_err());
        assert!("../etc".parse::<Day>().is_err());
    }

    #[test]
    fn an_index_of_another_schema_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let layout = IndexLayout::under(dir.path());
        let day: Day = "2026-11-27".parse().unwrap();
        layout.open_or_create(day).unwrap();
        assert_eq!(layout.days().unwrap(), vec![day]);
        fs::write(
            layout.day_dir(day).join(VERSION_FILE),
            br#"{"schema_version": 99}"#,
        )
        .unwrap();
        let error = layout.open(day).unwrap_err().to_string();
        assert!(error.contains("schema version 99"), "{error}");
    }

    #[test]
    fn positions_survive_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let layout = IndexLayout::under(dir.path());
        assert_eq!(layout.positions().unwrap(), None);
        let positions = Positions {
            topic: "logs".into(),
            offsets: BTreeMap::from([(0, 10), (3, 7)]),
        };
        layout.save_positions(&positions).unwrap();
        assert_eq!(layout.positions().unwrap(), Some(positions));
        fs::write(layout.root().join(POSITIONS_FILE), b"{").unwrap();
        assert!(layout.positions().is_err());
    }
}
