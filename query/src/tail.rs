//! Live tail: events read from the Kafka topic as they arrive, fanned out to every
//! subscriber. The consumer runs on its own thread only while someone listens; it joins
//! no consumer group and starts at the end of every partition.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use logpipe_common::config::SharedConfig;
use logpipe_common::event::LogEvent;
use logpipe_common::health::Health;
use logpipe_common::kafka;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Events buffered per subscriber before it is told it fell behind.
const CHANNEL_CAPACITY: usize = 4096;
/// Subscribers at once unless configured.
const DEFAULT_MAX_SUBSCRIBERS: usize = 64;
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// One event as received: parsed for matching, raw for sending.
#[derive(Debug)]
pub struct Arrival {
    pub event: LogEvent,
    pub json: String,
}

#[derive(Debug, Clone)]
pub struct TailHub {
    inner: Arc<Mutex<Inner>>,
    shared: SharedConfig,
    shutdown: CancellationToken,
    max_subscribers: usize,
    /// Where the Kafka probe reports, so a tail is refused at once while Kafka is known
    /// to be unreachable instead of after a metadata timeout.
    health: Option<Health>,
}

/// A tail refused because Kafka, which only live tail needs, cannot be reached.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("live tail reads Kafka, which cannot be reached now; search is not affected; retry later")]
pub struct KafkaUnreachable;

/// A tail refused because `max` are open already.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "{max} live tails are open, the most LOGPIPE_QUERY_MAX_TAIL_SUBSCRIBERS allows; retry when one ends"
)]
pub struct TailFull {
    pub max: usize,
}

#[derive(Debug)]
struct Inner {
    sender: broadcast::Sender<Arc<Arrival>>,
    /// Stops the running consumer thread.
    running: Option<CancellationToken>,
}

impl TailHub {
    pub fn new(shared: SharedConfig, shutdown: CancellationToken) -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        TailHub {
            inner: Arc::new(Mutex::new(Inner {
                sender,
                running: None,
            })),
            shared,
            shutdown,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            health: None,
        }
    }

    /// Refuses tails at once while the Kafka check of `health` fails.
    pub fn with_kafka_check(mut self, health: Health) -> Self {
        self.health = Some(health);
        self
    }

    /// Cancelled when the service stops: every open tail then ends.
    pub fn stopping(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// At most `max` subscribers at once.
    pub fn with_max_subscribers(mut self, max: usize) -> Self {
        self.max_subscribers = max;
        self
    }

    /// Receives every event from now on; starts the consumer when it is not running.
    pub fn subscribe(&self) -> anyhow::Result<Subscription> {
        if let Some(health) = &self.health
            && health.check_passes(kafka::CHECK) == Some(false)
        {
            return Err(KafkaUnreachable.into());
        }
        let mut inner = self.lock();
        if inner.sender.receiver_count() >= self.max_subscribers {
            return Err(TailFull {
                max: self.max_subscribers,
            }
            .into());
        }
        let receiver = inner.sender.subscribe();
        let running = inner
            .running
            .as_ref()
            .is_some_and(|token| !token.is_cancelled());
        if !running {
            let stop = self.shutdown.child_token();
            let consumer = connect(&self.shared).map_err(|error| {
                warn!(%error, "live tail could not reach kafka");
                KafkaUnreachable
            })?;
            let sender = inner.sender.clone();
            let hub = self.clone();
            let thread_stop = stop.clone();
            std::thread::Builder::new()
                .name("query-tail".into())
                .spawn(move || hub.consume(&consumer, &sender, &thread_stop))?;
            inner.running = Some(stop);
        }
        crate::telemetry::tail_subscribers(1.0);
        Ok(Subscription { receiver })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn consume(
        &self,
        consumer: &BaseConsumer,
        sender: &broadcast::Sender<Arc<Arrival>>,
        stop: &CancellationToken,
    ) {
        info!(topic = %self.shared.topic, "live tail started");
        while !stop.is_cancelled() {
            match consumer.poll(POLL_TIMEOUT) {
                None => {}
                Some(Err(error)) => warn!(%error, "live tail: kafka error"),
                Some(Ok(message)) => {
                    let Some(payload) = message.payload() else {
                        continue;
                    };
                    let Ok(json) = std::str::from_utf8(payload) else {
                        continue;
                    };
                    let Ok(event) = serde_json::from_str::<LogEvent>(json) else {
                        continue;
                    };
                    let _ = sender.send(Arc::new(Arrival {
                        event,
                        json: json.to_string(),
                    }));
                }
            }
            if sender.receiver_count() == 0 {
                // Stop when the last listener left, unless one arrives meanwhile.
                let mut inner = self.lock();
                if inner.sender.receiver_count() == 0 {
                    inner.running = None;
                    stop.cancel();
                }
            }
        }
        info!(topic = %self.shared.topic, "live tail stopped");
    }
}

/// Assigns every partition of the topic at its end.
fn connect(shared: &SharedConfig) -> anyhow::Result<BaseConsumer> {
    let mut config = shared.kafka.consumer("logpipe-query-tail");
    config.set("auto.offset.reset", "latest");
    let consumer: BaseConsumer = config.create()?;
    let metadata = consumer.fetch_metadata(Some(&shared.topic), METADATA_TIMEOUT)?;
    let mut assignment = TopicPartitionList::new();
    for topic in metadata.topics() {
        for partition in topic.partitions() {
            // The end as of now, so every event produced after subscribing is seen.
            let (_, high) =
                consumer.fetch_watermarks(&shared.topic, partition.id(), METADATA_TIMEOUT)?;
            assignment.add_partition_offset(&shared.topic, partition.id(), Offset::Offset(high))?;
        }
    }
    if assignment.count() == 0 {
        anyhow::bail!("topic {} has no partitions", shared.topic);
    }
    consumer.assign(&assignment)?;
    Ok(consumer)
}

/// A listener's end of the hub.
#[derive(Debug)]
pub struct Subscription {
    pub receiver: broadcast::Receiver<Arc<Arrival>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        crate::telemetry::tail_subscribers(-1.0);
    }
}
