//! The tail loop: one thread that discovers files, reads each in turn, ships records,
//! takes delivery reports and writes checkpoints. Reading pauses when too many bytes are
//! in flight, so memory stays bounded through a broker outage.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};

use logpipe_common::Timestamp;
use logpipe_common::event::Flag;
use logpipe_common::health::{Heartbeat, Readiness};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::checkpoint::{Checkpoint, CheckpointStore};
use crate::config::MultilineRule;
use crate::discovery::{Discovered, Origin, PathsProvider};
use crate::events::{self, GapReason};
use crate::identity::FileId;
use crate::metadata::{Lookup, Metadata};
use crate::redact::Redactor;
use crate::shipper::{Delivery, Shipper, Ticket};
use crate::tailer::{Output, ReadResult, TrackedFile};
use crate::telemetry;

/// Bytes read from one file per turn, so every file gets its share.
const READ_CHUNK_BYTES: usize = 256 * 1024;
/// Sleep when a whole round found nothing to do.
const IDLE_WAIT: Duration = Duration::from_millis(50);
/// Inotify-triggered scans happen at most this often.
const MIN_SCAN_INTERVAL: Duration = Duration::from_millis(100);
/// Delay before sending again what the broker refused.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// Settings of the tail loop.
#[derive(Debug, Clone)]
pub struct TailSettings {
    pub node: String,
    pub rescan_interval: Duration,
    pub checkpoint_interval: Duration,
    pub max_line_bytes: usize,
    pub max_in_flight_bytes: usize,
    pub rotated_drain: Duration,
    /// Multi-line joining for the containers the rules name.
    pub multiline: Vec<MultilineRule>,
    pub message_max_bytes: usize,
    /// How long the final flush may take on shutdown.
    pub flush_timeout: Duration,
}

/// A message to send again.
#[derive(Debug)]
struct Retry {
    ticket: Ticket,
    key: Vec<u8>,
    payload: Vec<u8>,
}

pub struct TailLoop {
    settings: TailSettings,
    paths: Box<dyn PathsProvider>,
    store: CheckpointStore,
    shipper: Shipper,
    reports: Receiver<Delivery>,
    redactor: Arc<Redactor>,
    files: BTreeMap<u64, TrackedFile>,
    by_key: HashMap<String, u64>,
    /// Checkpoint keys of gap events in flight for files no longer tracked.
    orphan_gaps: HashMap<u64, String>,
    released: HashSet<String>,
    retries: VecDeque<Retry>,
    last_retry: Instant,
    next_slot: u64,
    /// Rotated files not known from the checkpoints are read when modified after this.
    baseline: SystemTime,
    rescan: Arc<AtomicBool>,
    last_scan: Instant,
    last_checkpoint: Instant,
    committed: HashMap<u64, u64>,
    heartbeat: Heartbeat,
    readiness: Readiness,
    shutdown: CancellationToken,
    buffer: Vec<u8>,
    /// Pod metadata from the API server, when asked for.
    metadata: Option<Arc<Metadata>>,
    /// Files of pods not known yet, held back until this moment at the latest.
    waiting: HashMap<u64, Instant>,
}

impl std::fmt::Debug for TailLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailLoop")
            .field("files", &self.files.len())
            .finish()
    }
}

#[allow(clippy::too_many_arguments)]
impl TailLoop {
    pub fn new(
        settings: TailSettings,
        paths: Box<dyn PathsProvider>,
        store: CheckpointStore,
        (shipper, reports): (Shipper, Receiver<Delivery>),
        redactor: Arc<Redactor>,
        rescan: Arc<AtomicBool>,
        heartbeat: Heartbeat,
        readiness: Readiness,
        shutdown: CancellationToken,
    ) -> Self {
        let baseline = store.previous_write().unwrap_or_else(SystemTime::now);
        TailLoop {
            settings,
            paths,
            store,
            shipper,
            reports,
            redactor,
            files: BTreeMap::new(),
            by_key: HashMap::new(),
            orphan_gaps: HashMap::new(),
            released: HashSet::new(),
            retries: VecDeque::new(),
            last_retry: Instant::now(),
            next_slot: 0,
            baseline,
            rescan,
            last_scan: Instant::now(),
            last_checkpoint: Instant::now(),
            committed: HashMap::new(),
            heartbeat,
            readiness,
            shutdown,
            buffer: vec![0; READ_CHUNK_BYTES],
            metadata: None,
            waiting: HashMap::new(),
        }
    }

    /// Adds the pod metadata of `metadata` to the events of pod log files.
    pub fn with_metadata(mut self, metadata: Arc<Metadata>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Whether the file in `slot` is held back a while longer for its pod's metadata.
    fn held_back(&mut self, slot: u64, origin: &Origin) -> bool {
        let (Some(until), Some(metadata), Origin::Pod { uid, .. }) =
            (self.waiting.get(&slot), &self.metadata, origin)
        else {
            return false;
        };
        if Instant::now() < *until && metadata.lookup(uid) == Lookup::Pending {
            return true;
        }
        self.waiting.remove(&slot);
        false
    }

    /// Runs until shutdown, then flushes what is in flight and writes the checkpoints.
    pub fn run(mut self) {
        match self.store.write() {
            Ok(()) => self.readiness.set_ready(),
            Err(error) => {
                error!(path = %self.store.path().display(), %error, "checkpoint store not writable");
                self.readiness
                    .set_not_ready(format!("checkpoint store not writable: {error}"));
            }
        }
        self.scan(true);
        while !self.shutdown.is_cancelled() {
            self.heartbeat.beat();
            self.take_reports();
            self.send_retries();
            let scan_due = self.last_scan.elapsed() >= self.settings.rescan_interval
                || (self.last_scan.elapsed() >= MIN_SCAN_INTERVAL
                    && self.rescan.swap(false, Ordering::Relaxed));
            if scan_due {
                self.scan(false);
            }
            let progressed = self.read_round();
            self.release_finished();
            if self.last_checkpoint.elapsed() >= self.settings.checkpoint_interval {
                self.checkpoint();
            }
            if !progressed {
                std::thread::sleep(IDLE_WAIT);
            }
        }
        let flushed = self.shipper.flush(self.settings.flush_timeout);
        self.take_reports();
        self.checkpoint();
        info!(flushed, files = self.files.len(), "tail loop stopped");
    }

    fn track(&mut self, discovered: &Discovered, file: File, id: FileId, start: u64) {
        let slot = self.next_slot;
        self.next_slot += 1;
        debug!(path = %discovered.path.display(), start, "tailing file");
        let multiline = match &discovered.origin {
            Origin::Pod {
                namespace,
                pod,
                container,
                ..
            } => {
                let name = format!("{namespace}/{pod}/{container}");
                self.settings
                    .multiline
                    .iter()
                    .find(|rule| rule.matcher.is_match(&name))
                    .map(|rule| rule.config.clone())
            }
            Origin::Host { .. } => None,
        };
        let tracked = TrackedFile::new(
            slot,
            discovered.path.clone(),
            file,
            id,
            discovered.origin.clone(),
            start,
            self.settings.max_line_bytes,
            multiline,
        );
        if let (Some(metadata), Origin::Pod { uid, .. }) = (&self.metadata, &discovered.origin)
            && metadata.lookup(uid) == Lookup::Pending
        {
            self.waiting.insert(slot, Instant::now() + metadata.wait);
        }
        self.by_key.insert(tracked.key.clone(), slot);
        self.files.insert(slot, tracked);
    }

    /// Where to start reading a file seen for the first time; `None` to leave it alone.
    fn start_offset(&self, discovered: &Discovered, file: &File, key: &str) -> Option<u64> {
        let metadata = file.metadata().ok()?;
        if let Some(checkpoint) = self.store.get(key) {
            let valid = checkpoint.offset <= metadata.len()
                && crate::identity::tail_hash(file, checkpoint.offset).ok()
                    == Some(checkpoint.tail_hash);
            if valid {
                return Some(checkpoint.offset);
            }
            warn!(path = %discovered.path.display(), offset = checkpoint.offset, "file no longer holds what was read before its checkpoint, reading it from the start");
            return Some(0);
        }
        if discovered.rotated {
            let modified = metadata.modified().ok()?;
            return (modified > self.baseline).then_some(0);
        }
        Some(0)
    }

    fn scan(&mut self, initial: bool) {
        self.last_scan = Instant::now();
        let path_index: HashMap<PathBuf, u64> = self
            .files
            .values()
            .filter(|file| !file.truncated)
            .map(|file| (file.path.clone(), file.slot))
            .collect();
        let mut seen = HashSet::new();
        for discovered in self.paths.discover() {
            let Ok(metadata) = std::fs::metadata(&discovered.path) else {
                continue;
            };
            if let Some(slot) = path_index.get(&discovered.path)
                && let Some(tracked) = self.files.get_mut(slot)
                && tracked.id.same_inode(metadata.dev(), metadata.ino())
            {
                tracked.gone_since = None;
                seen.insert(*slot);
                continue;
            }
            let Ok(file) = File::open(&discovered.path) else {
                continue;
            };
            let Ok(Some(id)) = FileId::of(&file) else {
                continue;
            };
            let key = id.key();
            if let Some(slot) = self.by_key.get(&key).copied() {
                if let Some(tracked) = self.files.get_mut(&slot)
                    && !tracked.truncated
                {
                    tracked.path = discovered.path.clone();
                    tracked.gone_since = None;
                    seen.insert(slot);
                }
                continue;
            }
            if self.released.contains(&key) {
                continue;
            }
            if let Some(start) = self.start_offset(&discovered, &file, &key) {
                let slot = self.next_slot;
                self.track(&discovered, file, id, start);
                seen.insert(slot);
            }
        }
        let now = Instant::now();
        for (slot, file) in &mut self.files {
            if !seen.contains(slot) && file.gone_since.is_none() {
                debug!(path = %file.path.display(), "file rotated away or deleted, draining it");
                file.gone_since = Some(now);
            }
        }
        if initial {
            self.report_files_lost_while_down();
        }
        telemetry::files_watched(self.files.len());
    }

    /// Checkpointed files that are nowhere to be found: the bytes after the checkpoint
    /// are lost. Each gets one gap event; its entry goes when the event is delivered.
    fn report_files_lost_while_down(&mut self) {
        let lost: Vec<(String, Checkpoint)> = self
            .store
            .entries()
            .filter(|(key, _)| !self.by_key.contains_key(*key))
            .map(|(key, checkpoint)| (key.clone(), checkpoint.clone()))
            .collect();
        for (key, checkpoint) in lost {
            let bytes = checkpoint.size_seen.saturating_sub(checkpoint.offset);
            if bytes == 0 {
                self.store.remove(&key);
                continue;
            }
            let path = checkpoint.path.display().to_string();
            warn!(
                path,
                bytes, "file deleted while the collector was down, bytes lost"
            );
            telemetry::gap(bytes);
            let origin = checkpoint.origin.clone().unwrap_or(Origin::Host {
                name: "unknown".into(),
            });
            let mut event = events::gap_event(
                &key,
                &path,
                &origin,
                &self.settings.node,
                checkpoint.offset,
                bytes,
                GapReason::DeletedWhileDown,
            );
            let payload = events::encode(&mut event, self.settings.message_max_bytes);
            let slot = self.next_slot;
            self.next_slot += 1;
            self.orphan_gaps.insert(slot, key);
            let ticket = Ticket {
                file: slot,
                seq: 0,
                bytes: payload.len(),
            };
            self.send(
                origin.kafka_key(&self.settings.node).into_bytes(),
                payload,
                ticket,
            );
        }
    }

    fn send(&mut self, key: Vec<u8>, payload: Vec<u8>, ticket: Ticket) {
        if let Err(error) = self.shipper.send(&key, &payload, ticket) {
            if !matches!(error, crate::error::CollectorError::QueueFull) {
                telemetry::delivery_error();
                if self.retries.is_empty() {
                    warn!(%error, "kafka refused a message, sending it again later");
                }
            }
            self.retries.push_back(Retry {
                ticket,
                key,
                payload,
            });
        }
    }

    fn send_retries(&mut self) {
        if self.retries.is_empty() || self.last_retry.elapsed() < RETRY_INTERVAL {
            return;
        }
        self.last_retry = Instant::now();
        for retry in std::mem::take(&mut self.retries) {
            self.send(retry.key, retry.payload, retry.ticket);
        }
    }

    fn take_reports(&mut self) {
        let mut delivered = 0;
        let mut failed = 0u64;
        let mut first_error = None;
        while let Ok(report) = self.reports.try_recv() {
            match report {
                Delivery::Delivered(ticket) => {
                    self.shipper.reported(&ticket);
                    delivered += 1;
                    if let Some(file) = self.files.get_mut(&ticket.file) {
                        file.acknowledge(ticket.seq);
                    } else if let Some(key) = self.orphan_gaps.remove(&ticket.file) {
                        self.store.remove(&key);
                    }
                }
                Delivery::Failed {
                    ticket,
                    key,
                    payload,
                    error,
                } => {
                    self.shipper.reported(&ticket);
                    telemetry::delivery_error();
                    failed += 1;
                    first_error.get_or_insert(error);
                    self.retries.push_back(Retry {
                        ticket,
                        key,
                        payload,
                    });
                }
            }
        }
        if let Some(error) = first_error {
            warn!(%error, failed, "deliveries failed, sending them again");
        }
        telemetry::shipped(delivered);
    }

    /// Reads one chunk of every file; returns whether anything was read.
    fn read_round(&mut self) -> bool {
        let mut progressed = false;
        let mut outputs = Vec::new();
        let slots: Vec<u64> = self.files.keys().copied().collect();
        let mut paused = false;
        let mut truncation_gaps = Vec::new();
        for slot in slots {
            if self.shipper.in_flight_bytes() >= self.settings.max_in_flight_bytes
                || !self.retries.is_empty()
            {
                paused = true;
                break;
            }
            if let Some(file) = self.files.get(&slot)
                && self.waiting.contains_key(&slot)
            {
                let origin = file.origin.clone();
                if self.held_back(slot, &origin) {
                    continue;
                }
            }
            let Some(file) = self.files.get_mut(&slot) else {
                continue;
            };
            if file.truncated {
                continue;
            }
            file.flush_due_multiline(Instant::now(), &mut outputs);
            match file.read(&mut self.buffer, self.settings.max_line_bytes, &mut outputs) {
                Ok(ReadResult::Read(0)) => {
                    if file.gone_since.is_some() && file.has_pending() {
                        file.drain_pending(self.settings.max_line_bytes, &mut outputs);
                    }
                }
                Ok(ReadResult::Read(_)) => progressed = true,
                Ok(ReadResult::Truncated { size }) => {
                    info!(path = %file.path.display(), size, read = file.read_offset(), "file truncated, following its new content");
                    file.drain_pending(self.settings.max_line_bytes, &mut outputs);
                    file.truncated = true;
                    let lost = file.behind();
                    if lost > 0 {
                        truncation_gaps.push((slot, file.read_offset(), lost));
                    }
                    self.rescan.store(true, Ordering::Relaxed);
                }
                Err(error) => {
                    warn!(path = %file.path.display(), %error, "reading failed");
                }
            }
            if !outputs.is_empty() {
                self.ship_outputs(slot, &mut outputs);
            }
        }
        for (slot, offset, bytes) in truncation_gaps {
            warn!(
                bytes,
                "file truncated before everything written to it was read"
            );
            self.send_gap(slot, offset, bytes, GapReason::Truncated);
        }
        let total_behind: u64 = self.files.values().map(TrackedFile::behind).sum();
        let worst = self
            .files
            .values()
            .map(TrackedFile::behind)
            .max()
            .unwrap_or(0);
        telemetry::behind(total_behind, worst);
        telemetry::in_flight(self.shipper.in_flight_bytes(), paused);
        progressed
    }

    fn ship_outputs(&mut self, slot: u64, outputs: &mut Vec<Output>) {
        let observed_ts = Timestamp::now();
        let Some(file) = self.files.get(&slot) else {
            return;
        };
        let path = file.path.display().to_string();
        let key = file.origin.kafka_key(&self.settings.node).into_bytes();
        let mut k8s = file.origin.k8s(&self.settings.node);
        let missing = match (&self.metadata, &file.origin) {
            (Some(metadata), Origin::Pod { .. }) => !metadata.enrich(&mut k8s),
            _ => false,
        };
        if missing {
            telemetry::metadata_missing(outputs.len() as u64);
        }
        let origin = events::origin_json(&path, &file.origin, &k8s);
        for output in outputs.drain(..) {
            let Some(file) = self.files.get_mut(&slot) else {
                return;
            };
            let mut event = events::record_event(
                &output,
                &file.key,
                &path,
                &file.origin,
                &self.settings.node,
                observed_ts,
            );
            event.origin = Some(&origin);
            if missing {
                event.event.flags.push(Flag::K8sMetadataMissing);
            }
            telemetry::redacted(self.redactor.redact_record(&mut event, &mut file.key_lines));
            if output.truncated {
                telemetry::truncated();
            }
            let payload = events::encode_wire(event, &k8s, self.settings.message_max_bytes);
            let seq = file.register(output.offset);
            let ticket = Ticket {
                file: slot,
                seq,
                bytes: payload.len(),
            };
            self.send(key.clone(), payload, ticket);
        }
    }

    /// Sends one gap event for a tracked file; the file is released only after it was
    /// delivered.
    fn send_gap(&mut self, slot: u64, offset: u64, bytes: u64, reason: GapReason) {
        telemetry::gap(bytes);
        let Some(file) = self.files.get_mut(&slot) else {
            return;
        };
        let path = file.path.display().to_string();
        let mut event = events::gap_event(
            &file.key,
            &path,
            &file.origin,
            &self.settings.node,
            offset,
            bytes,
            reason,
        );
        let payload = events::encode(&mut event, self.settings.message_max_bytes);
        let seq = file.register(offset);
        let key = file.origin.kafka_key(&self.settings.node).into_bytes();
        let ticket = Ticket {
            file: slot,
            seq,
            bytes: payload.len(),
        };
        self.send(key, payload, ticket);
    }

    /// Lets go of files that are gone and fully delivered; reports what could not be read
    /// of those that took longer than the drain budget.
    fn release_finished(&mut self) {
        let mut released = Vec::new();
        let mut gaps = Vec::new();
        for (slot, file) in &mut self.files {
            let Some(since) = file.gone_since else {
                if file.truncated && file.unacknowledged() == 0 {
                    released.push(*slot);
                }
                continue;
            };
            let drained = file.truncated || (file.behind() == 0 && !file.has_pending());
            if drained && file.unacknowledged() == 0 {
                released.push(*slot);
            } else if !drained && since.elapsed() > self.settings.rotated_drain {
                let bytes = file.behind();
                warn!(path = %file.path.display(), bytes, "rotated file not read to its end within the drain budget");
                gaps.push((*slot, file.read_offset(), bytes));
                file.truncated = true;
            }
        }
        for (slot, offset, bytes) in gaps {
            self.send_gap(slot, offset, bytes, GapReason::DrainBudgetExceeded);
        }
        for slot in released {
            if let Some(file) = self.files.remove(&slot) {
                debug!(path = %file.path.display(), "released file");
                self.by_key.remove(&file.key);
                self.committed.remove(&slot);
                self.store.remove(&file.key);
                self.released.insert(file.key);
            }
        }
    }

    fn checkpoint(&mut self) {
        self.last_checkpoint = Instant::now();
        for (slot, file) in &self.files {
            if file.truncated {
                continue;
            }
            let offset = file.committed_offset();
            let size_seen = file.size_seen;
            if self.committed.get(slot) == Some(&offset)
                && self
                    .store
                    .get(&file.key)
                    .is_some_and(|c| c.size_seen == size_seen)
            {
                continue;
            }
            let Ok(tail_hash) = file.tail_hash(offset) else {
                continue;
            };
            self.store.set(
                &file.key,
                Checkpoint {
                    path: file.path.clone(),
                    offset,
                    tail_hash,
                    size_seen,
                    origin: Some(file.origin.clone()),
                },
            );
            self.committed.insert(*slot, offset);
        }
        match self.store.save() {
            Ok(()) => self.readiness.set_ready(),
            Err(error) => {
                error!(path = %self.store.path().display(), %error, "writing checkpoints failed");
                self.readiness
                    .set_not_ready(format!("writing checkpoints failed: {error}"));
            }
        }
    }
}
