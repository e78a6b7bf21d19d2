//! The query service as a logpipe service: its backend chosen (the local index or the
//! indexers to fan out to), the API, the web UI and live tail served.

use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use logpipe_store::{Catalog, IndexLayout, Reload};
use tracing::info;

use crate::QueryConfig;
use crate::api::{self, ApiState};
use crate::backend::{Backend, Fanout};
use crate::cold::ColdStore;
use crate::tail::TailHub;

impl Service for QueryConfig {
    const ROLE: &'static str = "query";

    fn vars() -> Vec<&'static VarSpec> {
        crate::VARS.to_vec()
    }

    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        QueryConfig::load(env, shared)
    }

    fn effective(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        vec![TopicSpec::new(&shared.topic, shared.topic_partitions)]
    }

    /// Search reads the indexes (or the indexers); only live tail reads Kafka, and
    /// answers 503 while it is unreachable.
    fn needs_kafka(&self) -> bool {
        false
    }

    async fn start(self, ctx: ServiceContext) -> anyhow::Result<Router> {
        let backend = match (&self.local, self.indexers.is_empty()) {
            (Some(catalog), _) => Backend::Local(catalog.clone()),
            (None, true) => {
                let layout = IndexLayout::under(&ctx.shared.data_dir);
                std::fs::create_dir_all(layout.root())?;
                Backend::Local(Catalog::open(layout, Reload::OnCommit)?)
            }
            (None, false) => Backend::Fanout(Fanout::new(self.indexers.clone(), self.time_limit)?),
        };
        let backend = match &self.store_url {
            Some(url) => {
                let dir = self
                    .store_cache_dir
                    .clone()
                    .unwrap_or_else(|| ctx.shared.data_dir.join("store-cache"));
                let cold = ColdStore::new(
                    url.clone(),
                    self.store_options.clone(),
                    dir,
                    self.store_cache_bytes,
                )?;
                Backend::Tiered(Box::new(backend), cold)
            }
            None => backend,
        };
        info!(
            backend = match &backend {
                Backend::Local(_) => "local index",
                Backend::Fanout(_) => "indexers",
                Backend::Tiered(hot, _) => match **hot {
                    Backend::Fanout(_) => "indexers and object storage",
                    _ => "local index and object storage",
                },
            },
            access_control = self.tokens.enabled(),
            "query service started"
        );
        let tail = TailHub::new(ctx.shared.clone(), ctx.shutdown.clone())
            .with_max_subscribers(self.max_tail_subscribers)
            .with_buffer_bytes(self.tail_buffer_bytes)
            .with_kafka_check(ctx.health.clone());
        Ok(api::router(ApiState {
            backend,
            tokens: self.tokens,
            allowed_hosts: self.allowed_hosts,
            time_limit: self.time_limit,
            max_page_bytes: self.max_page_bytes,
            tail: Some(tail),
        }))
    }
}
