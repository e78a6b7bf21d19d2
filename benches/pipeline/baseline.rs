//! The broker's own produce-to-consume latency, the reference the pipeline's latencies
//! are read against.

use std::time::{Duration, Instant};

use logpipe_common::testkit::TestBroker;
use serde_json::{Value, json};

use crate::{BASELINE_TOPIC, Clock, SETTLE, summary};

pub fn broker_baseline(broker: &TestBroker, clock: Clock, rate: u64, secs: u64) -> Value {
    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

    let settings = broker.settings();
    let total = rate * secs;
    // The consumer settings every role uses.
    let consumer = BaselineConsumer::assigned(settings.consumer("bench-baseline"));
    let receiver = std::thread::spawn(move || consumer.receive(clock, total, secs));
    let producer: ThreadedProducer<DefaultProducerContext> = settings.producer().create().unwrap();
    // Connections and assignments settle before timing starts.
    std::thread::sleep(Duration::from_secs(2));
    let start = clock.now_us();
    for n in 0..total {
        let due = start + n * 1_000_000 / rate;
        let now = clock.now_us();
        if due > now {
            std::thread::sleep(Duration::from_micros(due - now));
        }
        let key = format!("bench/pod-{}", n % 10);
        let payload = json!({"n": n, "sent_us": clock.now_us(), "msg": "baseline"}).to_string();
        let mut record = BaseRecord::to(BASELINE_TOPIC).key(&key).payload(&payload);
        while let Err((_, returned)) = producer.send(record) {
            record = returned;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    let mut result = json!({
        "what": "produce-to-consume on the same broker, production client settings",
        "rate_per_sec": rate,
        "messages": total,
    });
    result["consumer"] = summary(&receiver.join().unwrap());
    result
}

/// A consumer of the baseline topic, assigned at the end of every partition.
struct BaselineConsumer(rdkafka::consumer::BaseConsumer);

impl BaselineConsumer {
    fn assigned(config: rdkafka::ClientConfig) -> Self {
        use rdkafka::consumer::Consumer;

        let consumer: rdkafka::consumer::BaseConsumer = config.create().unwrap();
        let mut assignment = rdkafka::TopicPartitionList::new();
        for partition in 0..3 {
            let (_, high) = consumer
                .fetch_watermarks(BASELINE_TOPIC, partition, Duration::from_secs(10))
                .unwrap();
            assignment
                .add_partition_offset(BASELINE_TOPIC, partition, rdkafka::Offset::Offset(high))
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        BaselineConsumer(consumer)
    }

    /// Receive − send of `total` messages, in microseconds.
    fn receive(self, clock: Clock, total: u64, secs: u64) -> Vec<u64> {
        use rdkafka::Message;

        let mut latencies = Vec::with_capacity(total as usize);
        let deadline = Instant::now() + Duration::from_secs(secs) + SETTLE;
        while (latencies.len() as u64) < total && Instant::now() < deadline {
            if let Some(Ok(message)) = self.0.poll(Duration::from_millis(100)) {
                let arrived = clock.now_us();
                let body: Value =
                    serde_json::from_slice(message.payload().unwrap_or_default()).unwrap();
                latencies.push(arrived.saturating_sub(body["sent_us"].as_u64().unwrap_or(0)));
            }
        }
        latencies
    }
}
