//! The indexer against tansu: bad messages dead-lettered without blocking, and two
//! indexers in one group sharing the partitions with every event indexed once.

use std::collections::HashSet;
use std::time::Duration;

use logpipe_common::Timestamp;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::testkit::{TestBroker, produce_all};
use logpipe_store::{Catalog, IndexLayout, Reload};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;

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
