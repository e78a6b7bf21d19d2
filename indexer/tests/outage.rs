//! The indexer on librdkafka's mock cluster, for the faults a real broker cannot be made
//! to show on demand: the dead-letter topic's leader down while the events keep coming.

use std::time::Duration;

use logpipe_common::Timestamp;
use logpipe_common::kafka::KafkaSettings;
use logpipe_common::testkit::{MockKafka, produce_all};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::util::{Indexer, message};

const TOPIC: &str = "logs";
const DLQ: &str = "logs-dlq";
/// Longer than one commit round waits for dead letters (30 s).
const OUTAGE: Duration = Duration::from_secs(35);

/// Regression: a commit round whose dead letters were not acknowledged in time failed the
/// indexer, which then read the same messages again after every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_outage_holds_commits_back_without_failing_the_indexer() {
    let mock = MockKafka::new(2).unwrap();
    mock.create_topic(TOPIC, 1).unwrap();
    mock.create_topic(DLQ, 1).unwrap();
    mock.partition_leader(TOPIC, 0, 1).unwrap();
    mock.partition_leader(DLQ, 0, 2).unwrap();
    mock.group_coordinator(logpipe_indexer::consumer::GROUP, 1)
        .unwrap();
    let now = Timestamp::now();
    let mut messages: Vec<(String, Vec<u8>)> = (0..10).map(|n| message(n, now)).collect();
    messages.push(("bad/1".into(), b"GET /index.html".to_vec()));
    messages.extend((10..20).map(|n| message(n, now)));
    let settings = mock.settings();
    tokio::task::spawn_blocking(move || produce_all(&settings, TOPIC, messages))
        .await
        .unwrap()
        .unwrap();

    mock.broker_down(2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let direct = [("LOGPIPE_INDEXER_PARTITIONS", "all")];
    let indexer = Indexer::start_on(mock.bootstrap(), dir.path(), &direct).await;
    tokio::time::sleep(OUTAGE).await;
    assert!(
        !indexer.ctx.failed(),
        "the indexer waits instead of failing"
    );
    // The ten events before the bad message may be committed before it is reached;
    // none after it while its dead letter is unacknowledged.
    let docs = indexer.docs().await;
    assert!(
        docs <= 10,
        "{docs} documents: nothing is committed past an unacknowledged dead letter"
    );

    mock.broker_up(2).unwrap();
    indexer.wait_for_docs(20, Duration::from_secs(60)).await;
    let settings = mock.settings();
    let dead = tokio::task::spawn_blocking(move || dead_letters(&settings))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1, "dead-lettered once");
    assert_eq!(dead[0].payload(), Some(&b"GET /index.html"[..]), "whole");
    indexer.stop().await;
}

/// Every message on the dead-letter topic after a few quiet seconds.
fn dead_letters(settings: &KafkaSettings) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = settings.consumer("dlq-read").create().unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(DLQ, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let mut messages = Vec::new();
    while let Some(message) = consumer.poll(Duration::from_secs(3)) {
        messages.push(message.unwrap().detach());
    }
    messages
}
