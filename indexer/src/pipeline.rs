//! Kafka records → day indexes, exactly once as seen by search.
//!
//! Every commit of a day index stores the next offset per partition that it covers; the
//! positions file, written after a commit round, holds offsets every day covers. After a
//! crash consumption resumes from the positions file, and a replayed event is skipped
//! when its day's last commit already covers its offset. An event the collector delivered
//! twice (same id, another offset) is dropped by the recent-id set.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use logpipe_common::event::Flag;
use tracing::{info, warn};

use crate::dead_letter::DeadLetters;
use crate::decode::{self, KafkaRecord, TsBounds};
use crate::dedup::RecentIds;
use crate::document::document;
use crate::error::IndexerError;
use crate::layout::{Day, Positions};
use crate::retention::{self, RetentionPolicy};
use crate::store::{CommitReport, Store};
use crate::telemetry;

/// Longest wait for dead-letter deliveries in one commit round before it is retried.
const DEAD_LETTER_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub topic: String,
    pub bounds: TsBounds,
    pub commit_interval: Duration,
    pub commit_docs: usize,
    pub dedup_window: usize,
    pub retention: RetentionPolicy,
}

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Indexed,
    /// Already indexed under the same id from another offset.
    Duplicate,
    /// Already in the committed index from this offset (a replay after a restart).
    Replayed,
    DeadLettered,
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    indexed: u64,
    duplicates: u64,
    replayed: u64,
}

#[derive(Debug)]
pub struct Pipeline {
    store: Store,
    dead_letters: Option<DeadLetters>,
    recent: RecentIds,
    settings: PipelineSettings,
    /// Next offset to take per partition, as far as this process has taken records.
    positions: BTreeMap<i32, i64>,
    /// The positions last written to the positions file.
    saved: BTreeMap<i32, i64>,
    since_commit: usize,
    last_commit: Instant,
    tally: Tally,
}

impl Pipeline {
    /// Opens the pipeline over `store`; `dead_letters` may be omitted only where no bad
    /// message can arrive (benchmarks).
    pub fn open(
        store: Store,
        dead_letters: Option<DeadLetters>,
        settings: PipelineSettings,
    ) -> Result<Self, IndexerError> {
        let layout = store.catalog().layout().clone();
        let positions = match layout.positions()? {
            Some(saved) if saved.topic == settings.topic => saved.offsets,
            Some(saved) => {
                warn!(saved_topic = saved.topic, topic = settings.topic, "positions are for another topic, ignored");
                BTreeMap::new()
            }
            None => BTreeMap::new(),
        };
        let mut recent = RecentIds::new(settings.dedup_window);
        let started = Instant::now();
        let ids = store.catalog().recent_ids(settings.dedup_window)?;
        // Oldest first, so the newest are the last to age out.
        for id in ids.iter().rev() {
            recent.insert(*id);
        }
        info!(
            ids = recent.len(),
            took_ms = started.elapsed().as_millis() as u64,
            "recent event ids loaded"
        );
        Ok(Pipeline {
            store,
            dead_letters,
            recent,
            saved: positions.clone(),
            positions,
            since_commit: 0,
            last_commit: Instant::now(),
            tally: Tally::default(),
            settings,
        })
    }

    /// Where to resume `partition`: past everything this indexer has indexed from it.
    pub fn resume_offset(&self, partition: i32) -> Option<i64> {
        [
            self.positions.get(&partition).copied(),
            self.store.max_committed(partition),
        ]
        .into_iter()
        .flatten()
        .max()
    }

    pub fn positions(&self) -> &BTreeMap<i32, i64> {
        &self.positions
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Takes one record; an error means the index cannot be written and is fatal.
    pub fn take(&mut self, record: &KafkaRecord<'_>) -> Result<Taken, IndexerError> {
        if record.topic != self.settings.topic {
            return Ok(Taken::Replayed);
        }
        // Below the position: taken by this process (committed or pending) or covered by
        // the positions file; librdkafka redelivers such records after a seek.
        if self
            .positions
            .get(&record.partition)
            .is_some_and(|&next| record.offset < next)
        {
            self.tally.replayed += 1;
            return Ok(Taken::Replayed);
        }
        let taken = match decode::decode(record, &self.settings.bounds) {
            Err(rejected) => {
                warn!(
                    partition = record.partition,
                    offset = record.offset,
                    reason = rejected.0,
                    "event dead-lettered"
                );
                match &self.dead_letters {
                    Some(dead_letters) => dead_letters.send(record, &rejected.0)?,
                    None => warn!("no dead-letter topic, event dropped"),
                }
                telemetry::dead_lettered();
                Taken::DeadLettered
            }
            Ok(mut decoded) => {
                if self
                    .store
                    .contains_offset(decoded.day, record.partition, record.offset)
                {
                    self.tally.replayed += 1;
                    Taken::Replayed
                } else if !self.recent.insert(decoded.event.id) {
                    self.tally.duplicates += 1;
                    Taken::Duplicate
                } else {
                    if decoded.event.has_flag(Flag::Repaired) {
                        telemetry::repaired();
                    }
                    if decoded.event.has_flag(Flag::TsOutOfBounds) {
                        telemetry::ts_out_of_bounds();
                    }
                    let doc = document(self.store.fields(), &mut decoded.event, &decoded.stored);
                    self.store.add(decoded.day, doc, &self.positions)?;
                    self.tally.indexed += 1;
                    Taken::Indexed
                }
            }
        };
        self.positions.insert(record.partition, record.offset + 1);
        self.since_commit += 1;
        Ok(taken)
    }

    /// True when a commit is due: enough records, or the interval is up.
    pub fn due(&self) -> bool {
        self.since_commit >= self.settings.commit_docs
            || (self.since_commit > 0 && self.last_commit.elapsed() >= self.settings.commit_interval)
    }

    /// How long until the interval makes a commit due.
    pub fn until_due(&self) -> Duration {
        self.settings
            .commit_interval
            .saturating_sub(self.last_commit.elapsed())
    }

    /// Makes everything taken so far searchable and durable: dead letters acknowledged,
    /// day indexes committed with their offsets, then the positions file.
    pub fn commit(&mut self) -> Result<CommitReport, IndexerError> {
        if let Some(dead_letters) = &self.dead_letters {
            dead_letters.flush(DEAD_LETTER_FLUSH_TIMEOUT)?;
        }
        let report = self.store.commit(&self.positions)?;
        if self.saved != self.positions {
            self.store.catalog().layout().save_positions(&Positions {
                topic: self.settings.topic.clone(),
                offsets: self.positions.clone(),
            })?;
            self.saved = self.positions.clone();
        }
        let tally = std::mem::take(&mut self.tally);
        telemetry::taken(tally.indexed, tally.duplicates, tally.replayed);
        self.since_commit = 0;
        self.last_commit = Instant::now();
        Ok(report)
    }

    /// Commits and closes every day index, for shutdown.
    pub fn close(&mut self) -> Result<(), IndexerError> {
        self.commit()?;
        self.store.close_all(&self.positions)
    }

    /// Removes the day indexes that retention no longer keeps; returns what it removed.
    pub fn apply_retention(&mut self, today: Day) -> Result<Vec<(Day, u64)>, IndexerError> {
        let layout = self.store.catalog().layout().clone();
        let days: Vec<(Day, u64)> = layout
            .days()
            .map_err(|error| IndexerError::io(layout.root(), error))?
            .into_iter()
            .map(|day| (day, layout.day_bytes(day)))
            .collect();
        let mut removed = Vec::new();
        for (day, reason) in retention::plan(self.settings.retention, today, &days) {
            let bytes = self.store.remove_day(day, &self.positions)?;
            info!(%day, bytes, reason = reason.as_str(), "day index removed by retention");
            telemetry::retention_removed(bytes);
            removed.push((day, bytes));
        }
        Ok(removed)
    }
}
