//! A collector driven as a library against a real tansu broker, and a consumer that
//! collects what reached Kafka.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::Router;
use logpipe_collector::CollectorConfig;
use logpipe_common::LogEvent;
use logpipe_common::config::Env;
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{self, Service, ServiceContext};
use logpipe_common::testkit::TestBroker;
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};

pub const TOPIC: &str = "logs";

pub async fn broker() -> TestBroker {
    let broker = TestBroker::start().expect("start the broker");
    broker
        .create_topics(&[TopicSpec::new(TOPIC, 2)])
        .await
        .unwrap();
    broker
}

/// A running collector.
pub struct Collector {
    pub ctx: ServiceContext,
    pub router: Router,
}

impl Collector {
    /// Starts a collector on `pods_dir` with state in `data_dir`; `extra` adds variables.
    pub async fn start(
        bootstrap: &str,
        pods_dir: &Path,
        data_dir: &Path,
        extra: &[(&str, &str)],
    ) -> Collector {
        let mut vars = vec![
            ("LOGPIPE_KAFKA_BROKERS".to_owned(), bootstrap.to_owned()),
            (
                "LOGPIPE_COLLECTOR_PODS_DIR".to_owned(),
                pods_dir.display().to_string(),
            ),
            (
                "LOGPIPE_DATA_DIR".to_owned(),
                data_dir.display().to_string(),
            ),
            ("LOGPIPE_NODE_NAME".to_owned(), "node-1".to_owned()),
            // Push ingest without a tokens file is taken on loopback only.
            ("LOGPIPE_LISTEN_ADDRESS".to_owned(), "127.0.0.1".to_owned()),
            (
                "LOGPIPE_COLLECTOR_RESCAN_INTERVAL_MS".to_owned(),
                "500".to_owned(),
            ),
            (
                "LOGPIPE_COLLECTOR_CHECKPOINT_INTERVAL_MS".to_owned(),
                "200".to_owned(),
            ),
            ("LOGPIPE_SHUTDOWN_GRACE_MS".to_owned(), "3000".to_owned()),
        ];
        for (name, value) in extra {
            vars.retain(|(existing, _)| existing != name);
            vars.push(((*name).to_owned(), (*value).to_owned()));
        }
        let env = Env::from_pairs(vars);
        let (shared, config) = service::load::<CollectorConfig>(&env).unwrap();
        let ctx = ServiceContext::new(shared);
        let router = config.start(ctx.clone()).await.unwrap();
        Collector { ctx, router }
    }

    /// Shuts down as on SIGTERM and waits for the drain.
    pub async fn stop(self) {
        self.ctx.shutdown.cancel();
        self.ctx.tasks.close();
        let tasks = self.ctx.tasks.clone();
        tokio::time::timeout(Duration::from_secs(10), tasks.wait())
            .await
            .expect("collector drained within 10 s");
    }
}

impl Drop for Collector {
    /// A failing test must not leave the tail loop running: the runtime would wait for it.
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
    }
}

/// Every event in the topic, read by a consumer group of its own.
pub struct Collected {
    consumer: StreamConsumer,
    pub events: Vec<LogEvent>,
}

impl Collected {
    pub fn new(broker: &TestBroker) -> Collected {
        let group = format!(
            "test-{}",
            std::process::id() as u128 * 1_000_000 + Instant::now().elapsed().as_nanos()
        );
        let consumer: StreamConsumer = broker.settings().consumer(&group).create().unwrap();
        consumer.subscribe(&[TOPIC]).unwrap();
        Collected {
            consumer,
            events: Vec::new(),
        }
    }

    /// Reads until `done` holds for the events so far, at most `timeout`.
    pub async fn until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&[LogEvent]) -> bool,
    ) -> &[LogEvent] {
        let deadline = Instant::now() + timeout;
        while !done(&self.events) {
            assert!(
                Instant::now() < deadline,
                "gave up after {timeout:?} with {} events",
                self.events.len()
            );
            if let Ok(Ok(message)) =
                tokio::time::timeout(Duration::from_millis(500), self.consumer.recv()).await
            {
                let event: LogEvent = serde_json::from_slice(message.payload().unwrap()).unwrap();
                self.events.push(event);
            }
        }
        &self.events
    }

    /// Keeps reading for `quiet` to catch stragglers (duplicates).
    pub async fn settle(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        while Instant::now() < deadline {
            if let Ok(Ok(message)) =
                tokio::time::timeout(Duration::from_millis(200), self.consumer.recv()).await
            {
                self.events
                    .push(serde_json::from_slice(message.payload().unwrap()).unwrap());
            }
        }
    }
}

/// Asserts every message in `expected` arrived, each id once per message, and returns the
/// events by message.
pub fn assert_exactly(events: &[LogEvent], expected: &[String]) -> HashMap<String, LogEvent> {
    let mut by_message: HashMap<String, LogEvent> = HashMap::new();
    for event in events {
        if let Some(previous) = by_message.get(&event.message) {
            assert_eq!(
                previous.id, event.id,
                "duplicate with another id: {}",
                event.message
            );
        }
        by_message.insert(event.message.clone(), event.clone());
    }
    let missing: Vec<&String> = expected
        .iter()
        .filter(|m| !by_message.contains_key(*m))
        .take(5)
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} missing, e.g. {missing:?}",
        expected
            .iter()
            .filter(|m| !by_message.contains_key(*m))
            .count(),
        expected.len()
    );
    by_message
}

/// A container's log directory in the kubelet layout.
pub fn container_dir(pods: &Path, namespace: &str, pod: &str, container: &str) -> PathBuf {
    let dir = pods
        .join(format!("{namespace}_{pod}_uid-{pod}"))
        .join(container);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn cri_line(n: usize, stream: &str, tag: &str, content: &str) -> String {
    format!(
        "2026-11-27T05:{:02}:{:02}.{:09}Z {stream} {tag} {content}\n",
        (n / 60) % 60,
        n % 60,
        n
    )
}

pub fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    file.write_all(bytes).unwrap();
}
