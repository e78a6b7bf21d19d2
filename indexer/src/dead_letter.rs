//! The dead-letter topic: a message the indexer cannot take is produced there unchanged
//! (same key, same value) with the reason and its origin in headers, so it can be
//! inspected and replayed once the cause is fixed. Deliveries are awaited before the
//! offsets past the message are committed.
//!
//! A message that cannot be dead-lettered whole (with its headers it exceeds the
//! producer's or the broker's `message.max.bytes`, or the broker refuses it for good) is
//! recorded by reference instead: origin, key when small, payload size and reason, no
//! payload. Bad input therefore never stops the indexer, which would otherwise read the
//! same message again after every restart. A reference the broker refuses is offered again
//! until it is taken: only a broker that takes nothing holds the indexer back, and no
//! message is skipped unrecorded.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use logpipe_common::kafka::KafkaSettings;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use tracing::{error, warn};

use crate::decode::KafkaRecord;
use crate::error::IndexerError;
use crate::telemetry;

pub const REASON_HEADER: &str = "logpipe-dlq-reason";
pub const TOPIC_HEADER: &str = "logpipe-dlq-topic";
pub const PARTITION_HEADER: &str = "logpipe-dlq-partition";
pub const OFFSET_HEADER: &str = "logpipe-dlq-offset";
/// On a reference: the size in bytes of the payload it leaves out.
pub const PAYLOAD_BYTES_HEADER: &str = "logpipe-dlq-payload-bytes";
/// On a reference: why the message could not be dead-lettered whole.
pub const OMITTED_HEADER: &str = "logpipe-dlq-omitted";
/// On a reference whose key is left out: the key's size in bytes.
pub const KEY_BYTES_HEADER: &str = "logpipe-dlq-key-bytes";

/// Longest key a reference carries; a longer one is left out like the payload.
pub const REFERENCE_KEY_MAX_BYTES: usize = 1024;
/// Pause before a reference the broker refused is offered again.
const REFERENCE_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// Pause before a message the local queue had no room for is offered again.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(10);

/// Where a dead letter comes from and why: all its reference holds.
#[derive(Debug)]
struct Letter {
    topic: String,
    partition: i32,
    offset: i64,
    /// The key, when a reference may carry it.
    key: Option<Vec<u8>>,
    key_bytes: usize,
    payload_bytes: usize,
    reason: String,
}

impl Letter {
    fn of(record: &KafkaRecord<'_>, reason: &str) -> Self {
        let key_bytes = record.key.map_or(0, <[u8]>::len);
        Letter {
            topic: record.topic.to_owned(),
            partition: record.partition,
            offset: record.offset,
            key: record
                .key
                .filter(|key| key.len() <= REFERENCE_KEY_MAX_BYTES)
                .map(<[u8]>::to_vec),
            key_bytes,
            payload_bytes: record.payload.map_or(0, <[u8]>::len),
            reason: reason.to_owned(),
        }
    }

    /// The headers every dead letter carries: reason and origin.
    fn headers(&self) -> OwnedHeaders {
        let partition = self.partition.to_string();
        let offset = self.offset.to_string();
        OwnedHeaders::new()
            .insert(Header {
                key: REASON_HEADER,
                value: Some(&self.reason),
            })
            .insert(Header {
                key: TOPIC_HEADER,
                value: Some(&self.topic),
            })
            .insert(Header {
                key: PARTITION_HEADER,
                value: Some(&partition),
            })
            .insert(Header {
                key: OFFSET_HEADER,
                value: Some(&offset),
            })
    }

    /// The headers of a reference: those of the whole message, what is left out and why.
    fn reference_headers(&self, omitted: &str) -> OwnedHeaders {
        let payload_bytes = self.payload_bytes.to_string();
        let headers = self
            .headers()
            .insert(Header {
                key: PAYLOAD_BYTES_HEADER,
                value: Some(&payload_bytes),
            })
            .insert(Header {
                key: OMITTED_HEADER,
                value: Some(omitted),
            });
        if self.key.is_none() && self.key_bytes > 0 {
            let key_bytes = self.key_bytes.to_string();
            return headers.insert(Header {
                key: KEY_BYTES_HEADER,
                value: Some(&key_bytes),
            });
        }
        headers
    }
}

/// What one delivery carries: the message whole, or a reference to it because `omitted`
/// kept it from going whole.
#[derive(Debug)]
enum Delivery {
    Whole(Letter),
    Reference { letter: Letter, omitted: String },
}

/// A delivery the broker refused for good (librdkafka retries every transient error
/// itself, for as long as it takes: `message.timeout.ms=0`).
type Refused = (Box<Delivery>, KafkaError);

fn is_too_large(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::MessageSizeTooLarge)
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Collects refused deliveries on the producer's thread, for `flush` to handle.
#[derive(Debug, Default)]
struct Deliveries {
    refused: Mutex<Vec<Refused>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Delivery>;

    fn delivery(&self, result: &DeliveryResult<'_>, delivery: Box<Delivery>) {
        if let Err((error, _)) = result {
            lock(&self.refused).push((delivery, error.clone()));
        }
    }
}

/// A reference waiting to be offered again.
#[derive(Debug)]
struct Retry {
    letter: Letter,
    omitted: String,
    not_before: Instant,
}

pub struct DeadLetters {
    topic: String,
    producer: ThreadedProducer<Deliveries>,
    retries: Mutex<Vec<Retry>>,
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
            .create_with_context(Deliveries::default())?;
        Ok(DeadLetters {
            topic: topic.to_owned(),
            producer,
            retries: Mutex::new(Vec::new()),
        })
    }

    /// Queues `record` for the dead-letter topic, or a reference to it when the producer
    /// refuses it whole; waits while the local queue is full.
    pub fn send(&self, record: &KafkaRecord<'_>, reason: &str) {
        let letter = Letter::of(record, reason);
        let headers = letter.headers();
        let mut message = BaseRecord::<[u8], [u8], _>::with_opaque_to(
            &self.topic,
            Box::new(Delivery::Whole(letter)),
        )
        .payload(record.payload.unwrap_or_default())
        .headers(headers);
        if let Some(key) = record.key {
            message = message.key(key);
        }
        self.offer(message);
    }

    /// Waits until every dead letter is acknowledged, whole or by reference, up to
    /// `timeout`. An error means some are not yet: they stay queued or due for another
    /// offer, and the next call goes on with them.
    pub fn flush(&self, timeout: Duration) -> Result<(), IndexerError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.producer.in_flight_count() > 0
                && let Err(error) = self
                    .producer
                    .flush(deadline.saturating_duration_since(Instant::now()))
            {
                let pending = self.pending();
                warn!(%error, pending, "dead letters not yet acknowledged");
                return Err(IndexerError::DeadLetterPending(pending));
            }
            let refused = std::mem::take(&mut *lock(&self.producer.context().refused));
            for (delivery, error) in refused {
                self.refused(*delivery, &error);
            }
            let now = Instant::now();
            let due: Vec<Retry> = {
                let mut retries = lock(&self.retries);
                let (due, later) = std::mem::take(&mut *retries)
                    .into_iter()
                    .partition(|retry| retry.not_before <= now);
                *retries = later;
                due
            };
            for retry in due {
                telemetry::dead_letter_reference_retried();
                self.send_reference(retry.letter, retry.omitted);
            }
            if self.producer.in_flight_count() > 0 {
                continue;
            }
            let next = lock(&self.retries).iter().map(|r| r.not_before).min();
            match next {
                None => return Ok(()),
                Some(next) if next <= deadline => {
                    std::thread::sleep(next.saturating_duration_since(Instant::now()));
                }
                Some(_) => {
                    let pending = self.pending();
                    warn!(
                        pending,
                        "dead-letter references refused, offering them again later"
                    );
                    return Err(IndexerError::DeadLetterPending(pending));
                }
            }
        }
    }

    /// Dead letters not yet acknowledged.
    fn pending(&self) -> u64 {
        let in_flight = u64::try_from(self.producer.in_flight_count()).unwrap_or(0);
        let refused = lock(&self.producer.context().refused).len() as u64;
        let retries = lock(&self.retries).len() as u64;
        in_flight + refused + retries
    }

    /// A delivery refused for good: a whole message goes again by reference, a refused
    /// reference is offered again after a pause.
    fn refused(&self, delivery: Delivery, error: &KafkaError) {
        match delivery {
            Delivery::Whole(letter) => {
                warn!(
                    topic = letter.topic,
                    partition = letter.partition,
                    offset = letter.offset,
                    payload_bytes = letter.payload_bytes,
                    %error,
                    "dead letter refused whole, recorded by reference"
                );
                telemetry::dead_lettered_by_reference();
                self.send_reference(letter, error.to_string());
            }
            // Only a key within the limit makes a reference too large for a producer
            // whose `message.max.bytes` is near its least (1000 bytes): it goes without.
            Delivery::Reference {
                mut letter,
                omitted,
            } if is_too_large(error) && letter.key.is_some() => {
                letter.key = None;
                self.send_reference(letter, omitted);
            }
            Delivery::Reference { letter, omitted } => {
                error!(
                    topic = letter.topic,
                    partition = letter.partition,
                    offset = letter.offset,
                    %error,
                    "dead-letter reference refused, offering it again"
                );
                lock(&self.retries).push(Retry {
                    letter,
                    omitted,
                    not_before: Instant::now() + REFERENCE_RETRY_BACKOFF,
                });
            }
        }
    }

    /// Queues a reference to `letter`; one the producer refuses at once is due for
    /// another offer.
    fn send_reference(&self, letter: Letter, omitted: String) {
        let headers = letter.reference_headers(&omitted);
        let key = letter.key.clone();
        let mut message = BaseRecord::<[u8], [u8], _>::with_opaque_to(
            &self.topic,
            Box::new(Delivery::Reference { letter, omitted }),
        )
        .headers(headers);
        if let Some(key) = &key {
            message = message.key(key);
        }
        self.offer(message);
    }

    /// Hands `message` to the producer, waiting while its queue is full; one it refuses
    /// at once (too large for its `message.max.bytes`) is handled as a refused delivery.
    fn offer(&self, mut message: BaseRecord<'_, [u8], [u8], Box<Delivery>>) {
        loop {
            match self.producer.send(message) {
                Ok(()) => return,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    message = returned;
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
                Err((error, refused)) => {
                    self.refused(*refused.delivery_opaque, &error);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use logpipe_common::testkit::MockKafka;
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
    use rdkafka::message::{Headers, Message, OwnedMessage};
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

    use super::*;

    const DLQ: &str = "logs-dlq";
    /// The producer's `message.max.bytes` in these tests.
    const MESSAGE_MAX_BYTES: u64 = 16 << 10;

    fn mock() -> (MockKafka, KafkaSettings) {
        let mock = MockKafka::new(1).unwrap();
        mock.create_topic(DLQ, 1).unwrap();
        let mut settings = mock.settings();
        settings.message_max_bytes = MESSAGE_MAX_BYTES;
        (mock, settings)
    }

    fn record<'a>(key: &'a [u8], payload: &'a [u8]) -> KafkaRecord<'a> {
        KafkaRecord {
            topic: "logs",
            partition: 3,
            offset: 1234,
            key: Some(key),
            payload: Some(payload),
            timestamp_ms: None,
        }
    }

    /// Every message on the dead-letter topic, once `count` have arrived.
    fn dead_letters(settings: &KafkaSettings, count: usize) -> Vec<OwnedMessage> {
        logpipe_common::testkit::messages_from_start(
            settings,
            DLQ,
            0,
            count,
            Duration::from_secs(10),
        )
        .unwrap()
    }

    fn header(message: &OwnedMessage, name: &str) -> Option<String> {
        message
            .headers()?
            .iter()
            .find(|header| header.key == name)
            .and_then(|header| header.value)
            .map(|value| String::from_utf8_lossy(value).into_owned())
    }

    fn recorder() -> (
        metrics_exporter_prometheus::PrometheusRecorder,
        PrometheusHandle,
    ) {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        (recorder, handle)
    }

    fn assert_reference(message: &OwnedMessage, payload_bytes: usize, omitted: &str) {
        assert_eq!(message.payload(), None, "no payload");
        assert_eq!(header(message, REASON_HEADER).as_deref(), Some("not JSON"));
        assert_eq!(header(message, TOPIC_HEADER).as_deref(), Some("logs"));
        assert_eq!(header(message, PARTITION_HEADER).as_deref(), Some("3"));
        assert_eq!(header(message, OFFSET_HEADER).as_deref(), Some("1234"));
        assert_eq!(
            header(message, PAYLOAD_BYTES_HEADER),
            Some(payload_bytes.to_string())
        );
        let why = header(message, OMITTED_HEADER).unwrap_or_default();
        assert!(why.contains(omitted), "{why}");
    }

    #[test]
    fn a_small_message_is_dead_lettered_whole() {
        let (_mock, settings) = mock();
        let dead = DeadLetters::new(&settings, DLQ).unwrap();
        dead.send(&record(b"shop/api-1", b"GET /"), "not JSON");
        dead.flush(Duration::from_secs(10)).unwrap();
        let messages = dead_letters(&settings, 1);
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].payload(), Some(&b"GET /"[..]));
        assert_eq!(messages[0].key(), Some(&b"shop/api-1"[..]));
        assert_eq!(header(&messages[0], OMITTED_HEADER), None);
    }

    /// Regression: a message that with its headers exceeded `message.max.bytes` failed
    /// every commit, and the indexer read it again after each restart.
    #[test]
    fn a_message_too_large_to_produce_is_recorded_by_reference() {
        let (_mock, settings) = mock();
        let (recorder, metrics) = recorder();
        let _local = metrics::set_default_local_recorder(&recorder);
        let dead = DeadLetters::new(&settings, DLQ).unwrap();
        let payload = vec![b'x'; MESSAGE_MAX_BYTES as usize];
        dead.send(&record(b"shop/api-1", &payload), "not JSON");
        dead.flush(Duration::from_secs(10)).unwrap();
        let messages = dead_letters(&settings, 1);
        assert_eq!(messages.len(), 1);
        assert_reference(&messages[0], payload.len(), "too large");
        assert_eq!(
            messages[0].key(),
            Some(&b"shop/api-1"[..]),
            "a small key kept"
        );
        assert!(
            metrics
                .render()
                .contains("logpipe_indexer_dead_letter_references_total 1"),
            "{}",
            metrics.render()
        );
    }

    #[test]
    fn a_message_the_broker_refuses_whole_is_recorded_by_reference() {
        let (mock, settings) = mock();
        let (recorder, metrics) = recorder();
        let _local = metrics::set_default_local_recorder(&recorder);
        let dead = DeadLetters::new(&settings, DLQ).unwrap();
        // The broker's own limit is lower than the producer's.
        mock.fail_requests(
            RDKafkaApiKey::Produce,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
            1,
        );
        let payload = vec![b'x'; 4 << 10];
        dead.send(&record(b"shop/api-1", &payload), "not JSON");
        dead.flush(Duration::from_secs(10)).unwrap();
        let messages = dead_letters(&settings, 1);
        assert_eq!(messages.len(), 1, "only the reference");
        assert_reference(&messages[0], payload.len(), "too large");
        assert!(
            metrics
                .render()
                .contains("logpipe_indexer_dead_letter_references_total 1")
        );
    }

    #[test]
    fn a_long_key_is_left_out_of_a_reference() {
        let (_mock, settings) = mock();
        let dead = DeadLetters::new(&settings, DLQ).unwrap();
        let key = vec![b'k'; REFERENCE_KEY_MAX_BYTES + 1];
        let payload = vec![b'x'; MESSAGE_MAX_BYTES as usize];
        dead.send(&record(&key, &payload), "not JSON");
        dead.flush(Duration::from_secs(10)).unwrap();
        let messages = dead_letters(&settings, 1);
        assert_eq!(messages.len(), 1);
        assert_reference(&messages[0], payload.len(), "too large");
        assert_eq!(messages[0].key(), None);
        assert_eq!(
            header(&messages[0], KEY_BYTES_HEADER),
            Some(key.len().to_string())
        );
    }

    #[test]
    fn a_refused_reference_is_offered_again_until_the_broker_takes_it() {
        let (mock, settings) = mock();
        let (recorder, metrics) = recorder();
        let _local = metrics::set_default_local_recorder(&recorder);
        let dead = DeadLetters::new(&settings, DLQ).unwrap();
        // The whole message and its first two references are refused.
        mock.fail_requests(
            RDKafkaApiKey::Produce,
            RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
            3,
        );
        dead.send(&record(b"shop/api-1", b"GET /"), "not JSON");
        let error = dead.flush(Duration::from_millis(200)).unwrap_err();
        assert!(
            matches!(error, IndexerError::DeadLetterPending(1)),
            "{error}"
        );
        dead.flush(Duration::from_secs(10)).unwrap();
        let messages = dead_letters(&settings, 1);
        assert_eq!(messages.len(), 1, "one reference, nothing skipped");
        assert_reference(&messages[0], 5, "Topic authorization failed");
        let retries: u64 = metrics
            .render()
            .lines()
            .find_map(|line| {
                line.strip_prefix("logpipe_indexer_dead_letter_reference_retries_total ")
            })
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        assert!(retries >= 2, "{}", metrics.render());
    }
}
