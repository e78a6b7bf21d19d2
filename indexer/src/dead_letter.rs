//! The dead-letter topic: a message the indexer cannot take is produced there unchanged
//! (same key, same value) with the reason and its origin in headers, so it can be
//! inspected and replayed once the cause is fixed. Deliveries are awaited before the
//! offsets past the message are committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use logpipe_common::kafka::KafkaSettings;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use tracing::{error, warn};

use crate::decode::KafkaRecord;
use crate::error::IndexerError;

pub const REASON_HEADER: &str = "logpipe-dlq-reason";
pub const TOPIC_HEADER: &str = "logpipe-dlq-topic";
pub const PARTITION_HEADER: &str = "logpipe-dlq-partition";
pub const OFFSET_HEADER: &str = "logpipe-dlq-offset";

#[derive(Debug, Default)]
struct DeliveryCounter {
    failed: AtomicU64,
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            error!(%error, "dead-letter delivery failed");
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct DeadLetters {
    topic: String,
    producer: ThreadedProducer<DeliveryCounter>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .finish()
    }
}

impl DeadLetters {
    pub fn new(kafka: &KafkaSettings, topic: &str) -> Result<Self, IndexerError> {
        let producer = kafka
            .producer()
            .create_with_context(DeliveryCounter::default())?;
        Ok(DeadLetters {
            topic: topic.to_owned(),
            producer,
        })
    }

    /// Queues `record` for the dead-letter topic; waits while the local queue is full.
    pub fn send(&self, record: &KafkaRecord<'_>, reason: &str) -> Result<(), IndexerError> {
        let partition = record.partition.to_string();
        let offset = record.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: REASON_HEADER,
                value: Some(reason),
            })
            .insert(Header {
                key: TOPIC_HEADER,
                value: Some(record.topic),
            })
            .insert(Header {
                key: PARTITION_HEADER,
                value: Some(&partition),
            })
            .insert(Header {
                key: OFFSET_HEADER,
                value: Some(&offset),
            });
        let payload = record.payload.unwrap_or_default();
        let mut message = BaseRecord::<[u8], [u8]>::to(&self.topic)
            .payload(payload)
            .headers(headers);
        if let Some(key) = record.key {
            message = message.key(key);
        }
        loop {
            match self.producer.send(message) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    message = returned;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((error, _)) => return Err(error.into()),
            }
        }
    }

    /// Waits until every queued message is acknowledged, up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> Result<(), IndexerError> {
        if self.producer.in_flight_count() == 0 {
            return self.check();
        }
        let started = Instant::now();
        if let Err(error) = self.producer.flush(timeout) {
            warn!(%error, waited_ms = started.elapsed().as_millis() as u64, "dead-letter flush incomplete");
            return Err(error.into());
        }
        self.check()
    }

    fn check(&self) -> Result<(), IndexerError> {
        match self.producer.context().failed.swap(0, Ordering::Relaxed) {
            0 => Ok(()),
            failed => Err(IndexerError::DeadLetter(failed)),
        }
    }
}
