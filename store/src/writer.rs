//! The writing side of the day indexes: one tantivy writer per day that receives events,
//! at most `max_open_days` of them, each commit carrying the Kafka offsets it covers.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use tantivy::IndexWriter;
use tantivy::indexer::LogMergePolicy;
use tracing::{debug, info};

use crate::catalog::Catalog;
use crate::document::EventDocument;
use crate::error::StoreError;
use crate::layout::{CommitPayload, Day, IndexLayout};
use crate::schema::{self, Fields};
use crate::telemetry;

/// Segments merged at once, and the least number of segments of a size class before a
/// merge: Lucene's and Quickwit's merge factor. Each event is rewritten once per size
/// class it passes through, so a larger factor merges less (one-second commits cost
/// about 5% less CPU than with 6) and keeps more segments (an hour of one-second
/// commits peaks at 29 rather than 19).
const MERGE_MIN_SEGMENTS: usize = 10;

#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub topic: String,
    pub writer_memory: usize,
    pub max_open_days: usize,
}

struct OpenDay {
    writer: IndexWriter<EventDocument>,
    pending: usize,
    last_used: u64,
}

/// What one commit round did.
#[derive(Debug, Default, Clone)]
pub struct CommitReport {
    pub days: Vec<Day>,
    pub docs: usize,
}

pub struct Writer {
    layout: IndexLayout,
    catalog: Catalog,
    fields: Fields,
    settings: WriterSettings,
    open: BTreeMap<Day, OpenDay>,
    /// The offsets in the last commit payload of every day index.
    committed: HashMap<Day, BTreeMap<i32, i64>>,
    clock: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("open", &self.open.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Writer {
    /// Opens the store and reads the committed offsets of every day index.
    pub fn open(catalog: Catalog, settings: WriterSettings) -> Result<Self, StoreError> {
        let layout = catalog.layout().clone();
        let mut committed = HashMap::new();
        for reader in catalog.readers() {
            let metas = reader
                .index
                .load_metas()
                .map_err(|error| StoreError::tantivy(&layout.day_dir(reader.day), error))?;
            if let Some(payload) = metas.payload.as_deref().and_then(CommitPayload::parse)
                && payload.topic == settings.topic
            {
                committed.insert(reader.day, payload.offsets);
            }
        }
        let (_, fields) = schema::build();
        Ok(Writer {
            layout,
            catalog,
            fields,
            settings,
            open: BTreeMap::new(),
            committed,
            clock: 0,
        })
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// True when the event at `offset` of `partition`, routed to `day`, is already in
    /// that day's committed index.
    pub fn contains_offset(&self, day: Day, partition: i32, offset: i64) -> bool {
        self.committed
            .get(&day)
            .and_then(|offsets| offsets.get(&partition))
            .is_some_and(|&next| offset < next)
    }

    /// Adds a document to `day`'s index. Opening a day beyond `max_open_days` first
    /// commits and closes the least recently written one, at `positions`.
    pub fn add(
        &mut self,
        day: Day,
        doc: EventDocument,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<(), StoreError> {
        self.clock += 1;
        if !self.open.contains_key(&day) {
            if self.open.len() >= self.settings.max_open_days
                && let Some(&oldest) = self
                    .open
                    .iter()
                    .min_by_key(|(_, open)| open.last_used)
                    .map(|(day, _)| day)
            {
                self.close(oldest, positions)?;
            }
            let writer = self.open_writer(day)?;
            self.open.insert(
                day,
                OpenDay {
                    writer,
                    pending: 0,
                    last_used: 0,
                },
            );
        }
        let Some(open) = self.open.get_mut(&day) else {
            return Ok(());
        };
        open.last_used = self.clock;
        open.pending += 1;
        open.writer
            .add_document(doc)
            .map_err(|error| StoreError::tantivy(&self.layout.day_dir(day), error))?;
        Ok(())
    }

    fn open_writer(&mut self, day: Day) -> Result<IndexWriter<EventDocument>, StoreError> {
        let (index, _) = self.layout.open_or_create(day)?;
        let dir = self.layout.day_dir(day);
        // One indexing thread: one segment per commit, and the other core stays free for
        // consuming and decoding.
        let writer: IndexWriter<EventDocument> = index
            .writer_with_num_threads(1, self.settings.writer_memory)
            .map_err(|error| StoreError::tantivy(&dir, error))?;
        let mut policy = LogMergePolicy::default();
        policy.set_min_num_segments(MERGE_MIN_SEGMENTS);
        writer.set_merge_policy(Box::new(policy));
        self.catalog.reload(day)?;
        debug!(%day, "day index opened for writing");
        Ok(writer)
    }

    /// Commits every day with pending documents, each with `positions` as its payload.
    pub fn commit(&mut self, positions: &BTreeMap<i32, i64>) -> Result<CommitReport, StoreError> {
        let days: Vec<Day> = self
            .open
            .iter()
            .filter(|(_, open)| open.pending > 0)
            .map(|(day, _)| *day)
            .collect();
        self.commit_days(&days, positions)
    }

    /// Commits `days`, one after the other: a crash in between leaves some committed
    /// further than others, which the offsets in each payload account for.
    pub fn commit_days(
        &mut self,
        days: &[Day],
        positions: &BTreeMap<i32, i64>,
    ) -> Result<CommitReport, StoreError> {
        let mut report = CommitReport::default();
        for &day in days {
            report.docs += self.commit_day(day, positions)?;
            report.days.push(day);
        }
        Ok(report)
    }

    fn commit_day(
        &mut self,
        day: Day,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<usize, StoreError> {
        let Some(open) = self.open.get_mut(&day) else {
            return Ok(0);
        };
        let dir = self.layout.day_dir(day);
        let mut offsets = self.committed.get(&day).cloned().unwrap_or_default();
        offsets.extend(positions.iter().map(|(&p, &o)| (p, o)));
        let payload = CommitPayload {
            topic: self.settings.topic.clone(),
            offsets,
        };
        let started = Instant::now();
        let mut prepared = open
            .writer
            .prepare_commit()
            .map_err(|error| StoreError::tantivy(&dir, error))?;
        prepared.set_payload(&serde_json::to_string(&payload).unwrap_or_default());
        prepared
            .commit()
            .map_err(|error| StoreError::tantivy(&dir, error))?;
        telemetry::committed(started.elapsed());
        self.committed.insert(day, payload.offsets);
        let docs = std::mem::take(&mut open.pending);
        self.catalog.reload(day)?;
        Ok(docs)
    }

    /// Commits `day` if needed and closes its writer (waiting for its merges).
    pub fn close(&mut self, day: Day, positions: &BTreeMap<i32, i64>) -> Result<(), StoreError> {
        if self.open.get(&day).is_some_and(|open| open.pending > 0) {
            self.commit_day(day, positions)?;
        }
        if let Some(open) = self.open.remove(&day) {
            let dir = self.layout.day_dir(day);
            open.writer
                .wait_merging_threads()
                .map_err(|error| StoreError::tantivy(&dir, error))?;
            info!(%day, "day index closed for writing");
        }
        Ok(())
    }

    /// Commits what is pending and closes every writer.
    pub fn close_all(&mut self, positions: &BTreeMap<i32, i64>) -> Result<(), StoreError> {
        let days: Vec<Day> = self.open.keys().copied().collect();
        for day in days {
            self.close(day, positions)?;
        }
        Ok(())
    }

    /// Removes `day`'s index, closing its writer first.
    pub fn remove_day(
        &mut self,
        day: Day,
        positions: &BTreeMap<i32, i64>,
    ) -> Result<(), StoreError> {
        self.close(day, positions)?;
        self.catalog.forget(day);
        self.layout.remove(day)?;
        self.committed.remove(&day);
        Ok(())
    }
}
