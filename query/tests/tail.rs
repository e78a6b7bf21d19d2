//! Live tail against a real broker: matching events of the caller's namespaces arrive as
//! server-sent events; others never do.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use logpipe_common::config::Env;
use logpipe_common::event::Timestamp;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{self, Service, ServiceContext};
use logpipe_common::testkit::{TestBroker, produce_events, sample_event};
use logpipe_common::tokens::token_hash;
use logpipe_query::QueryConfig;

use crate::util::serve;

const TOPIC: &str = "logs";

/// The query service started the way `logpipe query` starts it.
pub async fn start_query(
    broker: &TestBroker,
    data: &std::path::Path,
    tokens: Option<&std::path::Path>,
) -> (ServiceContext, std::net::SocketAddr) {
    start_query_with(broker, data, tokens, &[]).await
}

/// `start_query` with more variables.
pub async fn start_query_with(
    broker: &TestBroker,
    data: &std::path::Path,
    tokens: Option<&std::path::Path>,
    extra: &[(&str, &str)],
) -> (ServiceContext, std::net::SocketAddr) {
    let mut vars = vec![
        ("LOGPIPE_KAFKA_BROKERS".to_string(), broker.bootstrap()),
        ("LOGPIPE_DATA_DIR".to_string(), data.display().to_string()),
        (
            "LOGPIPE_LISTEN_ADDRESS".to_string(),
            "127.0.0.1".to_string(),
        ),
    ];
    if let Some(tokens) = tokens {
        vars.push((
            "LOGPIPE_QUERY_TOKENS_FILE".to_string(),
            tokens.display().to_string(),
        ));
    }
    vars.extend(
        extra
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string())),
    );
    let env = Env::from_pairs(vars);
    let (shared, config) = service::load::<QueryConfig>(&env).unwrap();
    broker
        .create_topics(&[TopicSpec::new(TOPIC, shared.topic_partitions)])
        .await
        .unwrap();
    let ctx = ServiceContext::new(shared);
    let router = config.start(ctx.clone()).await.unwrap();
    (ctx, serve(router).await)
}

/// Server-sent events of kind `event`, read from a tail response.
struct EventStream {
    bytes:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl EventStream {
    fn new(response: reqwest::Response) -> Self {
        EventStream {
            bytes: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// Events until `count` arrived or `timeout` passed.
    async fn read(&mut self, count: usize, timeout: Duration) -> Vec<serde_json::Value> {
        let mut events = Vec::new();
        let deadline = Instant::now() + timeout;
        while events.len() < count {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if frame.lines().any(|l| l == "event: event") {
                    let data: String = frame
                        .lines()
                        .filter_map(|l| l.strip_prefix("data: "))
                        .collect();
                    events.push(serde_json::from_str(&data).unwrap());
                }
            }
            if events.len() >= count {
                break;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let Ok(Some(chunk)) = tokio::time::timeout(remaining, self.bytes.next()).await else {
                break;
            };
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
        events
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_streams_matching_events_of_the_callers_namespaces() {
    let broker = TestBroker::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let tokens = data.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "- name: shop\n  token_sha256: {}\n  namespaces: [shop]\n",
            token_hash("shop-token")
        ),
    )
    .unwrap();
    let (ctx, address) = start_query(&broker, data.path(), Some(&tokens)).await;

    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{address}/api/v1/tail"))
        .query(&[("q", "NOT level:debug")])
        .bearer_auth("shop-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );

    // sample_event: namespaces cycle shop, payments, kube-system, search. The query
    // matches every event; the token's scope keeps the shop ones only.
    let now = Timestamp::now();
    let events: Vec<_> = (0..320u64).map(|n| sample_event(n, now)).collect();
    let expected: Vec<String> = events
        .iter()
        .filter(|e| e.k8s.namespace.as_deref() == Some("shop"))
        .map(|e| e.id.to_string())
        .collect();
    assert_eq!(expected.len(), 80);
    let settings = broker.settings();
    tokio::task::spawn_blocking(move || produce_events(&settings, TOPIC, &events))
        .await
        .unwrap()
        .unwrap();
    let mut stream = EventStream::new(response);
    let mut received = stream.read(expected.len(), Duration::from_secs(20)).await;
    // Nothing else arrives.
    received.extend(stream.read(1, Duration::from_secs(2)).await);
    let ids: Vec<String> = received
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    let mut sorted_expected = expected.clone();
    sorted_expected.sort();
    assert_eq!(
        sorted_ids, sorted_expected,
        "exactly the matching shop events"
    );

    ctx.shutdown.cancel();
}

/// Live tails are bounded in number: one past the limit is answered 503 naming it, and a
/// tail that ends makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tails_beyond_the_limit_are_refused_until_one_ends() {
    let broker = TestBroker::start().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (ctx, address) = start_query_with(
        &broker,
        data.path(),
        None,
        &[("LOGPIPE_QUERY_MAX_TAIL_SUBSCRIBERS", "1")],
    )
    .await;
    let client = reqwest::Client::new();
    let open = || {
        client
            .get(format!("http://{address}/api/v1/tail"))
            .query(&[("q", "*")])
            .send()
    };
    let first = open().await.unwrap();
    assert_eq!(first.status(), 200);
    let second = open().await.unwrap();
    assert_eq!(second.status(), 503);
    let body: serde_json::Value = second.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("LOGPIPE_QUERY_MAX_TAIL_SUBSCRIBERS"),
        "{body}"
    );
    drop(first);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = open().await.unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ended tail never made room"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ctx.shutdown.cancel();
}
