//! The query service as a logpipe service.

use axum::Router;
use logpipe_common::config::{ConfigError, Env, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};

use crate::QueryConfig;

impl Service for QueryConfig {
    const ROLE: &'static str = "query";

    fn vars() -> Vec<&'static VarSpec> {
        crate::VARS.to_vec()
    }

    fn load(env: &Env, _shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        QueryConfig::load(env)
    }

    fn effective(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        vec![TopicSpec::new(&shared.topic, shared.topic_partitions)]
    }

    async fn start(self, _ctx: ServiceContext) -> anyhow::Result<Router> {
        Ok(Router::new())
    }
}
