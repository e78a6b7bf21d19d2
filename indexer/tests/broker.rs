//! The indexer against tansu: bad messages dead-lettered without blocking, whole or by
//! reference, and two indexers in one group sharing the partitions with every event
//! indexed once.

use std::collections::HashSet;
use std::time::Duration;

use logpipe_common::Timestamp;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, produce_all};
use logpipe_store::{Catalog, IndexLayout, Reload};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, OwnedMessage};
use rdkafka::{Message, Offset, TopicPartitionList};

use crate::util::{Indexer, message};

const TOPIC: &str = "logs";
const DLQ: &str = "logs-dlq";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_go_to_the_dead_letter_topic_and_the_rest_is_indexed() {
    let broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 1), TopicSpec::new(DLQ, 1)])
        .await
        .unwrap();
    let now = Timestamp::now();
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("not JSON", b"GET /index.html HTTP/1.1".to_vec()),
        ("not a JSON object but an array", b"[1, 2]".to_vec()),
        (
            "unsupported event version 2",
            br#"{"v": 2, "id": "x"}"#.to_vec(),
        ),
        ("not JSON", vec![0, 159, 146, 150, 255]),
        ("not JSON", Vec::new()),
    ];
    let mut messages = Vec::new();
    for n in 0..500 {
        messages.push(message(n, now));
        if n % 100 == 50 {
            let (_, payload) = &bad[(n / 100) as usize];
            messages.push((format!("bad/{n}"), payload.clone()));
        }
    }
    // Missing fields: indexed, repaired.
    messages.push((
        "repair/1".into(),
        br#"{"message": "no contract fields"}"#.to_vec(),
    ));
    let settings = broker.settings();
    tokio::task::spawn_blocking(move || produce_all(&settings, TOPIC, messages))
        .await
        .unwrap()
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let indexer = Indexer::start(&broker, dir.path(), &[]).await;
    indexer.wait_for_docs(501, Duration::from_secs(60)).await;

    let consumer: StreamConsumer = broker.settings().consumer("dlq-check").create().unwrap();
    consumer.subscribe(&[DLQ]).unwrap();
    let mut reasons = Vec::new();
    while reasons.len() < bad.len() {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("dead letters arrive")
            .unwrap();
        let headers = message.headers().unwrap();
        let header = |name: &str| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        assert_eq!(header("logpipe-dlq-topic"), TOPIC);
        assert!(header("logpipe-dlq-offset").parse::<i64>().is_ok());
        let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
        let n: usize = key.strip_prefix("bad/").unwrap().parse().unwrap();
        let (reason, payload) = &bad[n / 100];
        assert_eq!(
            message.payload().unwrap_or_default(),
            &payload[..],
            "kept unchanged"
        );
        let got = header("logpipe-dlq-reason");
        assert!(
            got.starts_with(reason) || (payload.is_empty() && got.contains("empty")),
            "{got}"
        );
        reasons.push(got);
    }

    let (status, body) = indexer.get("/api/v1/index/days").await;
    assert_eq!(status, 200);
    assert_eq!(body["days"].as_array().unwrap().len(), 1, "{body}");
    let id = logpipe_common::testkit::sample_event(7, now).id;
    let catalog = logpipe_store::Catalog::open(
        logpipe_store::IndexLayout::under(dir.path()),
        logpipe_store::Reload::Manual,
    )
    .unwrap();
    let stored = catalog.find(id).unwrap().expect("the event is indexed");
    let event: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(
        event["message"],
        "GET /api/v1/items answered 200 for request 7"
    );
    indexer.stop().await;
}

/// Regression: a malformed message too large to be dead-lettered whole (with its headers
/// over the producer's `message.max.bytes`) stopped the indexer, which read it again
/// after every restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_too_large_to_dead_letter_whole_is_recorded_by_reference() {
    const BAD_BYTES: usize = 200 << 10;
    let broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 1), TopicSpec::new(DLQ, 1)])
        .await
        .unwrap();
    let now = Timestamp::now();
    let mut messages: Vec<(String, Vec<u8>)> = (0..100).map(|n| message(n, now)).collect();
    messages.push(("bad/huge".into(), vec![b'x'; BAD_BYTES]));
    messages.extend((100..200).map(|n| message(n, now)));
    let settings = broker.settings();
    tokio::task::spawn_blocking(move || produce_all(&settings, TOPIC, messages))
        .await
        .unwrap()
        .unwrap();
    let bad_offset = offset_of(&broker, TOPIC, b"bad/huge").await;

    let dir = tempfile::tempdir().unwrap();
    // The indexer's producer takes smaller messages than the one on the events topic.
    let small = [("LOGPIPE_KAFKA_MESSAGE_MAX_BYTES", "64KiB")];
    let indexer = Indexer::start(&broker, dir.path(), &small).await;
    indexer.wait_for_docs(200, Duration::from_secs(60)).await;
    let dead = dead_letters(&broker, 1).await;
    assert_eq!(dead.len(), 1);
    let reference = &dead[0];
    assert_eq!(reference.payload(), None, "the payload is left out");
    assert_eq!(reference.key(), Some(&b"bad/huge"[..]));
    let header = |name: &str| header(reference, name);
    assert_eq!(header("logpipe-dlq-topic"), TOPIC);
    assert_eq!(header("logpipe-dlq-partition"), "0");
    assert_eq!(header("logpipe-dlq-offset"), bad_offset.to_string());
    assert_eq!(header("logpipe-dlq-payload-bytes"), BAD_BYTES.to_string());
    assert!(header("logpipe-dlq-reason").starts_with("not JSON"));
    assert!(header("logpipe-dlq-omitted").contains("too large"));
    indexer.stop().await;

    // A restart goes on past the message instead of reading it again.
    let indexer = Indexer::start(&broker, dir.path(), &small).await;
    produce_all_async(&broker, (200..210).map(|n| message(n, now)).collect()).await;
    indexer.wait_for_docs(210, Duration::from_secs(60)).await;
    indexer.stop().await;
    assert_eq!(dead_letters(&broker, 1).await.len(), 1, "recorded once");
}

/// The offset of the first message of `topic`'s partition 0 with `key`.
async fn offset_of(broker: &TestBroker, topic: &str, key: &[u8]) -> i64 {
    let consumer: StreamConsumer = broker.settings().consumer("offset-check").create().unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("the message is on the topic")
            .unwrap();
        if message.key() == Some(key) {
            return message.offset();
        }
    }
}

/// Every message on the dead-letter topic once `count` have arrived, and whatever comes
/// within a few seconds after.
async fn dead_letters(broker: &TestBroker, count: usize) -> Vec<OwnedMessage> {
    let consumer: StreamConsumer = broker.settings().consumer("dlq-read").create().unwrap();
    let mut partitions = TopicPartitionList::new();
    partitions
        .add_partition_offset(DLQ, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&partitions).unwrap();
    let mut messages = Vec::new();
    while messages.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("dead letters arrive")
            .unwrap();
        messages.push(message.detach());
    }
    while let Ok(message) = tokio::time::timeout(Duration::from_secs(3), consumer.recv()).await {
        messages.push(message.unwrap().detach());
    }
    messages
}

fn header(message: &OwnedMessage, name: &str) -> String {
    message
        .headers()
        .and_then(|headers| {
            headers
                .iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned())
        })
        .unwrap_or_default()
}

async fn produce_all_async(broker: &TestBroker, messages: Vec<(String, Vec<u8>)>) {
    let settings = broker.settings();
    tokio::task::spawn_blocking(move || produce_all(&settings, TOPIC, messages))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_indexers_share_the_partitions_and_index_each_event_once() {
    let broker = TestBroker::start().unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 4), TopicSpec::new(DLQ, 1)])
        .await
        .unwrap();
    let now = Timestamp::now();
    let produce = |range: std::ops::Range<u64>| {
        let settings = broker.settings();
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
    // A static member that stops keeps its partitions until the broker evicts it, which
    // tansu never does: handing partitions over on a stop takes dynamic membership.
    let dynamic = [("LOGPIPE_INDEXER_INSTANCE_ID", "none")];
    let a = Indexer::start(&broker, dir_a.path(), &dynamic).await;
    produce(0..2_000).await;
    a.wait_for_docs(2_000, Duration::from_secs(60)).await;

    let b = Indexer::start(&broker, dir_b.path(), &dynamic).await;
    // Events keep coming while the group rebalances.
    let mut produced = 2_000;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while b.docs().await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second indexer never got partitions"
        );
        produce(produced..produced + 100).await;
        produced += 100;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    produce(produced..produced + 1_000).await;
    produced += 1_000;
    wait_for_total(&a, &b, produced).await;
    let b_docs = b.docs().await;

    // The second indexer leaves; the first takes its partitions back.
    b.stop().await;
    produce(produced..produced + 1_000).await;
    produced += 1_000;
    let expected = produced - b_docs;
    a.wait_for_docs(expected, Duration::from_secs(90)).await;
    a.stop().await;

    let mut seen = HashSet::new();
    for dir in [dir_a.path(), dir_b.path()] {
        let catalog = Catalog::open(IndexLayout::under(dir), Reload::Manual).unwrap();
        for id in catalog.recent_ids(1 << 20).unwrap() {
            assert!(seen.insert(id), "{id} indexed twice");
        }
    }
    assert_eq!(seen.len() as u64, produced);

    // Each indexer's ledger verifies: partitions that went to the other indexer and came
    // back are handovers its ledger recorded, not gaps.
    let mut verified = 0;
    let mut handovers = Vec::new();
    for dir in [dir_a.path(), dir_b.path()] {
        let report = logpipe_store::verify::verify(&IndexLayout::under(dir), None).unwrap();
        assert!(report.ok, "{}: {:?}", dir.display(), report.findings);
        verified += report.events;
        handovers.push(report.handovers);
    }
    assert_eq!(verified, produced);
    assert!(
        handovers[0] > 0,
        "the first indexer took partitions back: {handovers:?}"
    );

    // Together, the two ledgers cover every offset of every partition: the handovers of
    // one are in the other. Without the second, those offsets are in no ledger.
    let both = [
        IndexLayout::under(dir_a.path()),
        IndexLayout::under(dir_b.path()),
    ];
    let joined = logpipe_store::verify::verify_all(&both, None).unwrap();
    assert!(joined.ok, "{:?}", joined.findings);
    assert_eq!((joined.events, joined.stores), (produced, 2));
    // tansu 0.6 answers committed offsets without their metadata, so no head is carried
    // over here (`outage::partitions_moved_between_indexers_carry_their_chains` shows it
    // on a broker that keeps it); any head that were must match.
    assert_eq!(joined.linked_handovers, joined.carried_heads);
    let nobody = tempfile::tempdir().unwrap();
    let alone = [
        IndexLayout::under(dir_a.path()),
        IndexLayout::under(nobody.path()),
    ];
    let missing = logpipe_store::verify::verify_all(&alone, None).unwrap();
    assert!(!missing.ok);
    assert!(
        missing
            .findings
            .iter()
            .all(|f| f.kind == logpipe_store::verify::Kind::Gap
                && f.detail.contains("in none of the ledgers")),
        "{:?}",
        missing.findings
    );
}

async fn wait_for_total(a: &Indexer, b: &Indexer, docs: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let total = a.docs().await + b.docs().await;
        if total == docs {
            return;
        }
        assert!(total <= docs, "{total} documents, more than {docs}");
        assert!(
            std::time::Instant::now() < deadline,
            "{total} of {docs} documents"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
