//! The shared Kafka settings against a real tansu broker and librdkafka's mock cluster.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use logpipe_common::kafka::{TopicSpec, ensure_topics};
use logpipe_common::testkit::{MockKafka, TestBroker};
use logpipe_common::{LogEvent, Timestamp};
use rdkafka::Message;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use crate::util::container_record;

const SMOKE_EVENTS: usize = 10_000;

fn event(n: usize) -> LogEvent {
    let payload = format!(r#"{{"level":"info","msg":"request {n}","n":{n}}}"#);
    let mut raw = container_record(payload.as_bytes(), Some(Timestamp::now()), n as u64 * 100);
    raw.observed_ts = Timestamp::now();
    LogEvent::from_raw(raw)
}

/// 10,000 events produced with the shared producer settings (acks=all, idempotent, zstd)
/// and read back in a consumer group with manual commits: exactly 10,000 distinct ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_10k_events_through_tansu() {
    let broker = TestBroker::start().expect("start the broker");
    let settings = broker.settings();
    broker
        .create_topics(&[TopicSpec::new("logs", 3)])
        .await
        .unwrap();

    let producer: FutureProducer = settings.producer().create().unwrap();
    let mut sent = HashSet::new();
    let mut deliveries = Vec::with_capacity(SMOKE_EVENTS);
    for n in 0..SMOKE_EVENTS {
        let event = event(n);
        sent.insert(event.id.to_string());
        let key = event.kafka_key();
        let value = serde_json::to_vec(&event).unwrap();
        let record = FutureRecord::to("logs").key(&key).payload(&value);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(error, _)| error)
                .unwrap(),
        );
    }
    for delivery in deliveries {
        delivery
            .await
            .unwrap()
            .map_err(|(error, _)| error)
            .expect("delivery");
    }
    producer
        .flush(Timeout::After(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(sent.len(), SMOKE_EVENTS);

    let consumer: StreamConsumer = settings.consumer("logpipe-smoke").create().unwrap();
    consumer.subscribe(&["logs"]).unwrap();
    let mut received = HashSet::new();
    let mut messages = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while received.len() < SMOKE_EVENTS {
        assert!(
            Instant::now() < deadline,
            "received {} of {SMOKE_EVENTS}; broker log:\n{}",
            received.len(),
            broker.log()
        );
        let Ok(message) = tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await
        else {
            continue;
        };
        let message = message.unwrap();
        let event: LogEvent = serde_json::from_slice(message.payload().unwrap()).unwrap();
        assert_eq!(message.key().unwrap(), event.kafka_key().as_bytes());
        received.insert(event.id.to_string());
        messages += 1;
        consumer.store_offset_from_message(&message).unwrap();
    }
    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
    assert_eq!(messages, SMOKE_EVENTS, "no message twice");
    assert_eq!(received, sent);
}

/// Topic creation at startup is idempotent: the second run creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_topics_creates_only_missing_topics() {
    let broker = TestBroker::start().unwrap();
    let settings = broker.settings();
    let admin: AdminClient<DefaultClientContext> = settings.admin().create().unwrap();
    let admin = Arc::new(admin);
    let topics = [TopicSpec::new("logs", 2), TopicSpec::new("alerts", 1)];
    let created = ensure_topics(&admin, &settings, &topics).await.unwrap();
    assert_eq!(created.len(), 2, "{created:?}");
    let again = ensure_topics(&admin, &settings, &topics).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
    let metadata = admin
        .inner()
        .fetch_metadata(Some("logs"), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 2);
}

/// With its broker down the shared producer holds messages instead of failing them (no
/// delivery timeout), and delivers all of them once the broker is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_survives_broker_outage_without_loss() {
    let mock = MockKafka::new(1).unwrap();
    mock.create_topic("logs", 1).unwrap();
    let producer: FutureProducer = mock.settings().producer().create().unwrap();
    // Warm up: metadata known, connection established.
    producer
        .send(
            FutureRecord::to("logs").key("k").payload("warm"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();

    mock.broker_down(1).unwrap();
    let deliveries: Vec<_> = (0..100)
        .map(|n| {
            let payload = format!("during outage {n}");
            producer
                .send_result(FutureRecord::to("logs").key("k").payload(&payload))
                .map_err(|(error, _)| error)
                .unwrap()
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        producer.in_flight_count(),
        100,
        "all held while the broker is down"
    );

    mock.broker_up(1).unwrap();
    for delivery in deliveries {
        let result = tokio::time::timeout(Duration::from_secs(60), delivery)
            .await
            .unwrap()
            .unwrap();
        result
            .map_err(|(error, _)| error)
            .expect("delivered after the outage");
    }
}

/// The shared producer keeps delivering across a crash and restart of the real broker: messages
/// sent while it is down are delivered once it is back, and a consumer reads them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_and_consumer_survive_a_tansu_restart() {
    let mut broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new("logs", 1)])
        .await
        .unwrap();
    let settings = broker.settings();
    let producer: FutureProducer = settings.producer().create().unwrap();
    let send = |n: usize| {
        let payload = format!("message {n}");
        producer
            .send_result(FutureRecord::to("logs").key("k").payload(&payload))
            .map_err(|(error, _)| error)
            .unwrap()
    };
    for n in 0..100 {
        send(n).await.unwrap().map_err(|(error, _)| error).unwrap();
    }
    // Killed while messages are in flight, as a crash or a lost node would.
    let mut during: Vec<_> = (100..150).map(send).collect();
    broker.kill();
    during.extend((150..200).map(send));
    tokio::time::sleep(Duration::from_secs(3)).await;
    broker.restart().unwrap();
    for delivery in during {
        let result = tokio::time::timeout(Duration::from_secs(60), delivery)
            .await
            .expect("delivered within 60 s after the restart")
            .unwrap();
        result
            .map_err(|(error, _)| error)
            .unwrap_or_else(|error| panic!("{error}; broker log:\n{}", broker.log()));
    }
    for n in 200..300 {
        send(n).await.unwrap().map_err(|(error, _)| error).unwrap();
    }
    let consumer: StreamConsumer = settings.consumer("restart-check").create().unwrap();
    consumer.subscribe(&["logs"]).unwrap();
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < 300 {
        assert!(Instant::now() < deadline, "consumed {} of 300", seen.len());
        if let Ok(Ok(message)) = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await
        {
            seen.insert(message.payload().unwrap().to_vec());
        }
    }
}
