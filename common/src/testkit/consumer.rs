//! A bare consumer positioned at the current end of a topic's partitions: the baseline a
//! live-tail or alerting benchmark compares its latency with.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
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
