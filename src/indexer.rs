//! `logpipe indexer`: the indexer role, serving the search API over the day indexes it
//! writes so that the query service can fan out to it. The indexer crate knows nothing of
//! the API; it hands over its catalog once open.

use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use logpipe_indexer::IndexerConfig;
use logpipe_query::serve::{self, SearchApi};

#[derive(Debug)]
pub struct SearchingIndexer {
    indexer: IndexerConfig,
    search: SearchApi,
}

impl Service for SearchingIndexer {
    const ROLE: &'static str = "indexer";

    fn vars() -> Vec<&'static VarSpec> {
        let mut vars = logpipe_indexer::VARS.to_vec();
        vars.extend(serve::VARS);
        vars
    }

    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        Ok(SearchingIndexer {
            indexer: IndexerConfig::load(env)?,
            search: SearchApi::load(env, shared)?,
        })
    }

    fn effective(&self) -> serde_json::Value {
        let mut effective = self.indexer.effective();
        effective["search_api"] = self.search.effective();
        effective
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        self.indexer.topics(shared)
    }

    async fn start(self, ctx: ServiceContext) -> anyhow::Result<Router> {
        let started = self.indexer.start_indexing(ctx).await?;
        Ok(started.router.merge(self.search.router(started.catalog)))
    }
}
