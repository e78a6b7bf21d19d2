//! The consumer thread: polls `logpipe-indexer`'s partitions, feeds the pipeline, commits
//! on time or size, and on a rebalance commits before partitions are revoked and resumes
//! newly assigned ones past what the index already holds.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use logpipe_common::health::Heartbeat;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaResult;
use rdkafka::message::Message;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::IndexerConfig;
use crate::config::Assignment;
use crate::decode::KafkaRecord;
use crate::error::IndexerError;
use crate::pipeline::Pipeline;
use crate::telemetry;
use logpipe_store::layout::Day;

pub const GROUP: &str = "logpipe-indexer";
/// Longest single poll, so the loop notices shutdown and commit deadlines.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
/// Longest wait for the group's committed offsets during an assignment.
const COMMITTED_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the topic's metadata before a direct assignment.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);
/// How often store statistics (segments, bytes) are refreshed.
const STATS_INTERVAL: Duration = Duration::from_secs(10);

pub type SharedPipeline = Arc<Mutex<Pipeline>>;

/// How a committed group offset carries the ledger chain's head at that offset, so that
/// the indexer a partition moves to goes on with the same chain.
const CHAIN_METADATA: &str = "logpipe-chain/1";

/// The offset's metadata naming `head`.
fn chain_metadata(offset: i64, head: &[u8; 32]) -> String {
    format!("{CHAIN_METADATA} {offset} {}", hex::encode(head))
}

/// The head `metadata` names for `offset`, when it names one for that offset.
fn carried_head(metadata: &str, offset: i64) -> Option<[u8; 32]> {
    let mut parts = metadata.split(' ');
    if parts.next()? != CHAIN_METADATA || parts.next()?.parse::<i64>().ok()? != offset {
        return None;
    }
    logpipe_store::ledger::unhex::<32>(parts.next()?)
}

fn lock(pipeline: &SharedPipeline) -> MutexGuard<'_, Pipeline> {
    pipeline.lock().unwrap_or_else(|p| p.into_inner())
}

/// Rebalance and statistics callbacks; they run on the consumer thread inside `poll`.
#[derive(Debug)]
pub struct IndexerContext {
    topic: String,
    pipeline: SharedPipeline,
    /// The first error of a callback, reported by the loop.
    failure: Mutex<Option<IndexerError>>,
}

impl IndexerContext {
    pub fn new(topic: &str, pipeline: SharedPipeline) -> Self {
        IndexerContext {
            topic: topic.to_owned(),
            pipeline,
            failure: Mutex::new(None),
        }
    }

    fn fail(&self, error: IndexerError) {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
    }

    fn take_failure(&self) -> Option<IndexerError> {
        self.failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn assign(&self, consumer: &BaseConsumer<Self>, tpl: &mut TopicPartitionList) {
        let group = consumer
            .committed_offsets(tpl.clone(), COMMITTED_TIMEOUT)
            .map_err(
                |error| warn!(%error, "group offsets unavailable, resuming from the index alone"),
            )
            .ok();
        let mut pipeline = lock(&self.pipeline);
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        for partition in partitions {
            let found = group
                .as_ref()
                .and_then(|list| list.find_partition(&self.topic, partition));
            let committed = found.as_ref().and_then(|found| match found.offset() {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            });
            let local = pipeline.resume_offset(partition);
            let resume = committed.into_iter().chain(local).max();
            // The head the last holder committed applies where reading resumes from its
            // offset.
            let carried = committed
                .filter(|&offset| Some(offset) == resume)
                .and_then(|offset| {
                    let head = carried_head(found.as_ref()?.metadata(), offset)?;
                    Some((offset, head))
                });
            pipeline.assigned(partition, resume, carried);
            info!(
                partition,
                ?local,
                ?committed,
                ?resume,
                carried_head = carried.is_some(),
                "partition assigned"
            );
            if let Some(offset) = resume {
                let _ = tpl.set_partition_offset(&self.topic, partition, Offset::Offset(offset));
            }
        }
        drop(pipeline);
        if let Err(error) = consumer.assign(tpl) {
            self.fail(error.into());
        }
    }

    fn revoke(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        info!(?partitions, "partitions revoked, committing first");
        let mut pipeline = lock(&self.pipeline);
        match pipeline.commit() {
            Ok(_) => {
                if let Err(error) = commit_group(consumer, &self.topic, &pipeline, CommitMode::Sync)
                {
                    warn!(%error, "group offset commit failed during revocation");
                }
            }
            Err(error) => self.fail(error),
        }
        drop(pipeline);
        if let Err(error) = consumer.unassign() {
            warn!(%error, "unassign failed");
        }
    }
}

impl ClientContext for IndexerContext {
    fn stats(&self, statistics: Statistics) {
        for topic in statistics.topics.values().filter(|t| t.topic == self.topic) {
            for (partition, stats) in &topic.partitions {
                if *partition >= 0 && stats.consumer_lag >= 0 {
                    telemetry::consumer_lag(*partition, stats.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for IndexerContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => self.assign(consumer, tpl),
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => self.revoke(consumer, tpl),
            other => {
                error!(error = ?other, "rebalance failed");
                let _ = consumer.unassign();
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(error) = result {
            debug!(%error, "group offset commit failed");
        }
    }
}

/// Records the pipeline's positions as the group's offsets: for lag monitoring and for
/// another indexer taking a partition over.
fn commit_group(
    consumer: &BaseConsumer<IndexerContext>,
    topic: &str,
    pipeline: &Pipeline,
    mode: CommitMode,
) -> KafkaResult<()> {
    let assigned = consumer.assignment()?;
    let positions = pipeline.group_positions();
    let heads = pipeline.heads_at(&positions);
    let mut list = TopicPartitionList::new();
    for element in assigned.elements() {
        if let Some(&offset) = positions.get(&element.partition()) {
            let mut entry = list.add_partition(topic, element.partition());
            entry.set_offset(Offset::Offset(offset))?;
            if let Some(head) = heads.get(&element.partition()) {
                entry.set_metadata(chain_metadata(offset, head));
            }
        }
    }
    if list.count() == 0 {
        return Ok(());
    }
    consumer.commit(&list, mode)
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[test]
    fn a_head_is_carried_for_its_offset_only() {
        let head = [7u8; 32];
        let metadata = chain_metadata(1_020, &head);
        assert_eq!(carried_head(&metadata, 1_020), Some(head));
        assert_eq!(carried_head(&metadata, 1_021), None);
        assert_eq!(carried_head("", 1_020), None);
        assert_eq!(carried_head("logpipe-chain/1 1020 zz", 1_020), None);
        assert_eq!(carried_head("other 1020 0707", 1_020), None);
    }
}

/// Settings of the loop that are not the pipeline's.
#[derive(Debug, Clone)]
pub struct LoopSettings {
    pub topic: String,
    pub retention_interval: Duration,
    pub partitions: Assignment,
}

impl LoopSettings {
    pub fn new(config: &IndexerConfig, topic: &str) -> Self {
        LoopSettings {
            topic: topic.to_owned(),
            retention_interval: config.retention_interval,
            partitions: config.partitions.clone(),
        }
    }
}

/// Assigns the configured partitions directly (no group rebalancing), once the topic
/// exists; resumes each like a group assignment does.
fn assign_directly(
    consumer: &BaseConsumer<IndexerContext>,
    settings: &LoopSettings,
    shutdown: &CancellationToken,
    heartbeat: &Heartbeat,
) -> Result<(), IndexerError> {
    let partitions = loop {
        heartbeat.beat();
        if shutdown.is_cancelled() {
            return Ok(());
        }
        let found = consumer
            .fetch_metadata(Some(&settings.topic), METADATA_TIMEOUT)
            .ok()
            .and_then(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == settings.topic && t.error().is_none())
                    .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<i32>>())
            })
            .filter(|partitions| !partitions.is_empty());
        match (found, &settings.partitions) {
            (Some(all), Assignment::All) => break all,
            (Some(all), Assignment::Fixed(wanted)) => {
                if let Some(missing) = wanted.iter().find(|p| !all.contains(p)) {
                    warn!(
                        partition = missing,
                        "configured partition does not exist, waiting"
                    );
                } else {
                    break wanted.clone();
                }
            }
            (_, Assignment::Group) => return Ok(()),
            (None, _) => debug!(topic = settings.topic, "waiting for the topic"),
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let mut list = TopicPartitionList::new();
    for partition in partitions {
        list.add_partition(&settings.topic, partition);
    }
    consumer.context().assign(consumer, &mut list);
    match consumer.context().take_failure() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Runs until `shutdown`: poll, take, commit when due, retention on its interval. Ends by
/// committing what was taken. An error is one the index cannot recover from.
pub fn run(
    consumer: &BaseConsumer<IndexerContext>,
    pipeline: &SharedPipeline,
    settings: &LoopSettings,
    shutdown: &CancellationToken,
    heartbeat: &Heartbeat,
) -> Result<(), IndexerError> {
    if settings.partitions != Assignment::Group {
        assign_directly(consumer, settings, shutdown, heartbeat)?;
    }
    let mut last_retention = Instant::now();
    let mut last_stats = Instant::now() - STATS_INTERVAL;
    while !shutdown.is_cancelled() {
        heartbeat.beat();
        let timeout = lock(pipeline)
            .until_due()
            .clamp(Duration::from_millis(1), POLL_TIMEOUT);
        let message = consumer.poll(timeout);
        if let Some(error) = consumer.context().take_failure() {
            return Err(error);
        }
        let mut guard = lock(pipeline);
        match message {
            Some(Ok(message)) => {
                let record = KafkaRecord {
                    topic: message.topic(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: message.key(),
                    payload: message.payload(),
                    timestamp_ms: message.timestamp().to_millis(),
                };
                guard.take(&record)?;
            }
            Some(Err(error)) => warn!(%error, "consumer error"),
            None => {}
        }
        if guard.due() {
            match guard.commit() {
                Ok(report) => {
                    if !report.days.is_empty() {
                        debug!(
                            docs = report.docs,
                            days = report.days.len(),
                            "index committed"
                        );
                    }
                    if let Err(error) =
                        commit_group(consumer, &settings.topic, &guard, CommitMode::Async)
                    {
                        debug!(%error, "group offset commit failed");
                    }
                }
                // Nothing was committed and the commit stays due: the next round offers
                // the dead letters again, and the offsets past them wait for it.
                Err(IndexerError::DeadLetterPending(pending)) => {
                    warn!(
                        pending,
                        "commit held back until the dead letters are acknowledged"
                    );
                }
                Err(error) => return Err(error),
            }
        }
        if last_retention.elapsed() >= settings.retention_interval {
            guard.apply_retention(Day::today())?;
            last_retention = Instant::now();
        }
        if last_stats.elapsed() >= STATS_INTERVAL {
            telemetry::store(&guard.store().catalog().stats());
            last_stats = Instant::now();
        }
    }
    let mut guard = lock(pipeline);
    guard.close()?;
    if let Err(error) = commit_group(consumer, &settings.topic, &guard, CommitMode::Sync) {
        warn!(%error, "final group offset commit failed");
    }
    info!(positions = ?guard.positions(), "indexer stopped, everything taken is committed");
    Ok(())
}
