//! Running the indexer in-process against a test broker and reading what it indexed.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::Request;
use logpipe_common::Timestamp;
use logpipe_common::config::Env;
use logpipe_common::service::{self, Service, ServiceContext};
use logpipe_common::testkit::{TestBroker, sample_event};
use logpipe_indexer::IndexerConfig;
use serde_json::Value;
use tower::ServiceExt;

/// An indexer role started the way `logpipe indexer` starts it.
pub struct Indexer {
    pub ctx: ServiceContext,
    pub router: Router,
}

impl Indexer {
    pub async fn start(broker: &TestBroker, data: &Path, extra: &[(&str, &str)]) -> Self {
        Self::start_on(broker.bootstrap(), data, extra).await
    }

    /// An indexer on the brokers at `bootstrap` (librdkafka's mock cluster, for one).
    pub async fn start_on(bootstrap: String, data: &Path, extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![
            ("LOGPIPE_KAFKA_BROKERS".to_owned(), bootstrap),
            ("LOGPIPE_DATA_DIR".to_owned(), data.display().to_string()),
            (
                "LOGPIPE_INDEXER_COMMIT_INTERVAL_MS".to_owned(),
                "200".to_owned(),
            ),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let env = Env::from_pairs(vars);
        let (shared, config) = service::load::<IndexerConfig>(&env).unwrap();
        let ctx = ServiceContext::new(shared);
        let router = config.start(ctx.clone()).await.unwrap();
        Indexer { ctx, router }
    }

    pub async fn stop(self) {
        let ctx = self.ctx.clone();
        drop(self);
        assert!(ctx.tasks.is_empty(), "the indexer stops within 30 s");
        assert!(!ctx.failed(), "the indexer failed");
    }

    pub async fn get(&self, uri: &str) -> (u16, Value) {
        let response = self
            .router
            .clone()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = to_bytes(response.into_body(), 64 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Documents over every day index.
    pub async fn docs(&self) -> u64 {
        let (_, body) = self.get("/api/v1/index/days").await;
        body["days"]
            .as_array()
            .map(|days| days.iter().map(|d| d["docs"].as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    }

    /// Waits until the indexer holds `docs` documents.
    pub async fn wait_for_docs(&self, docs: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.docs().await;
            if got == docs {
                return;
            }
            assert!(
                got <= docs,
                "{got} documents, more than the {docs} expected"
            );
            assert!(
                Instant::now() < deadline,
                "{got} of {docs} documents after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Indexer {
    /// A failed test must not leave the consumer thread running: the runtime would wait
    /// for it forever.
    fn drop(&mut self) {
        self.ctx.shutdown.cancel();
        self.ctx.tasks.close();
        let tasks = self.ctx.tasks.clone();
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(tokio::time::timeout(Duration::from_secs(30), tasks.wait()))
        })
        .ok();
    }
}

/// Sample event `n` as a Kafka message: key and JSON value.
pub fn message(n: u64, ts: Timestamp) -> (String, Vec<u8>) {
    let event = sample_event(n, ts);
    (event.kafka_key(), serde_json::to_vec(&event).unwrap())
}
