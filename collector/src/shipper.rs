//! Shipping events to Kafka with the shared producer settings (acks=all, idempotent,
//! zstd, no delivery timeout). Every delivery report comes back to the tail loop, which
//! advances a file's checkpoint only past delivered records.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use logpipe_common::kafka::KafkaSettings;
use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use crate::error::CollectorError;

/// What a delivery report refers to: a record of a tracked file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The tracked file (its slot number in the tail loop).
    pub file: u64,
    /// The record's sequence number within the file.
    pub seq: u64,
    /// Bytes counted as in flight for it.
    pub bytes: usize,
}

/// A delivery report.
#[derive(Debug)]
pub enum Delivery {
    Delivered(Ticket),
    /// The broker refused the message for good; the tail loop sends it again.
    Failed {
        ticket: Ticket,
        key: Vec<u8>,
        payload: Vec<u8>,
        error: KafkaError,
    },
}

#[derive(Debug)]
struct ReportingContext {
    reports: Sender<Delivery>,
    delivered: Arc<AtomicU64>,
}

impl ClientContext for ReportingContext {}

impl ProducerContext for ReportingContext {
    type DeliveryOpaque = Box<Ticket>;

    fn delivery(&self, result: &DeliveryResult<'_>, ticket: Box<Ticket>) {
        let report = match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
                Delivery::Delivered(*ticket)
            }
            Err((error, message)) => Delivery::Failed {
                ticket: *ticket,
                key: message.key().unwrap_or_default().to_vec(),
                payload: message.payload().unwrap_or_default().to_vec(),
                error: error.clone(),
            },
        };
        // The receiver is gone only when the tail loop has stopped; nothing waits then.
        let _ = self.reports.send(report);
    }
}

/// Where events go: Kafka, or nowhere (acknowledged at once, for benchmarks that
/// measure the collector without a broker).
enum Sink {
    Kafka(ThreadedProducer<ReportingContext>),
    Null(Sender<Delivery>),
}

/// The collector's producer.
pub struct Shipper {
    sink: Sink,
    topic: String,
    in_flight: Arc<AtomicUsize>,
    delivered: Arc<AtomicU64>,
}

impl std::fmt::Debug for Shipper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shipper")
            .field("topic", &self.topic)
            .finish()
    }
}

/// librdkafka's queue limit in messages (its maximum is 2^31 - 1).
const QUEUE_MAX_MESSAGES: u32 = 2_000_000;

impl Shipper {
    pub fn new(
        settings: &KafkaSettings,
        topic: &str,
    ) -> Result<(Self, Receiver<Delivery>), CollectorError> {
        let (reports, receiver) = channel();
        let delivered = Arc::new(AtomicU64::new(0));
        let mut config = settings.producer();
        // The collector bounds what is in flight by bytes itself; librdkafka's own message
        // count limit must not be the one reached first.
        config.set(
            "queue.buffering.max.messages",
            QUEUE_MAX_MESSAGES.to_string(),
        );
        let producer = config.create_with_context(ReportingContext {
            reports,
            delivered: delivered.clone(),
        })?;
        Ok((
            Shipper {
                sink: Sink::Kafka(producer),
                topic: topic.to_owned(),
                in_flight: Arc::default(),
                delivered,
            },
            receiver,
        ))
    }

    /// A shipper that drops every event and acknowledges it at once.
    pub fn null() -> (Self, Receiver<Delivery>) {
        let (reports, receiver) = channel();
        (
            Shipper {
                sink: Sink::Null(reports),
                topic: String::new(),
                in_flight: Arc::default(),
                delivered: Arc::default(),
            },
            receiver,
        )
    }

    /// Messages delivered so far (a counter shared with the delivery reports).
    pub fn delivered_counter(&self) -> Arc<AtomicU64> {
        self.delivered.clone()
    }

    /// Bytes sent and not yet reported.
    pub(crate) fn in_flight_bytes(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Called for every report taken from the receiver.
    pub(crate) fn reported(&self, ticket: &Ticket) {
        self.in_flight.fetch_sub(ticket.bytes, Ordering::Relaxed);
    }

    /// Queues one message. A full queue or any other refusal is returned at once: the
    /// caller keeps the message and sends it again later, so its loop never blocks.
    pub(crate) fn send(
        &self,
        key: &[u8],
        payload: &[u8],
        ticket: Ticket,
    ) -> Result<(), CollectorError> {
        let producer = match &self.sink {
            Sink::Kafka(producer) => producer,
            Sink::Null(reports) => {
                self.in_flight.fetch_add(ticket.bytes, Ordering::Relaxed);
                self.delivered.fetch_add(1, Ordering::Relaxed);
                let _ = reports.send(Delivery::Delivered(ticket));
                return Ok(());
            }
        };
        let record = BaseRecord::with_opaque_to(&self.topic, Box::new(ticket))
            .key(key)
            .payload(payload);
        match producer.send(record) {
            Ok(()) => {
                self.in_flight.fetch_add(ticket.bytes, Ordering::Relaxed);
                Ok(())
            }
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                Err(CollectorError::QueueFull)
            }
            Err((error, _)) => Err(error.into()),
        }
    }

    /// Waits for queued messages to be delivered, at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        match &self.sink {
            Sink::Kafka(producer) => producer.flush(timeout).is_ok(),
            Sink::Null(_) => true,
        }
    }
}
