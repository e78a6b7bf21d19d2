//! `logpipe standalone`: every role in one process, with the broker embedded in it too
//! (data under `LOGPIPE_DATA_DIR/broker`, see `broker`) unless `LOGPIPE_KAFKA_BROKERS`
//! points elsewhere.

use axum::Router;
use logpipe_alerting::AlertingConfig;
use logpipe_collector::CollectorConfig;
use logpipe_common::config::{ConfigError, Env, LISTEN_ADDRESS, SharedConfig, VarSpec};
use logpipe_common::kafka::TopicSpec;
use logpipe_common::service::{Service, ServiceContext};
use logpipe_indexer::IndexerConfig;
use logpipe_query::QueryConfig;
use serde_json::json;
use tokio_util::task::TaskTracker;

use crate::broker::{self, BROKER_PORT};
use crate::demo::{DEMO, DEMO_RATE, Demo};

pub const VARS: [&VarSpec; 3] = [&BROKER_PORT, &DEMO, &DEMO_RATE];

#[derive(Debug)]
pub struct Standalone {
    collector: CollectorConfig,
    indexer: IndexerConfig,
    query: QueryConfig,
    alerting: AlertingConfig,
    broker: Option<broker::Config>,
    demo: Demo,
}

impl Service for Standalone {
    const ROLE: &'static str = "standalone";

    fn vars() -> Vec<&'static VarSpec> {
        VARS.to_vec()
    }

    fn load(env: &Env, shared: &mut SharedConfig) -> Result<Self, ConfigError> {
        // A laptop install listens on loopback unless told otherwise; beyond loopback the
        // query API needs tokens.
        if !env.is_set(&LISTEN_ADDRESS) {
            shared.listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let broker = broker::load(env, shared)?;
        Ok(Standalone {
            collector: CollectorConfig::load(env)?,
            indexer: IndexerConfig::load(env)?,
            query: QueryConfig::load(env, shared)?,
            alerting: AlertingConfig::load(env, shared)?,
            broker,
            demo: Demo::load(env, &shared.data_dir)?,
        })
    }

    fn effective(&self) -> serde_json::Value {
        json!({
            "collector": self.collector.effective(),
            "indexer": self.indexer.effective(),
            "query": self.query.effective(),
            "alerting": self.alerting.effective(),
            "broker": self.broker.as_ref().map(broker::Config::effective),
            "demo": self.demo.effective(),
        })
    }

    fn topics(&self, shared: &SharedConfig) -> Vec<TopicSpec> {
        let mut topics = self.collector.topics(shared);
        for topic in self
            .indexer
            .topics(shared)
            .into_iter()
            .chain(self.query.topics(shared))
            .chain(self.alerting.topics(shared))
        {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        topics
    }

    async fn start(mut self, ctx: ServiceContext) -> anyhow::Result<Router> {
        // Roles run on their own tracker so the broker outlives their draining.
        let roles = ctx.with_tasks(TaskTracker::new());
        if let Some(broker) = self.broker.take() {
            broker::start(broker, &ctx, roles.tasks.clone()).await?;
        }
        if self.demo.wanted(&self.collector.pods_dir) {
            self.collector.pods_dir = self.demo.pods_dir();
            if self.alerting.rules_dir.is_none() {
                let dir = self.demo.write_rules()?;
                self.alerting.rules = logpipe_alerting::rules::load_dir(&dir)
                    .map_err(|errors| anyhow::anyhow!("the demo rule is invalid: {errors:?}"))?;
                self.alerting.rules_dir = Some(dir);
            }
            self.demo.start(&roles)?;
        }
        let mut router = Router::new();
        router = router.merge(self.collector.start(roles.clone()).await?);
        // The query role reads the co-located indexer's catalog directly.
        let indexer = self.indexer.start_indexing(roles.clone()).await?;
        router = router.merge(indexer.router);
        let mut query = self.query;
        query.local = Some(indexer.catalog);
        router = router.merge(query.start(roles.clone()).await?);
        router = router.merge(self.alerting.start(roles.clone()).await?);
        let role_tasks = roles.tasks.clone();
        ctx.tasks.spawn(async move {
            roles.shutdown.cancelled().await;
            role_tasks.close();
            role_tasks.wait().await;
        });
        Ok(router)
    }
}
