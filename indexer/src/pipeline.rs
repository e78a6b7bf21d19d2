//! Kafka records → day indexes, exactly once as seen by search.
//!
//! Every commit of a day index stores the next offset per partition that it covers; the
//! positions file, written after a commit round, holds offsets every day covers. After a
//! crash consumption resumes from the positions file, and a replayed event is skipped
//! when its day's last commit already covers its offset. An event the collector delivered
//! twice (same id, another offset) is dropped by the recent-id set.
//!
//! Every record taken is chained in the ledger (`logpipe_store::ledger`): the round is
//! appended before the day indexes commit, so the ledger always says what the indexes
//! hold once the round lands, and a replay after a crash repeats the same decisions
//! without chaining anything twice. Digests of the ledger are signed when a key is given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use logpipe_common::event::Flag;
use logpipe_store::digest::{DigestKey, Digests};
use logpipe_store::document::EventDocument;
use logpipe_store::layout::{Day, Positions};
use logpipe_store::ledger::{self, Ledger};
use logpipe_store::{CommitReport, StoreError, Writer};
use tracing::{info, warn};

use crate::dead_letter::DeadLetters;
use crate::decode::{self, KafkaRecord, TsBounds};
use crate::dedup::RecentIds;
use crate::error::IndexerError;
use crate::retention::{self, RetentionPolicy};
use crate::telemetry;

/// Longest wait for dead-letter deliveries in one commit round before it is retried.
const DEAD_LETTER_FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub topic: String,
    pub bounds: TsBounds,
    pub commit_interval: Duration,
    pub commit_docs: usize,
    /// How far back in observation time a resent event is dropped by its id.
    pub dedup_window: Duration,
    /// Most ids remembered, whatever the window.
    pub dedup_max_ids: usize,
    pub retention: RetentionPolicy,
    /// With object storage: days kept on the volume, today included; older days are
    /// evicted to object storage only. 0 keeps every day.
    pub local_days: u32,
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

/// Where signed digests go besides the store's own directory (a Kafka topic).
pub trait DigestSink: Send {
    fn send(&self, digest: &[u8]);
}

/// Signs a digest of the ledger every `interval` and when the day changes.
struct Signer {
    key: DigestKey,
    digests: Digests,
    interval: Duration,
    last: Instant,
    day: Day,
    sink: Option<Box<dyn DigestSink>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("key", &self.key).finish()
    }
}

#[derive(Debug)]
pub struct Pipeline {
    store: Writer,
    ledger: Ledger,
    signer: Option<Signer>,
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
    /// Longest wait for dead letters in one commit round.
    dead_letter_timeout: Duration,
    /// With object storage: what its copy of the index covers.
    archived: Option<Archived>,
    /// Days evicted from the volume that object storage alone holds.
    evicted: BTreeSet<Day>,
}

/// Object storage's copy of the index as the last round left it, and the way to ask for an
/// evicted day back.
#[derive(Debug, Clone)]
pub struct Archived {
    pub copied: Arc<Mutex<Copied>>,
    pub requests: mpsc::Sender<ArchiveRequest>,
}

/// What the last round copied.
#[derive(Debug, Clone, Default)]
pub struct Copied {
    /// The positions the copy covers.
    pub positions: BTreeMap<i32, i64>,
    /// Each day's `meta.json` as copied.
    pub days: BTreeMap<String, String>,
}

/// What the indexer asks of the thread that copies to object storage.
#[derive(Debug)]
pub enum ArchiveRequest {
    /// Indexing has stopped: one last round, then the end.
    Done,
    /// Put an evicted day back on the volume, answering when it is there.
    Fetch(Day, mpsc::Sender<Result<(), String>>),
}

/// A store from before the ledger (days, but no ledger record and no digest) gets a
/// ledger that starts by adopting every event its days hold, so that `verify` accounts for
/// them (as adopted, vouched for from then on) instead of reading them as inserted. The
/// records are written beside it and moved in whole: a crash leaves no half adoption.
fn adopt_unledgered(layout: &logpipe_store::IndexLayout) -> Result<(), IndexerError> {
    let root = layout.root();
    let path = root.join(ledger::LEDGER_FILE);
    let ledger_empty = std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
    let digests = std::fs::read_dir(root.join("digests"))
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if !ledger_empty || digests {
        return Ok(());
    }
    let by_day = logpipe_store::verify::stored_events(layout)?;
    if by_day.is_empty() {
        return Ok(());
    }
    let staging = root.join(".ledger-adoption");
    let _ = std::fs::remove_dir_all(&staging);
    let mut adopted = 0;
    {
        let mut staged = Ledger::open(&staging)?;
        for (day, events) in &by_day {
            staged.adopt(*day, events)?;
            adopted += events.len();
        }
    }
    let io = |error: std::io::Error| StoreError::io(&path, error);
    std::fs::rename(staging.join(ledger::LEDGER_FILE), &path).map_err(io)?;
    std::fs::File::open(root)
        .and_then(|dir| dir.sync_all())
        .map_err(io)?;
    let _ = std::fs::remove_dir_all(&staging);
    warn!(
        adopted,
        days = by_day.len(),
        "the index had no ledger: its events are adopted, vouched for from now on"
    );
    Ok(())
}

/// How long late events for an evicted day wait for object storage to give it back
/// before indexing fails (and restarts, to read them again).
const FETCH_TIMEOUT: Duration = Duration::from_secs(120);

impl Pipeline {
    /// Opens the pipeline over `store`; `dead_letters` may be omitted only where no bad
    /// message can arrive (benchmarks).
    pub fn open(
        store: Writer,
        dead_letters: Option<DeadLetters>,
        settings: PipelineSettings,
    ) -> Result<Self, IndexerError> {
        let layout = store.catalog().layout().clone();
        let positions = match layout.positions()? {
            Some(saved) if saved.topic == settings.topic => saved.offsets,
            Some(saved) => {
                warn!(
                    saved_topic = saved.topic,
                    topic = settings.topic,
                    "positions are for another topic, ignored"
                );
                BTreeMap::new()
            }
            None => BTreeMap::new(),
        };
        let mut recent = RecentIds::new(settings.dedup_window, settings.dedup_max_ids);
        let started = Instant::now();
        // The window is measured back from the newest event indexed, as it is while
        // indexing: the ids the set keeps are the ones it would hold had it never stopped.
        let mut ids = store.catalog().recently_observed(settings.dedup_max_ids)?;
        // Oldest first, so the newest are the last to age out.
        ids.sort_by_key(|(_, observed)| *observed);
        for (id, observed) in ids {
            recent.insert(id, observed);
        }
        telemetry::dedup_window(recent.len(), recent.span());
        info!(
            ids = recent.len(),
            span_secs = recent.span().as_secs(),
            bytes = recent.bytes(),
            took_ms = started.elapsed().as_millis() as u64,
            "recent event ids loaded"
        );
        adopt_unledgered(&layout)?;
        let ledger = Ledger::open(layout.root())?;
        let on_volume = layout
            .days()
            .map_err(|error| StoreError::io(layout.root(), error))?;
        let evicted = ledger
            .removals()
            .iter()
            .filter(|(day, to_store)| **to_store && !on_volume.contains(day))
            .map(|(day, _)| *day)
            .collect();
        Ok(Pipeline {
            store,
            ledger,
            signer: None,
            dead_letters,
            recent,
            saved: positions.clone(),
            positions,
            since_commit: 0,
            last_commit: Instant::now(),
            tally: Tally::default(),
            dead_letter_timeout: DEAD_LETTER_FLUSH_TIMEOUT,
            archived: None,
            evicted,
            settings,
        })
    }

    /// Signs a digest of the ledger with `key` every `interval`, at each UTC day's end and
    /// at shutdown, each also handed to `sink`.
    pub fn sign_digests(
        &mut self,
        key: DigestKey,
        interval: Duration,
        sink: Option<Box<dyn DigestSink>>,
    ) -> Result<(), IndexerError> {
        let digests = Digests::open(self.store.catalog().layout().root())?;
        info!(
            public_key = key.public_base64(),
            "ledger digests signed with this key"
        );
        self.signer = Some(Signer {
            key,
            digests,
            interval,
            last: Instant::now(),
            day: Day::of(logpipe_common::event::Timestamp::now()),
            sink,
        });
        Ok(())
    }

    /// Writes a digest when one is due (or `now` is true).
    fn sign(&mut self, now: bool) -> Result<(), IndexerError> {
        let Some(signer) = &mut self.signer else {
            return Ok(());
        };
        let today = Day::of(logpipe_common::event::Timestamp::now());
        if !(now || signer.last.elapsed() >= signer.interval || today != signer.day) {
            return Ok(());
        }
        if let Some(bytes) =
            signer
                .digests
                .write(&signer.key, &self.ledger, &self.settings.topic)?
            && let Some(sink) = &signer.sink
        {
            sink.send(&bytes);
        }
        signer.last = Instant::now();
        signer.day = today;
        Ok(())
    }

    /// Where to resume `partition`: the position every day index covers. A day may have
    /// committed further (a crash in the middle of a commit round); the records between
    /// are replayed and the ones that day already holds are skipped by offset.
    pub fn resume_offset(&self, partition: i32) -> Option<i64> {
        self.positions.get(&partition).copied()
    }

    /// `partition` was assigned to this indexer: its next round in the ledger says when
    /// reading resumes past where its chain here stands, and goes on from `carried`, the
    /// head the indexer that held it committed with its offset, when it starts there.
    /// Reading resumes at `resume`: offsets before it that this store does not hold were
    /// another indexer's, so the position moves up to it (the group's offset is never
    /// committed back below what another indexer committed).
    pub fn assigned(
        &mut self,
        partition: i32,
        resume: Option<i64>,
        carried: Option<(i64, [u8; 32])>,
    ) {
        self.ledger.assigned(partition, carried);
        if let Some(resume) = resume {
            let position = self.positions.entry(partition).or_insert(resume);
            *position = (*position).max(resume);
        }
    }

    /// The chain's head at each of `offsets` (the group's offsets about to be committed)
    /// where a recent round ended there.
    pub fn heads_at(&self, offsets: &BTreeMap<i32, i64>) -> BTreeMap<i32, [u8; 32]> {
        offsets
            .iter()
            .filter_map(|(&partition, &offset)| {
                Some((partition, self.ledger.head_at(partition, offset)?))
            })
            .collect()
    }

    pub fn positions(&self) -> &BTreeMap<i32, i64> {
        &self.positions
    }

    /// Holds the consumer group's offsets back to what object storage has.
    pub fn archive_to(&mut self, archived: Archived) {
        self.archived = Some(archived);
    }

    /// The offsets the consumer group may record: the positions, or with object storage
    /// no further than its copy covers, so that an indexer restored from it after its
    /// volume was lost reads again what only that volume held.
    pub fn group_positions(&self) -> BTreeMap<i32, i64> {
        let Some(archived) = &self.archived else {
            return self.positions.clone();
        };
        let copied = archived.copied.lock().unwrap_or_else(|p| p.into_inner());
        self.positions
            .iter()
            .filter_map(|(partition, &next)| {
                copied
                    .positions
                    .get(partition)
                    .map(|&copied| (*partition, next.min(copied)))
            })
            .collect()
    }

    pub fn store(&self) -> &Writer {
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
        let chain = !self.ledger.chained(record.partition, record.offset);
        let taken = match decode::decode(record, &self.settings.bounds, self.store.fields()) {
            Ok(document) => self.index(record, document, chain)?,
            Err(rejected) => {
                if chain {
                    self.ledger
                        .skipped(record.partition, record.offset, "dead-letter");
                }
                warn!(
                    partition = record.partition,
                    offset = record.offset,
                    reason = rejected.0,
                    "event dead-lettered"
                );
                match &self.dead_letters {
                    Some(dead_letters) => dead_letters.send(record, &rejected.0),
                    None => warn!("no dead-letter topic, event dropped"),
                }
                telemetry::dead_lettered();
                Taken::DeadLettered
            }
        };
        self.positions.insert(record.partition, record.offset + 1);
        self.since_commit += 1;
        Ok(taken)
    }

    /// Indexes `document` unless its day's index or this process has it already; chains
    /// what became of it unless `chain` is false (the ledger has it from before a crash).
    fn index(
        &mut self,
        record: &KafkaRecord<'_>,
        document: EventDocument,
        chain: bool,
    ) -> Result<Taken, IndexerError> {
        let day = document.day();
        if self
            .store
            .contains_offset(day, record.partition, record.offset)
        {
            // The ledger round is written before the day commits, so a record its day
            // holds is chained already (unless the store predates the ledger).
            self.tally.replayed += 1;
            return Ok(Taken::Replayed);
        }
        let event = document.event();
        if !self.recent.insert(event.id, event.observed_ts) {
            if chain {
                self.ledger
                    .skipped(record.partition, record.offset, "duplicate");
            }
            self.tally.duplicates += 1;
            return Ok(Taken::Duplicate);
        }
        if chain {
            self.ledger.event(
                record.partition,
                record.offset,
                day,
                event.id.to_string(),
                document.stored(),
            );
        }
        if event.flags.contains(&Flag::Repaired) {
            telemetry::repaired();
        }
        if event.flags.contains(&Flag::TsOutOfBounds) {
            telemetry::ts_out_of_bounds();
        }
        if self.evicted.contains(&day) {
            self.fetch_back(day)?;
        }
        self.store.add(day, document, &self.positions)?;
        self.tally.indexed += 1;
        Ok(Taken::Indexed)
    }

    /// True when a commit is due: enough records, or the interval is up.
    pub fn due(&self) -> bool {
        self.since_commit >= self.settings.commit_docs
            || (self.since_commit > 0
                && self.last_commit.elapsed() >= self.settings.commit_interval)
    }

    /// How long until the interval makes a commit due.
    pub fn until_due(&self) -> Duration {
        self.settings
            .commit_interval
            .saturating_sub(self.last_commit.elapsed())
    }

    /// Makes everything taken so far searchable and durable: dead letters acknowledged,
    /// day indexes committed with their offsets, then the positions file. The interval
    /// counts from a commit's start, so commits start once per interval as long as each
    /// takes less. `IndexerError::DeadLetterPending` commits nothing and can be retried.
    pub fn commit(&mut self) -> Result<CommitReport, IndexerError> {
        let started = Instant::now();
        if let Some(dead_letters) = &self.dead_letters {
            dead_letters.flush(self.dead_letter_timeout)?;
        }
        // Ahead of the indexes: what the round's days will hold once they commit.
        self.ledger.commit_round(&self.settings.topic)?;
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
        telemetry::dedup_window(self.recent.len(), self.recent.span());
        self.since_commit = 0;
        self.last_commit = started;
        self.sign(false)?;
        Ok(report)
    }

    /// Commits and closes every day index, and signs a digest of it all, for shutdown.
    pub fn close(&mut self) -> Result<(), IndexerError> {
        self.commit()?;
        self.store.close_all(&self.positions)?;
        self.sign(true)
    }

    /// The ledger of the store, for tests.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Puts evicted `day` back on the volume from object storage, for late events of it.
    fn fetch_back(&mut self, day: Day) -> Result<(), IndexerError> {
        let unavailable = |detail: String| {
            IndexerError::Archive(format!(
                "late events for day {day}, evicted to it: {detail}"
            ))
        };
        let Some(archived) = &self.archived else {
            return Err(unavailable("no object storage is configured".into()));
        };
        let (reply, answer) = mpsc::channel();
        archived
            .requests
            .send(ArchiveRequest::Fetch(day, reply))
            .map_err(|_| unavailable("the archive thread has ended".into()))?;
        match answer.recv_timeout(FETCH_TIMEOUT) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(unavailable(error)),
            Err(_) => return Err(unavailable("object storage did not give it back".into())),
        }
        self.evicted.remove(&day);
        self.store.catalog().reload(day)?;
        info!(%day, "late events: evicted day fetched back from object storage");
        telemetry::fetched_back();
        Ok(())
    }

    /// Removes the day indexes that retention no longer keeps, and with object storage
    /// evicts from the volume the days past `local_days` that it has whole; returns what it
    /// removed (evicted days not included).
    pub fn apply_retention(&mut self, today: Day) -> Result<Vec<(Day, u64)>, IndexerError> {
        let removed = self.remove_old_days(today)?;
        self.evict(today)?;
        Ok(removed)
    }

    fn evict(&mut self, today: Day) -> Result<(), IndexerError> {
        let Some(archived) = self.archived.clone() else {
            return Ok(());
        };
        if self.settings.local_days == 0 {
            return Ok(());
        }
        let layout = self.store.catalog().layout().clone();
        let oldest_kept = today.minus(i64::from(self.settings.local_days) - 1);
        let due: Vec<Day> = layout
            .days()
            .map_err(|error| StoreError::io(layout.root(), error))?
            .into_iter()
            .filter(|day| *day < oldest_kept)
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        // Nothing pending for them: what is committed is all there is.
        self.commit()?;
        for day in due {
            self.store.close(day, &self.positions)?;
            let meta = std::fs::read_to_string(layout.day_dir(day).join("meta.json"))
                .map_err(|error| StoreError::io(&layout.day_dir(day), error))?;
            let copied = archived
                .copied
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .days
                .get(&day.to_string())
                == Some(&meta);
            if !copied {
                info!(%day, "day not evicted yet: object storage does not have all of it");
                continue;
            }
            let bytes = layout.day_bytes(day);
            // Recorded first: a day gone without its record would read as tampering.
            self.ledger.removal(day, ledger::EVICTED)?;
            self.store.remove_day(day, &self.positions)?;
            self.evicted.insert(day);
            info!(%day, bytes, "day evicted from the volume; object storage keeps it");
            telemetry::evicted(bytes);
        }
        Ok(())
    }

    fn remove_old_days(&mut self, today: Day) -> Result<Vec<(Day, u64)>, IndexerError> {
        // Evicted days go by age, from object storage: the byte budget is the volume's.
        let by_age = RetentionPolicy {
            days: self.settings.retention.days,
            max_bytes: None,
        };
        let evicted: Vec<(Day, u64)> = self.evicted.iter().map(|day| (*day, 0)).collect();
        for (day, reason) in retention::plan(by_age, today, &evicted) {
            self.ledger.removal(day, reason.as_str())?;
            self.evicted.remove(&day);
            info!(%day, "evicted day removed from object storage by retention");
        }
        let layout = self.store.catalog().layout().clone();
        let days: Vec<(Day, u64)> = layout
            .days()
            .map_err(|error| StoreError::io(layout.root(), error))?
            .into_iter()
            .map(|day| (day, layout.day_bytes(day)))
            .collect();
        let mut removed = Vec::new();
        for (day, reason) in retention::plan(self.settings.retention, today, &days) {
            // Recorded first: a day gone without its record would read as tampering.
            self.ledger.removal(day, reason.as_str())?;
            self.store.remove_day(day, &self.positions)?;
            let bytes = days
                .iter()
                .find(|(listed, _)| *listed == day)
                .map_or(0, |(_, bytes)| *bytes);
            info!(%day, bytes, reason = reason.as_str(), "day index removed by retention");
            telemetry::retention_removed(bytes);
            removed.push((day, bytes));
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use logpipe_common::event::EventId;
    use logpipe_common::kafka::KafkaSettings;
    use logpipe_common::testkit::MockKafka;
    use rdkafka::message::{Headers, Message};
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    use serde_json::json;

    use super::*;
    use crate::dead_letter;
    use logpipe_store::WriterSettings;
    use logpipe_store::catalog::{Catalog, Reload};
    use logpipe_store::layout::IndexLayout;

    const DAYS: [&str; 2] = ["2026-11-26T12:00:00Z", "2026-11-27T12:00:00Z"];

    fn id(n: u64) -> EventId {
        EventId::derive("node-1", "file-a", n)
    }

    /// Event `n`, on one of two days.
    fn payload(n: u64) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "v": 1,
            "id": id(n).to_string(),
            "ts": DAYS[(n % 2) as usize],
            "observed_ts": DAYS[(n % 2) as usize],
            "level": "info",
            "message": format!("request {n} served"),
            "k8s": {"namespace": "shop", "pod": "api-1", "node": "node-1"},
            "source": {"kind": "file", "offset": n},
            "attributes": {"n": n, "http": {"status": 200 + n % 3}}
        }))
        .unwrap()
    }

    fn open(dir: &std::path::Path) -> Pipeline {
        open_with(dir, None)
    }

    fn open_with(dir: &std::path::Path, dead_letters: Option<DeadLetters>) -> Pipeline {
        let catalog = Catalog::open(IndexLayout::under(dir), Reload::Manual).unwrap();
        let store = Writer::open(
            catalog,
            WriterSettings {
                topic: "logs".into(),
                writer_memory: 15 << 20,
                max_open_days: 2,
            },
        )
        .unwrap();
        Pipeline::open(
            store,
            dead_letters,
            PipelineSettings {
                topic: "logs".into(),
                bounds: TsBounds {
                    max_past: Duration::from_secs(7 * 86_400),
                    max_future: Duration::from_secs(3_600),
                },
                commit_interval: Duration::from_secs(3_600),
                commit_docs: usize::MAX,
                dedup_window: Duration::from_secs(24 * 3600),
                dedup_max_ids: 10_000,
                retention: RetentionPolicy {
                    days: 0,
                    max_bytes: None,
                },
                local_days: 0,
            },
        )
        .unwrap()
    }

    /// Takes the messages at `offsets` of partition 0, message `offset` holding event
    /// `event_of(offset)`.
    fn take(
        pipeline: &mut Pipeline,
        offsets: std::ops::Range<i64>,
        event_of: impl Fn(i64) -> u64,
    ) -> Vec<Taken> {
        offsets
            .map(|offset| {
                let bytes = payload(event_of(offset));
                let record = KafkaRecord {
                    topic: "logs",
                    partition: 0,
                    offset,
                    key: None,
                    payload: Some(&bytes),
                    timestamp_ms: None,
                };
                pipeline.take(&record).unwrap()
            })
            .collect()
    }

    fn indexed_ids(dir: &std::path::Path) -> (u64, HashSet<EventId>) {
        let catalog = Catalog::open(IndexLayout::under(dir), Reload::Manual).unwrap();
        let docs = catalog.stats().iter().map(|d| d.docs).sum();
        let ids = catalog
            .recent_ids(usize::MAX >> 1)
            .unwrap()
            .into_iter()
            .collect();
        (docs, ids)
    }

    fn same(offset: i64) -> u64 {
        offset as u64
    }

    #[test]
    fn a_crash_before_commit_replays_into_the_index_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut pipeline = open(dir.path());
        take(&mut pipeline, 0..100, same);
        pipeline.commit().unwrap();
        take(&mut pipeline, 100..150, same);
        drop(pipeline);

        let mut pipeline = open(dir.path());
        assert_eq!(pipeline.resume_offset(0), Some(100));
        // Kafka may hand out anything from the start again (a lost group offset).
        let taken = take(&mut pipeline, 0..200, same);
        assert!(taken[..100].iter().all(|t| *t == Taken::Replayed));
        assert!(taken[100..].iter().all(|t| *t == Taken::Indexed));
        pipeline.close().unwrap();
        drop(pipeline);

        let (docs, ids) = indexed_ids(dir.path());
        assert_eq!(docs, 200);
        assert_eq!(ids, (0..200).map(id).collect());
    }

    #[test]
    fn days_committed_before_the_positions_file_are_not_indexed_twice() {
        let dir = tempfile::tempdir().unwrap();
        let layout = IndexLayout::under(dir.path());
        let mut pipeline = open(dir.path());
        take(&mut pipeline, 0..50, same);
        pipeline.commit().unwrap();
        let early = layout.positions().unwrap().unwrap();
        take(&mut pipeline, 50..120, same);
        pipeline.commit().unwrap();
        drop(pipeline);
        // The crash came after both days committed and before the positions file moved.
        layout.save_positions(&early).unwrap();

        let mut pipeline = open(dir.path());
        assert_eq!(
            pipeline.resume_offset(0),
            Some(50),
            "not past the positions file"
        );
        let taken = take(&mut pipeline, 50..130, same);
        assert!(
            taken[..70].iter().all(|t| *t == Taken::Replayed),
            "{taken:?}"
        );
        assert!(taken[70..].iter().all(|t| *t == Taken::Indexed));
        pipeline.close().unwrap();
        drop(pipeline);
        let (docs, ids) = indexed_ids(dir.path());
        assert_eq!(docs, 130);
        assert_eq!(ids.len(), 130);
    }

    #[test]
    fn a_crash_between_two_day_commits_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut pipeline = open(dir.path());
        take(&mut pipeline, 0..100, same);
        pipeline.commit().unwrap();
        take(&mut pipeline, 100..160, same);
        // The commit round got through the first day only.
        let first: Day = "2026-11-26".parse().unwrap();
        let positions = pipeline.positions.clone();
        pipeline.store.commit_days(&[first], &positions).unwrap();
        drop(pipeline);

        let mut pipeline = open(dir.path());
        assert_eq!(pipeline.resume_offset(0), Some(100));
        let taken = take(&mut pipeline, 100..200, same);
        for (offset, taken) in (100..200).zip(&taken) {
            let expected = if offset < 160 && offset % 2 == 0 {
                Taken::Replayed
            } else {
                Taken::Indexed
            };
            assert_eq!(*taken, expected, "offset {offset}");
        }
        pipeline.close().unwrap();
        drop(pipeline);
        let (docs, ids) = indexed_ids(dir.path());
        assert_eq!(docs, 200);
        assert_eq!(ids, (0..200).map(id).collect());
    }

    #[test]
    fn an_event_delivered_twice_is_indexed_once_even_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut pipeline = open(dir.path());
        // Offsets 10..20 carry events 0..10 again: the collector resent them.
        let taken = take(&mut pipeline, 0..20, |offset| (offset % 10) as u64);
        assert!(taken[10..].iter().all(|t| *t == Taken::Duplicate));
        pipeline.close().unwrap();
        drop(pipeline);

        let mut pipeline = open(dir.path());
        let taken = take(&mut pipeline, 20..25, |offset| (offset - 20) as u64);
        assert!(taken.iter().all(|t| *t == Taken::Duplicate), "{taken:?}");
        pipeline.close().unwrap();
        drop(pipeline);
        let (docs, _) = indexed_ids(dir.path());
        assert_eq!(docs, 10);
    }

    #[test]
    fn committed_events_are_searchable_by_id_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut pipeline = open(dir.path());
        take(&mut pipeline, 0..4, same);
        let catalog = pipeline.store().catalog().clone();
        assert_eq!(catalog.find(id(3)).unwrap(), None, "not before the commit");
        pipeline.commit().unwrap();
        let stored = catalog.find(id(3)).unwrap().unwrap();
        assert_eq!(stored, payload(3), "the event comes back byte for byte");
        assert_eq!(catalog.count_id(id(3)).unwrap(), 1);
    }

    #[test]
    fn retention_removes_old_days_and_indexing_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut pipeline = open(dir.path());
        pipeline.settings.retention = RetentionPolicy {
            days: 1,
            max_bytes: None,
        };
        take(&mut pipeline, 0..10, same);
        pipeline.commit().unwrap();
        let removed = pipeline
            .apply_retention("2026-11-27".parse().unwrap())
            .unwrap();
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].0.to_string(), "2026-11-26");
        assert!(removed[0].1 > 0);
        take(&mut pipeline, 10..20, same);
        pipeline.close().unwrap();
        let days: Vec<String> = pipeline
            .store()
            .catalog()
            .stats()
            .into_iter()
            .map(|d| format!("{}={}", d.day, d.docs))
            .collect();
        assert_eq!(days, ["2026-11-27=10", "2026-11-26=5"]);
    }

    const DLQ: &str = "logs-dlq";
    const BAD_OFFSET: i64 = 5;

    /// A pipeline whose dead-letter producer, on librdkafka's mock cluster, takes messages
    /// of at most 16 KiB.
    fn mock_pipeline(dir: &std::path::Path) -> (MockKafka, KafkaSettings, Pipeline) {
        let mock = MockKafka::new(1).unwrap();
        mock.create_topic(DLQ, 1).unwrap();
        let mut settings = mock.settings();
        settings.message_max_bytes = 16 << 10;
        let dead_letters = DeadLetters::new(&settings, DLQ).unwrap();
        (mock, settings, open_with(dir, Some(dead_letters)))
    }

    /// Takes the messages at `offsets` of partition 0: event `offset`, but for a malformed
    /// message of `bad_bytes` at `BAD_OFFSET`.
    fn take_with_bad(pipeline: &mut Pipeline, offsets: std::ops::Range<i64>, bad_bytes: usize) {
        let bad = vec![b'{'; bad_bytes];
        for offset in offsets {
            let good = payload(offset as u64);
            let record = KafkaRecord {
                topic: "logs",
                partition: 0,
                offset,
                key: Some(b"shop/api-1"),
                payload: Some(if offset == BAD_OFFSET { &bad } else { &good }),
                timestamp_ms: None,
            };
            pipeline.take(&record).unwrap();
        }
    }

    /// The partition and offset of every reference on the dead-letter topic.
    fn references(settings: &KafkaSettings, count: usize) -> Vec<(String, String)> {
        let messages = logpipe_common::testkit::messages_from_start(
            settings,
            DLQ,
            0,
            count,
            Duration::from_secs(10),
        )
        .unwrap();
        messages
            .iter()
            .map(|message| {
                assert_eq!(message.payload(), None, "a reference, without the payload");
                let header = |name: &str| {
                    message
                        .headers()
                        .and_then(|headers| headers.iter().find(|h| h.key == name))
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default()
                };
                (
                    header(dead_letter::PARTITION_HEADER),
                    header(dead_letter::OFFSET_HEADER),
                )
            })
            .collect()
    }

    /// Regression: a malformed message too large to be dead-lettered whole failed the
    /// pipeline, and after each restart the indexer read it again: a crash loop.
    #[test]
    fn a_message_too_large_to_dead_letter_whole_does_not_stop_indexing() {
        let dir = tempfile::tempdir().unwrap();
        let (_mock, settings, mut pipeline) = mock_pipeline(dir.path());
        take_with_bad(&mut pipeline, 0..10, 64 << 10);
        pipeline.commit().unwrap();
        assert_eq!(pipeline.positions().get(&0), Some(&10));
        let layout = IndexLayout::under(dir.path());
        assert_eq!(
            layout.positions().unwrap().unwrap().offsets.get(&0),
            Some(&10)
        );
        assert_eq!(
            references(&settings, 1),
            [("0".into(), BAD_OFFSET.to_string())]
        );
        pipeline.close().unwrap();
        drop(pipeline);
        let (docs, _) = indexed_ids(dir.path());
        assert_eq!(docs, 9);
    }

    #[test]
    fn a_refused_dead_letter_holds_the_positions_back_until_the_broker_takes_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mock, settings, mut pipeline) = mock_pipeline(dir.path());
        pipeline.dead_letter_timeout = Duration::from_millis(200);
        // The whole message and its first references are refused.
        mock.fail_requests(
            RDKafkaApiKey::Produce,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            3,
        );
        take_with_bad(&mut pipeline, 0..10, 100);
        let layout = IndexLayout::under(dir.path());
        let error = pipeline.commit().unwrap_err();
        assert!(
            matches!(error, IndexerError::DeadLetterPending(_)),
            "{error}"
        );
        assert!(layout.positions().unwrap().is_none(), "nothing committed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Err(error) = pipeline.commit() {
            assert!(
                matches!(error, IndexerError::DeadLetterPending(_)),
                "{error}"
            );
            assert!(layout.positions().unwrap().is_none(), "nothing committed");
            assert!(Instant::now() < deadline, "the reference is never taken");
        }
        assert_eq!(
            layout.positions().unwrap().unwrap().offsets.get(&0),
            Some(&10)
        );
        assert_eq!(
            references(&settings, 1),
            [("0".into(), BAD_OFFSET.to_string())]
        );
    }
}
