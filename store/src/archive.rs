//! A copy of the store in object storage (`LOGPIPE_STORE_URL`: S3, GCS, Azure or a local
//! directory, through the `object_store` crate), so that a lost volume loses nothing
//! Kafka no longer holds, and an indexer started on an empty volume takes its days back.
//!
//! ```text
//! <prefix>/
//!   manifest.json            the last complete round: positions, each day's meta.json,
//!                            the ledger's length, the days only object storage holds
//!                            (written last, replaced whole)
//!   days/2026-11-27/<file>   segment files (immutable) and logpipe.json
//!   ledger/<offset>.jsonl    the ledger in appended pieces, by byte offset
//!   digests/<file>           signed digests
//! ```
//!
//! A round reads the positions file, then each day's `meta.json` (uploading the files it
//! has not uploaded; a day whose `meta.json` changed meanwhile is read again), then the
//! ledger's length, uploads the ledger up to there and the digests, and last the
//! manifest. Days are committed after the positions file is read and the ledger before
//! the days, so a manifest's days cover its positions and its ledger covers its days: a
//! restore from it resumes consuming at its positions, skipping what its days hold, and
//! verifies. Segment files no manifest day references any more are deleted after the
//! manifest that stopped referencing them, days retention removed likewise.
//!
//! A day the indexer evicted from its volume (`LOGPIPE_STORE_LOCAL_DAYS`; the ledger
//! records it before the day goes) stays in the manifest, listed as `evicted`, until
//! retention removes it: the query service searches it from here, and a restore leaves it
//! here unless asked for everything (`logpipe verify`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path as LocalPath;
use std::sync::Arc;

use futures::TryStreamExt;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutPayload, RetryConfig,
};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::error::StoreError;
use crate::layout::{Day, IndexLayout, Positions};

const MANIFEST: &str = "manifest.json";
const META: &str = "meta.json";
const LEDGER: &str = "ledger.jsonl";
/// Attempts at a consistent copy of one day while it is being written.
const DAY_ATTEMPTS: usize = 5;

/// Why a round or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("object storage: {0}")]
    Remote(#[from] object_store::Error),
    #[error(transparent)]
    Local(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// The last complete round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub positions: Option<Positions>,
    /// Each day's `meta.json` as uploaded.
    pub days: BTreeMap<String, String>,
    /// Bytes of the ledger the round covers.
    pub ledger_bytes: u64,
    /// Days of `days` no longer on the indexer's volume: only object storage holds them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub evicted: BTreeSet<String>,
}

/// Which days a restore fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    /// The days the indexer's volume held; evicted days stay in object storage.
    Volume,
    /// Every day object storage holds (to verify the whole record).
    All,
}

/// What a round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    pub uploaded_files: usize,
    pub uploaded_bytes: u64,
    pub deleted_files: usize,
    /// The positions the store now covers.
    pub positions: Option<BTreeMap<i32, i64>>,
}

/// The store's copy in object storage.
#[derive(Debug)]
pub struct Archive {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// Objects known to be there, by path under the prefix, with their sizes.
    uploaded: HashMap<String, u64>,
    manifest: Option<Manifest>,
}

impl Archive {
    /// The archive at `url` (`s3://bucket/prefix`, `gs://…`, `az://…`, `file:///dir`),
    /// under `instance` there (at `url` itself when empty): credentials and endpoints from the `AWS_*`, `GOOGLE_*` and
    /// `AZURE_*` variables of `env`, as each cloud's tools read them.
    pub async fn open(
        url: &str,
        instance: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Archive, ArchiveError> {
        let (store, base) = Archive::connect(url, env)?;
        let prefix = if instance.is_empty() {
            base
        } else {
            base.join(instance)
        };
        Archive::with_store(store, prefix).await
    }

    /// Every indexer's archive under `url` (the instances that have a manifest), by
    /// instance name.
    pub async fn open_all(
        url: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<(String, Archive)>, ArchiveError> {
        let (store, base) = Archive::connect(url, env)?;
        let listed = store.list_with_delimiter(Some(&base)).await?;
        let mut archives = Vec::new();
        for prefix in listed.common_prefixes {
            let Some(instance) = prefix.filename().map(str::to_owned) else {
                continue;
            };
            let archive = Archive::with_store(store.clone(), prefix).await?;
            if archive.manifest.is_some() {
                archives.push((instance, archive));
            }
        }
        Ok(archives)
    }

    /// The object store `url` names and the prefix in it.
    fn connect(
        url: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Arc<dyn ObjectStore>, Path), ArchiveError> {
        let parsed = url::Url::parse(url)
            .map_err(|error| ArchiveError::Invalid(format!("LOGPIPE_STORE_URL {url}: {error}")))?;
        let options: Vec<(String, String)> = env
            .into_iter()
            .filter(|(key, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|cloud| key.starts_with(cloud))
            })
            .map(|(key, value)| (key.to_ascii_lowercase(), value))
            .collect();
        if parsed.scheme() == "file" {
            let dir = parsed.to_file_path().map_err(|()| {
                ArchiveError::Invalid(format!("LOGPIPE_STORE_URL {url}: not a local path"))
            })?;
            std::fs::create_dir_all(&dir).map_err(|error| StoreError::io(&dir, error))?;
        }
        // A round tries each request a few times, within half a minute: an outage fails the
        // round, and the next one starts over.
        let retry = RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
        };
        macro_rules! cloud {
            ($builder:ty) => {{
                let builder = options.iter().fold(
                    <$builder>::new().with_url(url).with_retry(retry),
                    |builder, (key, value)| match key.parse() {
                        Ok(key) => builder.with_config(key, value),
                        Err(_) => builder,
                    },
                );
                Arc::new(builder.build()?) as Arc<dyn ObjectStore>
            }};
        }
        let (scheme, base) = ObjectStoreScheme::parse(&parsed)
            .map_err(|error| ArchiveError::Invalid(format!("LOGPIPE_STORE_URL {url}: {error}")))?;
        let store = match scheme {
            ObjectStoreScheme::Local => Arc::new(LocalFileSystem::new()) as Arc<dyn ObjectStore>,
            ObjectStoreScheme::Memory => Arc::new(InMemory::new()),
            ObjectStoreScheme::AmazonS3 => cloud!(AmazonS3Builder),
            ObjectStoreScheme::GoogleCloudStorage => cloud!(GoogleCloudStorageBuilder),
            ObjectStoreScheme::MicrosoftAzure => cloud!(MicrosoftAzureBuilder),
            other => {
                return Err(ArchiveError::Invalid(format!(
                    "LOGPIPE_STORE_URL {url}: {other:?} is not an object store logpipe writes to"
                )));
            }
        };
        Ok((store, base))
    }

    /// The archive in `store` under `prefix`.
    pub async fn with_store(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
    ) -> Result<Archive, ArchiveError> {
        let mut archive = Archive {
            store,
            prefix,
            uploaded: HashMap::new(),
            manifest: None,
        };
        let listed: Vec<_> = archive
            .store
            .list(Some(&archive.prefix))
            .try_collect()
            .await?;
        for object in listed {
            if let Some(name) = archive.relative(&object.location) {
                archive.uploaded.insert(name, object.size);
            }
        }
        archive.manifest = archive.read_manifest().await?;
        Ok(archive)
    }

    /// The last complete round, if any.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    fn relative(&self, location: &Path) -> Option<String> {
        let parts: Vec<String> = location
            .prefix_match(&self.prefix)?
            .map(|part| part.as_ref().to_owned())
            .collect();
        Some(parts.join("/"))
    }

    async fn read_manifest(&self) -> Result<Option<Manifest>, ArchiveError> {
        match self.store.get(&self.path(MANIFEST)).await {
            Ok(found) => {
                let bytes = found.bytes().await?;
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|error| ArchiveError::Invalid(format!("{MANIFEST}: {error}")))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn put(
        &mut self,
        relative: &str,
        bytes: Vec<u8>,
        report: &mut RoundReport,
    ) -> Result<(), ArchiveError> {
        let size = bytes.len() as u64;
        self.store
            .put(&self.path(relative), PutPayload::from(bytes))
            .await?;
        self.uploaded.insert(relative.to_owned(), size);
        report.uploaded_files += 1;
        report.uploaded_bytes += size;
        Ok(())
    }

    /// Uploads what the store under `layout` has committed since the last round and
    /// records it in a new manifest; a round that fails leaves the last manifest whole.
    pub async fn sync(&mut self, layout: &IndexLayout) -> Result<RoundReport, ArchiveError> {
        let mut report = RoundReport::default();
        let Some(positions) = layout.positions()? else {
            // Nothing committed yet.
            return Ok(report);
        };
        let mut manifest = Manifest {
            positions: Some(positions.clone()),
            ..Manifest::default()
        };
        let days = layout
            .days()
            .map_err(|error| StoreError::io(layout.root(), error))?;
        for day in days {
            if let Some(meta) = self.sync_day(layout, day, &mut report).await? {
                manifest.days.insert(day.to_string(), meta);
            }
        }
        // After the days: the ledger is written ahead of them, so it covers them.
        let uploaded = self.ledger_bytes();
        let piece = ledger_after(&layout.root().join(LEDGER), uploaded)?;
        self.carry_evicted(&mut manifest, &piece);
        if !piece.is_empty() {
            let length = piece.len() as u64;
            self.put(&format!("ledger/{uploaded:020}.jsonl"), piece, &mut report)
                .await?;
            manifest.ledger_bytes = uploaded + length;
        } else {
            manifest.ledger_bytes = uploaded;
        }
        let digests = layout.root().join("digests");
        if digests.is_dir() {
            for name in file_names(&digests)? {
                let relative = format!("digests/{name}");
                if !self.uploaded.contains_key(&relative)
                    && let Some(bytes) = read_optional(&digests.join(&name))?
                {
                    self.put(&relative, bytes, &mut report).await?;
                }
            }
        }
        if self.manifest.as_ref() != Some(&manifest) {
            let bytes = serde_json::to_vec_pretty(&manifest)
                .map_err(|error| ArchiveError::Invalid(error.to_string()))?;
            self.put(MANIFEST, bytes, &mut report).await?;
            self.manifest = Some(manifest.clone());
            self.collect(&manifest, &mut report).await?;
        }
        report.positions = Some(positions.offsets);
        Ok(report)
    }

    /// Keeps in `manifest` the days evicted from the volume: those evicted before (unless
    /// late events brought them back to the volume) and those the new ledger `piece`
    /// evicts, less those it records retention removing.
    fn carry_evicted(&self, manifest: &mut Manifest, piece: &[u8]) {
        let none = Manifest::default();
        let last = self.manifest.as_ref().unwrap_or(&none);
        let mut evicted: BTreeSet<String> = last
            .evicted
            .iter()
            .filter(|day| !manifest.days.contains_key(*day))
            .cloned()
            .collect();
        for (day, to_store) in crate::ledger::removals_in(piece) {
            if to_store {
                evicted.insert(day.to_string());
            } else {
                evicted.remove(&day.to_string());
            }
        }
        for day in evicted {
            if let Some(meta) = manifest.days.get(&day).or_else(|| last.days.get(&day)) {
                manifest.days.insert(day.clone(), meta.clone());
                manifest.evicted.insert(day);
            } else {
                tracing::warn!(%day, "a day evicted before object storage had it; not in the copy");
            }
        }
    }

    /// Uploads one day's files and returns the `meta.json` they make a whole of; `None`
    /// when the day has no commit yet.
    async fn sync_day(
        &mut self,
        layout: &IndexLayout,
        day: Day,
        report: &mut RoundReport,
    ) -> Result<Option<String>, ArchiveError> {
        let dir = layout.day_dir(day);
        'attempt: for _ in 0..DAY_ATTEMPTS {
            let Some(meta) = read_optional(&dir.join(META))? else {
                return Ok(None);
            };
            for name in file_names(&dir)? {
                if name == META || name.starts_with('.') {
                    continue;
                }
                let relative = format!("days/{day}/{name}");
                let path = dir.join(&name);
                let size = match std::fs::metadata(&path) {
                    Ok(found) => found.len(),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(error) => return Err(StoreError::io(&path, error).into()),
                };
                // Segment files never change once written.
                if self.uploaded.get(&relative) == Some(&size) {
                    continue;
                }
                match read_optional(&path)? {
                    Some(bytes) => self.put(&relative, bytes, report).await?,
                    // Merged away meanwhile: the day moved on.
                    None => continue 'attempt,
                }
            }
            let again = read_optional(&dir.join(META))?;
            if again.as_deref() != Some(&meta[..]) {
                continue;
            }
            let meta = String::from_utf8(meta).map_err(|_| {
                ArchiveError::Invalid(format!("{}: meta.json is not UTF-8", dir.display()))
            })?;
            return Ok(Some(meta));
        }
        Err(ArchiveError::Invalid(format!(
            "day {day} kept changing while it was copied; tried {DAY_ATTEMPTS} times"
        )))
    }

    fn ledger_bytes(&self) -> u64 {
        self.ledger_pieces().iter().map(|(_, size)| size).sum()
    }

    /// The ledger's pieces in order: (path, size).
    fn ledger_pieces(&self) -> Vec<(String, u64)> {
        let mut pieces: Vec<(String, u64)> = self
            .uploaded
            .iter()
            .filter(|(name, _)| name.starts_with("ledger/"))
            .map(|(name, size)| (name.clone(), *size))
            .collect();
        pieces.sort();
        pieces
    }

    /// Deletes the day files `manifest` no longer references, and the days it no longer
    /// has.
    async fn collect(
        &mut self,
        manifest: &Manifest,
        report: &mut RoundReport,
    ) -> Result<(), ArchiveError> {
        let mut keep: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for (day, meta) in &manifest.days {
            keep.insert(day, segment_ids(meta)?);
        }
        let doomed: Vec<String> = self
            .uploaded
            .keys()
            .filter(|name| {
                let Some(rest) = name.strip_prefix("days/") else {
                    return false;
                };
                let Some((day, file)) = rest.split_once('/') else {
                    return false;
                };
                match keep.get(day) {
                    None => true,
                    Some(segments) => {
                        file != crate::layout::VERSION_FILE
                            && !segments.iter().any(|id| file.starts_with(id.as_str()))
                    }
                }
            })
            .cloned()
            .collect();
        for name in doomed {
            match self.store.delete(&self.path(&name)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            self.uploaded.remove(&name);
            report.deleted_files += 1;
        }
        Ok(())
    }

    /// Fills an empty `layout` from the last manifest: its days (those of `which`), the
    /// ledger it covers, the digests, and last its positions. Returns the positions
    /// restored, `None` when object storage holds no manifest.
    pub async fn restore(
        &self,
        layout: &IndexLayout,
        which: Days,
    ) -> Result<Option<BTreeMap<i32, i64>>, ArchiveError> {
        let Some(manifest) = &self.manifest else {
            return Ok(None);
        };
        let root = layout.root();
        let has_days = !layout
            .days()
            .map_err(|error| StoreError::io(root, error))?
            .is_empty();
        if has_days || layout.positions()?.is_some() {
            return Err(ArchiveError::Invalid(format!(
                "{} is not empty: a restore fills an empty index directory only",
                root.display()
            )));
        }
        std::fs::create_dir_all(root).map_err(|error| StoreError::io(root, error))?;
        let mut files = 0usize;
        for (day, meta) in &manifest.days {
            if which == Days::Volume && manifest.evicted.contains(day) {
                continue;
            }
            files += self.fetch_day(day, meta, &root.join(day)).await?;
        }
        let mut ledger = Vec::with_capacity(manifest.ledger_bytes as usize);
        for (name, _) in self.ledger_pieces() {
            if ledger.len() as u64 >= manifest.ledger_bytes {
                break;
            }
            let bytes = self.store.get(&self.path(&name)).await?.bytes().await?;
            ledger.extend_from_slice(&bytes);
        }
        if (ledger.len() as u64) < manifest.ledger_bytes {
            return Err(ArchiveError::Invalid(format!(
                "object storage has {} bytes of the ledger, the manifest names {}",
                ledger.len(),
                manifest.ledger_bytes
            )));
        }
        ledger.truncate(manifest.ledger_bytes as usize);
        write(&root.join(LEDGER), &ledger)?;
        let digests: Vec<&String> = self
            .uploaded
            .keys()
            .filter(|name| name.starts_with("digests/"))
            .collect();
        if !digests.is_empty() {
            let dir = root.join("digests");
            std::fs::create_dir_all(&dir).map_err(|error| StoreError::io(&dir, error))?;
            for name in digests {
                let bytes = self.store.get(&self.path(name)).await?.bytes().await?;
                write(&root.join(name), &bytes)?;
            }
        }
        let Some(positions) = &manifest.positions else {
            return Ok(None);
        };
        layout.save_positions(positions)?;
        info!(
            days = manifest.days.len(),
            files,
            ledger_bytes = manifest.ledger_bytes,
            "index restored from object storage"
        );
        Ok(Some(positions.offsets.clone()))
    }
}

impl Archive {
    /// Downloads the files of `day` that its `meta` names into `dir`, `meta.json` last;
    /// returns how many files there were.
    pub async fn fetch_day(
        &self,
        day: &str,
        meta: &str,
        dir: &LocalPath,
    ) -> Result<usize, ArchiveError> {
        std::fs::create_dir_all(dir).map_err(|error| StoreError::io(dir, error))?;
        let segments = segment_ids(meta)?;
        let mut files = 0;
        for name in self.uploaded.keys() {
            let Some(file) = name.strip_prefix(&format!("days/{day}/")) else {
                continue;
            };
            if file != crate::layout::VERSION_FILE
                && !segments.iter().any(|id| file.starts_with(id.as_str()))
            {
                continue;
            }
            let bytes = self.store.get(&self.path(name)).await?.bytes().await?;
            write(&dir.join(file), &bytes)?;
            files += 1;
        }
        write(&dir.join(META), meta.as_bytes())?;
        Ok(files)
    }

    /// Fetches `day` as `meta` names it into its place under `layout`, whole: downloaded
    /// beside it, then moved in over whatever was there, so a day half there is never
    /// opened. Returns how many files there were.
    pub async fn fetch_day_into(
        &self,
        day: Day,
        meta: &str,
        layout: &IndexLayout,
    ) -> Result<usize, ArchiveError> {
        let root = layout.root();
        let partial = root.join(format!(".fetch-{day}"));
        let _ = std::fs::remove_dir_all(&partial);
        let files = self.fetch_day(&day.to_string(), meta, &partial).await?;
        let dir = layout.day_dir(day);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).map_err(|error| StoreError::io(&dir, error))?;
        std::fs::File::open(root)
            .and_then(|root| root.sync_all())
            .map_err(|error| StoreError::io(root, error))?;
        Ok(files)
    }

    /// The days only object storage holds, with their `meta.json`, as the last manifest
    /// read names them.
    pub fn evicted_days(&self) -> Vec<(Day, String)> {
        let Some(manifest) = &self.manifest else {
            return Vec::new();
        };
        manifest
            .evicted
            .iter()
            .filter_map(|day| Some((day.parse().ok()?, manifest.days.get(day)?.clone())))
            .collect()
    }

    /// Bytes of `day` as `fetch_day` writes it for `meta`: the files it names, and
    /// `meta.json` itself.
    pub fn day_bytes(&self, day: &str, meta: &str) -> u64 {
        let Ok(segments) = segment_ids(meta) else {
            return 0;
        };
        let files: u64 = self
            .uploaded
            .iter()
            .filter_map(|(name, size)| {
                let file = name.strip_prefix(&format!("days/{day}/"))?;
                (file == crate::layout::VERSION_FILE
                    || segments.iter().any(|id| file.starts_with(id.as_str())))
                .then_some(*size)
            })
            .sum();
        files + meta.len() as u64
    }
}

/// The segment ids a day's `meta.json` names: its files start with them.
fn segment_ids(meta: &str) -> Result<BTreeSet<String>, ArchiveError> {
    #[derive(Deserialize)]
    struct Meta {
        segments: Vec<Segment>,
    }
    #[derive(Deserialize)]
    struct Segment {
        segment_id: String,
    }
    let meta: Meta = serde_json::from_str(meta)
        .map_err(|error| ArchiveError::Invalid(format!("meta.json: {error}")))?;
    Ok(meta
        .segments
        .into_iter()
        .map(|s| s.segment_id.replace('-', ""))
        .collect())
}

fn read_optional(path: &LocalPath) -> Result<Option<Vec<u8>>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(StoreError::io(path, error)),
    }
}

/// The ledger's whole lines after its first `from` bytes.
fn ledger_after(path: &LocalPath, from: u64) -> Result<Vec<u8>, ArchiveError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && from == 0 => {
            return Ok(Vec::new());
        }
        Err(error) => return Err(StoreError::io(path, error).into()),
    };
    let length = file
        .metadata()
        .map_err(|error| StoreError::io(path, error))?
        .len();
    if length < from {
        return Err(ArchiveError::Invalid(format!(
            "the ledger has {length} bytes, fewer than the {from} in object storage"
        )));
    }
    let mut piece = Vec::with_capacity((length - from) as usize);
    file.seek(SeekFrom::Start(from))
        .and_then(|_| file.read_to_end(&mut piece))
        .map_err(|error| StoreError::io(path, error))?;
    let complete = piece
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    piece.truncate(complete);
    Ok(piece)
}

fn file_names(dir: &LocalPath) -> Result<Vec<String>, StoreError> {
    let entries = std::fs::read_dir(dir).map_err(|error| StoreError::io(dir, error))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| StoreError::io(dir, error))?;
        if entry.file_type().is_ok_and(|t| t.is_file())
            && let Some(name) = entry.file_name().to_str()
        {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn write(path: &LocalPath, bytes: &[u8]) -> Result<(), StoreError> {
    logpipe_common::durable::write_atomically(path, bytes)
        .map_err(|error| StoreError::io(path, error))
}

#[cfg(test)]
mod tests;
