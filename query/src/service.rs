//! The query service as a logpipe service, and the indexer role with the search API
//! served over its own partitions.

use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use logpipe_indexer::{Catalog, IndexLayout, IndexerConfig, ReadApi, Reload};
use tracing::info;

use crate::QueryConfig;
use crate::api::{self, ApiState};
use crate::backend::{Backend, Fanout};
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
        info!(
            backend = match &backend {
                Backend::Local(_) => "local index",
                Backend::Fanout(_) => "indexers",
            },
            access_control = self.tokens.enabled(),
            "query service started"
        );
        let tail = TailHub::new(ctx.shared.clone(), ctx.shutdown.clone());
        Ok(api::router(ApiState {
            backend,
            tokens: self.tokens,
            time_limit: self.time_limit,
            tail: Some(tail),
        }))
    }
}

/// `logpipe indexer`: the indexer, serving the search API over the partitions it holds
/// so the query service can fan out to it. Tokens are read from the same variable as
/// the query service's.
#[derive(Debug)]
pub struct SearchingIndexer {
    indexer: IndexerConfig,
    query: QueryConfig,
}

impl Service for SearchingIndexer {
    const ROLE: &'static str = "indexer";

    fn vars() -> Vec<&'static VarSpec> {
        let mut vars = logpipe_indexer::VARS.to_vec();
        vars.extend([&crate::config::TOKENS_FILE, &crate::config::TIME_LIMIT_MS]);
        vars
    }

    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        Ok(SearchingIndexer {
            indexer: IndexerConfig::load(env)?,
            query: QueryConfig::load_for_indexer(env, shared)?,
        })
    }

    fn effective(&self) -> serde_json::Value {
        let mut effective = self.indexer.effective();
        effective["search_api"] = self.query.effective();
        effective
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        self.indexer.topics(shared)
    }

    async fn start(self, ctx: ServiceContext) -> anyhow::Result<Router> {
        let mut indexer = self.indexer;
        let tokens = self.query.tokens;
        let time_limit = self.query.time_limit;
        indexer.read_api = Some(ReadApi(std::sync::Arc::new(move |catalog: Catalog| {
            api::api(ApiState {
                backend: Backend::Local(catalog),
                tokens: tokens.clone(),
                time_limit,
                tail: None,
            })
        })));
        indexer.start(ctx).await
    }
}
