//! Days that only object storage holds: the indexers evicted them from their volumes
//! (`LOGPIPE_STORE_LOCAL_DAYS`) and their copies under `LOGPIPE_STORE_URL` keep them. A
//! search whose range reaches such a day fetches it whole into a cache on local disk,
//! bounded by `LOGPIPE_QUERY_STORE_CACHE_BYTES` (least recently searched days go first),
//! and searches it there as any day index.
//!
//! The indexers' manifests are read again every `LIST_EVERY`: a day no manifest lists as
//! evicted any more (fetched back by an indexer for late events, or removed by retention)
//! leaves the cache, so no day is searched twice for longer than that.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logpipe_store::archive::Archive;
use logpipe_store::search::TimeRange;
use logpipe_store::{Catalog, Day, IndexLayout, Reload};
use tracing::{info, warn};

/// What could not be searched, and why.
pub type Missing = Vec<(String, String)>;

/// How long a reading of the indexers' manifests is trusted.
const LIST_EVERY: Duration = Duration::from_secs(10);

/// Object storage's days, searched through a bounded local cache.
#[derive(Clone)]
pub struct ColdStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ColdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColdStore")
            .field("url", &self.inner.url)
            .field("dir", &self.inner.dir)
            .field("max_bytes", &self.inner.max_bytes)
            .finish()
    }
}

struct Inner {
    url: String,
    /// The clouds' credential and endpoint variables.
    env: Vec<(String, String)>,
    dir: PathBuf,
    max_bytes: u64,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Every indexer's copy, by instance, as last listed.
    archives: Vec<(String, Archive)>,
    listed: Option<Instant>,
    /// Days in the cache, by instance and day.
    days: BTreeMap<(String, Day), Cached>,
    /// Per instance, a catalog over its cached days.
    catalogs: BTreeMap<String, Catalog>,
}

struct Cached {
    /// The `meta.json` it was fetched for.
    meta: String,
    bytes: u64,
    used: Instant,
}

impl ColdStore {
    /// Object storage at `url`, cached under `dir` (emptied first: a cache from before a
    /// restart is not trusted) up to `max_bytes`.
    pub fn new(
        url: String,
        env: Vec<(String, String)>,
        dir: PathBuf,
        max_bytes: u64,
    ) -> std::io::Result<Self> {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        std::fs::create_dir_all(&dir)?;
        Ok(ColdStore {
            inner: Arc::new(Inner {
                url,
                env,
                dir,
                max_bytes,
                state: tokio::sync::Mutex::new(State::default()),
            }),
        })
    }

    /// Bytes the cache holds now.
    pub async fn cached_bytes(&self) -> u64 {
        let state = self.inner.state.lock().await;
        state.days.values().map(|c| c.bytes).sum()
    }

    /// Catalogs over the days in the cache now, fetching nothing.
    pub async fn cached_catalogs(&self) -> Vec<Catalog> {
        let state = self.inner.state.lock().await;
        state.catalogs.values().cloned().collect()
    }

    /// Catalogs, one per indexer instance, over the evicted days `range` reaches, fetched
    /// as needed; and the days (or listings) that could not be had.
    pub async fn catalogs(&self, range: &TimeRange) -> (Vec<(String, Catalog)>, Missing) {
        let mut failed = Vec::new();
        let mut state = self.inner.state.lock().await;
        if state.listed.is_none_or(|at| at.elapsed() >= LIST_EVERY) {
            match Archive::open_all(&self.inner.url, self.inner.env.clone()).await {
                Ok(archives) => {
                    state.archives = archives;
                    state.listed = Some(Instant::now());
                }
                Err(error) => {
                    warn!(%error, "listing object storage failed");
                    failed.push(("object storage".into(), error.to_string()));
                }
            }
        }
        let evicted: BTreeMap<(String, Day), String> = state
            .archives
            .iter()
            .flat_map(|(name, archive)| {
                archive
                    .evicted_days()
                    .into_iter()
                    .map(move |(day, meta)| ((name.clone(), day), meta))
            })
            .collect();
        let stale: Vec<(String, Day)> = state
            .days
            .iter()
            .filter(|(key, cached)| evicted.get(*key) != Some(&cached.meta))
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            self.drop_day(&mut state, &key);
        }
        // `to` is excluded.
        let last = logpipe_common::event::Timestamp::from_unix_nanos(
            range.to.unix_nanos().saturating_sub(1),
        );
        let (first, last) = (Day::of(range.from), Day::of(last));
        let wanted: BTreeMap<(String, Day), String> = evicted
            .into_iter()
            .filter(|((_, day), _)| *day >= first && *day <= last)
            .collect();
        let archives = std::mem::take(&mut state.archives);
        for ((name, day), meta) in &wanted {
            let key = (name.clone(), *day);
            if let Some(cached) = state.days.get_mut(&key) {
                cached.used = Instant::now();
                continue;
            }
            let Some(archive) = archives.iter().find(|(n, _)| n == name).map(|(_, a)| a) else {
                continue;
            };
            let shard = format!("object storage {name} {day}");
            let bytes = archive.day_bytes(&day.to_string(), meta);
            if !self.make_room(&mut state, bytes, &wanted) {
                failed.push((
                    shard,
                    format!(
                        "the day is {bytes} bytes and the cache (LOGPIPE_QUERY_STORE_CACHE_BYTES, {} bytes) is full of the other days this search needs: narrow the time range",
                        self.inner.max_bytes
                    ),
                ));
                continue;
            }
            match self.fetch(archive, name, *day, meta).await {
                Ok(()) => {
                    state.days.insert(
                        key,
                        Cached {
                            meta: meta.clone(),
                            bytes,
                            used: Instant::now(),
                        },
                    );
                    crate::telemetry::store_day_fetched(bytes);
                }
                Err(error) => {
                    warn!(%name, %day, %error, "fetching a day from object storage failed");
                    failed.push((shard, error));
                }
            }
        }
        state.archives = archives;
        crate::telemetry::store_cache(state.days.values().map(|c| c.bytes).sum());
        let instances: BTreeSet<&String> = wanted
            .keys()
            .filter(|key| state.days.contains_key(*key))
            .map(|(name, _)| name)
            .collect();
        let mut catalogs = Vec::new();
        for name in instances {
            let layout = IndexLayout::under(&self.inner.dir.join(name));
            let catalog = match state.catalogs.get(name.as_str()) {
                Some(catalog) => catalog.refresh().map(|()| catalog.clone()),
                None => Catalog::open(layout, Reload::Manual),
            };
            match catalog {
                Ok(catalog) => {
                    state.catalogs.insert(name.clone(), catalog.clone());
                    catalogs.push((name.clone(), catalog));
                }
                Err(error) => failed.push((format!("object storage {name}"), error.to_string())),
            }
        }
        (catalogs, failed)
    }

    /// Drops the least recently searched days `wanted` does not name until `bytes` more
    /// fit; false when they cannot.
    fn make_room(
        &self,
        state: &mut State,
        bytes: u64,
        wanted: &BTreeMap<(String, Day), String>,
    ) -> bool {
        loop {
            let held: u64 = state.days.values().map(|c| c.bytes).sum();
            if held + bytes <= self.inner.max_bytes {
                return true;
            }
            let oldest = state
                .days
                .iter()
                .filter(|(key, _)| !wanted.contains_key(*key))
                .min_by_key(|(_, cached)| cached.used)
                .map(|(key, _)| key.clone());
            match oldest {
                Some(key) => self.drop_day(state, &key),
                None => return false,
            }
        }
    }

    fn drop_day(&self, state: &mut State, key: &(String, Day)) {
        let (name, day) = key;
        if let Some(catalog) = state.catalogs.get(name) {
            catalog.forget(*day);
        }
        state.days.remove(key);
        let dir = IndexLayout::under(&self.inner.dir.join(name)).day_dir(*day);
        if let Err(error) = std::fs::remove_dir_all(&dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            warn!(dir = %dir.display(), %error, "removing a cached day failed");
        }
        info!(instance = %name, %day, "day left the object-storage cache");
    }

    /// Fetches `day` of `name` into its place in the cache, whole.
    async fn fetch(
        &self,
        archive: &Archive,
        name: &str,
        day: Day,
        meta: &str,
    ) -> Result<(), String> {
        let layout = IndexLayout::under(&self.inner.dir.join(name));
        archive
            .fetch_day_into(day, meta, &layout)
            .await
            .map_err(|error| error.to_string())?;
        info!(instance = %name, %day, "day fetched from object storage for search");
        Ok(())
    }
}
