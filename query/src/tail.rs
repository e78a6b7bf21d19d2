//! Live tail: events read from the Kafka topic as they arrive, handed to every subscriber
//! whose query they match. The consumer runs on its own thread only while someone listens;
//! it joins no consumer group and starts at the end of every partition.
//!
//! Each subscriber holds at most its buffer's bytes of matching events: one that reads
//! slower than they arrive loses the oldest and hears how many it missed, so a slow or
//! stalled client costs a bounded amount of memory, whatever the size of the events.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use logpipe_common::config::SharedConfig;
use logpipe_common::event::LogEvent;
use logpipe_common::health::Health;
use logpipe_common::kafka;
use logpipe_language::Predicate;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Subscribers at once unless configured.
const DEFAULT_MAX_SUBSCRIBERS: usize = 64;
/// Bytes of events held per subscriber unless configured.
const DEFAULT_BUFFER_BYTES: usize = 8 << 20;
const POLL_TIMEOUT: Duration = Duration::from_millis(100);
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// One event as received: parsed for matching, raw for sending.
#[derive(Debug)]
pub struct Arrival {
    pub event: LogEvent,
    pub json: String,
}

impl Arrival {
    /// Bytes held for the event: its text, and its parsed form, which takes about as
    /// much again.
    fn weight(&self) -> usize {
        self.json.len().saturating_mul(2)
    }
}

#[derive(Debug, Clone)]
pub struct TailHub {
    inner: Arc<Mutex<Inner>>,
    shared: SharedConfig,
    shutdown: CancellationToken,
    max_subscribers: usize,
    buffer_bytes: usize,
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

#[derive(Debug, Default)]
struct Inner {
    listeners: Vec<Arc<Listener>>,
    /// Stops the running consumer thread.
    running: Option<CancellationToken>,
}

/// One subscriber's query and the matching events it has yet to read.
#[derive(Debug)]
struct Listener {
    predicate: Predicate,
    buffer_bytes: usize,
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    arrivals: VecDeque<Arc<Arrival>>,
    bytes: usize,
    /// Events dropped since the subscriber last heard of it.
    missed: u64,
    closed: bool,
}

impl Listener {
    fn new(predicate: Predicate, buffer_bytes: usize) -> Self {
        Listener {
            predicate,
            buffer_bytes,
            queue: Mutex::default(),
            ready: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `arrival` when it matches, dropping the oldest held events until it fits
    /// (a single event larger than the buffer is still held alone).
    fn offer(&self, arrival: &Arc<Arrival>) {
        if !self.predicate.matches(&arrival.event) {
            return;
        }
        let weight = arrival.weight();
        let mut queue = self.lock();
        while queue.bytes + weight > self.buffer_bytes {
            let Some(oldest) = queue.arrivals.pop_front() else {
                break;
            };
            queue.bytes -= oldest.weight();
            queue.missed += 1;
        }
        queue.bytes += weight;
        queue.arrivals.push_back(arrival.clone());
        drop(queue);
        self.ready.notify_one();
    }

    async fn next(&self) -> Received {
        loop {
            {
                let mut queue = self.lock();
                if queue.missed > 0 {
                    return Received::Missed(std::mem::take(&mut queue.missed));
                }
                if let Some(arrival) = queue.arrivals.pop_front() {
                    queue.bytes -= arrival.weight();
                    return Received::Event(arrival);
                }
                if queue.closed {
                    return Received::Closed;
                }
            }
            self.ready.notified().await;
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }
}

impl TailHub {
    pub fn new(shared: SharedConfig, shutdown: CancellationToken) -> Self {
        TailHub {
            inner: Arc::default(),
            shared,
            shutdown,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            buffer_bytes: DEFAULT_BUFFER_BYTES,
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

    /// At most `bytes` of unread events held per subscriber.
    pub fn with_buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = bytes;
        self
    }

    /// Receives every event matching `predicate` from now on; starts the consumer when
    /// it is not running.
    pub fn subscribe(&self, predicate: Predicate) -> anyhow::Result<Subscription> {
        if let Some(health) = &self.health
            && health.check_passes(kafka::CHECK) == Some(false)
        {
            return Err(KafkaUnreachable.into());
        }
        let mut inner = self.lock();
        if inner.listeners.len() >= self.max_subscribers {
            return Err(TailFull {
                max: self.max_subscribers,
            }
            .into());
        }
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
            let hub = self.clone();
            let thread_stop = stop.clone();
            std::thread::Builder::new()
                .name("query-tail".into())
                .spawn(move || hub.consume(&consumer, &thread_stop))?;
            inner.running = Some(stop);
        }
        let listener = Arc::new(Listener::new(predicate, self.buffer_bytes));
        inner.listeners.push(listener.clone());
        crate::telemetry::tail_subscribers(1.0);
        Ok(Subscription {
            hub: self.clone(),
            listener,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `arrival` to every listener; false when none is left.
    fn deliver(&self, arrival: &Arc<Arrival>) -> bool {
        let listeners = self.lock().listeners.clone();
        for listener in &listeners {
            listener.offer(arrival);
        }
        !listeners.is_empty()
    }

    fn consume(&self, consumer: &BaseConsumer, stop: &CancellationToken) {
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
                    self.deliver(&Arc::new(Arrival {
                        event,
                        json: json.to_string(),
                    }));
                }
            }
            // Stop when the last listener left, unless one arrived meanwhile.
            let mut inner = self.lock();
            if inner.listeners.is_empty() {
                inner.running = None;
                stop.cancel();
            }
        }
        // Shutting down: every open tail ends.
        let mut inner = self.lock();
        if self.shutdown.is_cancelled() {
            for listener in &inner.listeners {
                listener.close();
            }
        }
        if inner
            .running
            .as_ref()
            .is_some_and(|token| token.is_cancelled())
        {
            inner.running = None;
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

/// What a subscriber hears next.
#[derive(Debug)]
pub enum Received {
    Event(Arc<Arrival>),
    /// This many matching events were dropped because the subscriber fell behind.
    Missed(u64),
    /// The service is shutting down.
    Closed,
}

/// A listener's end of the hub; leaving it (drop) stops its deliveries.
#[derive(Debug)]
pub struct Subscription {
    hub: TailHub,
    listener: Arc<Listener>,
}

impl Subscription {
    /// The next matching event, or news of missed ones, in arrival order.
    pub async fn recv(&mut self) -> Received {
        self.listener.next().await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub
            .lock()
            .listeners
            .retain(|listener| !Arc::ptr_eq(listener, &self.listener));
        crate::telemetry::tail_subscribers(-1.0);
    }
}

#[cfg(test)]
mod tests {
    use logpipe_common::event::Timestamp;
    use logpipe_common::testkit::sample_event;
    use logpipe_language::Query;

    use super::*;

    fn arrival(n: u64, message_bytes: usize) -> Arc<Arrival> {
        let mut event = sample_event(n, Timestamp::from_unix_nanos(n as i64));
        event.message = format!("{n} {}", "x".repeat(message_bytes));
        let json = serde_json::to_string(&event).unwrap();
        Arc::new(Arrival { event, json })
    }

    fn listener(query: &str, buffer_bytes: usize) -> Arc<Listener> {
        Arc::new(Listener::new(
            Predicate::new(&Query::parse(query).unwrap()),
            buffer_bytes,
        ))
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_holds_no_more_than_its_buffer() {
        let buffer = 100_000;
        let slow = listener("*", buffer);
        let events: Vec<_> = (0..50).map(|n| arrival(n, 10_000)).collect();
        for event in &events {
            slow.offer(event);
            let queue = slow.lock();
            assert!(queue.bytes <= buffer, "{} bytes held", queue.bytes);
        }
        let held = slow.lock().arrivals.len();
        assert!((1..50).contains(&held), "{held} held");
        let Received::Missed(missed) = slow.next().await else {
            panic!("the missed events are told first");
        };
        assert_eq!(missed as usize + held, 50);
        // What is left is the newest, in order.
        for expected in &events[50 - held..] {
            let Received::Event(got) = slow.next().await else {
                panic!("an event");
            };
            assert_eq!(got.event.id, expected.event.id);
        }
        assert_eq!(slow.lock().bytes, 0);
    }

    #[tokio::test]
    async fn only_matching_events_are_held_and_one_larger_than_the_buffer_still_arrives() {
        let only_two = listener("message:2", 1_000);
        for n in 0..5 {
            only_two.offer(&arrival(n, 5_000));
        }
        assert_eq!(only_two.lock().arrivals.len(), 1);
        let Received::Event(got) = only_two.next().await else {
            panic!("an event");
        };
        assert!(got.event.message.starts_with("2 "));
        only_two.close();
        assert!(matches!(only_two.next().await, Received::Closed));
    }
}
