//! The indexer on librdkafka's mock cluster, for the faults a real broker cannot be made
//! to show on demand (the dead-letter topic's leader down while the events keep coming),
//! and for what tansu does not keep: the metadata of committed offsets, which carries the
//! ledger chain's head from one indexer to the next.

use std::time::Duration;

use logpipe_common::Timestamp;
use logpipe_common::kafka::KafkaSettings;
use logpipe_common::testkit::{MockKafka, produce_all};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};

use logpipe_store::layout::IndexLayout;
use logpipe_store::verify::verify_all;

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

/// Two indexers sharing partitions through the consumer group on a broker that keeps the
/// committed offsets' metadata (as Kafka does): each partition that moves goes on with
/// the head its last holder committed, and the two ledgers verified together prove it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_moved_between_indexers_carry_their_chains() {
    let mock = MockKafka::new(1).unwrap();
    mock.create_topic(TOPIC, 4).unwrap();
    mock.create_topic(DLQ, 1).unwrap();
    let now = Timestamp::now();
    let produce = |range: std::ops::Range<u64>| {
        let settings = mock.settings();
        async move {
            tokio::task::spawn_blocking(move || {
                produce_all(&settings, TOPIC, range.map(|n| message(n, now)))
            })
            .await
            .unwrap()
            .unwrap()
        }
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dynamic = [("LOGPIPE_INDEXER_INSTANCE_ID", "none")];
    let a = Indexer::start_on(mock.bootstrap(), dir_a.path(), &dynamic).await;
    produce(0..400).await;
    a.wait_for_docs(400, Duration::from_secs(60)).await;

    let b = Indexer::start_on(mock.bootstrap(), dir_b.path(), &dynamic).await;
    let mut produced = 400;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while b.docs().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second indexer never got partitions"
        );
        produce(produced..produced + 40).await;
        produced += 40;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    produce(produced..produced + 200).await;
    produced += 200;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while a.docs().await + b.docs().await < produced {
        assert!(std::time::Instant::now() < deadline, "not all indexed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let b_docs = b.docs().await;
    // The second leaves; the first takes its partitions back, chains and all.
    b.stop().await;
    produce(produced..produced + 200).await;
    produced += 200;
    // (The mock cluster may hand back offsets short of the leaver's last commit: the
    // first indexer then takes a few events again, which verify counts in both stores.)
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while a.docs().await < produced - b_docs {
        assert!(std::time::Instant::now() < deadline, "not all taken back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.stop().await;

    let both = [
        IndexLayout::under(dir_a.path()),
        IndexLayout::under(dir_b.path()),
    ];
    let joined = verify_all(&both, None).unwrap();
    assert!(joined.ok, "{:?}", joined.findings);
    assert!(joined.events >= produced);
    // Partitions moved to the second indexer and back: each time the taker went on from
    // the head the holder committed.
    assert!(
        joined.carried_heads >= 2 && joined.linked_handovers == joined.carried_heads,
        "carried {}, matched {}",
        joined.carried_heads,
        joined.linked_handovers
    );
}
