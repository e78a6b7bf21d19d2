//! Bare consumers for tests and benchmarks: one positioned at the current end of a topic's
//! partitions (the baseline a live-tail or alerting benchmark compares its latency with),
//! and the messages of one partition read from its start.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::KafkaSettings;

/// A consumer of partitions `0..partitions` of `topic`, each from its end as of now, with
/// the fetch settings every role uses.
pub fn consumer_at_end(
    settings: &KafkaSettings,
    group: &str,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = settings.consumer(group).create()?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
        assignment.add_partition_offset(topic, partition, Offset::Offset(high))?;
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// The messages of partition `partition` of `topic` from its start: at least `count`
/// (waiting up to `timeout` for them), then whatever else arrives within half a second.
pub fn messages_from_start(
    settings: &KafkaSettings,
    topic: &str,
    partition: i32,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<OwnedMessage>> {
    let consumer: BaseConsumer = settings.consumer("testkit-read").create()?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(topic, partition, Offset::Beginning)?;
    consumer.assign(&partitions)?;
    let mut messages = Vec::new();
    let deadline = Instant::now() + timeout;
    while messages.len() < count && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            messages.push(message?.detach());
        }
    }
    // Anything more would arrive by now.
    while let Some(message) = consumer.poll(Duration::from_millis(500)) {
        messages.push(message?.detach());
    }
    Ok(messages)
}
