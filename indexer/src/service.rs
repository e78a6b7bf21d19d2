//! The indexer as a logpipe service: the stores opened, the consumer thread started, the
//! read endpoints served.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec, host_name};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use tracing::info;

use crate::IndexerConfig;
use crate::config::{Assignment, DYNAMIC_MEMBERSHIP};
use crate::consumer::{self, GROUP, IndexerContext, LoopSettings, SharedPipeline};
use crate::dead_letter::DeadLetters;
use crate::decode::TsBounds;
use crate::pipeline::{Pipeline, PipelineSettings};
use crate::retention::RetentionPolicy;
use logpipe_store::catalog::{Catalog, Reload};
use logpipe_store::layout::IndexLayout;
use logpipe_store::{Writer, WriterSettings};

/// The consumer loop fails liveness when it has not gone round for this long (a commit
/// of a large batch or a retention pass takes seconds, never this long).
const CONSUMER_MAX_SILENCE: Duration = Duration::from_secs(120);
/// How often librdkafka reports statistics (consumer lag).
const STATISTICS_INTERVAL_MS: &str = "5000";

impl Service for IndexerConfig {
    const ROLE: &'static str = "indexer";

    fn vars() -> Vec<&'static VarSpec> {
        crate::VARS.to_vec()
    }

    fn load(env: &Env, _shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        IndexerConfig::load(env)
    }

    fn effective(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        let mut topics = vec![
            TopicSpec::new(&shared.topic, shared.topic_partitions),
            TopicSpec::new(&self.dlq_topic, shared.topic_partitions),
        ];
        if self.digest_key.is_some() {
            topics.push(TopicSpec::new(&self.digest_topic, 1));
        }
        topics
    }

    async fn start(self, ctx: ServiceContext) -> anyhow::Result<Router> {
        Ok(self.start_indexing(ctx).await?.router)
    }
}

/// A started indexer: its own routes, and the readers of the day indexes it writes, over
/// which `logpipe indexer` serves the search API and `logpipe standalone` the query role.
#[derive(Debug)]
pub struct Started {
    pub router: Router,
    pub catalog: Catalog,
}

impl IndexerConfig {
    /// Opens the indexes, starts the consumer thread and returns the indexer's routes with
    /// its catalog.
    pub async fn start_indexing(self, ctx: ServiceContext) -> anyhow::Result<Started> {
        let shared = ctx.shared.clone();
        let layout = IndexLayout::under(&shared.data_dir);
        let indexes_ready = ctx.health.readiness("indexes");
        // Object storage first: an empty volume is filled from it before it is opened.
        let syncing =
            crate::archive::start(&self, layout.clone(), ctx.health.optional("archive")).await?;
        let config = self.clone();
        let opened = tokio::task::spawn_blocking(move || open(&config, &shared, layout))
            .await
            .context("opening the indexes")??;
        let (catalog, mut pipeline) = opened;
        if let Some(syncing) = &syncing {
            pipeline.archive_to(syncing.archived.clone());
        }
        indexes_ready.set_ready();
        let shared = &ctx.shared;
        let pipeline = Arc::new(Mutex::new(pipeline));
        let consumer = subscribe(&self, shared, pipeline.clone())?;
        let settings = LoopSettings::new(&self, &shared.topic);
        let heartbeat = ctx.health.heartbeat("consumer_loop", CONSUMER_MAX_SILENCE);
        let shutdown = ctx.shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("indexer-consumer".into())
            .spawn(move || {
                let result = consumer::run(&consumer, &pipeline, &settings, &shutdown, &heartbeat);
                drop(consumer);
                result
            })
            .context("starting the consumer thread")?;
        let failed = ctx.clone();
        ctx.tasks.spawn(async move {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(error))) => failed.fail(&anyhow::Error::new(error).context("indexing")),
                _ => failed.fail(&anyhow::anyhow!("the consumer thread panicked")),
            }
            // Indexing has stopped: the last round to object storage, then its end.
            if let Some(syncing) = syncing
                && !matches!(
                    tokio::task::spawn_blocking(move || syncing.finish()).await,
                    Ok(Ok(()))
                )
            {
                failed.fail(&anyhow::anyhow!("the archive thread panicked"));
            }
        });
        info!(index_dir = %catalog.layout().root().display(), group = GROUP, "indexer started");
        let router = crate::http::router(catalog.clone());
        Ok(Started { router, catalog })
    }
}

/// The consumer of `logpipe-indexer`, subscribed to the events topic, feeding `pipeline`.
pub fn subscribe(
    config: &IndexerConfig,
    shared: &SharedConfig,
    pipeline: SharedPipeline,
) -> anyhow::Result<BaseConsumer<IndexerContext>> {
    let mut consumer_config = shared.kafka.consumer(GROUP);
    consumer_config.set("statistics.interval.ms", STATISTICS_INTERVAL_MS);
    match instance_id(config, shared) {
        Some(id) => {
            info!(instance_id = id, "static consumer-group membership");
            consumer_config.set("group.instance.id", id);
        }
        None => info!("dynamic consumer-group membership"),
    }
    let consumer: BaseConsumer<IndexerContext> = consumer_config
        .create_with_context(IndexerContext::new(&shared.topic, pipeline))
        .context("creating the kafka consumer")?;
    if config.partitions == Assignment::Group {
        consumer
            .subscribe(&[&shared.topic])
            .context("subscribing to the events topic")?;
    }
    Ok(consumer)
}

/// The consumer's static group membership: the configured id, else one derived from the
/// host name and the data directory, which belong to this indexer alone. A restarted
/// indexer then takes its partitions back at once, instead of waiting for the broker to
/// evict the member it was before a crash. `None` for dynamic membership.
fn instance_id(config: &IndexerConfig, shared: &SharedConfig) -> Option<String> {
    match config.instance_id.as_deref() {
        Some(DYNAMIC_MEMBERSHIP) => return None,
        Some(id) => return Some(id.to_owned()),
        None => {}
    }
    let dir = std::fs::canonicalize(&shared.data_dir).unwrap_or_else(|_| shared.data_dir.clone());
    // FNV-1a: stable across builds, unlike the standard library's hasher.
    let hash = dir
        .as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        });
    Some(format!(
        "logpipe-indexer-{}-{:08x}",
        host_name(),
        hash as u32
    ))
}

/// Opens the day indexes under `layout` and the pipeline writing them, applying
/// retention once.
pub fn open(
    config: &IndexerConfig,
    shared: &SharedConfig,
    layout: IndexLayout,
) -> anyhow::Result<(Catalog, Pipeline)> {
    let catalog = Catalog::open(layout, Reload::Manual)?;
    let store = Writer::open(
        catalog.clone(),
        WriterSettings {
            topic: shared.topic.clone(),
            writer_memory: usize::try_from(config.writer_memory).unwrap_or(usize::MAX),
            max_open_days: config.max_open_days,
        },
    )?;
    let dead_letters = DeadLetters::new(&shared.kafka, &config.dlq_topic)?;
    let mut pipeline = Pipeline::open(
        store,
        Some(dead_letters),
        PipelineSettings {
            topic: shared.topic.clone(),
            bounds: TsBounds {
                max_past: config.ts_max_past,
                max_future: config.ts_max_future,
            },
            commit_interval: config.commit_interval,
            commit_docs: config.commit_docs,
            dedup_window: config.dedup_window,
            dedup_max_ids: config.dedup_max_ids,
            retention: RetentionPolicy {
                days: config.retention_days,
                max_bytes: config.retention_bytes,
            },
            local_days: if config.store_url.is_some() {
                config.store_local_days
            } else {
                0
            },
        },
    )?;
    if let Some(key) = &config.digest_key {
        let key = logpipe_store::digest::DigestKey::from_base64(key)
            .map_err(|reason| anyhow::anyhow!("LOGPIPE_INDEXER_DIGEST_KEY: {reason}"))?;
        let sink = DigestTopic::new(&shared.kafka, &config.digest_topic)?;
        pipeline.sign_digests(key, config.digest_interval, Some(Box::new(sink)))?;
    }
    pipeline.apply_retention(logpipe_store::Day::today())?;
    Ok((catalog, pipeline))
}

/// Signed digests produced to their topic, keyed by the index they come from.
struct DigestTopic {
    producer: rdkafka::producer::ThreadedProducer<rdkafka::producer::DefaultProducerContext>,
    topic: String,
}

impl DigestTopic {
    fn new(kafka: &logpipe_common::kafka::KafkaSettings, topic: &str) -> anyhow::Result<Self> {
        Ok(DigestTopic {
            producer: kafka.producer().create()?,
            topic: topic.to_owned(),
        })
    }
}

impl crate::pipeline::DigestSink for DigestTopic {
    fn send(&self, digest: &[u8]) {
        use rdkafka::producer::{BaseRecord, Producer};
        let record = BaseRecord::<[u8], [u8]>::to(&self.topic).payload(digest);
        if let Err((error, _)) = self.producer.send(record) {
            tracing::warn!(%error, "digest not produced to its topic (it is on disk)");
        }
        // Digests are rare: wait for this one, so that a shutdown does not drop it.
        if let Err(error) = self.producer.flush(Duration::from_secs(10)) {
            tracing::warn!(%error, "digest not acknowledged by its topic (it is on disk)");
        }
    }
}
